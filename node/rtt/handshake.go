package rtt

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	pool "github.com/libp2p/go-buffer-pool"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

func readFull(r io.Reader, b []byte) (int, error) { return io.ReadFull(r, b) }

// streamSet resets the streams of a handshake in progress when its
// context ends (deadlines alone are not honoured by every transport).
type streamSet struct {
	mu   sync.Mutex
	done bool
	ss   []network.Stream
}

func (s *streamSet) add(st network.Stream) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		_ = st.Reset()
		return false
	}
	s.ss = append(s.ss, st)
	return true
}

func (s *streamSet) resetAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done = true
	for _, st := range s.ss {
		_ = st.Reset()
	}
}

// ourHello snapshots this side's receive state (resume points and free
// room) into a hello and records it as advertised.
func (t *Transport) ourHello(st Status, resume bool, epoch uint64) Hello {
	cfg := &t.svc.cfg
	from, to := t.svc.h.ID(), t.remote
	h := Hello{
		Version: Version, Status: st, Resume: resume, From: from, To: to, Epoch: epoch,
		MaxFrame:        uint64(cfg.MaxFrameSize),
		SendQueueFrames: uint64(cfg.SendQueueFrames), SendQueueBytes: uint64(cfg.SendQueueBytes),
		RecvQueueFrames: uint64(cfg.RecvQueueFrames), RecvQueueBytes: uint64(cfg.RecvQueueBytes),
	}
	for i, cs := range t.chans {
		cs.mu.Lock()
		winF, winB := uint64(cfg.RecvQueueFrames-len(cs.recvQ)), uint64(cfg.RecvQueueBytes-cs.recvBytes)
		h.Channels[i] = ChannelResume{Delivered: cs.delivered, WinFrames: winF, WinBytes: winB}
		cs.advAck, cs.advBytes, cs.advWinFrames, cs.advWinBytes = cs.delivered, cs.deliveredBytes, winF, winB
		cs.ackDirty = false
		cs.mu.Unlock()
	}
	return h
}

// applyPeerResume takes the peer's resume points: frames it already has
// leave the send queue, the rest will be (re-)sent from the start of the
// new link. It returns how many frames had been sent before and will be
// sent again.
func (t *Transport) applyPeerResume(h *Hello) (resent int, err error) {
	cfg := &t.svc.cfg
	if h.MaxFrame == 0 {
		return 0, fmt.Errorf("%w: peer max frame 0", ErrHandshake)
	}
	// Check every channel before changing any.
	for i, cs := range t.chans {
		c := h.Channels[i]
		cs.mu.Lock()
		bad := c.Delivered < cs.peerAck || c.Delivered > cs.nextSeq
		lo, hi := cs.peerAck, cs.nextSeq
		cs.mu.Unlock()
		if bad {
			return 0, fmt.Errorf("%w: %s resume point %d outside [%d, %d]", ErrHandshake, Channels[i], c.Delivered, lo, hi)
		}
	}
	t.maxPayload.Store(int64(min(uint64(cfg.MaxFrameSize), h.MaxFrame)))
	t.mu.Lock()
	t.peerVersion = h.Version
	t.mu.Unlock()
	for i, cs := range t.chans {
		c := h.Channels[i]
		cs.mu.Lock()
		n := int(c.Delivered - cs.peerAck)
		if cs.sentIdx > n {
			resent += cs.sentIdx - n
		}
		// Frames the peer still needs are written again by the next link;
		// until then their buffers must not be reused.
		cs.writtenUpTo = min(cs.writtenUpTo, c.Delivered)
		cs.sentIdx = n // every frame up to the resume point counts as sent
		cs.sentBytes = 0
		for j := range n {
			cs.sentBytes += len(cs.sendQ[j].payload)
		}
		_, _ = cs.applyAckLocked(&Frame{Ack: c.Delivered, WinFrames: c.WinFrames, WinBytes: c.WinBytes})
		cs.sentIdx, cs.sentBytes = 0, 0
		cs.ackQF = max(1, min(uint64(cfg.RecvQueueFrames), h.SendQueueFrames)/4)
		cs.ackQB = max(1, min(uint64(cfg.RecvQueueBytes), h.SendQueueBytes)/4)
		broadcast(&cs.space)
		cs.mu.Unlock()
	}
	return resent, nil
}

