package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/web4p2p/web4p2p/node/rtt"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/trust"
)

// Capabilities this node advertises in HELLO and its envelopes.
var Capabilities = []string{"rtt/1.0", "cip/1.0", "knowledge/1.0", "mesh/gossipsub"}

// builder returns a CIP envelope builder for this node's identity.
func (n *Node) builder() *cip.Builder {
	return &cip.Builder{
		Key: n.edKey, AgentID: n.cfg.AgentID, Capabilities: Capabilities, Now: n.cfg.Now,
		State: n.stateBlock,
	}
}

// stateBlock is the state block of every envelope this node signs.
func (n *Node) stateBlock() envelope.State {
	presence, lri := n.presence()
	var p envelope.Presence
	if err := p.UnmarshalText([]byte(presence)); err != nil {
		_ = p.UnmarshalText([]byte("diffuse"))
	}
	return envelope.State{Presence: p, LRI: lri, KernelSignals: []string{}}
}

// overloaded is the SPEC §4.2 step 6 / §10 test: INTENT replies defer.
func (n *Node) overloaded() bool {
	p, _ := n.presence()
	return p == "overloaded"
}

// viewOf converts our trust state for a peer into the envelope enum.
func (n *Node) viewOf(fp string) envelope.TrustView {
	var v envelope.TrustView
	if err := v.UnmarshalText([]byte(n.trust.State(fp).String())); err != nil {
		return 0
	}
	return v
}

// cipConn runs the handshake over the session's control channel, which the
// protocol goroutine reads itself until the handshake is over. Envelopes
// that arrive on the other channels meanwhile wait in ps.envIn, in order,
// and are dispatched once the handshake is done.
type cipConn struct {
	n  *Node
	ps *peerSession
}

func (c *cipConn) Send(ctx context.Context, msg []byte) error {
	return c.ps.sendEnvelope(ctx, rtt.Control, msg)
}

func (c *cipConn) Receive(ctx context.Context) ([]byte, error) {
	return c.n.nextEnvelope(ctx, c.ps, rtt.Control)
}

// trustGate applies the handshake verdict (SPEC §4.2 step 4) to the
// connection's peer — the authenticated key, never a name from an envelope.
func (n *Node) trustGate(ps *peerSession) func(context.Context, cip.Identity, cip.Outcome) error {
	return func(ctx context.Context, id cip.Identity, o cip.Outcome) error {
		cause := "handshake:" + fmt.Sprintf("%x", ps.t.SessionID())
		ev := trust.ValidHandshake
		switch o {
		case cip.OutcomeBadSignature:
			ev = trust.BadSignature
		case cip.OutcomeFingerprintMismatch:
			ev = trust.FingerprintMismatch
		}
		// The verdict and the PeerID binding are one ledger write. It is
		// in effect at once; an accepted handshake finishes its messages
		// first and runProtocol commits the write before the session is
		// ready (ps.commit). A refusal commits it here.
		_, commit, err := n.trust.Stage(ps.fp, ps.t.RemotePeer().String(), trust.Input{Event: ev, Cause: cause})
		if err != nil {
			return err
		}
		switch st := n.trust.State(ps.fp); st {
		case trust.Probing, trust.Trusted:
			ps.commit = commit
			return nil
		case trust.Untrusted:
			_ = commit()
			return fmt.Errorf("peer is untrusted and its cooldown is not over")
		default:
			_ = commit()
			return fmt.Errorf("peer is %s", st)
		}
	}
}

// cipFeatures are what this node advertises in its HELLO.
var cipFeatures = cip.Features{SupportsMesh: true, SupportsMultiplex: true}

// runProtocol leads (dialer) or answers the CIP handshake on the session,
// then dispatches the peer's envelopes until the session ends.
func (n *Node) runProtocol(ctx context.Context, ps *peerSession) {
	conn := &cipConn{n: n, ps: ps}
	cfg := cip.Config{
		Builder: n.builder(), RemoteKey: ps.pub, Replay: n.replay,
		Policy: n.router.Policy().Envelope, TrustGate: n.trustGate(ps),
		Overloaded: n.overloaded, ViewOf: n.viewOf, Events: n.em,
		StepTimeout: n.cfg.HandshakeTimeout,
		Features:    cipFeatures,
	}
	var res *cip.Result
	var err error
	if ps.initiator {
		// Our HELLO went out with the RTT handshake if this session
		// came from Session's DialEarly (otherwise Initiate sends it).
		if e := ps.t.Early(); len(e) > 1 && e[0] == TagEnvelope {
			cfg.SentHello = e[1:]
		}
		res, err = cip.Initiate(ctx, conn, cfg)
	} else {
		res, err = cip.Respond(ctx, conn, cfg)
	}
	// The verdict's ledger write goes to disk now that the handshake's
	// messages are out, not while they are in flight: a sync holds a
	// runtime P for its whole duration (about 1 ms here), which on a small
	// machine starves the very goroutines moving the handshake. No peer
	// message is dispatched before it lands. A failed handshake commits
	// its verdict too (it took effect).
	if ps.commit != nil {
		if cerr := ps.commit(); cerr != nil && err == nil {
			err = fmt.Errorf("%w: recording the trust verdict: %w", cip.ErrHandshake, cerr)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		n.handshakeFailed(ps, res, err)
		return
	}
	ps.hs = res
	p := ps.t.RemotePeer()
	n.updatePeerInfo(p, func(ri *remoteInfo) {
		ri.agentID, ri.fingerprint, ri.capabilities = res.Peer.AgentID, res.Peer.Fingerprint, res.Peer.Capabilities
		if s := res.PeerState; s != nil {
			ri.presence, ri.lri, ri.intent = s.Presence.String(), s.LRI, s.Intent
		}
	})
	close(ps.ready)
	n.Go(func(ctx context.Context) { n.readChannel(ctx, ps, rtt.Control) })
	for {
		select {
		case <-ctx.Done():
			return
		case <-ps.t.Done():
			return
		case in := <-ps.envIn:
			n.dispatch(ctx, ps, in.ch, in.raw)
		}
	}
}

// handshakeFailed ends a session whose CIP handshake failed: a peer whose
// verdict was not OK (or that the trust gate refused) is disconnected; the
// trust consequence was applied by the gate.
func (n *Node) handshakeFailed(ps *peerSession, res *cip.Result, err error) {
	p := ps.t.RemotePeer()
	reason := err.Error()
	if res != nil && res.Reason != "" {
		reason = res.Reason
	}
	st := n.trust.State(ps.fp)
	n.em.Emit("web4.node.handshake_rejected", p.String(), map[string]any{"reason": reason, "trust": st.String()})
	// The session is over either way: a failed CIP handshake leaves no
	// authenticated agent on the other side.
	ctx, cancel := context.WithTimeout(n.Context(), time.Second)
	_ = ps.t.Shutdown(ctx)
	cancel()
	if st == trust.Blacklisted || st == trust.Untrusted || errors.Is(err, cip.ErrHandshake) {
		if h := n.Host(); h != nil {
			_ = h.Network().ClosePeer(p)
		}
	}
}

// edKeyOf converts the libp2p identity to a crypto/ed25519 key.
func edKeyOf(raw []byte) (ed25519.PrivateKey, error) {
	if len(raw) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("identity: want a %d-byte Ed25519 key, got %d bytes", ed25519.PrivateKeySize, len(raw))
	}
	return ed25519.PrivateKey(raw), nil
}
