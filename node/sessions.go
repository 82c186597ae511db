package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
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
//	'E' + a signed CIP/HCP/LIP envelope (canonical JSON) → router
//	'A' + opaque application bytes                       → the channel's app inbox
const (
	TagEnvelope = 'E'
	TagApp      = 'A'
)

// appInboxSize bounds the application messages waiting per channel per
// peer. A full inbox stops the channel's reader, which stops granting RTT
// credit, which makes the sender's Send block: backpressure end to end,
// nothing dropped.
const appInboxSize = 1024

// ErrUnknownPeer: no session with that peer.
var ErrUnknownPeer = errors.New("unknown peer")

// ErrChannelClosed: the application closed this channel (CloseChannel).
var ErrChannelClosed = errors.New("channel closed")

// peerSession is the node's view of one RTT session.
type peerSession struct {
	t         *rtt.Transport
	fp        string            // the remote's fingerprint (authenticated by Noise/TLS)
	pub       ed25519.PublicKey // the remote's key
	initiator bool
	inbox     [3]chan []byte
	envIn     chan envelopeIn // control-channel envelopes, consumed by the protocol goroutine

	// ready is closed when the CIP handshake has succeeded; hs holds its
	// result. Application channel operations wait for it.
	ready chan struct{}
	hs    *cip.Result
	// commit writes the handshake's staged trust verdict to the ledger;
	// nil until the gate staged one. Only the protocol goroutine uses it.
	commit func() error

	mu      sync.Mutex
	appOpen [3]bool
}

type envelopeIn struct {
	ch  rtt.Channel
	raw []byte
}

// sessions tracks the node's RTT sessions by peer.
type sessions struct {
	mu sync.Mutex
	m  map[peer.ID]*peerSession
}

func (n *Node) startRTT() error {
	cfg := n.rttCfg
	cfg.Events = n.em
	cfg.Registerer = n.reg
	cfg.OnSession = func(t *rtt.Transport) {
		n.Go(func(ctx context.Context) { n.adopt(ctx, t) })
	}
	svc, err := rtt.NewService(n.host, cfg)
	if err != nil {
		return err
	}
	n.rtt = svc
	n.closers = append(n.closers, svc.Close)
	n.sess.m = map[peer.ID]*peerSession{}
	// The side that opened the libp2p connection opens the RTT session;
	// rtt converges simultaneous dials anyway.
	n.host.Network().Notify(&network.NotifyBundle{
		ConnectedF: func(_ network.Network, c network.Conn) {
			if c.Stat().Direction != network.DirOutbound {
				return
			}
			p := c.RemotePeer()
			n.Go(func(ctx context.Context) {
				if _, err := n.Session(ctx, p); err != nil && ctx.Err() == nil {
					n.em.Emit("web4.node.session_failed", p.String(), map[string]any{"detail": err.Error()})
				}
			})
		},
	})
	return nil
}

// Session returns the RTT session with p, dialling one if needed.
func (n *Node) Session(ctx context.Context, p peer.ID) (*rtt.Transport, error) {
	if ps := n.peerSession(p); ps != nil {
		return ps.t, nil
	}
	if n.rtt == nil {
		return nil, errors.New("node not started")
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	// The CIP HELLO goes out inside the RTT handshake (early data), so the
	// peer can answer it as soon as its side of the session is up: one
	// one-way trip less per handshake. If this call does not create the
	// session, the HELLO is simply not sent (runProtocol looks at
	// Transport.Early).
	var early []byte
	if pub, ok := peerEdKey(p); ok {
		if h, err := cip.BuildHello(n.builder(), pub, cipFeatures); err == nil {
			early = EnvelopeFrame(h)
		}
	}
	t, err := n.rtt.DialEarly(ctx, p, early)
	if err != nil {
		return nil, err
	}
	n.adopt(n.Context(), t)
	return t, nil
}

// peerEdKey returns p's Ed25519 public key, if its ID embeds one.
func peerEdKey(p peer.ID) (ed25519.PublicKey, bool) {
	pub, err := p.ExtractPublicKey()
	if err != nil {
		return nil, false
	}
	raw, err := pub.Raw()
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, false
	}
	return ed25519.PublicKey(raw), true
}

