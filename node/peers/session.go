package peers

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/node/rtt"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// Payload tags. Every RTT payload the node sends starts with one byte that
// says what it is, so protocol envelopes and application bytes (the Python
// client's transport API) share the three channels without sniffing:
//
//	'E' + a signed CIP/HCP/LIP envelope (canonical JSON) → the receive path
//	'A' + opaque application bytes                       → the channel's app inbox
const (
	TagEnvelope = 'E'
	TagApp      = 'A'
)

// appInboxSize bounds the application messages waiting per channel per
// peer. A full inbox stops the channel's dispatcher, which stops granting
// RTT credit, which makes the sender's Send block: backpressure end to
// end, nothing dropped.
const appInboxSize = 1024

// dialTimeout bounds opening a session (RTT handshake with early data).
const dialTimeout = 15 * time.Second

// Errors of the runtime.
var (
	// ErrUnknownPeer: no session with that peer.
	ErrUnknownPeer = errors.New("unknown peer")
	// ErrChannelClosed: the application closed this channel (CloseApp).
	ErrChannelClosed = errors.New("channel closed")
	// ErrNotOpen: the runtime is not open (before Open, or closing).
	ErrNotOpen = errors.New("peers: runtime not open")
)

// EnvelopeFrame is the RTT payload that carries a signed envelope:
// TagEnvelope, then the envelope's bytes.
func EnvelopeFrame(env []byte) []byte { return append([]byte{TagEnvelope}, env...) }

// session is the runtime's view of one RTT session.
type session struct {
	t         *rtt.Transport
	fp        string            // the remote's fingerprint (authenticated by Noise/TLS)
	pub       ed25519.PublicKey // the remote's key
	initiator bool
	// inbox holds each channel's application messages; made on first use
	// (most sessions carry only protocol traffic, and a 1024-slot channel
	// per channel per peer is memory the GC would scan for nothing).
	inboxOnce [3]sync.Once
	inbox     [3]chan []byte

	// ready is closed when the CIP handshake has succeeded; hs holds its
	// result (written before ready is closed, read-only after).
	ready chan struct{}
	hs    *cip.Result
	// commit writes the handshake's staged trust verdict to the ledger;
	// nil until the gate staged one. Only the control dispatcher uses it.
	commit func() error
	// intents bounds the peer's INTENT requests being answered at once.
	intents chan struct{}

	mu      sync.Mutex
	appOpen [3]bool
}

func (s *session) isReady() bool {
	select {
	case <-s.ready:
	default:
		return false
	}
	select {
	case <-s.t.Done():
		return false
	default:
		return true
	}
}

func chIdx(ch rtt.Channel) int { return int(ch) - 1 }

// Open creates the RTT service on the host (registering its stream
// handlers) and starts opening a session for every outbound connection.
// Call it once, after everything the receive path reaches is built.
func (r *Runtime) Open() error {
	cfg := r.cfg.RTT
	cfg.Events = r.deps.Events
	cfg.Registerer = r.cfg.Registerer
	cfg.AnswerEarly = r.answerHello
	// The CIP handshake runs on control alone; state and knowledge attach
	// once it is over (runControl).
	cfg.DeferAttach = true
	cfg.OnSession = func(t *rtt.Transport) {
		r.deps.Group.Go(func(ctx context.Context) { r.adopt(ctx, t) })
	}
	svc, err := rtt.NewService(r.deps.Host, cfg)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.svc = svc
	r.mu.Unlock()
	// The side that opened the libp2p connection opens the RTT session;
	// rtt converges simultaneous dials anyway.
	connected := func(_ network.Network, c network.Conn) {
		if c.Stat().Direction != network.DirOutbound {
			return
		}
		p := c.RemotePeer()
		r.deps.Group.Go(func(ctx context.Context) {
			if _, err := r.Session(ctx, p); err != nil && ctx.Err() == nil {
				r.deps.Events.Emit("web4.node.session_failed", p.String(), map[string]any{"detail": err.Error()})
			}
		})
	}
	r.deps.Host.Network().Notify(&network.NotifyBundle{ConnectedF: connected})
	// Connections opened before Open get their session too: AutoRelay
	// dials its static relays as soon as the host exists when the node's
	// reachability is stated private.
	for _, c := range r.deps.Host.Network().Conns() {
		connected(r.deps.Host.Network(), c)
	}
	return nil
}

