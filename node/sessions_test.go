package node

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/agentloop"
	"github.com/web4p2p/web4p2p/node/peers"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/node/rtt"
	"github.com/web4p2p/web4p2p/protocols/cip"
)

// connectedPair starts two nodes, b bootstrapping from a, and waits for the
// RTT session on both sides. b's AgentLoop measures load with bLoad.
func connectedPair(t *testing.T, bLoad agentloop.Sampler) (a, b *Node, ra, rb *events.Ring) {
	t.Helper()
	a, ra = startNode(t, Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	bc := Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, Bootstrap: []string{a.Addrs()[0].String()}}
	if bLoad != nil {
		bc.Human = DefaultHumanConfig()
		bc.Human.Sampler = bLoad
		bc.Human.Loop.Weights = agentloop.Weights{CPU: 1}
		bc.Human.Loop.Tick = 10 * time.Millisecond
	}
	b, rb = startNode(t, bc)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for _, x := range []struct {
		n    *Node
		peer *Node
	}{{a, b}, {b, a}} {
		has := func() bool { _, ok := x.n.Peers().Telemetry(x.peer.ID()); return ok }
		for !has() {
			if _, ok := ra.WaitFor(ctx.Done(), func(events.Event) bool { return has() }); !ok {
				t.Fatal("no RTT session")
			}
		}
	}
	return a, b, ra, rb
}

func TestAppMessagesOnAllChannelsSurviveACut(t *testing.T) {
	a, b, _, rb := connectedPair(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, ch := range rtt.Channels {
		if err := a.Peers().OpenChannel(ctx, b.ID(), ch); err != nil {
			t.Fatal(err)
		}
		if err := b.Peers().OpenChannel(ctx, a.ID(), ch); err != nil {
			t.Fatal(err)
		}
	}
	const n = 200
	for i := 0; i < n; i++ {
		for _, ch := range rtt.Channels {
			if err := a.Peers().SendApp(ctx, b.ID(), ch, []byte(fmt.Sprintf("%s-%d", ch, i))); err != nil {
				t.Fatal(err)
			}
		}
		if i == n/2 {
			// Cut the libp2p connection mid-stream: the session resumes.
			_ = b.Host().Network().ClosePeer(a.ID())
		}
	}
	for _, ch := range rtt.Channels {
		for i := 0; i < n; i++ {
			got, err := b.Peers().ReceiveApp(ctx, a.ID(), ch)
			if err != nil {
				t.Fatalf("%s #%d: %v", ch, i, err)
			}
			if want := fmt.Sprintf("%s-%d", ch, i); string(got) != want {
				t.Fatalf("got %q want %q", got, want)
			}
		}
	}
	if _, ok := rb.WaitFor(ctx.Done(), events.OfType("web4.rtt.resumed")); !ok {
		t.Fatal("no resume reported")
	}
	// Application close: send is refused until reopened; nothing lost.
	if err := b.Peers().CloseApp(a.ID(), rtt.Control); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Peers().ReceiveApp(ctx, a.ID(), rtt.Control); !errors.Is(err, peers.ErrChannelClosed) {
		t.Fatalf("receive on closed app channel: %v", err)
	}
	if err := a.Peers().SendApp(ctx, "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf", rtt.Control, nil); !errors.Is(err, peers.ErrUnknownPeer) {
		t.Fatalf("unknown peer: %v", err)
	}
}

func TestCIPHandshakeMovesBothToProbingAndIntentAnswered(t *testing.T) {
	load := &synthLoad{}
	a, b, ra, rb := connectedPair(t, load)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, r := range []*events.Ring{ra, rb} {
		if _, ok := r.WaitFor(ctx.Done(), events.OfType("web4.cip.handshake_completed")); !ok {
			t.Fatal("no CIP handshake")
		}
	}
	if st := a.Trust().State(b.Fingerprint()); st.String() != "probing" {
		t.Fatalf("a sees b as %s", st)
	}
	if st := b.Trust().State(a.Fingerprint()); st.String() != "probing" {
		t.Fatalf("b sees a as %s", st)
	}
	rep, err := a.Peers().SendIntent(ctx, b.ID(), cip.IntentRequest{Goal: cip.GoalAsk, Topic: "weather", Priority: cip.PriorityNormal})
	if err != nil || rep.Decision != cip.Accept {
		t.Fatalf("intent: %+v %v", rep, err)
	}
	// b's measured load rises past the SPEC §10 threshold: its AgentLoop
	// goes overloaded, and b defers (SPEC §4.2 step 6).
	load.set(0.95)
	if _, ok := rb.WaitFor(ctx.Done(), func(e events.Event) bool {
		return e.Type == agentloop.EventPresence && e.Data["to"] == "overloaded"
	}); !ok {
		t.Fatal("b never became overloaded")
	}
	rep, err = a.Peers().SendIntent(ctx, b.ID(), cip.IntentRequest{Goal: cip.GoalAsk, Topic: "weather", Priority: cip.PriorityNormal})
	if err != nil || rep.Decision != cip.Defer {
		t.Fatalf("intent while overloaded: %+v %v", rep, err)
	}
}

// synthLoad is an agentloop.Sampler whose CPU share the test sets.
type synthLoad struct{ bits atomic.Uint64 }

func (l *synthLoad) set(cpu float64) { l.bits.Store(math.Float64bits(cpu)) }

func (l *synthLoad) Sample() (agentloop.LoadSample, error) {
	return agentloop.LoadSample{CPU: math.Float64frombits(l.bits.Load())}, nil
}
