package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/store"
)

// waitFor polls cond every 10 ms until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func TestShortIDsAndPrefixes(t *testing.T) {
	ids := []string{"12D3KooWAbcdef1", "12D3KooWAbcdxyz", "12D3KooWZzzzzzz"}
	s := shortIDs(ids, minPeerPrefix)
	if s[ids[0]] != "12D3KooWAbcde" || s[ids[1]] != "12D3KooWAbcdx" || s[ids[2]] != "12D3KooWZzzz" {
		t.Fatalf("short: %v", s)
	}
	for _, id := range ids {
		if got, err := resolvePrefix("peer", s[id], ids); err != nil || got != id {
			t.Fatalf("%s back: %q %v", s[id], got, err)
		}
	}
	_, err := resolvePrefix("peer", "12D3KooWAbcd", ids)
	if err == nil || !strings.Contains(err.Error(), "ambiguous: it matches 2 peers") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("ambiguous: %v", err)
	}
	if _, err := resolvePrefix("fact", "ff", ids); err == nil || !strings.Contains(err.Error(), `no fact matches "ff"`) {
		t.Fatalf("no match: %v", err)
	}
	if got := shortIDs([]string{"abc"}, 8)["abc"]; got != "abc" {
		t.Fatalf("short id shorter than min: %q", got)
	}
}

