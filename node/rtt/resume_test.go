package rtt

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"

	"github.com/web4p2p/web4p2p/internal/events"
)

// TestResumeAcrossConnectionCuts sends 10,000 messages per channel while
// the test closes the libp2p connection twice: every message arrives
// exactly once and in order on every channel.
func TestResumeAcrossConnectionCuts(t *testing.T) {
	const total = 10000
	a, b := pair(t, false, testConfig(), testConfig())
	ta, tb := dialPair(t, a, b)
	ctx := ctxT(t, 45*time.Second)

	received := make(chan uint64, total) // progress of the receiver on knowledge
	done := make(chan error, 1)
	go func() { done <- sendNumbered(ctx, ta, tb, total, 64, nil, received) }()
	// Cut the connection twice, at about 20% and 60% of the knowledge
	// stream, and wait for the resume each time.
	cut := func(at uint64, nth int) {
		for n := range received {
			if n >= at {
				break
			}
		}
		if err := a.h.Network().ClosePeer(b.h.ID()); err != nil {
			t.Errorf("close peer: %v", err)
		}
		waitEvent(t, a, 20*time.Second, "web4.rtt.resumed", func(e events.Event) bool {
			return countType(a.ring, "web4.rtt.resumed") >= nth
		})
	}
	cut(total/5, 1)
	cut(total*3/5, 2)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	expectNoMore(t, ctx, tb)
	tel := ta.Telemetry()
	t.Logf("resumes %d, frames re-sent %d", tel.Reconnects, tel.Resent)
	if tel.Reconnects < 2 {
		t.Fatalf("reconnects = %d, want ≥ 2", tel.Reconnects)
	}
	if tb.Telemetry().ReplayDrops != 0 {
		t.Fatalf("resume produced duplicates that had to be dropped: %d", tb.Telemetry().ReplayDrops)
	}
	for _, n := range []*node{a, b} {
		if n.ring.Count("web4.rtt.session_down") < 2 {
			t.Fatalf("session_down events: %d", n.ring.Count("web4.rtt.session_down"))
		}
	}
	if countType(a.ring, "web4.rtt.reconnect_attempt") < 2 {
		t.Fatal("no reconnect_attempt events")
	}
}

func countType(r *events.Ring, typ string) int { return r.Count(typ) }

// TestHeartbeatDeclaresSilentPeerDead: on mocknet, the link goes silent
// (huge latency) and is unlinked; the heartbeat takes the session down,
// reconnect attempts follow with backoff, and when the link returns the
// session resumes with nothing lost.
func TestHeartbeatDeclaresSilentPeerDead(t *testing.T) {
	mn := mocknet.New()
	t.Cleanup(func() { _ = mn.Close() })
	ha, err := mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	hb, err := mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.HeartbeatInterval = 30 * time.Millisecond
	cfg.HeartbeatMisses = 3
	cfg.HandshakeTimeout = 500 * time.Millisecond
	a, b := newNode(t, ha, cfg), newNode(t, hb, cfg)
	ta, tb := dialPair(t, a, b)
	ctx := ctxT(t, 20*time.Second)
	if err := ta.Send(ctx, State, []byte("before")); err != nil {
		t.Fatal(err)
	}
	if got, err := tb.Receive(ctx, State); err != nil || string(got) != "before" {
		t.Fatalf("%q %v", got, err)
	}
	waitCond(t, 5*time.Second, "heartbeat RTT samples", func() bool { return ta.Telemetry().RTTSamples > 0 })
	if tel := ta.Telemetry(); tel.RTTp50 <= 0 || tel.RTTp95 < tel.RTTp50 {
		t.Fatalf("heartbeat latency p50 %v p95 %v", tel.RTTp50, tel.RTTp95)
	}

	// Silence: what is written on the existing connection never arrives,
	// and no new connection can be made.
	for _, l := range mn.LinksBetweenPeers(ha.ID(), hb.ID()) {
		l.SetOptions(mocknet.LinkOptions{Latency: time.Hour})
	}
	if err := mn.UnlinkPeers(ha.ID(), hb.ID()); err != nil {
		t.Fatal(err)
	}
	// Queued while down: must arrive after the resume.
	if err := ta.Send(ctx, State, []byte("during")); err != nil {
		t.Fatal(err)
	}
	// Both sides ping; whichever misses first declares the link dead and
	// closes the connection, which the other sees as a reset.
	waitEvent(t, a, 5*time.Second, "web4.rtt.session_down", nil)
	waitEvent(t, b, 5*time.Second, "web4.rtt.session_down", nil)
	heartbeat := false
	for _, n := range []*node{a, b} {
		for _, e := range n.ring.Events() {
			if r, _ := e.Data["reason"].(string); e.Type == "web4.rtt.session_down" && strings.Contains(r, "heartbeat") {
				heartbeat = true
			}
		}
	}
	if !heartbeat {
		for _, n := range []*node{a, b} {
			for _, e := range n.ring.Events() {
				t.Logf("%s %v", e.Type, e.Data)
			}
		}
		t.Fatal("no session_down caused by the heartbeat")
	}
	waitEvent(t, a, 5*time.Second, "web4.rtt.reconnect_attempt", func(e events.Event) bool {
		return e.Data["attempt"] == 2
	})
	if ta.Up() {
		t.Fatal("session still up while unlinked")
	}
	if _, err := mn.LinkPeers(ha.ID(), hb.ID()); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, a, 10*time.Second, "web4.rtt.resumed", nil)
	if got, err := tb.Receive(ctx, State); err != nil || string(got) != "during" {
		t.Fatalf("after resume: %q %v", got, err)
	}
	exchangeAll(t, ta, tb)
}

