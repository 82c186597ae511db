package rtt

import (
	"bytes"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/web4p2p/web4p2p/internal/events"
)

// DialEarly on a fresh session: the payload rides in the Hello, the
// responder delivers it as control frame 1 before its HelloAck is out, and
// the HelloAck acknowledges it, so nothing of it is left to send when
// DialEarly returns. The session then carries on as usual, both ways.
func TestDialEarly(t *testing.T) {
	a, b := pair(t, false, testConfig(), testConfig())
	ctx := ctxT(t, 10*time.Second)
	early := []byte("HELLO as early data")
	ta, err := a.s.DialEarly(ctx, b.h.ID(), early)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ta.Early(), early) {
		t.Fatalf("Early() = %q", ta.Early())
	}
	if q := ta.Telemetry().Channels[Control.index()].SendQueueFrames; q != 0 {
		t.Fatalf("early data still queued after the HelloAck (%d frames): not taken 0-RTT", q)
	}
	for n, role := range map[*node]string{a: "dialer", b: "responder"} {
		waitEvent(t, n, 5*time.Second, "web4.rtt.handshake_completed", func(e events.Event) bool {
			return e.Data["role"] == role && e.Data["early_data"] == len(early)
		})
	}
	tb, err := b.s.Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tb.Early() != nil {
		t.Fatal("the responder's session reports early data of its own")
	}
	if got, err := tb.Receive(ctx, Control); err != nil || !bytes.Equal(got, early) {
		t.Fatalf("first control payload: %q %v", got, err)
	}
	if err := ta.Send(ctx, Control, []byte("second")); err != nil {
		t.Fatal(err)
	}
	if got, err := tb.Receive(ctx, Control); err != nil || string(got) != "second" {
		t.Fatalf("after early data: %q %v", got, err)
	}
	if err := tb.Send(ctx, Control, []byte("reply")); err != nil {
		t.Fatal(err)
	}
	if got, err := ta.Receive(ctx, Control); err != nil || string(got) != "reply" {
		t.Fatalf("reply: %q %v", got, err)
	}
	if got := tb.Telemetry().Channels[Control.index()].FramesIn; got != 2 {
		t.Fatalf("responder counted %d control frames in, want 2", got)
	}

	// A DialEarly that finds the session sends nothing.
	again, err := a.s.DialEarly(ctx, b.h.ID(), []byte("must not be sent"))
	if err != nil || again != ta || !bytes.Equal(again.Early(), early) {
		t.Fatalf("second DialEarly: %v, same session %v, Early %q", err, again == ta, again.Early())
	}
	if err := ta.Send(ctx, Control, []byte("marker")); err != nil {
		t.Fatal(err)
	}
	if got, err := tb.Receive(ctx, Control); err != nil || string(got) != "marker" {
		t.Fatalf("a DialEarly on an existing session sent its payload: got %q %v", got, err)
	}
}

// Early data is delivered exactly once across a connection cut right after
// the handshake: the resume point says the responder has it.
func TestDialEarlySurvivesResume(t *testing.T) {
	a, b := pair(t, false, testConfig(), testConfig())
	ctx := ctxT(t, 20*time.Second)
	ta, err := a.s.DialEarly(ctx, b.h.ID(), []byte("early"))
	if err != nil {
		t.Fatal(err)
	}
	tb, err := b.s.Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.h.Network().ClosePeer(b.h.ID()); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, a, 10*time.Second, "web4.rtt.resumed", nil)
	if err := ta.Send(ctx, Control, []byte("after")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"early", "after"} {
		if got, err := tb.Receive(ctx, Control); err != nil || string(got) != want {
			t.Fatalf("got %q %v, want %q", got, err, want)
		}
	}
}

