package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/node"
)

// startCLI runs `web4p2p <args…>` (a start) in the background until the
// test ends, with stderr to errOut, and waits until it runs: its control
// API is up and start has said so (after its warnings).
func startCLI(t *testing.T, dir string, errOut io.Writer, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var buf bytes.Buffer
	out := &lockedWriter{w: &buf} // start writes, the wait below reads
	printed := func() string {
		out.mu.Lock()
		defer out.mu.Unlock()
		return buf.String()
	}
	go func() {
		app := newApp()
		app.Writer, app.ErrWriter = out, errOut
		done <- execute(ctx, app, append([]string{"web4p2p"}, args...))
	}()
	var err error
	stopped := false
	waitFor(t, 20*time.Second, "the node to run", func() bool {
		select {
		case err = <-done:
			stopped = true
			return true
		default:
		}
		_, serr := os.Stat(filepath.Join(dir, node.APIAddrFile))
		return serr == nil && strings.Contains(printed(), "press Ctrl-C to stop")
	})
	if stopped {
		cancel()
		t.Fatalf("start %v: %v", args, err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("start: %v", err)
		}
	})
}

// textServer serves body as text/plain on loopback until the test ends.
func textServer(t *testing.T, body string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// learn shows its progress on stderr — fetching, fetched, parsed N
// claims, queued — and nothing there with --json.
func TestLearnShowsProgressOnStderr(t *testing.T) {
	srv := textServer(t, "Water boils at 100 degrees at sea level. Ice melts at 0 degrees.")
	dir := t.TempDir()
	startCLI(t, dir, io.Discard, "start", "--data-dir", dir, "--quiet", "--listen", "/ip4/127.0.0.1/tcp/0", "--allow-fetch-host", "127.0.0.1")

	learn := func(path string, json bool) (string, string, error) {
		app := newApp()
		var out, errOut bytes.Buffer
		app.Writer, app.ErrWriter = &out, &errOut
		args := []string{"web4p2p", "learn", srv.URL + path, "--statement", "Water boils at 100 degrees at sea level.",
			"--statement", "Ice melts at 0 degrees.", "--data-dir", dir}
		if json {
			args = append(args, "--json")
		}
		err := execute(context.Background(), app, args)
		return out.String(), errOut.String(), err
	}
	out, progress, err := learn("/a", false)
	if err != nil {
		t.Fatalf("learn: %v\n%s", err, out)
	}
	for _, want := range []string{"fetching " + srv.URL + "/a …\n", "fetched " + srv.URL + "/a (", "parsed 2 claims", "queued claim 1 of 2", "queued claim 2 of 2"} {
		if !strings.Contains(progress, want) {
			t.Fatalf("progress lacks %q:\n%s", want, progress)
		}
	}
	if strings.Contains(out, "fetching") || !strings.Contains(out, "Water boils") {
		t.Fatalf("stdout: %s", out)
	}
	out, progress, err = learn("/b", true)
	if err != nil || progress != "" {
		t.Fatalf("learn --json: %v, stderr %q", err, progress)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("learn --json stdout is not JSON: %v\n%s", err, out)
	}
}
