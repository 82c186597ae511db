package node

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/node/rtt"
	"github.com/web4p2p/web4p2p/protocols/cip"
)

// connectedPair starts two nodes, b bootstrapping from a, and waits for the
// RTT session on both sides.
func connectedPair(t *testing.T) (a, b *Node, ra, rb *events.Ring) {
	t.Helper()
	a, ra = startNode(t, Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	b, rb = startNode(t, Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, Bootstrap: []string{a.Addrs()[0].String()}})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for _, x := range []struct {
		n    *Node
		peer *Node
	}{{a, b}, {b, a}} {
		for x.n.peerSession(x.peer.ID()) == nil {
			if _, ok := ra.WaitFor(ctx.Done(), func(events.Event) bool { return x.n.peerSession(x.peer.ID()) != nil }); !ok {
				t.Fatal("no RTT session")
			}
		}
	}
	return a, b, ra, rb
}

func TestAppMessagesOnAllChannelsSurviveACut(t *testing.T) {
	a, b, _, rb := connectedPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, ch := range rtt.Channels {
		if err := a.OpenChannel(ctx, b.ID(), ch); err != nil {
			t.Fatal(err)
		}
		if err := b.OpenChannel(ctx, a.ID(), ch); err != nil {
			t.Fatal(err)
		}
	}
	const n = 200
	for i := 0; i < n; i++ {
		for _, ch := range rtt.Channels {
			if err := a.SendApp(ctx, b.ID(), ch, []byte(fmt.Sprintf("%s-%d", ch, i))); err != nil {
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
			got, err := b.ReceiveApp(ctx, a.ID(), ch)
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
	if err := b.CloseApp(a.ID(), rtt.Control); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReceiveApp(ctx, a.ID(), rtt.Control); !errors.Is(err, ErrChannelClosed) {
		t.Fatalf("receive on closed app channel: %v", err)
	}
	if err := a.SendApp(ctx, "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf", rtt.Control, nil); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("unknown peer: %v", err)
	}
}

func TestCIPHandshakeMovesBothToProbingAndIntentAnswered(t *testing.T) {
	a, b, ra, rb := connectedPair(t)
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
	rep, err := a.SendIntent(ctx, b.ID(), cip.IntentRequest{Goal: cip.GoalAsk, Topic: "weather", Priority: cip.PriorityNormal})
	if err != nil || rep.Decision != cip.Accept {
		t.Fatalf("intent: %+v %v", rep, err)
	}
	b.loadOverride = func() int { return 95 }
	rep, err = a.SendIntent(ctx, b.ID(), cip.IntentRequest{Goal: cip.GoalAsk, Topic: "weather", Priority: cip.PriorityNormal})
	if err != nil || rep.Decision != cip.Defer {
		t.Fatalf("intent while overloaded: %+v %v", rep, err)
	}
}