// handshakeOut runs the dialer side: Hello and HelloAck on a new control
// stream. The returned link has control alone and is not started; the
// other two streams follow once it is (startDialerLink).
func (s *Service) handshakeOut(ctx context.Context, t *Transport, resume bool) (*link, Hello, error) {
	p := t.remote
	role := "dialer"
	ctx, cancel := context.WithTimeout(ctx, s.cfg.HandshakeTimeout)
	defer cancel()
	var set streamSet
	stop := context.AfterFunc(ctx, set.resetAll)
	fail := func(err error) (*link, Hello, error) {
		stop()
		set.resetAll()
		if ctx.Err() != nil && !errors.Is(err, ErrHandshake) {
			err = fmt.Errorf("%w: %s: %w (%w)", ErrHandshake, p, err, ctx.Err())
		} else if !errors.Is(err, ErrHandshake) {
			err = fmt.Errorf("%w: %s: %w", ErrHandshake, p, err)
		}
		s.handshakeFailed(p, role, err)
		return nil, Hello{}, err
	}
	str, err := openStream(ctx, s.h, p, ProtocolControl)
	if err != nil {
		return fail(fmt.Errorf("open control stream: %w", err))
	}
	if !set.add(str) {
		return fail(fmt.Errorf("open control stream: %w", ctx.Err()))
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = str.SetDeadline(dl)
	}
	hello := t.ourHello(StatusOK, resume, 0)
	if !resume {
		hello.Early = t.early
	}
	b, err := EncodeFrame(&Frame{Kind: KindHello, Channel: Control, Session: t.id, Payload: AppendHello(nil, &hello)}, maxHelloSize)
	if err != nil {
		return fail(err)
	}
	if _, err := str.Write(b); err != nil {
		return fail(fmt.Errorf("write hello: %w", err))
	}
	var readers [numChannels]*bufio.Reader
	var streams [numChannels]network.Stream
	streams[0], readers[0] = str, bufio.NewReaderSize(str, readBufferSize)
	f, err := ReadFrame(readers[0], maxHelloSize)
	if err != nil {
		return fail(fmt.Errorf("read hello_ack: %w", err))
	}
	if f.Kind != KindHelloAck {
		return fail(fmt.Errorf("%w: got %s, want hello_ack", ErrMalformedFrame, f.Kind))
	}
	ph, err := DecodeHello(f.Payload)
	if err != nil {
		return fail(err)
	}
	if ph.Status != StatusOK {
		return fail(statusErr(ph.Status))
	}
	if ph.Version != Version {
		return fail(fmt.Errorf("%w: version mismatch: peer speaks %d, we speak %d", ErrHandshake, ph.Version, Version))
	}
	if f.Session != t.id {
		return fail(fmt.Errorf("%w: hello_ack for another session", ErrHandshake))
	}
	// Only a fresh session's HelloAck may answer early data
	// (Config.AnswerEarly), and only within this side's frame limit.
	if len(ph.Early) > 0 && resume {
		return fail(fmt.Errorf("%w: hello_ack of a resume carries early data", ErrMalformedFrame))
	}
	if len(ph.Early) > s.cfg.MaxFrameSize {
		return fail(fmt.Errorf("%w: hello_ack early data %d bytes > %d", ErrFrameTooLarge, len(ph.Early), s.cfg.MaxFrameSize))
	}
	if ph.From != p || ph.To != s.h.ID() {
		return fail(fmt.Errorf("%w: wrong peer: hello_ack from %s to %s, expected from %s to %s", ErrHandshake, ph.From, ph.To, p, s.h.ID()))
	}
	if !stop() {
		return fail(fmt.Errorf("handshake: %w", ctx.Err()))
	}
	_ = str.SetDeadline(time.Time{})
	return newLink(t, ph.Epoch, streams, readers), ph, nil
}

