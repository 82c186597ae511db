package rtt

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pool "github.com/libp2p/go-buffer-pool"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Transport is one RTT session with one peer. It outlives connections: when
// the connection drops, the dialer side resumes the same session on a new
// one and nothing sent is lost, duplicated or reordered. All methods are
// safe for concurrent use.
type Transport struct {
	svc       *Service
	remote    peer.ID
	id        [16]byte
	initiator bool
	done      chan struct{}
	chans     [numChannels]*chanState
	early     []byte // DialEarly's payload for a session it created (a copy)
	// earlyState is what Config.AnswerEarly returned with its reply on a
	// responder's fresh session (written before the session is offered).
	earlyState any
	// attachGo, on a fresh outbound session under Config.DeferAttach, is
	// closed (once, attachOnce) when its link may attach state and
	// knowledge; nil otherwise.
	attachGo   chan struct{}
	attachOnce sync.Once
	// kick (cap 1) wakes the dialer's reconnect loop out of its backoff:
	// a new connection to the peer has come up, so try now.
	kick chan struct{}

	mu          sync.Mutex // guards the fields below; order: Service.mu → Transport.mu → chanState.mu
	closed      bool
	link        *link         // current link, nil while down
	pending     *link         // responder: link answered but not started yet
	epoch       uint64        // generation of the newest handshake
	upNotify    chan struct{} // closed when the next link starts (nil while up)
	peerVersion uint64
	everUp      bool  // a link has run at least once
	closing     bool  // Shutdown in progress: a link loss does not reconnect
	err         error // why the session ended (set with closed)
	// lastRelayed, lastAddr: the connection of the last link started (a
	// resume from a relayed onto a direct one is web4.rtt.migrated).
	lastRelayed bool
	lastAddr    string
	// migrating: the dialer ended a relayed link to move to a direct
	// connection; the next link it starts is that move.
	migrating bool

	// maxPayload: the negotiated payload limit for sending (set by each
	// handshake); atomic, so Send does not take mu.
	maxPayload atomic.Int64

	reconnects   atomic.Uint64
	replayDrops  atomic.Uint64
	rejected     atomic.Uint64
	resent       atomic.Uint64
	backpressure atomic.Uint64

	rttMu sync.Mutex
	rtts  []time.Duration // ring of the last rttSamples heartbeat RTTs
	rttN  int
}

// qframe is a queued outgoing data frame; its seq is implied by its place
// in the send queue (peerAck + 1 + index).
type qframe struct {
	payload []byte
	buf     []byte // outgoing only: pooled buffer, payload = buf[headroom:]
	fin     bool
}

// chanState is one channel's send and receive state. It survives links.
type chanState struct {
	ch   Channel
	wake chan struct{} // cap 1: pokes the current link's writer

	mu sync.Mutex
	// send side: sendQ holds sent-but-unacked frames, then queued ones.
	sendQ      []qframe
	sendBytes  int
	nextSeq    uint64 // last assigned sequence number
	peerAck    uint64 // peer delivered everything ≤ peerAck
	sentIdx    int    // sendQ[:sentIdx] were written on the current link
	sentBytes  int    // payload bytes of sendQ[:sentIdx]
	winFrames  uint64 // credit for frames after peerAck
	winBytes   uint64
	sendClosed bool
	space      chan struct{} // closed and replaced when the send queue shrinks
	// spaceWaited: someone waits on space, so the hot path closes (and
	// reallocates) the channel only when needed.
	spaceWaited bool
	// receive side
	recvQ          []qframe
	recvBytes      int
	delivered      uint64 // resume point: last seq put into recvQ
	deliveredBytes uint64
	advAck         uint64 // what we last told the peer (ack + window)
	advBytes       uint64
	advWinFrames   uint64
	advWinBytes    uint64
	ackDirty       bool
	ackQF, ackQB   uint64 // send a pure ack at once after this much unacked
	recvClosed     bool
	finRecv        bool
	// dataSig (cap 1) wakes one of the dataWaiters Receive calls when
	// recvQ grows or the channel closes; see passDataLocked.
	dataSig     chan struct{}
	dataWaiters int
	// control channel only
	pingPending  bool
	pingID       uint64
	pongPending  bool
	pongID       uint64
	closePending bool
	// telemetry
	bytesIn, bytesOut, framesIn, framesOut uint64
	prom                                   chanCounters
	// link is the link whose writer may mark frames sent; set by
	// startLink, cleared by onLinkDown before a resume rewinds sentIdx.
	link *link
	// writtenUpTo: the writer of the current link finished writing every
	// frame up to this seq; only such frames' buffers may be reused.
	writtenUpTo uint64
	// Delayed acks: ackTimer (created on first use) runs while ackArmed;
	// when it fires it sets ackFired and pokes the writer, whose next
	// collect then sends a pure ack if one is still owed.
	ackTimer *time.Timer
	ackArmed bool
	ackFired bool
}

