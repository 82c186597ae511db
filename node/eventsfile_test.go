package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/web4p2p/web4p2p/internal/events"
)

// The node's events file rotates past Config.EventsFileMaxBytes, and every
// line of every file is one whole event.
func TestEventsFileRotates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, EventsFile)
	n, ring := startNode(t, Config{DataDir: dir, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
		EventsFile: path, EventsFileMaxBytes: 512, EventsFileKeep: 2})
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, f := range []string{path + ".2", path + ".1", path} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("after start and close with a 512-byte limit: %v", err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if err := events.Validate([]byte(l)); err != nil {
				t.Fatalf("%s: %v: %.100s", f, err, l)
			}
			lines++
		}
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Fatalf("kept more than 2 old files: %v", err)
	}
	if uint64(lines) >= ring.Total() {
		t.Fatalf("%d lines in 3 files for %d events: nothing was dropped past keep=2", lines, ring.Total())
	}
}