// attachRest opens the dialer link's state and knowledge streams on the
// connection its control stream took and attaches them. It runs once the
// link has started with control alone, so the session's first messages —
// the CIP handshake, on control — do not wait behind two stream opens,
// their protocol selection and Attach frames; the responder's link starts
// the same way and takes the Attach frames whenever they come. Frames sent
// on state or knowledge before their stream joins wait in the send queue.
// A failure fails the link, which then resumes like after any link
// failure; startChannels' attach timer bounds the wait on both sides.
// With wait (Config.DeferAttach on a fresh session) it first waits for
// Attach, or half the HandshakeTimeout.
func (t *Transport) attachRest(l *link, wait bool) {
	cfg := &t.svc.cfg
	if wait {
		timer := time.NewTimer(cfg.HandshakeTimeout / 2)
		select {
		case <-t.attachGo:
		case <-timer.C:
		case <-l.dying:
		case <-t.svc.ctx.Done():
		}
		timer.Stop()
	}
	ctx, cancel := context.WithTimeout(t.svc.ctx, cfg.HandshakeTimeout)
	defer cancel()
	c := l.streams[Control.index()].Conn()
	for _, ch := range []Channel{State, Knowledge} {
		select {
		case <-l.dying:
			return
		default:
		}
		st, err := openStreamOn(ctx, c, ch.Protocol())
		if err != nil {
			l.fail(fmt.Errorf("%w: open %s stream: %w", ErrTransport, ch, err))
			return
		}
		if dl, ok := ctx.Deadline(); ok {
			_ = st.SetDeadline(dl)
		}
		b, err := EncodeFrame(&Frame{Kind: KindAttach, Channel: ch, Session: t.id, Seq: l.epoch}, 0)
		if err == nil {
			_, err = st.Write(b)
		}
		if err != nil {
			_ = st.Reset()
			l.fail(fmt.Errorf("%w: write %s attach: %w", ErrTransport, ch, err))
			return
		}
		_ = st.SetDeadline(time.Time{})
		if err := l.attachStream(ch, st, bufio.NewReaderSize(st, readBufferSize)); err != nil {
			_ = st.Reset() // the link is finished
			return
		}
	}
}

