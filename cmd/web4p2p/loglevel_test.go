package main

import (
	"bytes"
	"strings"
	"testing"

	logging "github.com/ipfs/go-log/v2"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/node"
)

// A bad --log-level is one line naming the flag and the allowed values,
// for every command, given globally, after start, or through the env.
func TestLogLevelBadValueIsOneLine(t *testing.T) {
	defer func() { _ = node.SetLogLevel("fatal") }()
	for _, args := range [][]string{
		{"--log-level", "loud", "version"},
		{"--log-level=loud", "status"},
		{"start", "--log-level", "loud", "--data-dir", t.TempDir(), "--quiet"},
	} {
		_, err := run(t, args...)
		if err == nil || err.Error() != `--log-level "loud": want debug|info|warn|error` {
			t.Fatalf("%v: %v", args, err)
		}
	}
	t.Setenv("WEB4P2P_LOG_LEVEL", "loud")
	if _, err := run(t, "version"); err == nil || !strings.Contains(err.Error(), `--log-level "loud"`) {
		t.Fatalf("WEB4P2P_LOG_LEVEL=loud: %v", err)
	}
}

// --log-level sets web4p2p's own level (what the stderr event printer and
// the warnings let through) and, when given, go-libp2p's loggers too.
func TestLogLevelGovernsOwnOutputAndLibp2p(t *testing.T) {
	defer func() { _ = node.SetLogLevel("fatal") }()
	// A go-libp2p subsystem, made before the level is set as libp2p's own
	// package-level loggers are.
	swarm := logging.Logger("swarm2")
	libp2p := func() logging.LogLevel { return logging.LogLevel(swarm.Level()) }
	ring := events.NewRing(8)
	sink := leveled{ring}
	info, bad := events.Event{Type: "web4.rtt.session_up"}, events.Event{Type: "web4.error"}

	if _, err := run(t, "version"); err != nil {
		t.Fatal(err)
	}
	if !node.OwnLogEnabled("info") || node.OwnLogEnabled("debug") || libp2p() != logging.LevelFatal {
		t.Fatalf("default: info %v debug %v libp2p %v", node.OwnLogEnabled("info"), node.OwnLogEnabled("debug"), libp2p())
	}
	if _, err := run(t, "--log-level", "error", "version"); err != nil {
		t.Fatal(err)
	}
	sink.Emit(info)
	sink.Emit(bad)
	if ring.Total() != 1 || ring.Count("web4.error") != 1 || libp2p() != logging.LevelError {
		t.Fatalf("at error: printed %v, libp2p at %v", ring.Events(), libp2p())
	}
	if _, err := run(t, "--log-level", "debug", "version"); err != nil {
		t.Fatal(err)
	}
	sink.Emit(info)
	if ring.Total() != 2 || !node.OwnLogEnabled("debug") || libp2p() != logging.LevelDebug {
		t.Fatalf("at debug: printed %d, libp2p at %v", ring.Total(), libp2p())
	}
}

// start's warnings follow the level: shown at warn, not at error.
func TestLogLevelHidesStartWarningsAtError(t *testing.T) {
	defer func() { _ = node.SetLogLevel("fatal") }()
	for _, c := range []struct {
		level string
		warn  bool
	}{{"warn", true}, {"error", false}} {
		var errOut bytes.Buffer
		t.Run(c.level, func(t *testing.T) {
			dir := t.TempDir()
			startCLI(t, dir, &errOut, "--log-level", c.level, "start", "--data-dir", dir, "--quiet", "--listen", "/ip4/127.0.0.1/tcp/0")
		})
		// The node has stopped with the subtest: its stderr is complete.
		if got := strings.Contains(errOut.String(), "WARNING: no --trust-anchor"); got != c.warn {
			t.Fatalf("--log-level %s: warning shown %v, want %v (stderr %q)", c.level, got, c.warn, errOut.String())
		}
	}
}
