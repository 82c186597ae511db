package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	app := newApp()
	var out bytes.Buffer
	app.Writer = &out
	app.ErrWriter = &out
	err := execute(context.Background(), app, append([]string{"web4p2p"}, args...))
	return out.String(), err
}

func TestVersionJSON(t *testing.T) {
	out, err := run(t, "version", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]string
	if err := json.Unmarshal([]byte(out), &v); err != nil || v["version"] != Version {
		t.Fatalf("version --json: %q %v", out, err)
	}
}

// version shows the commit set with -ldflags -X main.Commit (or, without
// it, the build info's vcs.revision; "commit unknown" when neither).
func TestVersionShowsCommit(t *testing.T) {
	old := Commit
	defer func() { Commit = old }()
	Commit = "0123abc"
	out, err := run(t, "version")
	if err != nil || !strings.Contains(out, "commit 0123abc") {
		t.Fatalf("version: %q %v", out, err)
	}
	Commit = ""
	if c, _ := buildCommit(); c == "" {
		if out, _ := run(t, "version"); !strings.Contains(out, "commit unknown") {
			t.Fatalf("version without a commit: %q", out)
		}
	}
}

func TestUnknownFlagFails(t *testing.T) {
	if _, err := run(t, "version", "--nope"); err == nil {
		t.Fatal("unknown flag accepted")
	}
}

func TestUsageErrorIsOneLine(t *testing.T) {
	out, err := run(t, "start", "--nope")
	if err == nil || strings.Contains(out, "USAGE") || strings.Count(err.Error(), "\n") != 0 || !strings.Contains(err.Error(), "-nope") {
		t.Fatalf("want one-line usage error, got out=%q err=%v", out, err)
	}
}

func TestStartBadBootstrapFails(t *testing.T) {
	_, err := run(t, "start", "--data-dir", t.TempDir(), "--bootstrap", "foo", "--quiet")
	if err == nil || !strings.Contains(err.Error(), "bootstrap[0]") {
		t.Fatalf("got %v", err)
	}
}

func TestIDCreatesAndReports(t *testing.T) {
	dir := t.TempDir()
	out, err := run(t, "id", "--data-dir", dir, "--json", "--listen", "/ip4/127.0.0.1/tcp/4999")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		PeerID      string   `json:"peer_id"`
		Fingerprint string   `json:"fingerprint"`
		Addrs       []string `json:"addrs"`
		Created     bool     `json:"created"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if !v.Created || len(v.Fingerprint) != 64 || len(v.Addrs) != 1 || !strings.HasSuffix(v.Addrs[0], "/p2p/"+v.PeerID) {
		t.Fatalf("id output: %+v", v)
	}
	out2, _ := run(t, "id", "--data-dir", dir, "--json")
	if !strings.Contains(out2, v.PeerID) || strings.Contains(out2, `"created": true`) {
		t.Fatalf("identity not stable: %s", out2)
	}
}

// Flags after the arguments are read as flags (the README's own
// `trust set <PeerID> probing --reason "…"`).
func TestFlagsAfterArguments(t *testing.T) {
	app := newApp()
	cases := []struct{ in, want string }{
		{"web4p2p trust set P probing --reason x", "web4p2p trust set --reason x P probing"},
		{"web4p2p facts vote ID confirm --notes n --data-dir d", "web4p2p facts vote --notes n --data-dir d ID confirm"},
		{"web4p2p why ID --json", "web4p2p why --json ID"},
		{"web4p2p facts vote --data-dir d ID confirm", "web4p2p facts vote --data-dir d ID confirm"},
		{"web4p2p why ID -- --json", "web4p2p why ID -- --json"},
		{"web4p2p facts vote ID confirm --notes=n", "web4p2p facts vote --notes=n ID confirm"},
	}
	for _, c := range cases {
		got := strings.Join(flagsFirst(app, strings.Fields(c.in)), " ")
		if got != c.want {
			t.Errorf("%q → %q, want %q", c.in, got, c.want)
		}
	}
}

// With --json an error is one JSON object; without, one line.
func TestErrorsWithJSONAreJSON(t *testing.T) {
	args := []string{"web4p2p", "status", "--data-dir", t.TempDir(), "--json"}
	_, err := run(t, args[1:]...)
	if err == nil {
		t.Fatal("status of a node that is not running succeeded")
	}
	var b bytes.Buffer
	reportError(&b, args, err)
	var v map[string]string
	if e := json.Unmarshal(b.Bytes(), &v); e != nil || v["error"] == "" {
		t.Fatalf("--json error: %q (%v)", b.String(), e)
	}
	b.Reset()
	reportError(&b, args[:4], err)
	if !strings.HasPrefix(b.String(), "web4p2p: ") || strings.Count(b.String(), "\n") != 1 {
		t.Fatalf("plain error: %q", b.String())
	}
}

// completion prints a script per shell.
func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{"bash": "complete -o bashdefault", "zsh": "compdef _web4p2p", "fish": "complete -c web4p2p"} {
		out, err := run(t, "completion", shell)
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("%s: %v\n%.300s", shell, err, out)
		}
	}
	if _, err := run(t, "completion", "tcsh"); err == nil || !strings.Contains(err.Error(), "unknown shell") {
		t.Fatalf("tcsh: %v", err)
	}
}

func TestStartRefusesBadEventsRotation(t *testing.T) {
	for _, c := range []struct{ flag, val string }{{"--events-file-max-mb", "0"}, {"--events-file-max-mb", "-1"}, {"--events-file-keep", "0"}} {
		_, err := run(t, "start", "--data-dir", t.TempDir(), "--quiet", c.flag, c.val)
		if err == nil || !strings.Contains(err.Error(), c.flag+" "+c.val) {
			t.Fatalf("%s %s: %v", c.flag, c.val, err)
		}
	}
}
