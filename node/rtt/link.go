package rtt

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	pool "github.com/libp2p/go-buffer-pool"
	"github.com/libp2p/go-libp2p/core/network"
	relayclient "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
)

// link is one generation of a session: the three streams of one
// connection and the goroutines serving them (a reader and a writer per
// stream, and the monitor that runs the heartbeat and cleans up).
//
// The dialer's link has all three streams when it starts. The responder's
// starts with control alone, as soon as it has answered the hello, and the
// state and knowledge streams join when their Attach frames arrive
// (attachStream): so the first control messages are not held back by the
// new-stream set-up of the other two. A channel whose stream has not
// joined yet keeps its frames queued. If they have not both joined within
// the handshake timeout, the link fails (and the dialer resumes).
type link struct {
	t     *Transport
	epoch uint64
	// relayed: the link's connection (that of its control stream; the
	// others go over the same one) runs through a relay; addr is its
	// remote multiaddr.
	relayed bool
	addr    string
	// inflight caps the bytes written and not yet acknowledged per channel
	// on a connection with a relay data limit (0: no cap), see
	// relayInflight.
	inflight int

	// amu guards streams/readers of the joining channels, started, dying
	// being closed and the attach timer; it orders attachStream against
	// fail, so no goroutine is added once the monitor may be waiting.
	// Lock order: amu → wmu[i].
	amu         sync.Mutex
	streams     [numChannels]network.Stream
	readers     [numChannels]*bufio.Reader
	started     bool
	attachTimer *time.Timer

	dying    chan struct{} // closed by fail
	failOnce sync.Once
	err      error // why it failed; written before dying is closed
	wg       sync.WaitGroup
	stopped  chan struct{} // closed by the monitor when everything is gone

	// wmu[i] serialises writing stream i between its writer goroutine and
	// Send's fast path; bw[i] is only touched under it. It is created on
	// the first write: a channel that carries nothing costs no buffer,
	// and setting up a link does not zero buffers it may never use.
	wmu [numChannels]sync.Mutex
	bw  [numChannels]*bufio.Writer
	// Header scratch of stream i's writer (under wmu[i]).
	hdrScratch [numChannels][MaxHeaderSize]byte
	lenScratch [numChannels][binary.MaxVarintLen64]byte

	outstanding atomic.Int32  // unanswered pings
	pingSeq     atomic.Uint64 // id of the last ping
	pingSent    atomic.Int64  // cfg.Now() of the last ping, UnixNano
}

func newLink(t *Transport, epoch uint64, streams [numChannels]network.Stream, readers [numChannels]*bufio.Reader) *link {
	l := &link{
		t: t, epoch: epoch, streams: streams, readers: readers,
		dying: make(chan struct{}), stopped: make(chan struct{}),
	}
	if c := streams[Control.index()].Conn(); c != nil {
		l.relayed, l.addr, l.inflight = relayed(c), c.RemoteMultiaddr().String(), relayInflight(c)
	}
	return l
}

// relayInflight is the per-channel cap on unacknowledged bytes for a
// connection through a Circuit Relay v2 hop that has a data limit: when
// the relay has carried that many bytes one way it resets the circuit, and
// what it forwarded just before, still unread at the receiver, is lost
// with it (a reset stream drops its buffered data). Unlimited credit would
// put the whole send queue on the wire at once and lose it at every cut,
// so a resume would never get further; with at most limit/16 per channel
// in flight, each relayed connection carries most of its budget to the
// receiver before the cut, and the resume continues from there.
func relayInflight(c network.Conn) int {
	st := c.Stat()
	if !st.Limited {
		return 0
	}
	d, ok := st.Extra[relayclient.StatLimitData].(uint64)
	if !ok || d == 0 {
		return 0
	}
	return int(max(min(d/16, 1<<30), minRelayInflight))
}

// minRelayInflight: the smallest cap, so that tiny relay limits still
// carry a frame at a time.
const minRelayInflight = 512

