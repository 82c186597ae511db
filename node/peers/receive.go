package peers

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/node/rtt"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/router"
	"github.com/web4p2p/web4p2p/trust"
)

// receive takes one envelope the session's peer sent on ch down the
// receive path (package doc). Every failure is already an event
// (validator, router); receive adds the trust consequence for the
// authenticated delivering peer (SPEC §1: never for the identity named
// inside a failed envelope).
func (r *Runtime) receive(ctx context.Context, s *session, ch rtt.Channel, raw []byte) {
	remote := s.t.RemotePeer()
	env, err := r.deps.Validator.Validate(raw)
	if err == nil {
		err = checkDirectSender(env, s.pub)
	}
	if err != nil {
		r.Penalise(s.fp, remote, err, msgIDOf(env))
		return
	}
	msg := &router.Message{Env: env, Peer: s.fp, PeerID: remote.String(), Channel: ch.String()}
	if err := r.deps.Router.Route(ctx, msg); err != nil {
		switch {
		case errors.Is(err, envelope.ErrTrustViolation),
			errors.Is(err, knowledge.ErrInvalidFact), errors.Is(err, knowledge.ErrInvalidVote):
			r.Penalise(s.fp, remote, err, env.MsgID)
		}
	}
}

// checkDirectSender enforces SPEC §1: on a direct RTT channel the
// envelope's sender.pubkey must be the remote libp2p key.
func checkDirectSender(env *envelope.Envelope, remote ed25519.PublicKey) error {
	pub, err := env.PublicKey()
	if err != nil || !pub.Equal(remote) {
		return &envelope.Error{Kind: envelope.ErrFingerprintMismatch, Check: envelope.CheckFingerprint, Path: "sender.pubkey",
			Reason: "is not the key of the peer that delivered it on a direct channel"}
	}
	return nil
}

func msgIDOf(env *envelope.Envelope) string {
	if env == nil {
		return ""
	}
	return env.MsgID
}

// Penalise applies the trust consequence of a rejected message to the
// delivering peer fp (remote is its PeerID). A blacklisted peer is
// disconnected by the node's trust subscription (Disconnect).
func (r *Runtime) Penalise(fp string, remote peer.ID, err error, cause string) {
	ev := trust.InvalidMessage
	switch {
	case errors.Is(err, envelope.ErrFingerprintMismatch):
		ev = trust.FingerprintMismatch
	case errors.Is(err, envelope.ErrReplay):
		// RTT already drops duplicate frames; an envelope replayed on a
		// direct channel was sent twice on purpose (SPEC §5 replay attack).
		ev = trust.ProvenMalice
	}
	if _, aerr := r.deps.Trust.Apply(fp, ev, cause); aerr != nil {
		r.deps.Events.Error("node", "trust_apply", remote.String(), aerr, nil)
	}
}

// Disconnect ends the session with p and closes every connection to it
// (SPEC §4.3: blacklisted → connection closed).
func (r *Runtime) Disconnect(p peer.ID, why string) {
	r.deps.Events.Emit("web4.node.peer_dropped", p.String(), map[string]any{"reason": why})
	if s := r.session(p); s != nil {
		ctx, cancel := context.WithTimeout(r.deps.Group.Context(), 0)
		_ = s.t.Shutdown(ctx)
		cancel()
	}
	_ = r.deps.Host.Network().ClosePeer(p)
}

// errNoPeerID: a message whose delivering peer has no usable PeerID.
var errNoPeerID = errors.New("delivering peer has no PeerID")

func peerOf(m *router.Message) (peer.ID, error) {
	p, err := peer.Decode(m.PeerID)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", errNoPeerID, m.PeerID, err)
	}
	return p, nil
}