// TestResponderExpiresUnresumedSession: a responder keeps a down session
// for ResumeWindow only.
func TestResponderExpiresUnresumedSession(t *testing.T) {
	cfgA := testConfig()
	cfgB := testConfig()
	cfgB.ResumeWindow = 200 * time.Millisecond
	a, b := pair(t, false, cfgA, cfgB)
	ta, tb := dialPair(t, a, b)
	// The dialer goes away without a goodbye.
	if err := a.s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ta.Done():
	default:
		t.Fatal("dialer session not closed by Service.Close")
	}
	select {
	case <-tb.Done():
	case <-ctxT(t, 5*time.Second).Done():
		t.Fatal("responder kept the session beyond ResumeWindow")
	}
	e := waitEvent(t, b, time.Second, "web4.rtt.session_closed", nil)
	if e.Data["reason"] != "resume window expired" {
		t.Fatalf("reason %v", e.Data["reason"])
	}
	if b.s.Session(a.h.ID()) != nil {
		t.Fatal("expired session still listed")
	}
}

var _ = peer.ID("")

// TestPeerRestartEndsSessionWithErrPeerRestarted: the responder's RTT
// service restarts (its sessions are gone); the dialer's resume is answered
// "unknown session", so the session ends and Err says the peer restarted —
// the layer above opens a fresh session on that.
func TestPeerRestartEndsSessionWithErrPeerRestarted(t *testing.T) {
	a, b := pair(t, false, testConfig(), testConfig())
	ta, _ := dialPair(t, a, b)
	if ta.Err() != nil {
		t.Fatalf("Err of a live session = %v", ta.Err())
	}
	if err := b.s.Close(); err != nil {
		t.Fatal(err)
	}
	b2 := newNode(t, b.h, testConfig()) // the restarted peer: same identity, no sessions
	select {
	case <-ta.Done():
	case <-ctxT(t, 10*time.Second).Done():
		t.Fatal("the dialer kept resuming a session the restarted peer does not know")
	}
	err := ta.Err()
	if !errors.Is(err, ErrPeerRestarted) || !errors.Is(err, ErrClosed) {
		t.Fatalf("Err = %v, want ErrClosed and ErrPeerRestarted", err)
	}
	waitEvent(t, a, 5*time.Second, "web4.rtt.session_closed", func(e events.Event) bool {
		return strings.Contains(e.Data["reason"].(string), "no longer knows")
	})
	// A fresh session to the restarted peer works.
	ctx := ctxT(t, 10*time.Second)
	if _, err := a.s.Dial(ctx, b.h.ID()); err != nil {
		t.Fatalf("fresh dial after the restart: %v", err)
	}
	if _, err := b2.s.Listen(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestNewConnectionCutsReconnectBackoff: with a one-minute backoff, a
// dialer whose connection dropped retries as soon as a new connection to
// the peer comes up (here opened by the peer), not when the backoff ends.
func TestNewConnectionCutsReconnectBackoff(t *testing.T) {
	cfg := testConfig()
	cfg.BackoffMin, cfg.BackoffMax = time.Minute, time.Minute
	cfg.ResumeWindow = 5 * time.Minute
	a, b := pair(t, false, cfg, cfg)
	ta, _ := dialPair(t, a, b)
	if err := a.h.Network().ClosePeer(b.h.ID()); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, a, 10*time.Second, "web4.rtt.session_down", nil)
	waitCond(t, 10*time.Second, "b to see the connection gone", func() bool {
		return len(b.h.Network().ConnsToPeer(a.h.ID())) == 0
	})
	if err := b.h.Connect(ctxT(t, 5*time.Second), peer.AddrInfo{ID: a.h.ID(), Addrs: a.h.Addrs()}); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, a, 10*time.Second, "web4.rtt.resumed", nil)
	if !ta.Up() {
		t.Fatal("session not up after the resume")
	}
}
