package itest

import (
	"context"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/agentloop"
	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/node"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/hcp"
	"github.com/web4p2p/web4p2p/trust"
)

// synthLoad is a load sampler the test drives: the CPU share it reports.
type synthLoad struct{ bits atomic.Uint64 }

func (l *synthLoad) set(cpu float64) { l.bits.Store(math.Float64bits(cpu)) }

func (l *synthLoad) Sample() (agentloop.LoadSample, error) {
	return agentloop.LoadSample{CPU: math.Float64frombits(l.bits.Load())}, nil
}

// newHumanAgent starts a node whose AgentLoop measures load with ld alone
// (LRI = CPU share × 100) and orients every few milliseconds; mutate
// adjusts the rest of its config.
func newHumanAgent(t *testing.T, name string, ld *synthLoad, mutate ...func(*node.Config)) *agent {
	t.Helper()
	return newAgent(t, name, func(cfg *node.Config) {
		cfg.Human = node.DefaultHumanConfig()
		cfg.Human.Sampler = ld
		cfg.Human.Loop.Weights = agentloop.Weights{CPU: 1}
		cfg.Human.Loop.Tick = 10 * time.Millisecond
		for _, m := range mutate {
			m(cfg)
		}
	})
}

func (a *agent) waitEvent(ctx context.Context, what string, pred func(events.Event) bool) events.Event {
	a.t.Helper()
	ev, ok := a.ring.WaitFor(ctx.Done(), pred)
	if !ok {
		for _, e := range a.ring.Events() {
			if e.Type == agentloop.EventDecision || e.Type == agentloop.EventActFailed {
				a.t.Logf("%s %s %v", e.Type, e.Subject, e.Data)
			}
		}
		a.t.Fatalf("%s: never saw %s", a.cfg.AgentID, what)
	}
	return ev
}

// TestHumanIntentCrossesToPeerAndOverloadDefers: a human intent on A
// becomes a CIP INTENT that B's AgentLoop accepts; under synthetic load B's
// LRI rises, B goes overloaded and tells A with STATE_UPDATE, defers A's
// INTENT and is not asked on A's human's behalf; when the load goes, B
// recovers and says so.
func TestHumanIntentCrossesToPeerAndOverloadDefers(t *testing.T) {
	ctx := ctxFor(t, 60*time.Second)
	var loadA, loadB synthLoad
	loadA.set(0.05)
	loadB.set(0.05)
	a := newHumanAgent(t, "a", &loadA)
	b := newHumanAgent(t, "b", &loadB)
	a.connect(ctx, b)
	a.waitTrust(ctx, b.n.ID(), trust.Probing)
	b.waitTrust(ctx, a.n.ID(), trust.Probing)
	// Trust moves before the handshake's last step: wait until A counts B
	// among the peers it may ask.
	if err := a.n.Peers().WaitReady(ctx, b.n.ID()); err != nil {
		t.Fatal(err)
	}
	bID := b.n.ID().String()

	if _, err := a.n.Human().SetConsent(ctx, envelope.ConsentGranted, nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	res, err := a.n.Human().Intent(ctx, hcp.Intent{Goal: hcp.GoalRequest, Topic: "research", Priority: hcp.PriorityHigh, Context: "find papers"})
	if err != nil || res.Status != "accepted" {
		t.Fatalf("human intent: %v %+v", err, res)
	}
	a.waitEvent(ctx, "the loop's decision to ask B", func(e events.Event) bool {
		return e.Type == agentloop.EventDecision && e.Data["item"] == res.MsgID && num(e.Data["actions"]) == 1
	})
	b.waitEvent(ctx, "A's INTENT accepted by B's loop", func(e events.Event) bool {
		return e.Type == "web4.cip.intent" && e.Data["topic"] == "research" && e.Data["goal"] == "ask" &&
			e.Data["priority"] == "high" && e.Data["decision"] == "accept"
	})
	a.waitEvent(ctx, "B's accept fed back into A's loop", func(e events.Event) bool {
		return e.Type == agentloop.EventDecision && e.Data["item_kind"] == agentloop.ItemIntentReply.String()
	})

	// Synthetic load: B's LRI rises past 80, B is overloaded and A hears it.
	loadB.set(0.95)
	b.waitEvent(ctx, "B overloaded", func(e events.Event) bool {
		return e.Type == agentloop.EventPresence && e.Data["to"] == "overloaded" && num(e.Data["lri"]) == 95
	})
	a.waitEvent(ctx, "B's STATE_UPDATE overloaded", func(e events.Event) bool {
		return e.Type == "web4.cip.state_update" && e.Subject == bID && e.Data["presence"] == "overloaded" && num(e.Data["lri"]) == 95
	})
	reply, err := a.n.Peers().SendIntent(ctx, b.n.ID(), cip.IntentRequest{Goal: cip.GoalAsk, Topic: "research", Priority: cip.PriorityNormal})
	if err != nil || reply.Decision != cip.Defer {
		t.Fatalf("overloaded B answered %+v %v, want defer", reply, err)
	}
	// A's loop does not ask a peer it knows to be overloaded.
	res2, err := a.n.Human().Intent(ctx, hcp.Intent{Goal: hcp.GoalRequest, Topic: "research", Priority: hcp.PriorityNormal})
	if err != nil {
		t.Fatal(err)
	}
	a.waitEvent(ctx, "A's decision not to ask overloaded B", func(e events.Event) bool {
		return e.Type == agentloop.EventDecision && e.Data["item"] == res2.MsgID && num(e.Data["actions"]) == 0
	})

	// Load gone: B recovers (below the hysteresis exit) and says so.
	loadB.set(0.1)
	b.waitEvent(ctx, "B recovered", func(e events.Event) bool {
		return e.Type == agentloop.EventPresence && e.Data["from"] == "overloaded"
	})
	a.waitEvent(ctx, "B's STATE_UPDATE after recovery", func(e events.Event) bool {
		return e.Type == "web4.cip.state_update" && e.Subject == bID && e.Data["presence"] != "overloaded" && num(e.Data["lri"]) == 10
	})
	reply, err = a.n.Peers().SendIntent(ctx, b.n.ID(), cip.IntentRequest{Goal: cip.GoalAsk, Topic: "research", Priority: cip.PriorityNormal})
	if err != nil || reply.Decision != cip.Accept {
		t.Fatalf("recovered B answered %+v %v, want accept", reply, err)
	}
}

// num reads a number from event data (the ring keeps the emitter's Go
// values; a decoded event would carry float64).
func num(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return math.NaN()
}