func (n *Node) peerSession(p peer.ID) *peerSession {
	n.sess.mu.Lock()
	defer n.sess.mu.Unlock()
	ps := n.sess.m[p]
	if ps != nil {
		select {
		case <-ps.t.Done():
			return nil
		default:
		}
	}
	return ps
}

// adopt registers t (once) and starts its readers and protocol goroutine.
func (n *Node) adopt(ctx context.Context, t *rtt.Transport) {
	p := t.RemotePeer()
	n.sess.mu.Lock()
	if old := n.sess.m[p]; old != nil && old.t == t {
		n.sess.mu.Unlock()
		return
	}
	ps := &peerSession{t: t, initiator: t.Initiator(), envIn: make(chan envelopeIn, 256), ready: make(chan struct{})}
	if pub, ok := peerEdKey(p); ok {
		ps.pub, ps.fp = pub, envelope.Fingerprint(pub)
	}
	if ps.pub == nil {
		n.sess.mu.Unlock()
		n.em.Error("node", "bad_peer_key", p.String(), fmt.Errorf("peer key is not Ed25519"), nil)
		_ = t.Shutdown(ctx)
		return
	}
	for i := range ps.inbox {
		ps.inbox[i] = make(chan []byte, appInboxSize)
	}
	n.sess.m[p] = ps
	n.sess.mu.Unlock()

	// The protocol goroutine reads control itself during the CIP handshake
	// (one goroutine hand-off less per handshake message) and starts its
	// reader afterwards; state and knowledge are read from the start.
	for _, ch := range []rtt.Channel{rtt.State, rtt.Knowledge} {
		n.Go(func(ctx context.Context) { n.readChannel(ctx, ps, ch) })
	}
	n.Go(func(ctx context.Context) { n.runProtocol(ctx, ps) })
	n.Go(func(ctx context.Context) {
		select {
		case <-ctx.Done():
		case <-t.Done():
			n.sess.mu.Lock()
			if n.sess.m[p] == ps {
				delete(n.sess.m, p)
			}
			n.sess.mu.Unlock()
			n.em.Emit("web4.node.session_ended", p.String(), nil)
		}
	})
}

// readChannel demultiplexes one channel of a session until it ends:
// envelopes go to the protocol goroutine, application payloads to the
// channel's inbox.
func (n *Node) readChannel(ctx context.Context, ps *peerSession, ch rtt.Channel) {
	for {
		env, err := n.nextEnvelope(ctx, ps, ch)
		if err != nil {
			return // session over or node closing
		}
		select {
		case ps.envIn <- envelopeIn{ch: ch, raw: env}:
		case <-ctx.Done():
			return
		case <-ps.t.Done():
			return
		}
	}
}

// nextEnvelope receives on ch until an envelope arrives, delivering the
// application payloads before it to the channel's inbox and reporting
// payloads with no or an unknown tag. It fails only when the session or
// ctx ends.
func (n *Node) nextEnvelope(ctx context.Context, ps *peerSession, ch rtt.Channel) ([]byte, error) {
	for {
		raw, err := ps.t.Receive(ctx, ch)
		if err != nil {
			return nil, err
		}
		if len(raw) == 0 {
			n.em.Error("node", "empty_payload", ps.t.RemotePeer().String(), fmt.Errorf("empty payload on %s", ch), map[string]any{"channel": ch.String()})
			continue
		}
		body := raw[1:]
		switch raw[0] {
		case TagEnvelope:
			return body, nil
		case TagApp:
			select {
			case ps.inbox[chIdx(ch)] <- body:
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-ps.t.Done():
				return nil, fmt.Errorf("%w: session ended", rtt.ErrClosed)
			}
		default:
			n.em.Error("node", "unknown_payload_tag", ps.t.RemotePeer().String(), fmt.Errorf("payload tag 0x%02x on %s: want 'E' (envelope) or 'A' (application)", raw[0], ch), map[string]any{"channel": ch.String()})
		}
	}
}