// fail tears the link down (idempotent, never blocks): streams are reset,
// which unblocks the readers and writers.
func (l *link) fail(err error) {
	l.failOnce.Do(func() {
		l.amu.Lock()
		defer l.amu.Unlock()
		l.err = err
		close(l.dying)
		for _, s := range l.streams {
			if s != nil {
				_ = s.Reset()
			}
		}
		if l.attachTimer != nil {
			l.attachTimer.Stop()
		}
	})
}

// startChannels starts a reader and a writer for every stream the link
// has, and arms the attach timeout if some have yet to join. Called once,
// by startLink.
func (l *link) startChannels() {
	l.amu.Lock()
	defer l.amu.Unlock()
	select {
	case <-l.dying:
		return
	default:
	}
	l.started = true
	for i, st := range l.streams {
		if st != nil {
			l.runChannel(i)
		}
	}
	if !l.completeLocked() {
		d := l.t.svc.cfg.HandshakeTimeout
		l.attachTimer = time.AfterFunc(d, func() {
			l.amu.Lock()
			done := l.completeLocked()
			l.amu.Unlock()
			if !done {
				l.fail(fmt.Errorf("%w: streams not attached within %v", ErrHandshake, d))
			}
		})
	}
}

// runChannel starts stream i's reader and writer; l.amu is held.
func (l *link) runChannel(i int) {
	l.wg.Add(2)
	go l.readLoop(i)
	go l.writeLoop(i)
	poke(l.t.chans[i].wake)
}

func (l *link) completeLocked() bool {
	for _, s := range l.streams {
		if s == nil {
			return false
		}
	}
	return true
}

// attachStream joins a state or knowledge stream to the responder's link.
func (l *link) attachStream(ch Channel, str network.Stream, br *bufio.Reader) error {
	i := ch.index()
	l.amu.Lock()
	defer l.amu.Unlock()
	select {
	case <-l.dying:
		return fmt.Errorf("%w: %s attach to a finished link", ErrTransport, ch)
	default:
	}
	if l.streams[i] != nil {
		return fmt.Errorf("%w: %s stream attached twice for epoch %d", ErrTransport, ch, l.epoch)
	}
	l.wmu[i].Lock()
	l.streams[i], l.readers[i] = str, br
	l.wmu[i].Unlock()
	if l.started {
		l.runChannel(i)
	}
	if l.completeLocked() && l.attachTimer != nil {
		l.attachTimer.Stop()
	}
	return nil
}

// outFrame is a frame taken from the queues, ready to be written outside
// the channel lock.
type outFrame struct {
	kind    Kind
	flags   uint8
	seq     uint64
	payload []byte
	buf     []byte // data frames: headroom + payload, header goes in front
}

// collect takes, under the channel lock, everything the writer may send
// now: heartbeat frames, data within the peer's credit, and an ack when one
// is due. An ack that may wait arms the channel's delayed-ack timer.
func (l *link) collect(cs *chanState, batch []outFrame) (out []outFrame, ack, winF, winB uint64, bye bool) {
	cfg := &l.t.svc.cfg
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.link != l {
		return batch, 0, 0, 0, false // this link is finished
	}
	ackTimerFired := cs.ackFired
	cs.ackFired = false
	if cs.pongPending {
		batch = append(batch, outFrame{kind: KindPong, seq: cs.pongID})
		cs.pongPending = false
	}
	if cs.pingPending {
		batch = append(batch, outFrame{kind: KindPing, seq: cs.pingID})
		cs.pingPending = false
	}
	for len(batch) < maxWriteBatch && cs.sentIdx < len(cs.sendQ) {
		q := cs.sendQ[cs.sentIdx]
		if uint64(cs.sentIdx) >= cs.winFrames || uint64(cs.sentBytes+len(q.payload)) > cs.winBytes {
			break // out of credit: the peer's receive queue is full
		}
		if l.inflight > 0 && cs.sentIdx > 0 && cs.sentBytes+len(q.payload) > l.inflight {
			break // relayed connection with a data limit: see relayInflight
		}
		var flags uint8
		if q.fin {
			flags = FlagFin
		}
		batch = append(batch, outFrame{kind: KindData, flags: flags, seq: cs.peerAck + 1 + uint64(cs.sentIdx), payload: q.payload, buf: q.buf})
		cs.sentIdx++
		cs.sentBytes += len(q.payload)
	}
	if len(batch) == 0 && cs.ackDirty {
		if ackTimerFired || cs.ackUrgentLocked(cfg.RecvQueueFrames, cfg.RecvQueueBytes) {
			batch = append(batch, outFrame{kind: KindAck})
		} else {
			cs.armAckLocked(cfg.AckDelay)
		}
	}
	if cs.closePending {
		batch = append(batch, outFrame{kind: KindClose})
		cs.closePending = false
		bye = true
	}
	// Every frame carries the current ack and window.
	ack = cs.delivered
	winF = uint64(cfg.RecvQueueFrames - len(cs.recvQ))
	winB = uint64(cfg.RecvQueueBytes - cs.recvBytes)
	if cs.recvClosed {
		winF, winB = uint64(cfg.RecvQueueFrames), uint64(cfg.RecvQueueBytes)
	}
	if len(batch) > 0 {
		cs.advAck, cs.advBytes, cs.advWinFrames, cs.advWinBytes = ack, cs.deliveredBytes, winF, winB
		cs.ackDirty = false
	}
	return batch, ack, winF, winB, bye
}