// armAckLocked starts the delayed-ack timer unless it is running.
func (cs *chanState) armAckLocked(d time.Duration) {
	if cs.ackArmed {
		return
	}
	cs.ackArmed = true
	if cs.ackTimer == nil {
		cs.ackTimer = time.AfterFunc(d, cs.ackTimeout)
		return
	}
	cs.ackTimer.Reset(d)
}

func (cs *chanState) ackTimeout() {
	cs.mu.Lock()
	cs.ackArmed, cs.ackFired = false, true
	cs.mu.Unlock()
	poke(cs.wake)
}

func newTransport(s *Service, remote peer.ID, id [16]byte, initiator bool) *Transport {
	t := &Transport{
		svc: s, remote: remote, id: id, initiator: initiator,
		done: make(chan struct{}), upNotify: make(chan struct{}), kick: make(chan struct{}, 1),
		rtts: make([]time.Duration, 0, rttSamples),
	}
	t.maxPayload.Store(int64(s.cfg.MaxFrameSize))
	for i := range t.chans {
		t.chans[i] = &chanState{
			ch: Channels[i], wake: make(chan struct{}, 1),
			space: make(chan struct{}), dataSig: make(chan struct{}, 1),
			winFrames: uint64(s.cfg.RecvQueueFrames), winBytes: uint64(s.cfg.RecvQueueBytes),
			ackQF: 1, ackQB: 1, prom: s.metrics.forChannel(Channels[i]),
		}
	}
	return t
}

// RemotePeer returns the peer at the other end.
func (t *Transport) RemotePeer() peer.ID { return t.remote }

// SessionID returns the 128-bit session ID chosen by the dialer.
func (t *Transport) SessionID() [16]byte { return t.id }

func (t *Transport) sid() string { return hex.EncodeToString(t.id[:]) }

// Attach lets the state and knowledge streams of a session whose dialer
// holds them back (Config.DeferAttach) attach now; otherwise it does
// nothing. It does not wait for them.
func (t *Transport) Attach() {
	if t.attachGo != nil {
		t.attachOnce.Do(func() { close(t.attachGo) })
	}
}

// EarlyState returns the state Config.AnswerEarly kept when it answered
// this (inbound) session's early data, or nil.
func (t *Transport) EarlyState() any { return t.earlyState }

// Early returns the early payload of the DialEarly call that created this
// session (dialer side): it is control frame 1 of the session. nil for a
// session created by Dial, or by the peer. Do not modify it.
func (t *Transport) Early() []byte { return t.early }

// Done is closed when the session ends for good (Shutdown, peer's
// shutdown, ResumeWindow expiry, Service.Close).
func (t *Transport) Done() <-chan struct{} { return t.done }

// Err returns nil while the session is open, and once it has ended (Done
// is closed) why: an error wrapping ErrClosed, and ErrPeerRestarted too
// when the peer no longer knew the session on a resume.
func (t *Transport) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Up reports whether the session currently has a live connection.
func (t *Transport) Up() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.link != nil && !t.closed
}

func (t *Transport) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

func (t *Transport) chanOf(ch Channel) (*chanState, error) {
	if !ch.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrUnknownChannel, uint8(ch))
	}
	return t.chans[ch.index()], nil
}

func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func broadcast(c *chan struct{}) {
	close(*c)
	*c = make(chan struct{})
}

