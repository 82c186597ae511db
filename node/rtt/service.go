package rtt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Service runs RTT on one libp2p host: it owns the three stream handlers
// and every session of the host, one per remote peer.
type Service struct {
	h       host.Host
	cfg     Config
	metrics *metrics
	ctx     context.Context // cancelled by Close: stops reconnects and timers
	cancel  context.CancelFunc

	wgMu     sync.Mutex // leaf lock: guards wg.Add against Close's Wait
	wgClosed bool
	wg       sync.WaitGroup

	mu       sync.Mutex // order: Service.mu → Transport.mu → chanState.mu
	closed   bool
	sessions map[peer.ID]*Transport // live or resumable sessions
	dialing  map[peer.ID]*dialCall
	changed  chan struct{} // closed and replaced when sessions change
	inbound  []*Transport  // new inbound sessions not yet taken by Listen
	inboundC chan struct{} // closed and replaced when inbound grows
	notifee  network.Notifiee
}

type dialCall struct {
	done chan struct{}
	t    *Transport
	err  error
}

// NewService starts RTT on h: it registers the control, state and
// knowledge stream handlers and the web4_rtt_* metrics.
func NewService(h host.Host, cfg Config) (*Service, error) {
	if h == nil {
		return nil, errors.New("rtt: nil host")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{
		h: h, cfg: cfg, metrics: m, ctx: ctx, cancel: cancel,
		sessions: map[peer.ID]*Transport{}, dialing: map[peer.ID]*dialCall{},
		changed: make(chan struct{}), inboundC: make(chan struct{}),
	}
	h.SetStreamHandler(ProtocolControl, s.handleControl)
	h.SetStreamHandler(ProtocolState, s.attachHandler(State))
	h.SetStreamHandler(ProtocolKnowledge, s.attachHandler(Knowledge))
	s.notifee = &network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) { s.connected(c) }}
	h.Network().Notify(s.notifee)
	return s, nil
}

// goTracked runs f on a goroutine Close waits for; false once closing.
func (s *Service) goTracked(f func()) bool {
	s.wgMu.Lock()
	defer s.wgMu.Unlock()
	if s.wgClosed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

func (s *Service) emit(typ string, p peer.ID, data map[string]any) {
	s.cfg.Events.Emit(typ, p.String(), data)
}

// Close removes the handlers, ends every session (without waiting for
// acknowledgements; use Transport.Shutdown for that) and returns once no
// goroutine of the service is left. Idempotent.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ts := make([]*Transport, 0, len(s.sessions))
	for _, t := range s.sessions {
		ts = append(ts, t)
	}
	broadcast(&s.inboundC)
	broadcast(&s.changed)
	s.mu.Unlock()
	s.h.Network().StopNotify(s.notifee)
	for _, p := range []Channel{Control, State, Knowledge} {
		s.h.RemoveStreamHandler(p.Protocol())
	}
	s.cancel()
	for _, t := range ts {
		t.close("service closed")
	}
	s.wgMu.Lock()
	s.wgClosed = true
	s.wgMu.Unlock()
	s.wg.Wait()
	return nil
}

// Session returns the current session with p, or nil.
func (s *Service) Session(p peer.ID) *Transport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[p]
}

// connected runs when a connection c comes up (whoever opened it): a
// session of ours with its peer that is down and backing off retries at
// once, so a peer that is back — restarted, or reachable again — is not
// left waiting for the backoff (up to BackoffMax) to run out; a session of
// ours that runs over a relay moves onto c if c is direct.
func (s *Service) connected(c network.Conn) {
	s.mu.Lock()
	t := s.sessions[c.RemotePeer()]
	s.mu.Unlock()
	if t == nil || !t.initiator {
		return
	}
	if !t.Up() {
		poke(t.kick)
		return
	}
	if !relayed(c) {
		// Not on the swarm's notification path: resetting streams writes.
		s.goTracked(func() { t.migrate("a direct connection came up") })
	}
}