// sendEnvelope sends a signed envelope to p on ch.
func (ps *peerSession) sendEnvelope(ctx context.Context, ch rtt.Channel, env []byte) error {
	return ps.t.Send(ctx, ch, EnvelopeFrame(env))
}

// EnvelopeFrame is the RTT payload that carries a signed envelope:
// TagEnvelope, then the envelope's bytes.
func EnvelopeFrame(env []byte) []byte { return append([]byte{TagEnvelope}, env...) }

// OpenChannel makes ch usable for application data with p, opening the
// RTT session if there is none and waiting for the CIP handshake: the
// application talks only to an authenticated agent.
func (n *Node) OpenChannel(ctx context.Context, p peer.ID, ch rtt.Channel) error {
	ps, err := n.readySession(ctx, p)
	if err != nil {
		return err
	}
	if _, err := ps.t.OpenChannel(ctx, ch); err != nil {
		return err
	}
	ps.mu.Lock()
	ps.appOpen[chIdx(ch)] = true
	ps.mu.Unlock()
	return nil
}

func (n *Node) openSession(p peer.ID, ch rtt.Channel) (*peerSession, error) {
	ps := n.peerSession(p)
	if ps == nil {
		return nil, fmt.Errorf("%w: no RTT session with %s", ErrUnknownPeer, p)
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if !ps.appOpen[chIdx(ch)] {
		return nil, fmt.Errorf("%w: %s is not open (open it first)", ErrChannelClosed, ch)
	}
	return ps, nil
}

// SendApp sends application bytes to p on ch (blocks while the RTT send
// queue is full, until ctx ends).
func (n *Node) SendApp(ctx context.Context, p peer.ID, ch rtt.Channel, data []byte) error {
	ps, err := n.openSession(p, ch)
	if err != nil {
		return err
	}
	return ps.t.Send(ctx, ch, append([]byte{TagApp}, data...))
}

// ReceiveApp returns the next application message from p on ch.
func (n *Node) ReceiveApp(ctx context.Context, p peer.ID, ch rtt.Channel) ([]byte, error) {
	ps, err := n.openSession(p, ch)
	if err != nil {
		return nil, err
	}
	select {
	case b := <-ps.inbox[chIdx(ch)]:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-ps.t.Done():
		return nil, fmt.Errorf("%w: session with %s ended", rtt.ErrClosed, p)
	}
}

// CloseApp closes ch for application use. Protocol traffic (CIP, knowledge)
// on the channel continues: the application's close must not cut the
// agent's own conversation with the peer. Messages already waiting stay
// for a later OpenChannel.
func (n *Node) CloseApp(p peer.ID, ch rtt.Channel) error {
	ps := n.peerSession(p)
	if ps == nil {
		return fmt.Errorf("%w: no RTT session with %s", ErrUnknownPeer, p)
	}
	ps.mu.Lock()
	ps.appOpen[chIdx(ch)] = false
	ps.mu.Unlock()
	return nil
}

// ShutdownSession ends the RTT session with p in order (queued frames are
// delivered first, bounded by ctx).
func (n *Node) ShutdownSession(ctx context.Context, p peer.ID) error {
	ps := n.peerSession(p)
	if ps == nil {
		return fmt.Errorf("%w: no RTT session with %s", ErrUnknownPeer, p)
	}
	return ps.t.Shutdown(ctx)
}

// RTT returns the node's RTT service.
func (n *Node) RTT() *rtt.Service { return n.rtt }

func chIdx(ch rtt.Channel) int { return int(ch) - 1 }