// broadcastIf wakes the waiters of *c if there are any (*waited) and
// clears the flag.
func broadcastIf(c *chan struct{}, waited *bool) {
	if *waited {
		broadcast(c)
		*waited = false
	}
}

// OpenChannel returns ch ready for use. All three channel streams are
// opened when the session is established (so a resume re-attaches them
// together), so this only checks that ch is valid and not closed.
func (t *Transport) OpenChannel(ctx context.Context, ch Channel) (Channel, error) {
	cs, err := t.chanOf(ch)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if t.isClosed() {
		return 0, fmt.Errorf("%w: session %s", ErrClosed, t.sid())
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.sendClosed {
		return 0, fmt.Errorf("%w: channel %s", ErrClosed, ch)
	}
	return ch, nil
}

// Send queues payload on ch, blocking while the channel's send queue is
// full until there is room, ctx ends (ErrBackpressure wrapping ctx.Err()),
// or the session closes. The payload is copied. A payload over the
// negotiated frame limit fails with ErrFrameTooLarge and nothing is queued.
func (t *Transport) Send(ctx context.Context, ch Channel, payload []byte) error {
	return t.send(ctx, ch, payload, true)
}

// TrySend is Send that never blocks: a full queue fails at once with
// ErrBackpressure (and a web4.rtt.backpressure event).
func (t *Transport) TrySend(ch Channel, payload []byte) error {
	return t.send(context.Background(), ch, payload, false)
}

func (t *Transport) send(ctx context.Context, ch Channel, payload []byte, block bool) error {
	cs, err := t.chanOf(ch)
	if err != nil {
		return err
	}
	if ch != Control {
		t.Attach() // a deferred attach goes ahead: its stream is wanted
	}
	limit := int(t.maxPayload.Load())
	if len(payload) > limit {
		return fmt.Errorf("%w: %s payload %d bytes > %d", ErrFrameTooLarge, ch, len(payload), limit)
	}
	cfg := &t.svc.cfg
	buf := pool.Get(headroom + len(payload))
	copy(buf[headroom:], payload)
	p := buf[headroom:]
	cs.mu.Lock()
	for {
		if cs.sendClosed {
			cs.mu.Unlock()
			pool.Put(buf)
			return fmt.Errorf("%w: channel %s", ErrClosed, ch)
		}
		select { // not t.isClosed(): t.mu must not be taken under cs.mu
		case <-t.done:
			cs.mu.Unlock()
			pool.Put(buf)
			return fmt.Errorf("%w: session %s", ErrClosed, t.sid())
		default:
		}
		if len(cs.sendQ) < cfg.SendQueueFrames && (cs.sendBytes+len(p) <= cfg.SendQueueBytes || len(cs.sendQ) == 0) {
			break
		}
		frames, bytes := len(cs.sendQ), cs.sendBytes
		if !block {
			cs.mu.Unlock()
			pool.Put(buf)
			t.backpressure.Add(1)
			t.svc.metrics.backpressure.WithLabelValues(ch.String()).Inc()
			err := fmt.Errorf("%w: %s send queue full (%d frames, %d bytes)", ErrBackpressure, ch, frames, bytes)
			t.svc.emit("web4.rtt.backpressure", t.remote, map[string]any{
				"session": t.sid(), "channel": ch.String(), "queue": "send",
				"frames": frames, "bytes": bytes, "error": err.Error(),
			})
			return err
		}
		wait := cs.space
		cs.spaceWaited = true
		cs.mu.Unlock()
		select {
		case <-ctx.Done():
			pool.Put(buf)
			return fmt.Errorf("%w: %s send queue full (%d frames, %d bytes): %w", ErrBackpressure, ch, frames, bytes, ctx.Err())
		case <-t.done:
		case <-wait:
		}
		cs.mu.Lock()
	}
	cs.sendQ = append(cs.sendQ, qframe{payload: p, buf: buf})
	cs.sendBytes += len(p)
	cs.nextSeq++
	cs.framesOut++
	cs.bytesOut += uint64(len(p))
	l := cs.link
	cs.mu.Unlock()
	cs.prom.framesOut.Inc()
	cs.prom.bytesOut.Add(float64(len(p)))
	if block {
		writeNow(cs, l)
	} else {
		poke(cs.wake)
	}
	return nil
}

// writeNow is Send's fast path: if the channel's writer is idle, the
// caller writes and flushes the ready frames itself, saving a goroutine
// hand-off per message (it matters for request/response latency). If the
// writer is busy, it is poked instead and picks the frame up. TrySend never
// takes this path, so it never waits on the network.
//
// l is the channel's link as Send saw it (cs.link): if it has died since,
// writeBatch finds cs.link changed and writes nothing; the next link's
// writer sends the frame.
func writeNow(cs *chanState, l *link) {
	i := cs.ch.index()
	if l == nil || !l.wmu[i].TryLock() {
		poke(cs.wake)
		return
	}
	more, err := l.writeBatch(i)
	l.wmu[i].Unlock()
	if err != nil {
		l.fail(err)
		return
	}
	if more {
		poke(cs.wake)
	}
}

// Receive returns the next payload on ch, in order, blocking until one
// arrives, ctx ends, or the channel/session closes (ErrClosed; frames that
// had already arrived are returned first).
func (t *Transport) Receive(ctx context.Context, ch Channel) ([]byte, error) {
	cs, err := t.chanOf(ch)
	if err != nil {
		return nil, err
	}
	cs.mu.Lock()
	for {
		if cs.recvClosed || cs.finRecv {
			cs.passDataLocked()
			cs.mu.Unlock()
			return nil, fmt.Errorf("%w: channel %s", ErrClosed, ch)
		}
		if len(cs.recvQ) > 0 {
			f := cs.recvQ[0]
			cs.recvQ[0] = qframe{}
			if len(cs.recvQ) == 1 {
				cs.recvQ = cs.recvQ[:0] // empty: reuse the array from its start
			} else {
				cs.recvQ = cs.recvQ[1:]
			}
			cs.recvBytes -= len(f.payload)
			cs.ackDirty = true
			urgent := cs.ackUrgentLocked(t.svc.cfg.RecvQueueFrames, t.svc.cfg.RecvQueueBytes)
			if f.fin {
				cs.finRecv = true
			}
			cs.passDataLocked()
			cs.mu.Unlock()
			if urgent {
				poke(cs.wake)
			}
			if f.fin {
				return nil, fmt.Errorf("%w: channel %s closed by peer", ErrClosed, ch)
			}
			return f.payload, nil
		}
		select {
		case <-t.done:
			cs.passDataLocked()
			cs.mu.Unlock()
			return nil, fmt.Errorf("%w: session %s", ErrClosed, t.sid())
		default:
		}
		cs.dataWaiters++
		cs.mu.Unlock()
		select {
		case <-ctx.Done():
			cs.mu.Lock()
			cs.dataWaiters--
			cs.mu.Unlock()
			return nil, ctx.Err()
		case <-cs.dataSig:
		}
		cs.mu.Lock()
		cs.dataWaiters--
	}
}

// deliverLocked takes the next frame (seq delivered+1) into the receive
// queue — unless this side closed the channel, then it is only counted as
// delivered — and wakes a waiting Receive. The reader does this for every
// data frame, the responder's handshake for a Hello's early data.
func (cs *chanState) deliverLocked(payload []byte, fin bool) {
	if !cs.recvClosed {
		cs.recvQ = append(cs.recvQ, qframe{payload: payload, fin: fin})
		cs.recvBytes += len(payload)
		cs.passDataLocked()
	}
	cs.delivered++
	cs.deliveredBytes += uint64(len(payload))
	if !fin {
		cs.framesIn++
		cs.bytesIn += uint64(len(payload))
		cs.prom.framesIn.Inc()
		cs.prom.bytesIn.Add(float64(len(payload)))
	}
}

// passDataLocked hands the data token on to the next waiting Receive when
// there is something for it to see: a pending frame or a closed channel
// or session. One token wakes one waiter, which passes it on as it
// leaves, so several waiters drain a burst (or all see a close) without a
// wake-up per frame for a single waiter.
func (cs *chanState) passDataLocked() {
	if cs.dataWaiters > 0 {
		poke(cs.dataSig)
	}
}

// ackUrgentLocked: should a pure ack/window update go out now rather than
// after AckDelay? Yes once a quarter of the window is unacknowledged, or
// when the peer's remaining credit is under a quarter and we have freed
// room since the last advertisement.
func (cs *chanState) ackUrgentLocked(limF, limB int) bool {
	if !cs.ackDirty {
		return false
	}
	if cs.delivered-cs.advAck >= cs.ackQF || cs.deliveredBytes-cs.advBytes >= cs.ackQB {
		return true
	}
	remF := cs.advAck + cs.advWinFrames - cs.delivered
	remB := cs.advBytes + cs.advWinBytes - cs.deliveredBytes
	freeF := uint64(limF - len(cs.recvQ))
	freeB := uint64(limB - cs.recvBytes)
	return (remF < cs.ackQF && freeF > remF) || (remB < cs.ackQB && freeB > remB)
}

// CloseChannel ends ch in both directions for this side: queued frames are
// still delivered, then a FIN makes the peer's Receive return ErrClosed;
// local Send/Receive on ch return ErrClosed. Idempotent.
func (t *Transport) CloseChannel(ch Channel) error {
	cs, err := t.chanOf(ch)
	if err != nil {
		return err
	}
	cs.mu.Lock()
	if cs.sendClosed {
		cs.mu.Unlock()
		return nil
	}
	cs.sendClosed = true
	cs.recvClosed = true
	// The FIN may exceed the queue bound by one empty frame: closing must
	// not block.
	cs.sendQ = append(cs.sendQ, qframe{fin: true, buf: make([]byte, headroom)})
	cs.nextSeq++
	for i := range cs.recvQ {
		cs.recvQ[i] = qframe{}
	}
	cs.recvQ, cs.recvBytes = cs.recvQ[:0], 0
	cs.ackDirty = true
	broadcast(&cs.space)
	poke(cs.dataSig)
	cs.mu.Unlock()
	poke(cs.wake)
	return nil
}

// Shutdown ends the session in order: it waits (bounded by ctx) until the
// peer has acknowledged everything queued, tells the peer the session is
// over, and releases the streams. A ctx that ends first still closes the
// session and returns ErrClosed-wrapped ctx error naming what was
// unacknowledged. Idempotent.
func (t *Transport) Shutdown(ctx context.Context) error {
	if t.isClosed() {
		return nil
	}
	var drainErr error
drain:
	for _, cs := range t.chans {
		for {
			cs.mu.Lock()
			n, wait := len(cs.sendQ), cs.space
			cs.spaceWaited = true
			cs.mu.Unlock()
			if n == 0 {
				break
			}
			select {
			case <-ctx.Done():
				drainErr = fmt.Errorf("%w: shutdown with %d unacknowledged frames on %s: %w", ErrClosed, n, cs.ch, ctx.Err())
				break drain
			case <-t.done:
				break drain
			case <-wait:
			}
		}
	}
	// Goodbye, so the peer closes instead of waiting to resume. The peer
	// resets its streams when it reads it; resetting ours first could
	// discard the goodbye in flight, so wait for that (bounded).
	t.mu.Lock()
	t.closing = true
	l := t.link
	t.mu.Unlock()
	if l != nil && drainErr == nil {
		cs := t.chans[Control.index()]
		cs.mu.Lock()
		cs.closePending = true
		cs.mu.Unlock()
		poke(cs.wake)
		bound := time.NewTimer(t.svc.cfg.HandshakeTimeout)
		select {
		case <-l.dying:
		case <-ctx.Done():
		case <-bound.C:
		}
		bound.Stop()
	}
	t.close("shutdown")
	if l != nil {
		select {
		case <-l.stopped:
		case <-ctx.Done():
		}
	}
	return drainErr
}

// close ends the session for good. Idempotent.
func (t *Transport) close(reason string) { t.closeCause(reason, nil) }

// closeCause is close with the sentinel that Err wraps besides ErrClosed
// (nil: none).
func (t *Transport) closeCause(reason string, cause error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	t.err = fmt.Errorf("%w: session %s", ErrClosed, reason)
	if cause != nil {
		t.err = fmt.Errorf("%w: session %s: %w", ErrClosed, reason, cause)
	}
	l, pl := t.link, t.pending
	t.pending = nil
	t.mu.Unlock()
	if l != nil {
		l.fail(fmt.Errorf("%w: session %s", ErrClosed, reason))
	}
	if pl != nil {
		pl.fail(fmt.Errorf("%w: session %s", ErrClosed, reason))
	}
	close(t.done)
	for _, cs := range t.chans {
		cs.mu.Lock()
		broadcast(&cs.space)
		poke(cs.dataSig)
		if cs.ackTimer != nil {
			cs.ackTimer.Stop()
		}
		cs.ackArmed = false
		cs.mu.Unlock()
	}
	t.svc.forget(t)
	t.svc.emit("web4.rtt.session_closed", t.remote, map[string]any{"session": t.sid(), "reason": reason})
}

// ChannelTelemetry is one channel's counters and queue depths.
type ChannelTelemetry struct {
	Channel         Channel
	BytesIn         uint64 // payload bytes delivered to the receive queue
	BytesOut        uint64 // payload bytes accepted by Send/TrySend
	FramesIn        uint64
	FramesOut       uint64
	SendQueueFrames int // queued + unacknowledged
	SendQueueBytes  int
	Unacked         int // written on the current link, not yet acknowledged
	RecvQueueFrames int
	RecvQueueBytes  int
}

// Telemetry is a snapshot of a session's counters (SPEC §2).
type Telemetry struct {
	Session [16]byte
	Peer    peer.ID
	Up      bool
	// Relayed: the live link runs through a relay (false while down).
	Relayed  bool
	Channels [numChannels]ChannelTelemetry
	// Heartbeat round trips over the last samples.
	RTTp50, RTTp95 time.Duration
	RTTSamples     int
	Reconnects     uint64 // successful resumes
	ReplayDrops    uint64 // frames dropped as replays (ErrReplay)
	FramesRejected uint64 // malformed or rule-breaking frames (stream reset)
	Resent         uint64 // frames re-sent after resumes
	Backpressure   uint64 // TrySend rejections
}

// Telemetry returns a snapshot of the session's counters.
func (t *Transport) Telemetry() Telemetry {
	tm := Telemetry{
		Session: t.id, Peer: t.remote, Up: t.Up(),
		Reconnects: t.reconnects.Load(), ReplayDrops: t.replayDrops.Load(),
		FramesRejected: t.rejected.Load(), Resent: t.resent.Load(), Backpressure: t.backpressure.Load(),
	}
	t.mu.Lock()
	tm.Relayed = t.link != nil && t.link.relayed
	t.mu.Unlock()
	for i, cs := range t.chans {
		cs.mu.Lock()
		tm.Channels[i] = ChannelTelemetry{
			Channel: cs.ch, BytesIn: cs.bytesIn, BytesOut: cs.bytesOut, FramesIn: cs.framesIn, FramesOut: cs.framesOut,
			SendQueueFrames: len(cs.sendQ), SendQueueBytes: cs.sendBytes, Unacked: cs.sentIdx,
			RecvQueueFrames: len(cs.recvQ), RecvQueueBytes: cs.recvBytes,
		}
		cs.mu.Unlock()
	}
	t.rttMu.Lock()
	s := slices.Clone(t.rtts)
	t.rttMu.Unlock()
	if len(s) > 0 {
		slices.Sort(s)
		tm.RTTSamples = len(s)
		tm.RTTp50 = s[(len(s)-1)*50/100]
		tm.RTTp95 = s[(len(s)-1)*95/100]
	}
	return tm
}

func (t *Transport) recordRTT(d time.Duration) {
	t.rttMu.Lock()
	if len(t.rtts) < rttSamples {
		t.rtts = append(t.rtts, d)
	} else {
		t.rtts[t.rttN%rttSamples] = d
	}
	t.rttN++
	t.rttMu.Unlock()
	t.svc.metrics.rtt.Observe(d.Seconds())
}
