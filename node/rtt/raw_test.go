package rtt

import (
	"bufio"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/internal/events"
)

// rawPeer speaks the RTT wire protocol by hand from a host without a
// Service, to inject what a well-behaved peer never sends.
type rawPeer struct {
	t       *testing.T
	h       host.Host
	id      [16]byte
	streams [numChannels]network.Stream
	readers [numChannels]*bufio.Reader
}

func (r *rawPeer) hello(to peer.ID, version uint64) Hello {
	cfg := DefaultConfig()
	h := Hello{
		Version: version, Status: StatusOK, From: r.h.ID(), To: to,
		MaxFrame: uint64(cfg.MaxFrameSize), SendQueueFrames: 1024, SendQueueBytes: 8 << 20,
		RecvQueueFrames: 1024, RecvQueueBytes: 8 << 20,
	}
	for i := range h.Channels {
		h.Channels[i] = ChannelResume{WinFrames: 1024, WinBytes: 8 << 20}
	}
	return h
}

func (r *rawPeer) write(ch Channel, f Frame) {
	r.t.Helper()
	b, err := EncodeFrame(&f, 1<<20)
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.streams[ch.index()].Write(b); err != nil {
		r.t.Fatalf("raw write %s: %v", ch, err)
	}
}

// handshake performs the dialer side by hand and returns the HelloAck.
func (r *rawPeer) handshake(ctx context.Context, to peer.ID, h Hello) (Hello, error) {
	r.t.Helper()
	s, err := r.h.NewStream(ctx, to, ProtocolControl)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { _ = s.Reset() })
	r.streams[0], r.readers[0] = s, bufio.NewReader(s)
	r.write(Control, Frame{Kind: KindHello, Channel: Control, Session: r.id, Payload: AppendHello(nil, &h)})
	f, err := ReadFrame(r.readers[0], 1<<20)
	if err != nil {
		return Hello{}, err
	}
	if f.Kind != KindHelloAck {
		r.t.Fatalf("got %s", f.Kind)
	}
	return DecodeHello(f.Payload)
}

func (r *rawPeer) attach(ctx context.Context, to peer.ID, epoch uint64) {
	r.t.Helper()
	for _, ch := range []Channel{State, Knowledge} {
		s, err := r.h.NewStream(ctx, to, ch.Protocol())
		if err != nil {
			r.t.Fatal(err)
		}
		r.t.Cleanup(func() { _ = s.Reset() })
		r.streams[ch.index()], r.readers[ch.index()] = s, bufio.NewReader(s)
		r.write(ch, Frame{Kind: KindAttach, Channel: ch, Session: r.id, Seq: epoch})
	}
}

func newRaw(t *testing.T, target *node) *rawPeer {
	r := &rawPeer{t: t, h: newHost(t, false), id: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}}
	know(r.h, target.h)
	return r
}

// TestReplayRejected: a frame whose seq was already delivered and a frame
// carrying another session's ID are dropped, counted and reported with
// ErrReplay; the stream and the session keep working.
func TestReplayRejected(t *testing.T) {
	a := newNode(t, newHost(t, false), testConfig())
	r := newRaw(t, a)
	ctx := ctxT(t, 10*time.Second)
	ack, err := r.handshake(ctx, a.h.ID(), r.hello(a.h.ID(), Version))
	if err != nil || ack.Status != StatusOK {
		t.Fatalf("handshake: %+v %v", ack, err)
	}
	r.attach(ctx, a.h.ID(), ack.Epoch)
	ta, err := a.s.Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitUp(t, ta, 5*time.Second)

	data := func(seq uint64, payload string, sid [16]byte) Frame {
		return Frame{Kind: KindData, Channel: State, Session: sid, Seq: seq, WinFrames: 1024, WinBytes: 8 << 20, Payload: []byte(payload)}
	}
	other := r.id
	other[0] ^= 0xff
	r.write(State, data(1, "one", r.id))
	r.write(State, data(1, "one again", r.id)) // replay of a delivered seq
	r.write(State, data(2, "intruder", other)) // another session's ID
	r.write(State, data(2, "two", r.id))       // the real next frame
	for _, want := range []string{"one", "two"} {
		got, err := ta.Receive(ctx, State)
		if err != nil || string(got) != want {
			t.Fatalf("got %q %v, want %q", got, err, want)
		}
	}
	if n := ta.Telemetry().ReplayDrops; n != 2 {
		t.Fatalf("ReplayDrops = %d, want 2", n)
	}
	kinds := map[string]bool{}
	for _, e := range a.ring.Events() {
		if e.Type != "web4.rtt.replay_rejected" {
			continue
		}
		kinds[e.Data["kind"].(string)] = true
		if !strings.Contains(e.Data["error"].(string), ErrReplay.Error()) {
			t.Fatalf("replay event error %q does not carry ErrReplay", e.Data["error"])
		}
	}
	if !kinds["duplicate_seq"] || !kinds["foreign_session"] {
		t.Fatalf("replay kinds seen: %v", kinds)
	}
	if !ta.Up() {
		t.Fatal("replays must not take the session down")
	}
	if got := gauge(t, a, "web4_rtt_replay_drops_total", "state"); got != 2 {
		t.Fatalf("web4_rtt_replay_drops_total{state} = %v", got)
	}
}