// handleControl is the responder side of the handshake.
func (s *Service) handleControl(str network.Stream) {
	remote := str.Conn().RemotePeer()
	cfg := &s.cfg
	timer := time.AfterFunc(cfg.HandshakeTimeout, func() { _ = str.Reset() })
	_ = str.SetDeadline(time.Now().Add(cfg.HandshakeTimeout))
	var sid [16]byte
	reply := func(h Hello) error {
		b, err := EncodeFrame(&Frame{Kind: KindHelloAck, Channel: Control, Session: sid, Payload: AppendHello(nil, &h)}, maxHelloSize)
		if err != nil {
			return err
		}
		_, err = str.Write(b)
		return err
	}
	refuse := func(st Status, err error) {
		timer.Stop()
		if st != 0 {
			h := Hello{Version: Version, Status: st, From: s.h.ID(), To: remote}
			_ = reply(h)
			_ = str.CloseWrite()
		}
		_ = str.Reset()
		s.handshakeFailed(remote, "responder", err)
	}
	br := bufio.NewReaderSize(str, readBufferSize)
	f, err := ReadFrame(br, maxHelloSize)
	if err != nil {
		if errors.Is(err, ErrMalformedFrame) || errors.Is(err, ErrFrameTooLarge) {
			s.rejectFrame(remote, "", Control, err)
		}
		refuse(0, fmt.Errorf("%w: read hello: %w", ErrHandshake, err))
		return
	}
	sid = f.Session
	if f.Kind != KindHello {
		refuse(0, fmt.Errorf("%w: got %s, want hello", ErrHandshake, f.Kind))
		return
	}
	h, err := DecodeHello(f.Payload)
	if err != nil {
		refuse(0, fmt.Errorf("%w: %w", ErrHandshake, err))
		return
	}
	if h.Version != Version {
		refuse(StatusVersionMismatch, fmt.Errorf("%w: version mismatch: peer speaks %d, we speak %d", ErrHandshake, h.Version, Version))
		return
	}
	if h.From != remote || h.To != s.h.ID() {
		refuse(StatusWrongPeer, fmt.Errorf("%w: wrong peer: hello from %s to %s on a connection from %s to %s", ErrHandshake, h.From, h.To, remote, s.h.ID()))
		return
	}
	if h.MaxFrame == 0 {
		refuse(0, fmt.Errorf("%w: peer max frame 0", ErrHandshake))
		return
	}
	t, old, st := s.admit(remote, f.Session, h.Resume)
	if st != StatusOK {
		refuse(st, fmt.Errorf("%w: %s", ErrHandshake, st))
		return
	}
	if old != nil {
		old.close("replaced by a new session from the peer")
	}
	// Stop the previous link and any link of t not started yet.
	t.mu.Lock()
	prev, prevPending := t.link, t.pending
	t.pending = nil
	t.mu.Unlock()
	if prevPending != nil {
		prevPending.fail(fmt.Errorf("%w: superseded by a new hello", ErrTransport))
	}
	if prev != nil {
		prev.fail(fmt.Errorf("%w: superseded by a resume", ErrTransport))
		<-prev.stopped
	}
	resent, err := t.applyPeerResume(&h)
	if err != nil {
		refuse(StatusUnknownSession, err)
		if !h.Resume {
			t.close("handshake failed")
		}
		return
	}
	var answer []byte
	if !h.Resume && len(h.Early) > 0 && len(h.Early) <= cfg.MaxFrameSize && cfg.AnswerEarly != nil {
		rep, st := cfg.AnswerEarly(t, h.Early)
		if len(rep) > 0 && len(rep) <= min(MaxEarlySize, cfg.MaxFrameSize, int(min(h.MaxFrame, uint64(cfg.MaxFrameSize)))) {
			answer, t.earlyState = rep, st
		}
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		refuse(StatusUnavailable, fmt.Errorf("%w: session closed", ErrHandshake))
		return
	}
	t.epoch++
	if answer != nil && !t.queueAnswerLocked(answer) {
		answer = nil
	}
	early := 0
	if len(h.Early) > 0 && t.acceptEarlyLocked(h.Early, answer != nil) {
		early = len(h.Early)
	}
	// The link starts with control alone once the hello_ack is out (its
	// writer must not get ahead of the ack); state and knowledge join as
	// their Attach frames arrive, which may be before it starts: t.pending
	// lets attach find it.
	var streams [numChannels]network.Stream
	var readers [numChannels]*bufio.Reader
	streams[0], readers[0] = str, br
	l := newLink(t, t.epoch, streams, readers)
	t.pending = l
	ours := t.ourHello(StatusOK, h.Resume, l.epoch)
	ours.Early = answer
	t.mu.Unlock()
	if !timer.Stop() {
		t.abortPending(l, fmt.Errorf("%w: hello_ack not sent within %v", ErrHandshake, cfg.HandshakeTimeout))
		return
	}
	if err := reply(ours); err != nil {
		t.abortPending(l, fmt.Errorf("%w: write hello_ack: %w", ErrHandshake, err))
		return
	}
	_ = str.SetDeadline(time.Time{})
	s.handshakeCompleted(t, "responder", l.epoch, h.Resume, early, len(answer))
	if err := t.startLink(l, h.Resume, resent); err != nil {
		return
	}
	if !h.Resume {
		s.offerInbound(t)
	}
}

// acceptEarlyLocked delivers a fresh session's early data (the dialer's
// Hello.Early) as control frame 1 if it is within this side's MaxFrameSize;
// the HelloAck's control resume point then tells the dialer it arrived. A
// larger one is left alone, and the dialer, which then cannot send it as a
// frame either, fails the dial with ErrFrameTooLarge. Callers hold t.mu;
// the receive queue is empty (a fresh session), so it has room.
func (t *Transport) acceptEarlyLocked(early []byte, consumed bool) bool {
	cfg := &t.svc.cfg
	cs := t.chans[Control.index()]
	cs.mu.Lock()
	defer cs.mu.Unlock()
	// RecvQueueBytes >= MaxFrameSize and RecvQueueFrames >= 1 (Config
	// validation), so a frame within MaxFrameSize fits the empty queue.
	if cs.delivered != 0 || len(early) > cfg.MaxFrameSize {
		return false
	}
	if consumed {
		// Config.AnswerEarly took it: frame 1 is delivered, not queued.
		cs.delivered++
		cs.deliveredBytes += uint64(len(early))
		return true
	}
	p := pool.Get(len(early))
	copy(p, early)
	cs.deliverLocked(p, false) // frame 1
	return true
}