// hasDirect reports whether an open connection to p does not run
// through a relay.
func (s *Service) hasDirect(p peer.ID) bool {
	for _, c := range s.h.Network().ConnsToPeer(p) {
		if !c.IsClosed() && !relayed(c) {
			return true
		}
	}
	return false
}

// forget drops a closed session from the tables.
func (s *Service) forget(t *Transport) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[t.remote] == t {
		delete(s.sessions, t.remote)
		broadcast(&s.changed)
	}
}

// Listen returns the next new inbound session, waiting until one arrives,
// ctx ends or the service closes (ErrClosed). Config.OnSession is the
// callback alternative; both see every inbound session.
func (s *Service) Listen(ctx context.Context) (*Transport, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, fmt.Errorf("%w: service", ErrClosed)
		}
		if len(s.inbound) > 0 {
			t := s.inbound[0]
			s.inbound[0] = nil
			s.inbound = s.inbound[1:]
			s.mu.Unlock()
			return t, nil
		}
		wait := s.inboundC
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wait:
		}
	}
}

func (s *Service) offerInbound(t *Transport) {
	s.mu.Lock()
	if len(s.inbound) >= listenBacklog {
		kept := s.inbound[:0]
		for _, x := range s.inbound {
			if !x.isClosed() {
				kept = append(kept, x)
			}
		}
		s.inbound = kept
	}
	if len(s.inbound) < listenBacklog {
		s.inbound = append(s.inbound, t)
		broadcast(&s.inboundC)
	}
	s.mu.Unlock()
	if s.cfg.OnSession != nil {
		s.cfg.OnSession(t)
	}
}

// Dial returns the session with p, establishing it (handshake on control,
// then the state and knowledge streams) if there is none. A session that
// exists — up or resuming — is returned as is. Concurrent Dials to the same
// peer share one attempt; simultaneous Dials from both ends converge on
// the session initiated by the peer with the smaller ID.
func (s *Service) Dial(ctx context.Context, p peer.ID) (*Transport, error) {
	return s.DialEarlyFunc(ctx, p, nil)
}

// DialEarly is Dial with a first control payload that travels in the
// session handshake itself (0-RTT): when this call creates the session,
// early becomes control frame 1, carried in the Hello, and the responder
// delivers it before its HelloAck is even out — exactly once, first, like
// a Send right after Dial; the returned session's Early reports it. A
// payload over the responder's MaxFrameSize is refused and the dial fails
// with ErrFrameTooLarge (it could not be sent as a frame either). When the call does not create
// the session (one exists, a concurrent Dial creates it, or the peer's
// simultaneous dial wins), early is not sent at all and Early is nil or
// another caller's: check it before relying on the payload having gone.
// early must be at most MaxEarlySize and the local MaxFrameSize bytes.
//
// CIP uses it to send its HELLO with the session handshake, which saves
// the handshake one one-way trip.
func (s *Service) DialEarly(ctx context.Context, p peer.ID, early []byte) (*Transport, error) {
	if err := s.checkEarlySize(early); err != nil {
		return nil, err
	}
	return s.DialEarlyFunc(ctx, p, func() []byte { return early })
}

// DialEarlyFunc is DialEarly with the payload made by early, which is
// called only when this call creates the session, just before its Hello
// goes out: a caller that finds the session there or being made pays
// nothing for a payload that would not be sent (the node's is a signed
// CIP HELLO). A nil early sends none.
func (s *Service) DialEarlyFunc(ctx context.Context, p peer.ID, early func() []byte) (*Transport, error) {
	if p == s.h.ID() {
		return nil, fmt.Errorf("%w: cannot dial self %s", ErrHandshake, p)
	}
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, fmt.Errorf("%w: service", ErrClosed)
		}
		if t := s.sessions[p]; t != nil {
			s.mu.Unlock()
			return t, nil
		}
		if dc := s.dialing[p]; dc != nil {
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: dial %s: %w", ErrHandshake, p, ctx.Err())
			case <-dc.done:
			}
			if dc.err != nil {
				return nil, dc.err
			}
			continue
		}
		dc := &dialCall{done: make(chan struct{})}
		s.dialing[p] = dc
		s.mu.Unlock()

		t, err := s.dialNew(ctx, p, early)
		if errors.Is(err, errConflict) {
			t, err = s.awaitInbound(ctx, p)
		}
		s.mu.Lock()
		delete(s.dialing, p)
		dc.t, dc.err = t, err
		close(dc.done)
		s.mu.Unlock()
		return t, err
	}
}

