package rtt

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestBackpressure: with the receiver not reading, TrySend fails at once
// with ErrBackpressure once the send queue is full, Send waits until ctx
// ends, and a blocked Send completes when the reader drains. Nothing is
// lost or duplicated.
func TestBackpressure(t *testing.T) {
	cfg := testConfig()
	cfg.SendQueueFrames, cfg.RecvQueueFrames = 4, 4
	a, b := pair(t, false, cfg, cfg)
	ta, tb := dialPair(t, a, b)
	ctx := ctxT(t, 10*time.Second)

	// Fill until both queues are full: then no ack can free room.
	sent := fill(t, ta, tb, Knowledge, []byte{0}, cfg)
	// At most the peer's receive queue plus our send queue can be taken.
	if sent < cfg.SendQueueFrames || sent > cfg.SendQueueFrames+cfg.RecvQueueFrames {
		t.Fatalf("accepted %d frames before backpressure", sent)
	}
	e := waitEvent(t, a, time.Second, "web4.rtt.backpressure", nil)
	if e.Data["channel"] != "knowledge" || e.Data["queue"] != "send" {
		t.Fatalf("backpressure event %v", e.Data)
	}
	// Send gives up when its context ends, with both errors visible.
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	err := ta.Send(short, Knowledge, []byte{0xee})
	cancel()
	if !errors.Is(err, ErrBackpressure) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send on a full queue: %v", err)
	}
	// Other channels are not affected by the full knowledge queue.
	if err := ta.TrySend(Control, []byte("ctl")); err != nil {
		t.Fatalf("control blocked by knowledge: %v", err)
	}
	if got, err := tb.Receive(ctx, Control); err != nil || string(got) != "ctl" {
		t.Fatalf("%q %v", got, err)
	}
	// A blocked Send completes once the reader drains.
	done := make(chan error, 1)
	go func() { done <- ta.Send(ctx, Knowledge, []byte{byte(sent)}) }()
	if tel := ta.Telemetry(); tel.Channels[Knowledge.index()].SendQueueFrames != cfg.SendQueueFrames {
		t.Fatalf("send queue not full: %+v", tel.Channels[Knowledge.index()])
	}
	select {
	case err := <-done:
		t.Fatalf("Send returned %v while the queue is full", err)
	default:
	}
	for i := 0; i <= sent; i++ {
		got, err := tb.Receive(ctx, Knowledge)
		if err != nil || int(got[0]) != i {
			t.Fatalf("message %d: %v %v", i, got, err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("blocked Send: %v", err)
	}
	if tel := ta.Telemetry(); tel.Backpressure == 0 {
		t.Fatal("Telemetry.Backpressure not counted")
	}
}

// TestFrameTooLarge: a payload over the limit is refused and nothing is
// queued or written; the negotiated limit is the smaller side's.
func TestFrameTooLarge(t *testing.T) {
	cfgA, cfgB := testConfig(), testConfig()
	cfgB.MaxFrameSize = 4096
	a, b := pair(t, false, cfgA, cfgB)
	ta, tb := dialPair(t, a, b)
	ctx := ctxT(t, 5*time.Second)
	for _, tr := range []*Transport{ta, tb} {
		before := tr.Telemetry()
		err := tr.Send(ctx, State, make([]byte, 4097))
		if !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("send 4097 bytes: %v", err)
		}
		if err := tr.TrySend(State, make([]byte, 4097)); !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("trysend 4097 bytes: %v", err)
		}
		after := tr.Telemetry()
		if after.Channels[State.index()] != before.Channels[State.index()] {
			t.Fatalf("a refused frame changed the channel: %+v → %+v", before.Channels[1], after.Channels[1])
		}
	}
	if err := ta.Send(ctx, State, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	if got, err := tb.Receive(ctx, State); err != nil || len(got) != 4096 {
		t.Fatalf("%d %v", len(got), err)
	}
	// Default limit: 1 MiB.
	c, d := pair(t, false, testConfig(), testConfig())
	tc, _ := dialPair(t, c, d)
	if err := tc.Send(ctx, Knowledge, make([]byte, 1<<20+1)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("1 MiB + 1: %v", err)
	}
	if tc.Telemetry().Channels[Knowledge.index()].SendQueueFrames != 0 {
		t.Fatal("oversized frame queued")
	}
}