// writeBatch writes what is ready on stream i (one collect) and flushes
// when nothing more is ready, so a busy channel costs one flush per batch
// rather than per frame. Callers hold wmu[i]. more reports that a full
// batch was written and more may be ready.
func (l *link) writeBatch(i int) (more bool, err error) {
	cs := l.t.chans[i]
	if l.streams[i] == nil {
		return false, nil // not joined yet: frames stay queued
	}
	bw := l.bw[i]
	var scratch [maxWriteBatch + 3]outFrame
	batch, ack, winF, winB, bye := l.collect(cs, scratch[:0])
	if len(batch) == 0 {
		if bw != nil && bw.Buffered() > 0 {
			if err := bw.Flush(); err != nil {
				return false, fmt.Errorf("%w: write %s: %w", ErrTransport, cs.ch, err)
			}
		}
		return false, nil
	}
	if bw == nil {
		// Made on the stream's first write, not when its writer starts:
		// an idle channel (most sessions' knowledge and state) never
		// needs one, which is 16 KiB per idle stream and side.
		bw = bufio.NewWriterSize(l.streams[i], writeBufferSize)
		l.bw[i] = bw
	}
	f := Frame{Channel: cs.ch, Session: l.t.id}
	// Per-stream scratch (writers of stream i hold wmu[i]): on the stack
	// they would escape through bw.Write, two allocations per batch.
	hdr, lp := &l.hdrScratch[i], &l.lenScratch[i]
	var lastData, marked uint64
	for _, o := range batch {
		f.Kind, f.Flags, f.Seq, f.Ack, f.WinFrames, f.WinBytes = o.kind, o.flags, o.seq, ack, winF, winB
		h := appendHeader(hdr[:0], &f)
		n := binary.PutUvarint(lp[:], uint64(len(h)+len(o.payload)))
		if o.buf != nil {
			// Prefix and header go into the headroom: one Write per frame.
			start := headroom - n - len(h)
			copy(o.buf[start:], lp[:n])
			copy(o.buf[start+n:], h)
			_, err = bw.Write(o.buf[start : headroom+len(o.payload)])
			lastData = o.seq
			if err == nil && len(o.payload) >= markEachFrame {
				// A large frame's ack can come back before the rest of
				// the batch is written; marked now, its buffer returns
				// to the pool on that ack instead of to the GC.
				l.markWritten(cs, o.seq)
				marked = o.seq
			}
		} else if _, err = bw.Write(lp[:n]); err == nil {
			_, err = bw.Write(h)
		}
		if err != nil {
			return false, fmt.Errorf("%w: write %s: %w", ErrTransport, cs.ch, err)
		}
	}
	if lastData > marked {
		l.markWritten(cs, lastData)
	}
	more = len(batch) >= maxWriteBatch
	if !more || bye {
		if err := bw.Flush(); err != nil {
			return false, fmt.Errorf("%w: write %s: %w", ErrTransport, cs.ch, err)
		}
	}
	return more, nil
}

// markEachFrame: frames at least this large are marked written one by one
// (see writeBatch); smaller ones once per batch, one lock for many.
const markEachFrame = 4 << 10