// Two nodes with control APIs: the IDs the tables show are accepted back;
// a message sent with `send` is read with `receive`; `trust set` demotes
// and blacklists with the reason recorded, and refuses a promotion.
func TestOperatorCommandsOnTwoNodes(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	a, b := runningNode(t, dirA), runningNode(t, dirB)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := a.ConnectAddr(ctx, b.Addrs()[0].String()+"/p2p/"+b.ID().String()); err != nil {
		t.Fatal(err)
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := run(t, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return out
	}
	// B's table shows A by a prefix; wait until B has A's session.
	var peersOut string
	waitFor(t, 10*time.Second, "B to list A with an RTT session", func() bool {
		peersOut = must("peers", "--data-dir", dirB)
		return strings.Contains(peersOut, "true\tprobing") || strings.Contains(peersOut, "probing") && strings.Contains(peersOut, "true")
	})
	idA := a.ID().String()
	shortA := ""
	for _, f := range strings.Fields(peersOut) {
		if strings.HasPrefix(idA, f) && len(f) >= minPeerPrefix {
			shortA = f
		}
	}
	if shortA == "" || shortA == idA || len(shortA) != minPeerPrefix {
		t.Fatalf("peers table does not show A (%s) by a short prefix:\n%s", idA, peersOut)
	}
	shortB := b.ID().String()[:minPeerPrefix]

	must("send", "--data-dir", dirA, shortB, "control", "hello from a")
	out := must("receive", shortA, "--data-dir", dirB, "--channel", "control", "--json")
	var msg struct {
		Peer string `json:"peer"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal([]byte(out), &msg); err != nil || msg.Text != "hello from a" || msg.Peer != idA {
		t.Fatalf("receive: %q %v", out, err)
	}
	if _, err := run(t, "receive", shortA, "--data-dir", dirB, "--timeout", "100ms"); err == nil || !strings.Contains(err.Error(), "nothing received") {
		t.Fatalf("receive with nothing sent: %v", err)
	}

	// trust set: a promotion is refused in one line; a demotion to
	// untrusted and a blacklisting are applied, the reason recorded.
	if _, err := run(t, "trust", "set", shortA, "trusted", "--reason", "I like it", "--data-dir", dirB); err == nil ||
		!strings.Contains(err.Error(), "override_refused") || !strings.Contains(err.Error(), "earned") {
		t.Fatalf("promotion: %v", err)
	}
	if out := must("trust", "set", shortA, "untrusted", "--reason", "sent spam", "--data-dir", dirB); !strings.Contains(out, "is now untrusted (manual_distrust: sent spam)") {
		t.Fatalf("distrust: %s", out)
	}
	if out := must("trust", "set", shortA, "blacklisted", "--reason", "proven spammer", "--data-dir", dirB); !strings.Contains(out, "is now blacklisted (manual_blacklist: proven spammer)") {
		t.Fatalf("blacklist: %s", out)
	}
	if out := must("trust", "--data-dir", dirB); !strings.Contains(out, "blacklisted") || !strings.Contains(out, "proven spammer") || strings.Contains(out, idA) {
		t.Fatalf("trust table: %s", out)
	}
	if _, err := run(t, "trust", "set", "12D3KooWnobody", "probing", "--reason", "x", "--data-dir", dirB); err == nil || !strings.Contains(err.Error(), "no peer matches") {
		t.Fatalf("unknown prefix: %v", err)
	}
}

// start --mission sets the AgentLoop's mission (status shows it) and
// --allow-fetch-host lets learn fetch from loopback, which is refused by
// default.
func TestStartMissionAndAllowFetchHost(t *testing.T) {
	srv := textServer(t, "Water boils at 100 degrees at sea level.")
	dir := t.TempDir()
	startCLI(t, dir, io.Discard, "start", "--data-dir", dir, "--quiet", "--listen", "/ip4/127.0.0.1/tcp/0",
		"--mission", "work, research", "--mission", "work", "--allow-fetch-host", "127.0.0.1")
	var st struct {
		Mission []string `json:"mission"`
	}
	var out string
	waitFor(t, 10*time.Second, "status", func() bool {
		var err error
		out, err = run(t, "status", "--data-dir", dir, "--json")
		return err == nil
	})
	if err := json.Unmarshal([]byte(out), &st); err != nil || strings.Join(st.Mission, "|") != "work|research" {
		t.Fatalf("mission: %s %v", out, err)
	}
	out, err := run(t, "learn", srv.URL+"/page", "--statement", "Water boils at 100 degrees at sea level.", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "Water boils") {
		t.Fatalf("learn from an allowed loopback host: %v\n%s", err, out)
	}
}

func TestStartRefusesBadAllowFetchHost(t *testing.T) {
	_, err := run(t, "start", "--data-dir", t.TempDir(), "--quiet", "--allow-fetch-host", "1.2.3.4/99")
	if err == nil || !strings.Contains(err.Error(), "--allow-fetch-host") {
		t.Fatalf("got %v", err)
	}
}

func TestUnknownCommandIsOneLine(t *testing.T) {
	for _, args := range [][]string{{"nosuch"}, {"trust", "nosuch"}, {"human", "nosuch"}} {
		out, err := run(t, args...)
		if err == nil || !strings.Contains(err.Error(), "unknown command") || strings.Contains(err.Error(), "\n") || out != "" {
			t.Fatalf("%v: out=%q err=%v", args, out, err)
		}
	}
	if _, err := run(t, "trust", "set", "--nope"); err == nil || !strings.HasPrefix(err.Error(), "trust set: flag provided but not defined: -nope") {
		t.Fatalf("unknown flag of a subcommand: %v", err)
	}
	if _, err := run(t, "--nope"); err == nil || !strings.HasPrefix(err.Error(), "flag provided but not defined: -nope") {
		t.Fatalf("unknown global flag: %v", err)
	}
}

// A data dir whose store is garbage: start fails with one line naming the
// file and suggesting to move it aside; a directory in the store's place
// is reported as such, without that advice.
func TestStartWithBadStore(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, store.FileName), []byte(strings.Repeat("garbage!", 4096)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, "start", "--data-dir", dir, "--quiet", "--listen", "/ip4/127.0.0.1/tcp/0")
	if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), "move it aside") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("garbage store: %v", err)
	}
	dir2 := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir2, store.FileName), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err = run(t, "start", "--data-dir", dir2, "--quiet", "--listen", "/ip4/127.0.0.1/tcp/0")
	if err == nil || strings.Contains(err.Error(), "move it aside") || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("directory store: %v", err)
	}
}