// queueAnswerLocked puts a responder's answer to early data into the send
// queue as control frame 1, counted as written: it travels in the
// HelloAck, and the dialer's acknowledgements free it like any frame (a
// resume that finds it unacknowledged sends it again as a frame). False if
// the queue is not that of a fresh session. Callers hold t.mu.
func (t *Transport) queueAnswerLocked(answer []byte) bool {
	cs := t.chans[Control.index()]
	cs.mu.Lock()
	fresh := cs.nextSeq == 0
	cs.mu.Unlock()
	// Queued as a Send would (the link has not started: no writer takes
	// it), then counted as written, since the HelloAck carries it.
	if !fresh || t.TrySend(Control, answer) != nil {
		return false
	}
	cs.mu.Lock()
	cs.sentIdx, cs.sentBytes, cs.writtenUpTo = 1, len(answer), 1
	cs.mu.Unlock()
	return true
}

// acceptAnswer delivers the early data of a fresh session's HelloAck (the
// responder's answer, see Config.AnswerEarly) as this dialer's control
// frame 1.
func (t *Transport) acceptAnswer(answer []byte) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.acceptEarlyLocked(answer, false)
}

// abortPending gives up on a responder's link that could not be started
// (the hello_ack could not be sent, or the handshake timed out first).
func (t *Transport) abortPending(l *link, why error) {
	t.mu.Lock()
	cur := t.pending == l
	if cur {
		t.pending = nil
	}
	never := t.link == nil && !t.everUp
	t.mu.Unlock()
	l.fail(why)
	if cur {
		t.svc.handshakeFailed(t.remote, "responder", why)
		if never {
			t.close("handshake failed")
		}
	}
}

// attachHandler receives the state and knowledge streams of a handshake.
func (s *Service) attachHandler(ch Channel) network.StreamHandler {
	return func(str network.Stream) {
		remote := str.Conn().RemotePeer()
		timer := time.AfterFunc(s.cfg.HandshakeTimeout, func() { _ = str.Reset() })
		br := bufio.NewReaderSize(str, readBufferSize)
		f, err := ReadFrame(br, s.cfg.MaxFrameSize)
		if !timer.Stop() {
			return
		}
		reject := func(err error) {
			_ = str.Reset()
			s.rejectFrame(remote, "", ch, err)
		}
		if err != nil {
			reject(fmt.Errorf("%w: read attach: %w", ErrTransport, err))
			return
		}
		if f.Kind != KindAttach || f.Channel != ch {
			reject(fmt.Errorf("%w: %s %s frame opening the %s stream", ErrMalformedFrame, f.Channel, f.Kind, ch))
			return
		}
		t := s.Session(remote)
		if t == nil {
			reject(fmt.Errorf("%w: attach to unknown session", ErrTransport))
			return
		}
		if f.Session != t.id {
			_ = str.Reset()
			t.replay(ch, &f, "foreign_session")
			return
		}
		if err := t.attach(ch, f.Seq, str, br); err != nil {
			reject(err)
		}
	}
}

func (t *Transport) attach(ch Channel, epoch uint64, str network.Stream, br *bufio.Reader) error {
	t.mu.Lock()
	var l *link
	switch {
	case t.pending != nil && t.pending.epoch == epoch:
		l = t.pending
	case t.link != nil && t.link.epoch == epoch:
		l = t.link
	}
	t.mu.Unlock()
	if l == nil {
		return fmt.Errorf("%w: %s attach for epoch %d does not match the handshake", ErrTransport, ch, epoch)
	}
	_ = str.SetDeadline(time.Time{})
	return l.attachStream(ch, str, br)
}

