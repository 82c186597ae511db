package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/web4p2p/web4p2p/node"
	"github.com/web4p2p/web4p2p/node/human"
)

// TestMain checks that the commands leave no goroutine behind (the node
// the human tests start included).
func TestMain(m *testing.M) {
	_ = node.SetLogLevel("fatal")
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		goleak.IgnoreTopFunction("github.com/libp2p/go-libp2p/p2p/transport/quicreuse.(*reuse).gc"),
	)
}

// runningNode starts a node with its control API in dir.
func runningNode(t *testing.T, dir string) *node.Node {
	t.Helper()
	return startedNode(t, node.Config{DataDir: dir})
}

// startedNode starts a node of cfg on loopback with the control API until
// the test ends.
func startedNode(t *testing.T, cfg node.Config) *node.Node {
	t.Helper()
	cfg.ListenAddrs, cfg.APIAddr = []string{"/ip4/127.0.0.1/tcp/0"}, "127.0.0.1:0"
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return n
}

func TestHumanCommandsDriveTheNode(t *testing.T) {
	dir := t.TempDir()
	runningNode(t, dir)
	dd := []string{"--data-dir", dir}
	// urfave/cli stops at the first argument: flags go before it.
	withDD := func(args []string) []string {
		words := 1
		if args[0] == "human" {
			words = 2
		}
		out := append(append([]string(nil), args[:words]...), dd...)
		var pos []string
		for i := words; i < len(args); i++ {
			switch {
			case args[i] == "--json":
				out = append(out, args[i])
			case strings.HasPrefix(args[i], "--"):
				out = append(out, args[i], args[i+1])
				i++
			default:
				pos = append(pos, args[i])
			}
		}
		return append(out, pos...)
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := run(t, withDD(args)...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out
	}

	if out := must("human", "state"); !strings.Contains(out, "none given yet") {
		t.Fatalf("initial state: %s", out)
	}
	if out := must("human", "consent", "limited", "--scope", "topic:work", "--expires", "2h"); !strings.Contains(out, "consent:   limited (topic:work) until ") {
		t.Fatalf("consent: %s", out)
	}
	if out := must("human", "intent", "play"); !strings.Contains(out, "held") {
		t.Fatalf("off-scope intent: %s", out)
	}
	var res human.IntentResult
	if err := json.Unmarshal([]byte(must("human", "intent", "work", "--goal", "clarify", "--json")), &res); err != nil || res.Status != "accepted" {
		t.Fatalf("in-scope intent: %+v %v", res, err)
	}
	_, err := run(t, withDD([]string{"human", "state", "--clarity", "120"})...)
	if err == nil || !strings.Contains(err.Error(), "invalid_state") || !strings.Contains(err.Error(), "clarity") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("bad clarity: want one line naming the field, got %v", err)
	}
	var st humanStatus
	if err := json.Unmarshal([]byte(must("human", "state", "--presence", "focused", "--json")), &st); err != nil || st.Human == nil ||
		st.Human.Presence != "focused" || st.Human.Consent != "limited" || st.Held != 1 {
		t.Fatalf("state change: %+v %v", st, err)
	}

	// why: the loop records the intent right after deciding; poll.
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var out string
	for {
		out, err = run(t, withDD([]string{"why", res.MsgID})...)
		if err == nil || time.Now().After(deadline) {
			break
		}
		<-tick.C
	}
	if err != nil || !strings.Contains(out, "human_intent work") || !strings.Contains(out, "id "+res.MsgID) {
		t.Fatalf("why: %s %v", out, err)
	}
	if _, err := run(t, withDD([]string{"why", "no-such-id"})...); err == nil || !strings.Contains(err.Error(), "not_found") {
		t.Fatalf("why unknown: %v", err)
	}

	if out := must("human", "decide"); !strings.Contains(out, "no decisions pending") {
		t.Fatalf("decide list: %s", out)
	}
	if _, err := run(t, withDD([]string{"human", "decide", "nope", "approve", "--rationale", "r"})...); err == nil || !strings.Contains(err.Error(), `no decision matches "nope"`) {
		t.Fatalf("decide unknown: %v", err)
	}
	if out := must("human", "feedback", "good work", "--satisfaction", "90", "--reply-to", res.MsgID); !strings.Contains(out, "feedback ") {
		t.Fatalf("feedback: %s", out)
	}
	if _, err := run(t, withDD([]string{"human", "feedback", "x", "--satisfaction", "101"})...); err == nil || !strings.Contains(err.Error(), "satisfaction") {
		t.Fatalf("feedback out of range: %v", err)
	}
	if _, err := run(t, withDD([]string{"human", "consent", "maybe"})...); err == nil || !strings.Contains(err.Error(), "consent") {
		t.Fatalf("bad consent: %v", err)
	}
}

func TestHumanCommandsWithoutNodeFailInOneLine(t *testing.T) {
	_, err := run(t, "why", "--data-dir", t.TempDir(), "x")
	if err == nil || !strings.Contains(err.Error(), "node not running") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("got %v", err)
	}
	if _, err := run(t, "human", "intent"); err == nil || !strings.Contains(err.Error(), "want <topic>") {
		t.Fatalf("missing topic: %v", err)
	}
}