// TestMalformedFrameResetsStreamOnly: garbage on a stream is reported and
// resets that link; the service keeps serving other peers.
func TestMalformedFrameResetsStreamOnly(t *testing.T) {
	a := newNode(t, newHost(t, false), testConfig())
	r := newRaw(t, a)
	ctx := ctxT(t, 10*time.Second)
	ack, err := r.handshake(ctx, a.h.ID(), r.hello(a.h.ID(), Version))
	if err != nil {
		t.Fatal(err)
	}
	r.attach(ctx, a.h.ID(), ack.Epoch)
	ta, _ := a.s.Listen(ctx)
	waitUp(t, ta, 5*time.Second)
	// A frame with kind 99 and one that claims 1 GiB.
	if _, err := r.streams[Knowledge.index()].Write([]byte{0x20, 99, 3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	e := waitEvent(t, a, 5*time.Second, "web4.rtt.frame_rejected", nil)
	if e.Data["channel"] != "knowledge" {
		t.Fatalf("rejected on %v", e.Data["channel"])
	}
	waitEvent(t, a, 5*time.Second, "web4.rtt.session_down", nil)
	if ta.Telemetry().FramesRejected != 1 {
		t.Fatalf("FramesRejected = %d", ta.Telemetry().FramesRejected)
	}
	// The node still works for others.
	c := newNode(t, newHost(t, false), testConfig())
	know(c.h, a.h)
	tc, err := c.s.Dial(ctx, a.h.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.Send(ctx, Control, []byte("still alive")); err != nil {
		t.Fatal(err)
	}
	var tca *Transport
	for tca == nil || tca.RemotePeer() != c.h.ID() {
		if tca, err = a.s.Listen(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := tca.Receive(ctx, Control); err != nil || string(got) != "still alive" {
		t.Fatalf("%q %v", got, err)
	}
}

// fakeResponder installs a control handler on h that answers every Hello
// with the HelloAck built by answer (nil: never answer).
func fakeResponder(h host.Host, answer func(req Hello, sid [16]byte) *Hello) {
	h.SetStreamHandler(ProtocolControl, func(s network.Stream) {
		br := bufio.NewReader(s)
		f, err := ReadFrame(br, 1<<20)
		if err != nil {
			_ = s.Reset()
			return
		}
		req, _ := DecodeHello(f.Payload)
		if answer == nil {
			// Hold the stream open without answering until the dialer gives up.
			_, _ = ReadFrame(br, 1<<20)
			_ = s.Reset()
			return
		}
		resp := answer(req, f.Session)
		b, _ := EncodeFrame(&Frame{Kind: KindHelloAck, Channel: Control, Session: f.Session, Payload: AppendHello(nil, resp)}, 1<<20)
		_, _ = s.Write(b)
		_, _ = ReadFrame(br, 1<<20)
		_ = s.Reset()
	})
}

// TestHandshakeFailures: version mismatch, wrong peer and timeout give
// ErrHandshake on the dialer, and a mismatching inbound Hello is refused
// with the matching status; each emits handshake_failed.
func TestHandshakeFailures(t *testing.T) {
	okAck := func(h host.Host) func(Hello, [16]byte) *Hello {
		return func(req Hello, _ [16]byte) *Hello {
			resp := req
			resp.From, resp.To, resp.Epoch = h.ID(), req.From, 1
			return &resp
		}
	}
	cases := []struct {
		name   string
		answer func(h host.Host) func(Hello, [16]byte) *Hello
		want   string
	}{
		{"version mismatch", func(h host.Host) func(Hello, [16]byte) *Hello {
			return func(req Hello, sid [16]byte) *Hello { r := okAck(h)(req, sid); r.Version = 99; return r }
		}, "version mismatch"},
		{"wrong peer", func(h host.Host) func(Hello, [16]byte) *Hello {
			return func(req Hello, sid [16]byte) *Hello { r := okAck(h)(req, sid); r.From = req.From; return r }
		}, "wrong peer"},
		{"refused", func(h host.Host) func(Hello, [16]byte) *Hello {
			return func(req Hello, sid [16]byte) *Hello {
				r := okAck(h)(req, sid)
				r.Status = StatusVersionMismatch
				return r
			}
		}, "version_mismatch"},
		{"timeout", func(host.Host) func(Hello, [16]byte) *Hello { return nil }, "deadline"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.HandshakeTimeout = 300 * time.Millisecond
			a := newNode(t, newHost(t, false), cfg)
			other := newHost(t, false)
			fakeResponder(other, tc.answer(other))
			know(a.h, other)
			_, err := a.s.Dial(ctxT(t, 5*time.Second), other.ID())
			if !errors.Is(err, ErrHandshake) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("dial: %v, want ErrHandshake with %q", err, tc.want)
			}
			waitEvent(t, a, time.Second, "web4.rtt.handshake_failed", nil)
			if a.s.Session(other.ID()) != nil {
				t.Fatal("failed handshake left a session")
			}
		})
	}
	inbound := []struct {
		name string
		mod  func(*Hello)
		want Status
	}{
		{"inbound version mismatch", func(h *Hello) { h.Version = 2 }, StatusVersionMismatch},
		{"inbound wrong to", func(h *Hello) { h.To = h.From }, StatusWrongPeer},
		{"inbound wrong from", func(h *Hello) { h.From = h.To }, StatusWrongPeer},
		{"inbound unknown resume", func(h *Hello) { h.Resume = true }, StatusUnknownSession},
	}
	for _, tc := range inbound {
		t.Run(tc.name, func(t *testing.T) {
			a := newNode(t, newHost(t, false), testConfig())
			r := newRaw(t, a)
			h := r.hello(a.h.ID(), Version)
			tc.mod(&h)
			ack, err := r.handshake(ctxT(t, 5*time.Second), a.h.ID(), h)
			if err != nil || ack.Status != tc.want {
				t.Fatalf("status %v (%v), want %v", ack.Status, err, tc.want)
			}
			e := waitEvent(t, a, time.Second, "web4.rtt.handshake_failed", nil)
			if e.Data["role"] != "responder" {
				t.Fatalf("role %v", e.Data["role"])
			}
		})
	}
}

var _ = events.OfType

// TestResponderControlBeforeAttach: the responder's link runs control as
// soon as it has answered the hello, before the state and knowledge
// streams join; frames sent on those meanwhile wait and go out once their
// stream attaches. If they never join, the link fails at the handshake
// timeout (the session goes down, awaiting a resume).
func TestResponderControlBeforeAttach(t *testing.T) {
	cfg := testConfig()
	cfg.HandshakeTimeout = time.Second
	a := newNode(t, newHost(t, false), cfg)
	r := newRaw(t, a)
	ctx := ctxT(t, 10*time.Second)
	ack, err := r.handshake(ctx, a.h.ID(), r.hello(a.h.ID(), Version))
	if err != nil || ack.Status != StatusOK {
		t.Fatalf("handshake: %+v %v", ack, err)
	}
	ta, err := a.s.Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Control works with no stream attached.
	r.write(Control, Frame{Kind: KindData, Channel: Control, Session: r.id, Seq: 1, WinFrames: 1024, WinBytes: 8 << 20, Payload: []byte("early")})
	if got, err := ta.Receive(ctx, Control); err != nil || string(got) != "early" {
		t.Fatalf("control before attach: %q %v", got, err)
	}
	// A state frame queued before its stream joins is delivered after.
	if err := ta.Send(ctx, State, []byte("queued")); err != nil {
		t.Fatal(err)
	}
	r.attach(ctx, a.h.ID(), ack.Epoch)
	f, err := ReadFrame(r.readers[State.index()], 1<<20)
	if err != nil || f.Kind != KindData || string(f.Payload) != "queued" {
		t.Fatalf("state after attach: %+v %v", f, err)
	}
	// A second attach of the same channel is refused.
	s, err := r.h.NewStream(ctx, a.h.ID(), ProtocolState)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Reset()
	b, _ := EncodeFrame(&Frame{Kind: KindAttach, Channel: State, Session: r.id, Seq: ack.Epoch}, 0)
	if _, err := s.Write(b); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, a, 5*time.Second, "web4.rtt.frame_rejected", func(e events.Event) bool {
		return strings.Contains(e.Data["error"].(string), "attached twice")
	})

	// A second raw peer never attaches: its link fails at the timeout.
	r2 := newRaw(t, a)
	r2.id[0] = 0x99
	ack2, err := r2.handshake(ctx, a.h.ID(), r2.hello(a.h.ID(), Version))
	if err != nil || ack2.Status != StatusOK {
		t.Fatalf("handshake 2: %+v %v", ack2, err)
	}
	defer func() {
		if t.Failed() {
			for _, e := range a.ring.Events() {
				t.Logf("%s %s %v", e.Type, e.Subject, e.Data)
			}
		}
	}()
	waitEvent(t, a, 5*time.Second, "web4.rtt.session_down", func(e events.Event) bool {
		reason, _ := e.Data["reason"].(string)
		return e.Subject == r2.h.ID().String() && strings.Contains(reason, "not attached within")
	})
}

// TestDialerControlBeforeAttach: the dialer's link, too, runs control as
// soon as it has the HelloAck: the session's first control messages go
// both ways while its state and knowledge streams have not joined (here
// the responder holds its state stream's handler), and state frames sent
// by either side meanwhile are delivered once the stream attaches.
func TestDialerControlBeforeAttach(t *testing.T) {
	a, b := pair(t, false, testConfig(), testConfig())
	release := make(chan struct{})
	held := make(chan struct{}, 1)
	attach := b.s.attachHandler(State)
	b.h.SetStreamHandler(ProtocolState, func(s network.Stream) {
		held <- struct{}{}
		<-release
		attach(s)
	})
	ta, tb := dialPair(t, a, b)
	ctx := ctxT(t, 10*time.Second)
	select {
	case <-held:
	case <-ctx.Done():
		t.Fatal("the dialer never opened its state stream")
	}
	controlBothWays(t, ctx, ta, tb)
	if err := ta.Send(ctx, State, []byte("a queued")); err != nil {
		t.Fatal(err)
	}
	if err := tb.Send(ctx, State, []byte("b queued")); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	if got, err := tb.Receive(wctx, State); err == nil {
		t.Fatalf("state delivered before its stream attached: %q", got)
	}
	cancel()
	close(release)
	if got, err := tb.Receive(ctx, State); err != nil || string(got) != "a queued" {
		t.Fatalf("dialer's state after attach: %q %v", got, err)
	}
	if got, err := ta.Receive(ctx, State); err != nil || string(got) != "b queued" {
		t.Fatalf("responder's state after attach: %q %v", got, err)
	}
}

// TestDeferAttach: under Config.DeferAttach a fresh session's dialer runs
// control alone and opens state and knowledge only when let to — by
// Attach, by a send on either, or at the latest after half the
// HandshakeTimeout, in time for a responder with the same timeout, whose
// link would fail without them. A state frame the responder sent
// meanwhile waits and arrives once they attach.
func TestDeferAttach(t *testing.T) {
	for _, trigger := range []string{"Attach", "send", "timeout"} {
		t.Run(trigger, func(t *testing.T) {
			cfgA, cfgB := testConfig(), testConfig()
			cfgA.DeferAttach = true
			if trigger == "timeout" {
				cfgA.HandshakeTimeout, cfgB.HandshakeTimeout = time.Second, time.Second
			}
			a, b := pair(t, false, cfgA, cfgB)
			var opened atomic.Int32
			attach := b.s.attachHandler(State)
			b.h.SetStreamHandler(ProtocolState, func(st network.Stream) {
				opened.Add(1)
				attach(st)
			})
			ta, tb := dialPair(t, a, b)
			ctx := ctxT(t, 10*time.Second)
			controlBothWays(t, ctx, ta, tb)
			if n := opened.Load(); n != 0 {
				t.Fatalf("the dialer opened its state stream before it was let to (%d)", n)
			}
			if err := tb.Send(ctx, State, []byte("from b")); err != nil {
				t.Fatal(err)
			}
			switch trigger {
			case "Attach":
				ta.Attach()
			case "send":
				if err := ta.Send(ctx, State, []byte("from a")); err != nil {
					t.Fatal(err)
				}
			}
			if got, err := ta.Receive(ctx, State); err != nil || string(got) != "from b" {
				t.Fatalf("responder's state frame: %q %v", got, err)
			}
			if trigger == "send" {
				if got, err := tb.Receive(ctx, State); err != nil || string(got) != "from a" {
					t.Fatalf("dialer's state frame: %q %v", got, err)
				}
			}
			for _, n := range []*node{a, b} {
				for _, e := range n.ring.Events() {
					if e.Type == "web4.rtt.session_down" {
						t.Fatalf("a link failed waiting for the attach: %v", e.Data)
					}
				}
			}
		})
	}
}

// controlBothWays sends one control message each way between the dialer's
// end ta and the responder's tb and checks that each arrives.
func controlBothWays(t *testing.T, ctx context.Context, ta, tb *Transport) {
	t.Helper()
	for _, d := range []struct {
		from, to *Transport
		msg      string
	}{{ta, tb, "from the dialer"}, {tb, ta, "from the responder"}} {
		if err := d.from.Send(ctx, Control, []byte(d.msg)); err != nil {
			t.Fatal(err)
		}
		if got, err := d.to.Receive(ctx, Control); err != nil || string(got) != d.msg {
			t.Fatalf("control: got %q %v, want %q", got, err, d.msg)
		}
	}
}

// An idle channel costs its link no write buffer: it is made on the
// stream's first write (here: control's, both ways), not when the stream's
// writer starts.
func TestIdleChannelHasNoWriteBuffer(t *testing.T) {
	a, b := pair(t, false, testConfig(), testConfig())
	ta, tb := dialPair(t, a, b)
	ctx := ctxT(t, 10*time.Second)
	controlBothWays(t, ctx, ta, tb)
	if err := ta.Send(ctx, State, []byte("state")); err != nil {
		t.Fatal(err)
	}
	if got, err := tb.Receive(ctx, State); err != nil || string(got) != "state" {
		t.Fatalf("state: %q %v", got, err)
	}
	for side, tr := range map[string]*Transport{"dialer": ta, "responder": tb} {
		tr.mu.Lock()
		l := tr.link
		tr.mu.Unlock()
		for _, ch := range []Channel{Control, State, Knowledge} {
			i := ch.index()
			l.wmu[i].Lock()
			has := l.bw[i] != nil
			l.wmu[i].Unlock()
			// The dialer wrote on control and state; the responder on
			// control (and state's acks once the delayed-ack timer fires,
			// which may or may not have happened yet); nobody on knowledge.
			if ch == Knowledge && has {
				t.Fatalf("%s: the idle knowledge channel has a write buffer", side)
			}
			if (ch == Control || (ch == State && side == "dialer")) && !has {
				t.Fatalf("%s: %s was written without a write buffer", side, ch)
			}
		}
	}
}