// Bad early data fails the dial with ErrFrameTooLarge and no session: over
// MaxEarlySize before anything is sent; over the responder's MaxFrameSize
// after its HelloAck (it does not take it, and it could not be sent as a
// frame either).
func TestDialEarlyTooLarge(t *testing.T) {
	small := testConfig()
	small.MaxFrameSize = 64
	small.SendQueueBytes, small.RecvQueueBytes = 64<<10, 64<<10
	a, b := pair(t, false, testConfig(), small)
	ctx := ctxT(t, 10*time.Second)
	if _, err := a.s.DialEarly(ctx, b.h.ID(), make([]byte, MaxEarlySize+1)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("over MaxEarlySize: %v", err)
	}
	if _, err := a.s.DialEarly(ctx, b.h.ID(), make([]byte, 100)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("over the responder's MaxFrameSize: %v", err)
	}
	if a.s.Session(b.h.ID()) != nil {
		t.Fatal("a failed DialEarly left a session")
	}
	// Within the responder's limit it works. (The responder had answered
	// the refused attempt's Hello before the dialer gave up, so Listen
	// may hand out that session first; it is closed by now, replaced.)
	if _, err := a.s.DialEarly(ctx, b.h.ID(), make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	for {
		tb, err := b.s.Listen(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tb.Receive(ctx, Control)
		if errors.Is(err, ErrClosed) {
			continue
		}
		if err != nil || len(got) != 64 {
			t.Fatalf("%d bytes, %v", len(got), err)
		}
		return
	}
}

// Config.AnswerEarly: the responder answers the dialer's early data in the
// HelloAck. The answer is the dialer's control frame 1, there before
// DialEarly returns; the early data it consumed never reaches the
// responder's Receive but counts as delivered; the state it kept is the
// session's EarlyState. Both survive a cut at once: nothing is delivered
// twice and the channel carries on.
func TestAnswerEarly(t *testing.T) {
	cfgB := testConfig()
	var offered []byte
	cfgB.AnswerEarly = func(_ *Transport, early []byte) ([]byte, any) {
		offered = bytes.Clone(early)
		return []byte("answer to " + string(early)), "kept"
	}
	a, b := pair(t, false, testConfig(), cfgB)
	ctx := ctxT(t, 20*time.Second)
	ta, err := a.s.DialEarly(ctx, b.h.ID(), []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if string(offered) != "hello" {
		t.Fatalf("AnswerEarly was offered %q", offered)
	}
	tb, err := b.s.Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tb.EarlyState() != "kept" {
		t.Fatalf("EarlyState = %v", tb.EarlyState())
	}
	if got := ta.Telemetry().Channels[Control.index()].FramesIn; got != 1 {
		t.Fatalf("the answer is not delivered when DialEarly returns: %d control frames in", got)
	}
	if got, err := ta.Receive(ctx, Control); err != nil || string(got) != "answer to hello" {
		t.Fatalf("dialer's first control payload: %q %v", got, err)
	}
	if err := a.h.Network().ClosePeer(b.h.ID()); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, a, 10*time.Second, "web4.rtt.resumed", nil)
	if err := ta.Send(ctx, Control, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if got, err := tb.Receive(ctx, Control); err != nil || string(got) != "ping" {
		t.Fatalf("responder: %q %v, want ping (the consumed early data must not appear)", got, err)
	}
	if err := tb.Send(ctx, Control, []byte("pong")); err != nil {
		t.Fatal(err)
	}
	if got, err := ta.Receive(ctx, Control); err != nil || string(got) != "pong" {
		t.Fatalf("dialer: %q %v, want pong (the answer must not come twice)", got, err)
	}
	waitCond(t, 5*time.Second, "the dialer to acknowledge the answer", func() bool {
		return tb.Telemetry().Channels[Control.index()].SendQueueFrames == 0
	})
}

// DialEarlyFunc makes its payload only in the call that creates the
// session: a call that finds the session being dialled (the responder
// holds the first call's control stream while the second one starts) or
// already there does not make one, and gets the same session.
func TestDialEarlyFuncMakesPayloadOnlyWhenDialling(t *testing.T) {
	a, b := pair(t, false, testConfig(), testConfig())
	ctx := ctxT(t, 10*time.Second)
	arrived, release := make(chan struct{}), make(chan struct{})
	b.h.SetStreamHandler(ProtocolControl, func(st network.Stream) {
		close(arrived)
		<-release
		b.s.handleControl(st)
	})
	var made atomic.Int32
	mk := func(p string) func() []byte {
		return func() []byte { made.Add(1); return []byte(p) }
	}
	first := make(chan *Transport, 1)
	go func() {
		tr, err := a.s.DialEarlyFunc(ctx, b.h.ID(), mk("first"))
		if err != nil {
			t.Error(err)
		}
		first <- tr
	}()
	select {
	case <-arrived:
	case <-ctx.Done():
		t.Fatal("the first dial never reached the responder")
	}
	second := make(chan *Transport, 1)
	go func() {
		tr, err := a.s.DialEarlyFunc(ctx, b.h.ID(), mk("second"))
		if err != nil {
			t.Error(err)
		}
		second <- tr
	}()
	// Whether the second call finds the first in flight or its session
	// made depends on scheduling; it must not make a payload either way.
	close(release)
	t1, t2 := <-first, <-second
	if t1 == nil || t1 != t2 || string(t1.Early()) != "first" {
		t.Fatalf("sessions %p %p, Early %q", t1, t2, t1.Early())
	}
	if _, err := a.s.DialEarlyFunc(ctx, b.h.ID(), mk("third")); err != nil {
		t.Fatal(err)
	}
	if n := made.Load(); n != 1 {
		t.Fatalf("payload made %d times, want once", n)
	}
}