// TestNoHeadOfLineBlocking: a reader that stops reading knowledge (whose
// queues then fill up) does not delay control. Control round trips are
// measured with knowledge idle and with knowledge stalled and full, in the
// same test; the stalled median must stay within a bound of the idle one.
func TestNoHeadOfLineBlocking(t *testing.T) {
	cfg := testConfig()
	cfg.RecvQueueFrames, cfg.SendQueueFrames = 16, 16
	a, b := pair(t, false, cfg, cfg)
	ta, tb := dialPair(t, a, b)
	ctx := ctxT(t, 30*time.Second)

	// b echoes control back to a.
	echoCtx, stopEcho := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			m, err := tb.Receive(echoCtx, Control)
			if err != nil {
				return
			}
			if err := tb.Send(echoCtx, Control, m); err != nil {
				return
			}
		}
	}()
	defer func() { stopEcho(); wg.Wait() }()

	rounds := func(n int) time.Duration {
		lat := make([]time.Duration, 0, n)
		for range n {
			start := time.Now()
			if err := ta.Send(ctx, Control, []byte("ping")); err != nil {
				t.Fatal(err)
			}
			if _, err := ta.Receive(ctx, Control); err != nil {
				t.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		slices.Sort(lat)
		return lat[len(lat)/2]
	}
	rounds(20) // warm up
	idle := rounds(200)

	// Stall knowledge: b never reads it; a fills it until backpressure.
	payload := make([]byte, 16<<10)
	fill(t, ta, tb, Knowledge, payload, cfg)
	// Keep a Send blocked on knowledge during the measurement, too.
	blocked := make(chan error, 1)
	bctx, cancelBlocked := context.WithCancel(ctx)
	go func() { blocked <- ta.Send(bctx, Knowledge, payload) }()
	stalled := rounds(200)
	cancelBlocked()
	if err := <-blocked; !errors.Is(err, ErrBackpressure) {
		t.Fatalf("blocked knowledge Send: %v", err)
	}
	t.Logf("control round trip median: idle %v, knowledge stalled %v", idle, stalled)
	if stalled > 5*idle+2*time.Millisecond {
		t.Fatalf("control delayed by stalled knowledge: median %v vs idle %v", stalled, idle)
	}
	kt := tb.Telemetry().Channels[Knowledge.index()]
	if kt.RecvQueueFrames != cfg.RecvQueueFrames {
		t.Fatalf("knowledge receive queue %d, want full (%d)", kt.RecvQueueFrames, cfg.RecvQueueFrames)
	}
}

// fill TrySends on ch until the sender's queue and the receiver's queue
// are both full (the last TrySend saw ErrBackpressure), so no ack can free
// room any more. payload[0] is replaced by the message number. It returns
// how many messages were accepted.
func fill(t *testing.T, from, to *Transport, ch Channel, payload []byte, cfg Config) int {
	t.Helper()
	sent := 0
	full := func() bool {
		for {
			p := append([]byte(nil), payload...)
			p[0] = byte(sent)
			err := from.TrySend(ch, p)
			if errors.Is(err, ErrBackpressure) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			sent++
		}
		st := from.Telemetry().Channels[ch.index()]
		rt := to.Telemetry().Channels[ch.index()]
		return st.SendQueueFrames == cfg.SendQueueFrames && st.Unacked == 0 && rt.RecvQueueFrames == cfg.RecvQueueFrames
	}
	waitCond(t, 5*time.Second, "both queues full", full)
	return sent
}

// A frame nobody answers is still acknowledged: the receiver's delayed-ack
// timer (armed by its reader, AckDelay) sends a pure ack, and the sender's
// queue empties. With AckDelay far above the test's patience, nothing would.
func TestDelayedAckWithoutReplies(t *testing.T) {
	cfg := testConfig()
	cfg.AckDelay = 20 * time.Millisecond
	a, b := pair(t, false, cfg, cfg)
	ta, tb := dialPair(t, a, b)
	ctx := ctxT(t, 10*time.Second)
	for _, ch := range Channels {
		if err := ta.Send(ctx, ch, []byte("one-way")); err != nil {
			t.Fatal(err)
		}
		if got, err := tb.Receive(ctx, ch); err != nil || string(got) != "one-way" {
			t.Fatalf("%s: %q %v", ch, got, err)
		}
		waitCond(t, 5*time.Second, ch.String()+" acknowledged", func() bool {
			return ta.Telemetry().Channels[ch.index()].SendQueueFrames == 0
		})
	}
	// The timer re-arms: a second one-way frame is acknowledged too.
	if err := ta.Send(ctx, Knowledge, []byte("again")); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Receive(ctx, Knowledge); err != nil {
		t.Fatal(err)
	}
	waitCond(t, 5*time.Second, "second frame acknowledged", func() bool {
		return ta.Telemetry().Channels[Knowledge.index()].SendQueueFrames == 0
	})
}

// Several goroutines may wait in Receive on one channel: every frame goes
// to exactly one of them, in order per channel, and closing the session
// wakes every waiter that is left.
func TestConcurrentReceivers(t *testing.T) {
	a, b := pair(t, false, testConfig(), testConfig())
	ta, tb := dialPair(t, a, b)
	ctx := ctxT(t, 20*time.Second)
	const waiters, frames = 4, 400
	got := make(chan int, frames)
	errs := make(chan error, waiters)
	for range waiters {
		go func() {
			for {
				p, err := tb.Receive(ctx, State)
				if err != nil {
					errs <- err
					return
				}
				got <- int(binary.BigEndian.Uint32(p))
			}
		}()
	}
	for i := range frames {
		var p [4]byte
		binary.BigEndian.PutUint32(p[:], uint32(i))
		if err := ta.Send(ctx, State, p[:]); err != nil {
			t.Fatal(err)
		}
	}
	seen := make([]bool, frames)
	for range frames {
		select {
		case i := <-got:
			if seen[i] {
				t.Fatalf("frame %d delivered twice", i)
			}
			seen[i] = true
		case <-ctx.Done():
			t.Fatal("not every frame was delivered")
		}
	}
	if err := tb.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for range waiters {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("waiter ended with %v, want ErrClosed", err)
			}
		case <-ctx.Done():
			t.Fatal("a Receive waiter was not woken by the close")
		}
	}
}