// markWritten records that this link's writer is done with every data
// frame up to seq: their buffers may be reused once acknowledged (bw.Write
// has copied them or handed them to the stream, which copies too).
func (l *link) markWritten(cs *chanState, seq uint64) {
	cs.mu.Lock()
	if cs.link == l && seq > cs.writtenUpTo {
		cs.writtenUpTo = seq
	}
	cs.mu.Unlock()
}

// writeLoop drives stream i's writes while the link lives: it writes
// whenever poked (new data, credit, acks, heartbeats, the delayed-ack
// timer).
func (l *link) writeLoop(i int) {
	defer l.wg.Done()
	cs := l.t.chans[i]
	for {
		l.wmu[i].Lock()
		more, err := l.writeBatch(i)
		l.wmu[i].Unlock()
		if err != nil {
			l.fail(err)
			return
		}
		if more {
			continue
		}
		select {
		case <-cs.wake:
		case <-l.dying:
			return
		}
	}
}

// applyAckLocked takes a peer's cumulative ack and window from any frame
// on the channel: acknowledged frames leave the send queue.
func (cs *chanState) applyAckLocked(f *Frame) (changed bool, err error) {
	if f.Ack < cs.peerAck {
		return false, nil // older than what we know; cannot happen on one ordered stream
	}
	n := f.Ack - cs.peerAck
	if n > uint64(cs.sentIdx) {
		return false, fmt.Errorf("%w: %s ack %d beyond last sent %d", ErrTransport, cs.ch, f.Ack, cs.peerAck+uint64(cs.sentIdx))
	}
	freed := 0
	for j := range int(n) {
		q := &cs.sendQ[j]
		freed += len(q.payload)
		if cs.peerAck+1+uint64(j) <= cs.writtenUpTo {
			pool.Put(q.buf)
		}
		*q = qframe{}
	}
	if int(n) == len(cs.sendQ) {
		cs.sendQ = cs.sendQ[:0] // empty: reuse the array from its start
	} else {
		cs.sendQ = cs.sendQ[n:]
	}
	cs.sentIdx -= int(n)
	cs.sentBytes -= freed
	cs.sendBytes -= freed
	cs.peerAck = f.Ack
	changed = n > 0 || cs.winFrames != f.WinFrames || cs.winBytes != f.WinBytes
	cs.winFrames, cs.winBytes = f.WinFrames, f.WinBytes
	if n > 0 {
		broadcastIf(&cs.space, &cs.spaceWaited)
	}
	return changed, nil
}