// awaitInbound waits for the session the peer initiated after our own
// simultaneous dial lost the tie-break.
func (s *Service) awaitInbound(ctx context.Context, p peer.ID) (*Transport, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.HandshakeTimeout)
	defer cancel()
	for {
		s.mu.Lock()
		t, wait, closed := s.sessions[p], s.changed, s.closed
		s.mu.Unlock()
		if t != nil {
			return t, nil
		}
		if closed {
			return nil, fmt.Errorf("%w: service", ErrClosed)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: dial %s lost the tie-break and the peer's session did not arrive: %w", ErrHandshake, p, ctx.Err())
		case <-wait:
		}
	}
}

func (s *Service) newSessionID() ([16]byte, error) {
	var id [16]byte
	if _, err := readFull(s.cfg.Rand, id[:]); err != nil {
		return id, fmt.Errorf("rtt: session id: %w", err)
	}
	return id, nil
}

// checkEarlySize refuses early data over MaxEarlySize or the local frame
// limit.
func (s *Service) checkEarlySize(early []byte) error {
	if len(early) > MaxEarlySize || len(early) > s.cfg.MaxFrameSize {
		return fmt.Errorf("%w: early data %d bytes > %d", ErrFrameTooLarge, len(early), min(MaxEarlySize, s.cfg.MaxFrameSize))
	}
	return nil
}

// dialNew runs the handshake of a fresh session; makeEarly (may be nil)
// makes its early data.
func (s *Service) dialNew(ctx context.Context, p peer.ID, makeEarly func() []byte) (*Transport, error) {
	var early []byte
	if makeEarly != nil {
		early = makeEarly()
	}
	if err := s.checkEarlySize(early); err != nil {
		return nil, err
	}
	id, err := s.newSessionID()
	if err != nil {
		return nil, err
	}
	t := newTransport(s, p, id, true)
	if s.cfg.DeferAttach {
		t.attachGo = make(chan struct{})
	}
	if len(early) > 0 {
		// Queued as control frame 1, as a Send would, so that the
		// responder's resume point acknowledges it like any frame.
		if err := t.TrySend(Control, early); err != nil {
			return nil, err
		}
		t.early = bytes.Clone(early)
	}
	l, ph, err := s.handshakeOut(ctx, t, false)
	if err != nil {
		return nil, err
	}
	if _, err := t.applyPeerResume(&ph); err != nil {
		l.fail(err)
		s.handshakeFailed(p, "dialer", err)
		return nil, err
	}
	earlyTaken, err := t.checkEarly()
	if err == nil && len(ph.Early) > 0 && !t.acceptAnswer(ph.Early) {
		err = fmt.Errorf("%w: hello_ack's early data could not be delivered", ErrHandshake)
	}
	if err != nil {
		l.fail(err)
		s.handshakeFailed(p, "dialer", err)
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.fail(ErrClosed)
		return nil, fmt.Errorf("%w: service", ErrClosed)
	}
	old := s.sessions[p]
	s.sessions[p] = t
	broadcast(&s.changed)
	s.mu.Unlock()
	if old != nil {
		old.close("replaced by a new session")
	}
	s.handshakeCompleted(t, "dialer", ph.Epoch, false, earlyTaken, len(ph.Early))
	if err := s.startDialerLink(t, l, false, 0); err != nil {
		t.close("start failed")
		return nil, err
	}
	return t, nil
}