// startLink makes l the session's current link and starts its goroutines.
func (t *Transport) startLink(l *link, resumed bool, resent int) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		l.fail(ErrClosed)
		return fmt.Errorf("%w: session %s", ErrClosed, t.sid())
	}
	if !t.initiator {
		// The responder's link waited in t.pending, where attaches find it
		// until it becomes t.link below, in the same critical section.
		if t.pending != l {
			t.mu.Unlock()
			l.fail(fmt.Errorf("%w: superseded by a newer hello", ErrTransport))
			return fmt.Errorf("%w: superseded", ErrHandshake)
		}
		t.pending = nil
	}
	if !t.svc.goTracked(l.monitor) {
		t.mu.Unlock()
		l.fail(ErrClosed)
		return fmt.Errorf("%w: service", ErrClosed)
	}
	t.link = l
	for _, cs := range t.chans {
		cs.mu.Lock()
		cs.link = l
		if l.inflight > 0 {
			// The sender holds back beyond l.inflight: acknowledge in
			// time for it to go on (both ends see the relay's limit).
			cs.ackQB = max(1, min(cs.ackQB, uint64(l.inflight)/4))
		}
		cs.mu.Unlock()
	}
	upn := t.upNotify
	t.upNotify = nil
	migrated := t.everUp && t.lastRelayed && !l.relayed
	fromAddr := t.lastAddr
	t.lastRelayed, t.lastAddr = l.relayed, l.addr
	wasMigration := t.migrating
	t.migrating = false
	t.everUp = true
	t.mu.Unlock()
	l.startChannels()
	if upn != nil {
		close(upn)
	}
	role := "responder"
	if t.initiator {
		role = "dialer"
	}
	t.svc.metrics.sessionsUp.Inc()
	t.svc.emit("web4.rtt.session_up", t.remote, map[string]any{"session": t.sid(), "role": role, "epoch": l.epoch, "relayed": l.relayed})
	if resumed {
		t.reconnects.Add(1)
		t.resent.Add(uint64(resent))
		t.svc.metrics.reconnects.Inc()
		t.svc.emit("web4.rtt.resumed", t.remote, map[string]any{"session": t.sid(), "epoch": l.epoch, "resent": resent, "relayed": l.relayed})
	}
	if migrated {
		t.svc.metrics.migrations.Inc()
		t.svc.emit("web4.rtt.migrated", t.remote, map[string]any{
			"session": t.sid(), "epoch": l.epoch, "role": role, "from": fromAddr, "to": l.addr, "resent": resent,
		})
	}
	// A direct connection that came up while this link was being set up
	// over a relay: move now (not again if this link was such a move).
	if t.initiator && l.relayed && !wasMigration && t.svc.hasDirect(t.remote) {
		t.migrate("a direct connection is up")
	}
	return nil
}

// migrate moves the dialer's session off a relayed link: when a direct
// (unlimited) connection to the peer is up, the link is ended and the
// reconnect loop resumes at once; the resume's streams go over the
// swarm's best connection, which is the direct one. Only the dialer does
// this — it is the side that resumes — so the two ends never race to
// move; the responder sees a resume like any other. Nothing is lost: the
// resume points decide what is re-sent.
func (t *Transport) migrate(why string) {
	t.mu.Lock()
	l := t.link
	ok := t.initiator && l != nil && l.relayed && !t.closed && !t.closing
	if ok {
		t.migrating = true
	}
	t.mu.Unlock()
	if !ok {
		return
	}
	l.fail(fmt.Errorf("%w: %s: moving the session off the relay", ErrTransport, why))
	poke(t.kick) // the reconnect loop's first attempt goes at once
}

// onLinkDown runs on the monitor once every goroutine of l is gone.
func (t *Transport) onLinkDown(l *link) {
	t.mu.Lock()
	if t.link != l {
		t.mu.Unlock()
		return
	}
	t.link = nil
	for _, cs := range t.chans {
		cs.mu.Lock()
		cs.link = nil
		cs.mu.Unlock()
	}
	closed := t.closed || t.closing
	if !closed {
		t.upNotify = make(chan struct{})
	}
	upn := t.upNotify
	t.mu.Unlock()
	t.svc.metrics.sessionsUp.Dec()
	t.svc.emit("web4.rtt.session_down", t.remote, map[string]any{"session": t.sid(), "epoch": l.epoch, "reason": errString(l.err)})
	if closed {
		return
	}
	if t.initiator {
		t.svc.goTracked(func() { t.reconnectLoop(upn) })
	} else {
		t.svc.goTracked(func() { t.expireLoop(upn) })
	}
}

