package rtt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
)

func exchangeAll(t *testing.T, a, b *Transport) {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	for _, ch := range Channels {
		if _, err := a.OpenChannel(ctx, ch); err != nil {
			t.Fatal(err)
		}
		msg := []byte("hello on " + ch.String())
		if err := a.Send(ctx, ch, msg); err != nil {
			t.Fatalf("send %s: %v", ch, err)
		}
		got, err := b.Receive(ctx, ch)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("receive %s: %q %v", ch, got, err)
		}
		if err := b.Send(ctx, ch, append(got, '!')); err != nil {
			t.Fatal(err)
		}
		back, err := a.Receive(ctx, ch)
		if err != nil || string(back) != string(msg)+"!" {
			t.Fatalf("reply %s: %q %v", ch, back, err)
		}
	}
}

func TestHandshake(t *testing.T) {
	for _, tc := range []struct {
		name string
		quic bool
	}{{"tcp", false}, {"quic", true}} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := pair(t, tc.quic, testConfig(), testConfig())
			ta, tb := dialPair(t, a, b)
			if ta.SessionID() != tb.SessionID() || ta.RemotePeer() != b.h.ID() || tb.RemotePeer() != a.h.ID() {
				t.Fatalf("session mismatch: %x/%x", ta.SessionID(), tb.SessionID())
			}
			if a.s.Session(b.h.ID()) != ta || b.s.Session(a.h.ID()) != tb {
				t.Fatal("Session() does not return the live sessions")
			}
			again, err := a.s.Dial(ctxT(t, time.Second), b.h.ID())
			if err != nil || again != ta {
				t.Fatalf("second Dial should return the live session: %v", err)
			}
			exchangeAll(t, ta, tb)
			for _, n := range []*node{a, b} {
				e := waitEvent(t, n, time.Second, "web4.rtt.handshake_completed", nil)
				if e.Data["session"] != fmt.Sprintf("%x", ta.SessionID()) {
					t.Fatalf("handshake event names session %v", e.Data["session"])
				}
				waitEvent(t, n, time.Second, "web4.rtt.session_up", nil)
			}
			tel := ta.Telemetry()
			for i, c := range tel.Channels {
				if c.FramesOut != 1 || c.FramesIn != 1 || c.BytesOut == 0 {
					t.Fatalf("telemetry %s: %+v", Channels[i], c)
				}
			}
			if got := gauge(t, a, "web4_rtt_frames_total", "control", "out"); got != 1 {
				t.Fatalf("web4_rtt_frames_total{control,out} = %v", got)
			}
		})
	}
}

func TestChannelParse(t *testing.T) {
	for _, ch := range Channels {
		got, err := ParseChannel(ch.String())
		if err != nil || got != ch {
			t.Fatalf("ParseChannel(%q) = %v %v", ch.String(), got, err)
		}
	}
	if _, err := ParseChannel("video"); !errors.Is(err, ErrUnknownChannel) {
		t.Fatalf("unknown channel: %v", err)
	}
	if Channel(0).Valid() || Channel(4).Valid() || Channel(0).String() != "invalid(0)" {
		t.Fatal("zero/out-of-range channel must be invalid")
	}
}