// readLoop is the only reader of stream i while the link lives. It never
// waits for the application: the peer's credit guarantees room in the
// receive queue, so a stalled Receive on one channel cannot stall the
// stream of another (no head-of-line blocking).
func (l *link) readLoop(i int) {
	defer l.wg.Done()
	t := l.t
	cs := t.chans[i]
	cfg := &t.svc.cfg
	br := l.readers[i]
	for {
		f, err := ReadFrame(br, cfg.MaxFrameSize)
		if err != nil {
			if errors.Is(err, ErrMalformedFrame) || errors.Is(err, ErrFrameTooLarge) {
				t.rejectFrame(cs.ch, err)
			}
			l.fail(fmt.Errorf("%w: read %s: %w", ErrTransport, cs.ch, err))
			return
		}
		if f.Session != t.id {
			t.replay(cs.ch, &f, "foreign_session")
			continue
		}
		if f.Channel != cs.ch {
			err := fmt.Errorf("%w: %s frame on the %s stream", ErrMalformedFrame, f.Channel, cs.ch)
			t.rejectFrame(cs.ch, err)
			l.fail(fmt.Errorf("%w: %w", ErrTransport, err))
			return
		}
		switch f.Kind {
		case KindData, KindAck, KindPing, KindPong:
		case KindClose:
			if cs.ch == Control {
				t.close("closed by peer")
				return
			}
			fallthrough
		default:
			err := fmt.Errorf("%w: unexpected %s frame on %s", ErrMalformedFrame, f.Kind, cs.ch)
			t.rejectFrame(cs.ch, err)
			l.fail(fmt.Errorf("%w: %w", ErrTransport, err))
			return
		}
		cs.mu.Lock()
		if f.Kind == KindData && f.Seq <= cs.delivered {
			// Checked before the ack fields: a replayed frame's stale
			// window must not count as credit.
			cs.mu.Unlock()
			t.replay(cs.ch, &f, "duplicate_seq")
			continue
		}
		changed, err := cs.applyAckLocked(&f)
		if err != nil {
			cs.mu.Unlock()
			t.rejectFrame(cs.ch, err)
			l.fail(err)
			return
		}
		// Wake the writer only if the ack opened room for frames it holds
		// back; waking it for every ack costs a hand-off per message.
		wake := changed && cs.sentIdx < len(cs.sendQ)
		switch f.Kind {
		case KindData:
			if f.Seq != cs.delivered+1 {
				err := fmt.Errorf("%w: %s seq %d after %d (gap)", ErrTransport, cs.ch, f.Seq, cs.delivered)
				cs.mu.Unlock()
				t.rejectFrame(cs.ch, err)
				l.fail(err)
				return
			}
			fin := f.Flags&FlagFin != 0
			if !cs.recvClosed {
				if len(cs.recvQ) >= cfg.RecvQueueFrames || cs.recvBytes+len(f.Payload) > cfg.RecvQueueBytes {
					err := fmt.Errorf("%w: %s peer exceeded its credit (%d frames, %d bytes queued)", ErrTransport, cs.ch, len(cs.recvQ), cs.recvBytes)
					cs.mu.Unlock()
					t.rejectFrame(cs.ch, err)
					l.fail(err)
					return
				}
			}
			cs.deliverLocked(f.Payload, fin)
			cs.ackDirty = true
			if cs.ackUrgentLocked(cfg.RecvQueueFrames, cfg.RecvQueueBytes) {
				wake = true
			} else {
				// The ack may wait for data going back (a reply rides
				// it for free). Arming the timer here, rather than
				// waking the writer to arm it, saves a goroutine
				// hand-off per received message.
				cs.armAckLocked(cfg.AckDelay)
			}
		case KindPing:
			cs.pongPending, cs.pongID = true, f.Seq
			wake = true
		case KindPong:
			if f.Seq == l.pingSeq.Load() && l.outstanding.Swap(0) > 0 {
				t.recordRTT(time.Duration(cfg.Now().UnixNano() - l.pingSent.Load()))
			}
		}
		cs.mu.Unlock()
		if wake {
			poke(cs.wake)
		}
	}
}

// monitor runs the heartbeat of a link and, once the link dies, waits for
// its readers and writers and reports the link down.
func (l *link) monitor() {
	cfg := &l.t.svc.cfg
	tick := time.NewTicker(cfg.HeartbeatInterval)
	defer tick.Stop()
	cs := l.t.chans[Control.index()]
	for {
		select {
		case <-tick.C:
			if n := l.outstanding.Load(); int(n) >= cfg.HeartbeatMisses {
				l.fail(fmt.Errorf("%w: heartbeat: %d pings unanswered", ErrTransport, n))
				// The connection carried nothing for HeartbeatMisses
				// intervals: close it, so the redial makes a new one
				// instead of reusing a dead one.
				if c := l.streams[Control.index()].Conn(); c != nil {
					_ = c.Close()
				}
				continue
			}
			id := l.pingSeq.Add(1)
			l.pingSent.Store(cfg.Now().UnixNano())
			l.outstanding.Add(1)
			cs.mu.Lock()
			cs.pingPending, cs.pingID = true, id
			cs.mu.Unlock()
			poke(cs.wake)
		case <-l.dying:
			l.wg.Wait()
			// Barrier: no Send fast path is still writing on this link.
			for i := range l.wmu {
				l.wmu[i].Lock()
				l.wmu[i].Unlock() //nolint:staticcheck // empty critical section is the point
			}
			l.t.onLinkDown(l)
			close(l.stopped)
			return
		}
	}
}

// errString returns err's text or "" for nil.
func errString(err error) string {
	if err == nil {
		return ""
	}
	if errors.Is(err, io.EOF) {
		return "EOF"
	}
	return err.Error()
}