// reconnectLoop redials (dialer side) with exponential backoff and jitter
// until the session resumes, the peer no longer knows it, or ResumeWindow
// has passed.
func (t *Transport) reconnectLoop(upn chan struct{}) {
	s := t.svc
	cfg := &s.cfg
	start := cfg.Now()
	backoff := cfg.BackoffMin
	for attempt := 1; ; attempt++ {
		d := s.jitter(backoff)
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-t.kick: // a connection to the peer came up: try at once
			timer.Stop()
		case <-t.done:
			timer.Stop()
			return
		case <-upn:
			timer.Stop()
			return
		case <-s.ctx.Done():
			timer.Stop()
			return
		}
		if cfg.Now().Sub(start) > cfg.ResumeWindow {
			t.close("resume window expired")
			return
		}
		select { // a kick from before this attempt is answered by it
		case <-t.kick:
		default:
		}
		s.metrics.reconnectAttempts.Inc()
		s.emit("web4.rtt.reconnect_attempt", t.remote, map[string]any{
			"session": t.sid(), "attempt": attempt, "backoff_ms": d.Milliseconds(),
		})
		err := s.resume(t)
		if err == nil {
			return
		}
		if errors.Is(err, ErrPeerRestarted) {
			t.closeCause("peer no longer knows the session", ErrPeerRestarted)
			return
		}
		if errors.Is(err, ErrClosed) {
			return
		}
		backoff = nextBackoff(backoff, cfg.BackoffMax)
	}
}

// nextBackoff doubles d up to limit.
func nextBackoff(d, limit time.Duration) time.Duration { return min(d*2, limit) }

// expireLoop closes a responder-side session that was not resumed within
// ResumeWindow.
func (t *Transport) expireLoop(upn chan struct{}) {
	timer := time.NewTimer(t.svc.cfg.ResumeWindow)
	defer timer.Stop()
	select {
	case <-upn:
	case <-t.done:
	case <-t.svc.ctx.Done():
	case <-timer.C:
		t.mu.Lock()
		down := t.link == nil && t.upNotify == upn
		t.mu.Unlock()
		if down {
			t.close("resume window expired")
		}
	}
}

// jitter returns a duration uniformly in [d/2, d] from cfg.Rand.
func (s *Service) jitter(d time.Duration) time.Duration {
	var b [8]byte
	if _, err := readFull(s.cfg.Rand, b[:]); err != nil || d < 2 {
		return d
	}
	half := d / 2
	return half + time.Duration(binary.LittleEndian.Uint64(b[:])%uint64(d-half+1))
}

// replay counts and reports a frame dropped as a replay (ErrReplay).
func (t *Transport) replay(ch Channel, f *Frame, kind string) {
	t.replayDrops.Add(1)
	t.svc.metrics.replays.WithLabelValues(ch.String()).Inc()
	err := fmt.Errorf("%w: %s %s frame seq %d (%s)", ErrReplay, ch, f.Kind, f.Seq, kind)
	t.svc.emit("web4.rtt.replay_rejected", t.remote, map[string]any{
		"session": t.sid(), "channel": ch.String(), "seq": f.Seq, "kind": kind, "error": err.Error(),
	})
}

func (t *Transport) rejectFrame(ch Channel, err error) {
	t.rejected.Add(1)
	t.svc.rejectFrame(t.remote, t.sid(), ch, err)
}

// rejectFrame reports a malformed or rule-breaking frame; the stream that
// carried it is reset by the caller, nothing else.
func (s *Service) rejectFrame(p peer.ID, sid string, ch Channel, err error) {
	s.metrics.rejected.WithLabelValues(ch.String()).Inc()
	d := map[string]any{"channel": ch.String(), "error": errString(err)}
	if sid != "" {
		d["session"] = sid
	}
	s.emit("web4.rtt.frame_rejected", p, d)
}