// checkEarly runs after the HelloAck and returns how many bytes of early
// data the responder took. Early data it did not take (it is over the
// responder's MaxFrameSize) cannot be sent as a frame either, so the dial
// fails rather than leave it stuck in the queue.
func (t *Transport) checkEarly() (int, error) {
	if t.early == nil {
		return 0, nil
	}
	cs := t.chans[Control.index()]
	cs.mu.Lock()
	taken := cs.peerAck >= 1
	cs.mu.Unlock()
	limit := int(t.maxPayload.Load())
	if !taken {
		if len(t.early) > limit {
			return 0, fmt.Errorf("%w: early data %d bytes > the peer's frame limit %d", ErrFrameTooLarge, len(t.early), limit)
		}
		return 0, nil
	}
	return len(t.early), nil
}

// resume re-runs the handshake of t (dialer side) on a new connection.
func (s *Service) resume(t *Transport) error {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.HandshakeTimeout)
	defer cancel()
	l, ph, err := s.handshakeOut(ctx, t, true)
	if err != nil {
		return err
	}
	resent, err := t.applyPeerResume(&ph)
	if err != nil {
		l.fail(err)
		s.handshakeFailed(t.remote, "dialer", err)
		return err
	}
	s.handshakeCompleted(t, "dialer", ph.Epoch, true, 0, 0)
	return s.startDialerLink(t, l, true, resent)
}

// startDialerLink starts the dialer's link with control alone, then
// attaches the state and knowledge streams behind it (attachRest) — a
// fresh session's under Config.DeferAttach once it is let to.
func (s *Service) startDialerLink(t *Transport, l *link, resumed bool, resent int) error {
	if err := t.startLink(l, resumed, resent); err != nil {
		return err
	}
	wait := !resumed && t.attachGo != nil
	if !s.goTracked(func() { t.attachRest(l, wait) }) {
		l.fail(ErrClosed)
		return fmt.Errorf("%w: service", ErrClosed)
	}
	return nil
}

// handshakeCompleted reports a handshake; early is the size of the early
// data the Hello carried and the responder took (0: none), answer the size
// of the responder's answer to it in the HelloAck (0: none).
func (s *Service) handshakeCompleted(t *Transport, role string, epoch uint64, resume bool, early, answer int) {
	s.emit("web4.rtt.handshake_completed", t.remote, map[string]any{
		"session": t.sid(), "role": role, "epoch": epoch, "resume": resume, "version": Version,
		"early_data": early, "early_answer": answer,
	})
}

func (s *Service) handshakeFailed(p peer.ID, role string, err error) {
	s.metrics.handshakeFailures.Inc()
	s.emit("web4.rtt.handshake_failed", p, map[string]any{"role": role, "error": errString(err)})
}

// admit decides, under the service lock, what an inbound Hello gets.
// Tie-break for simultaneous dials: the session initiated by the smaller
// peer ID wins, so the larger side rejects nothing and the smaller side
// answers StatusConflict while its own dial is pending or its own session
// is up.
func (s *Service) admit(remote peer.ID, id [16]byte, resume bool) (t, old *Transport, st Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, StatusUnavailable
	}
	cur := s.sessions[remote]
	if resume {
		if cur == nil || cur.id != id || cur.initiator {
			return nil, nil, StatusUnknownSession
		}
		return cur, nil, StatusOK
	}
	if cur != nil && cur.id == id {
		return nil, nil, StatusConflict // a second fresh hello for the same session
	}
	iWin := s.h.ID() < remote
	if _, pending := s.dialing[remote]; pending && iWin {
		return nil, nil, StatusConflict
	}
	if cur != nil && cur.initiator && iWin && cur.Up() {
		return nil, nil, StatusConflict
	}
	t = newTransport(s, remote, id, false)
	s.sessions[remote] = t
	broadcast(&s.changed)
	return t, cur, StatusOK
}

var (
	errConflict = errors.New("simultaneous dial lost the tie-break")
)

// dialErr maps a refusal status to an error.
func statusErr(st Status) error {
	switch st {
	case StatusConflict:
		return fmt.Errorf("%w: %w", ErrHandshake, errConflict)
	case StatusUnknownSession:
		return fmt.Errorf("%w: %w", ErrHandshake, ErrPeerRestarted)
	default:
		return fmt.Errorf("%w: peer answered %s", ErrHandshake, st)
	}
}

var _ network.StreamHandler = (*Service)(nil).handleControl