// Close ends every session in order — each peer is told the session is
// over, so it frees it at once instead of keeping it for a resume that
// will not come (ShutdownTimeout bounds the wait for their
// acknowledgements) — then closes the RTT service. The node closes the
// goroutine group first. Idempotent.
func (r *Runtime) Close() error {
	r.mu.Lock()
	svc := r.svc
	ss := make([]*session, 0, len(r.sessions))
	for _, s := range r.sessions {
		ss = append(ss, s)
	}
	r.mu.Unlock()
	if svc == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.ShutdownTimeout)
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.t.Shutdown(ctx)
		}()
	}
	wg.Wait()
	cancel()
	return svc.Close()
}

// RTT returns the RTT service (nil before Open).
func (r *Runtime) RTT() *rtt.Service {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.svc
}

// Session returns the RTT session with p, dialling one if needed.
func (r *Runtime) Session(ctx context.Context, p peer.ID) (*rtt.Transport, error) {
	if s := r.session(p); s != nil {
		return s.t, nil
	}
	svc := r.RTT()
	if svc == nil {
		return nil, ErrNotOpen
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	// The CIP HELLO goes out inside the RTT handshake (early data), so the
	// peer can answer it as soon as its side of the session is up: one
	// one-way trip less per handshake. It is built only if this call
	// creates the session (the handshake looks at Transport.Early); a
	// caller that finds the session being dialled signs nothing.
	t, err := svc.DialEarlyFunc(ctx, p, func() []byte {
		if pub, ok := edKey(p); ok {
			if h, err := cip.BuildHello(r.deps.Sign(), pub, Features); err == nil {
				return EnvelopeFrame(h)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.adopt(r.deps.Group.Context(), t)
	return t, nil
}

func (r *Runtime) session(p peer.ID) *session {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sessions[p]
	if s != nil {
		select {
		case <-s.t.Done():
			return nil
		default:
		}
	}
	return s
}

// adopt registers t (once) and starts its control dispatcher, which runs
// the handshake and then starts the other two.
func (r *Runtime) adopt(ctx context.Context, t *rtt.Transport) {
	p := t.RemotePeer()
	pub, ok := edKey(p)
	if !ok {
		r.deps.Events.Error("node", "bad_peer_key", p.String(), fmt.Errorf("peer key is not Ed25519"), nil)
		_ = t.Shutdown(ctx)
		return
	}
	r.mu.Lock()
	if old := r.sessions[p]; old != nil && old.t == t {
		r.mu.Unlock()
		return
	}
	s := &session{t: t, initiator: t.Initiator(), pub: pub, fp: envelope.Fingerprint(pub),
		ready: make(chan struct{}), intents: make(chan struct{}, MaxIntentsInFlight)}
	r.sessions[p] = s
	r.mu.Unlock()

	r.deps.Group.Go(func(ctx context.Context) {
		r.runControl(ctx, s)
		// The control dispatcher returns when the session or the node
		// ends (or the handshake failed, which shuts the session down).
		select {
		case <-ctx.Done():
		case <-t.Done():
			r.mu.Lock()
			if r.sessions[p] == s {
				delete(r.sessions, p)
			}
			r.mu.Unlock()
			r.deps.Events.Emit("web4.node.session_ended", p.String(), nil)
			if s.initiator && errors.Is(t.Err(), rtt.ErrPeerRestarted) {
				r.restart(ctx, s)
			}
		}
	})
}

// restart opens a fresh session (and CIP handshake) with a peer that no
// longer knew ours: it restarted, or freed the session. Without this the
// node would wait for someone to send before talking to the peer again,
// and nothing it publishes would reach it. Frames of the old session that
// the peer never acknowledged are not carried over — they belonged to a
// session (and a CIP handshake) the peer has lost, and it may have
// processed some before it went down; the event reports how many.
func (r *Runtime) restart(ctx context.Context, old *session) {
	p := old.t.RemotePeer()
	tel := old.t.Telemetry()
	undelivered := 0
	for _, c := range tel.Channels {
		undelivered += c.SendQueueFrames
	}
	t, err := r.Session(ctx, p)
	if err != nil {
		if ctx.Err() == nil {
			r.deps.Events.Emit("web4.node.session_failed", p.String(), map[string]any{
				"detail": "fresh session after the peer restarted: " + err.Error(),
			})
		}
		return
	}
	oldID, newID := old.t.SessionID(), t.SessionID()
	r.deps.Events.Emit("web4.node.session_restarted", p.String(), map[string]any{
		"old_session": hex.EncodeToString(oldID[:]), "session": hex.EncodeToString(newID[:]),
		"undelivered": undelivered, "reason": "peer no longer knew the session (restarted)",
	})
}

// dispatchLoop is the dispatcher of one channel of a session: every
// envelope goes down the receive path on this goroutine, in order, until
// the session or the runtime ends.
func (r *Runtime) dispatchLoop(ctx context.Context, s *session, ch rtt.Channel) {
	for {
		raw, err := r.nextEnvelope(ctx, s, ch)
		if err != nil {
			return // session over or node closing
		}
		r.receive(ctx, s, ch, raw)
	}
}

// nextEnvelope receives on ch until an envelope arrives, delivering the
// application payloads before it to the channel's inbox and reporting
// payloads with no or an unknown tag. It fails only when the session or
// ctx ends.
func (r *Runtime) nextEnvelope(ctx context.Context, s *session, ch rtt.Channel) ([]byte, error) {
	for {
		raw, err := s.t.Receive(ctx, ch)
		if err != nil {
			return nil, err
		}
		if len(raw) == 0 {
			r.deps.Events.Error("node", "empty_payload", s.t.RemotePeer().String(), fmt.Errorf("empty payload on %s", ch), map[string]any{"channel": ch.String()})
			continue
		}
		body := raw[1:]
		switch raw[0] {
		case TagEnvelope:
			return body, nil
		case TagApp:
			select {
			case s.appInbox(ch) <- body:
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-s.t.Done():
				return nil, fmt.Errorf("%w: session ended", rtt.ErrClosed)
			}
		default:
			r.deps.Events.Error("node", "unknown_payload_tag", s.t.RemotePeer().String(), fmt.Errorf("payload tag 0x%02x on %s: want 'E' (envelope) or 'A' (application)", raw[0], ch), map[string]any{"channel": ch.String()})
		}
	}
}

// appInbox is ch's application inbox, made on first use.
func (s *session) appInbox(ch rtt.Channel) chan []byte {
	i := chIdx(ch)
	s.inboxOnce[i].Do(func() { s.inbox[i] = make(chan []byte, appInboxSize) })
	return s.inbox[i]
}

// send sends a signed envelope to the session's peer on ch.
func (s *session) send(ctx context.Context, ch rtt.Channel, env []byte) error {
	return s.t.Send(ctx, ch, EnvelopeFrame(env))
}

// ready returns the session with p once its CIP handshake is done,
// dialling p if there is no session yet.
func (r *Runtime) readySession(ctx context.Context, p peer.ID) (*session, error) {
	if _, err := r.Session(ctx, p); err != nil {
		return nil, err
	}
	s := r.session(p)
	if s == nil {
		return nil, fmt.Errorf("%w: no session with %s", ErrUnknownPeer, p)
	}
	select {
	case <-s.ready:
		return s, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("CIP handshake with %s not complete: %w", p, ctx.Err())
	case <-s.t.Done():
		return nil, fmt.Errorf("%w: session with %s ended before the CIP handshake completed", ErrUnknownPeer, p)
	}
}

// WaitReady waits until the CIP handshake with p has completed (dialling
// p if there is no session yet), so that p is one of the peers the
// AgentLoop may ask.
func (r *Runtime) WaitReady(ctx context.Context, p peer.ID) error {
	_, err := r.readySession(ctx, p)
	return err
}

// OpenChannel makes ch usable for application data with p, opening the
// RTT session if there is none and waiting for the CIP handshake: the
// application talks only to an authenticated agent.
func (r *Runtime) OpenChannel(ctx context.Context, p peer.ID, ch rtt.Channel) error {
	s, err := r.readySession(ctx, p)
	if err != nil {
		return err
	}
	if _, err := s.t.OpenChannel(ctx, ch); err != nil {
		return err
	}
	s.mu.Lock()
	s.appOpen[chIdx(ch)] = true
	s.mu.Unlock()
	return nil
}

func (r *Runtime) appSession(p peer.ID, ch rtt.Channel) (*session, error) {
	s := r.session(p)
	if s == nil {
		return nil, fmt.Errorf("%w: no RTT session with %s", ErrUnknownPeer, p)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.appOpen[chIdx(ch)] {
		return nil, fmt.Errorf("%w: %s is not open (open it first)", ErrChannelClosed, ch)
	}
	return s, nil
}

// SendApp sends application bytes to p on ch (blocks while the RTT send
// queue is full, until ctx ends).
func (r *Runtime) SendApp(ctx context.Context, p peer.ID, ch rtt.Channel, data []byte) error {
	s, err := r.appSession(p, ch)
	if err != nil {
		return err
	}
	return s.t.Send(ctx, ch, append([]byte{TagApp}, data...))
}

// ReceiveApp returns the next application message from p on ch.
func (r *Runtime) ReceiveApp(ctx context.Context, p peer.ID, ch rtt.Channel) ([]byte, error) {
	s, err := r.appSession(p, ch)
	if err != nil {
		return nil, err
	}
	select {
	case b := <-s.appInbox(ch):
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.t.Done():
		return nil, fmt.Errorf("%w: session with %s ended", rtt.ErrClosed, p)
	}
}

// CloseApp closes ch for application use. Protocol traffic (CIP, knowledge)
// on the channel continues: the application's close must not cut the
// agent's own conversation with the peer. Messages already waiting stay
// for a later OpenChannel.
func (r *Runtime) CloseApp(p peer.ID, ch rtt.Channel) error {
	s := r.session(p)
	if s == nil {
		return fmt.Errorf("%w: no RTT session with %s", ErrUnknownPeer, p)
	}
	s.mu.Lock()
	s.appOpen[chIdx(ch)] = false
	s.mu.Unlock()
	return nil
}

// Shutdown ends the RTT session with p in order (queued frames are
// delivered first, bounded by ctx).
func (r *Runtime) Shutdown(ctx context.Context, p peer.ID) error {
	s := r.session(p)
	if s == nil {
		return fmt.Errorf("%w: no RTT session with %s", ErrUnknownPeer, p)
	}
	return s.t.Shutdown(ctx)
}

// SendEnvelope sends an already sealed envelope to p on ch (tests and
// tools use it to inject exactly the bytes they want to check).
func (r *Runtime) SendEnvelope(ctx context.Context, p peer.ID, ch rtt.Channel, raw []byte) error {
	s := r.session(p)
	if s == nil {
		return fmt.Errorf("%w: no session with %s", ErrUnknownPeer, p)
	}
	return s.send(ctx, ch, raw)
}

// Sessions returns the peers with a live RTT session, sorted.
func (r *Runtime) Sessions() []peer.ID {
	r.mu.Lock()
	out := make([]peer.ID, 0, len(r.sessions))
	for p, s := range r.sessions {
		select {
		case <-s.t.Done():
			continue
		default:
		}
		out = append(out, p)
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Telemetry returns the RTT telemetry of the session with p.
func (r *Runtime) Telemetry(p peer.ID) (rtt.Telemetry, bool) {
	s := r.session(p)
	if s == nil {
		return rtt.Telemetry{}, false
	}
	return s.t.Telemetry(), true
}

// readySessions returns the sessions whose CIP handshake succeeded, by
// fingerprint.
func (r *Runtime) readySessions() []*session {
	r.mu.Lock()
	out := make([]*session, 0, len(r.sessions))
	for _, s := range r.sessions {
		if s.isReady() {
			out = append(out, s)
		}
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].fp < out[j].fp })
	return out
}