// TestShutdownAndClose: Shutdown drains and tells the peer, both are
// idempotent, and operations afterwards return ErrClosed.
func TestShutdownAndClose(t *testing.T) {
	a, b := pair(t, false, testConfig(), testConfig())
	ta, tb := dialPair(t, a, b)
	ctx := ctxT(t, 10*time.Second)
	for i := range 50 {
		if err := ta.Send(ctx, State, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ta.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := ta.Shutdown(ctx); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	select {
	case <-tb.Done():
	case <-ctx.Done():
		t.Fatal("peer session did not close after Shutdown")
	}
	// What arrived before the close is still readable, in order.
	for i := range 50 {
		got, err := tb.Receive(ctx, State)
		if err != nil || got[0] != byte(i) {
			t.Fatalf("message %d after peer shutdown: %v %v", i, got, err)
		}
	}
	if _, err := tb.Receive(ctx, State); !errors.Is(err, ErrClosed) {
		t.Fatalf("receive after close: %v", err)
	}
	if err := ta.Send(ctx, State, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after shutdown: %v", err)
	}
	if a.s.Session(b.h.ID()) != nil {
		t.Fatal("closed session still listed")
	}
	waitEvent(t, b, time.Second, "web4.rtt.session_closed", nil)
	if err := a.s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.s.Dial(ctx, b.h.ID()); !errors.Is(err, ErrClosed) {
		t.Fatalf("dial after close: %v", err)
	}
	if _, err := a.s.Listen(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("listen after close: %v", err)
	}
}

func TestCloseChannel(t *testing.T) {
	a, b := pair(t, false, testConfig(), testConfig())
	ta, tb := dialPair(t, a, b)
	ctx := ctxT(t, 10*time.Second)
	if err := ta.Send(ctx, Knowledge, []byte("last")); err != nil {
		t.Fatal(err)
	}
	if err := ta.CloseChannel(Knowledge); err != nil {
		t.Fatal(err)
	}
	if err := ta.CloseChannel(Knowledge); err != nil {
		t.Fatal("CloseChannel must be idempotent:", err)
	}
	if got, err := tb.Receive(ctx, Knowledge); err != nil || string(got) != "last" {
		t.Fatalf("data before FIN: %q %v", got, err)
	}
	if _, err := tb.Receive(ctx, Knowledge); !errors.Is(err, ErrClosed) {
		t.Fatalf("FIN: %v", err)
	}
	if err := ta.Send(ctx, Knowledge, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("send on closed channel: %v", err)
	}
	if _, err := ta.OpenChannel(ctx, Knowledge); !errors.Is(err, ErrClosed) {
		t.Fatalf("open closed channel: %v", err)
	}
	// The other channels are unaffected.
	exchangeAllExcept(t, ta, tb, Knowledge)
}

func exchangeAllExcept(t *testing.T, a, b *Transport, skip Channel) {
	t.Helper()
	ctx := ctxT(t, 5*time.Second)
	for _, ch := range Channels {
		if ch == skip {
			continue
		}
		if err := a.Send(ctx, ch, []byte("ok")); err != nil {
			t.Fatal(err)
		}
		if got, err := b.Receive(ctx, ch); err != nil || string(got) != "ok" {
			t.Fatalf("%s: %q %v", ch, got, err)
		}
	}
}

// TestSimultaneousDial: both ends dial at once and end up with one
// session, the same on both sides.
func TestSimultaneousDial(t *testing.T) {
	for round := range 3 {
		a, b := pair(t, false, testConfig(), testConfig())
		ctx := ctxT(t, 10*time.Second)
		// Connect first: simultaneous libp2p dials of the same TCP pair
		// are a libp2p matter; this test is about RTT sessions.
		if err := a.h.Connect(ctx, b.h.Peerstore().PeerInfo(b.h.ID())); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var ta, tb *Transport
		var ea, eb error
		wg.Add(2)
		go func() { defer wg.Done(); ta, ea = a.s.Dial(ctx, b.h.ID()) }()
		go func() { defer wg.Done(); tb, eb = b.s.Dial(ctx, a.h.ID()) }()
		wg.Wait()
		if ea != nil || eb != nil {
			t.Fatalf("round %d: dials: %v / %v", round, ea, eb)
		}
		if ta.SessionID() != tb.SessionID() {
			t.Fatalf("round %d: two sessions: %x vs %x", round, ta.SessionID(), tb.SessionID())
		}
		waitUp(t, ta, 5*time.Second)
		waitUp(t, tb, 5*time.Second)
		exchangeAll(t, ta, tb)
		if a.s.Session(b.h.ID()) != ta || b.s.Session(a.h.ID()) != tb {
			t.Fatalf("round %d: more than one session per peer pair", round)
		}
		conflicts := 0
		for _, n := range []*node{a, b} {
			for _, e := range n.ring.Events() {
				if s, _ := e.Data["error"].(string); e.Type == "web4.rtt.handshake_failed" && strings.Contains(s, "tie-break") {
					conflicts++
				}
			}
		}
		t.Logf("round %d: %d dial(s) lost the tie-break", round, conflicts)
	}
}

func TestListenContext(t *testing.T) {
	a := newNode(t, newHost(t, false), testConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := a.s.Listen(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("listen: %v", err)
	}
}

var _ = events.OfType

// gauge reads one sample of a metric family from the node's registry.
func gauge(t *testing.T, n *node, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := n.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i, lp := range m.GetLabel() {
				if i >= len(labels) || lp.GetValue() != labels[i] {
					continue metric
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
	}
	t.Fatalf("metric %s%v not found", name, labels)
	return 0
}

// TestDialPeerWithoutRTT: the control stream's protocol is selected lazily
// (with the Hello), so a peer that does not speak RTT is found out on the
// first read: the dial fails with ErrHandshake (the peer's refusal, read
// as a stream reset).
func TestDialPeerWithoutRTT(t *testing.T) {
	a := newNode(t, newHost(t, false), testConfig())
	plain := newHost(t, false) // no RTT service
	know(a.h, plain)
	_, err := a.s.Dial(ctxT(t, 10*time.Second), plain.ID())
	if !errors.Is(err, ErrHandshake) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial a host without RTT: %v, want ErrHandshake from the refusal", err)
	}
}
