package node

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

// startProtocols builds the envelope validator, the router and the
// runtimes that plug into it.
func (n *Node) startProtocols() error {
	n.replay = envelope.NewReplayCache(envelope.DefaultReplayWindow, envelope.DefaultReplayCapacity)
	n.router = router.New(router.Config{Trust: n.trust, Events: n.em})
	n.validator = envelope.NewValidator(envelope.Config{
		Now: n.cfg.Now, LocalFingerprint: n.fp, Replay: n.replay,
		Policy: n.router.Policy().Envelope, Events: n.em,
	})
	ks, err := knowledge.OpenStore(n.db, knowledge.StoreConfig{
		Now: n.cfg.Now, Events: n.em, View: n.trust.State, OnStatus: n.onFactStatus,
		// Gossip has no order across publishers: a vote may overtake its
		// proposal, so it is held until the proposal arrives.
		HoldUnknown: true,
	})
	if err != nil {
		return err
	}
	n.knowledge = ks
	// A trust change re-evaluates the facts that peer voted on or proposed
	// (SPEC §8: fact state is a function of votes and the local trust view).
	n.trust.OnChange(func(tr trust.Transition) {
		n.Go(func(ctx context.Context) {
			if _, err := ks.TrustChanged(ctx, tr.Peer); err != nil && ctx.Err() == nil {
				n.em.Error("knowledge", "reevaluate", tr.Peer, err, nil)
			}
		})
	})
	for route, h := range map[router.Route]router.Handler{
		router.PeerState: router.HandlerFunc(n.handleStateUpdate),
		router.AgentLoop: router.HandlerFunc(n.handleIntent),
		router.Knowledge: n.knowledgeHandler(),
	} {
		if _, err := n.router.Register(route, h); err != nil {
			return err
		}
	}
	if err := n.startTrustPropagation(); err != nil {
		return err
	}
	n.Go(n.expireLoop)
	return nil
}

// onFactStatus feeds fact outcomes into the proposer's trust record:
// accepted facts are verified knowledge (probing → trusted after enough),
// a fact rejected by trusted quorum is a lost conflict (SPEC §5).
func (n *Node) onFactStatus(c knowledge.Change) {
	if c.Fact.Proposer == n.fp || c.From == c.Result.Status {
		return
	}
	switch c.Result.Status {
	case knowledge.Accepted:
		_, _ = n.trust.ApplyInput(c.Fact.Proposer, trust.Input{Event: trust.FactAccepted, Cause: c.Fact.ID, Confirmations: len(c.Result.Confirmers)})
	case knowledge.Rejected:
		if len(c.Result.Rejecters) > 0 {
			_, _ = n.trust.Apply(c.Fact.Proposer, trust.ConflictLost, c.Fact.ID)
		}
	}
}

// Router returns the node's protocol router (runtimes register on it).
func (n *Node) Router() *router.Router { return n.router }

// Knowledge returns the node's fact store.
func (n *Node) Knowledge() *knowledge.Store { return n.knowledge }

// dispatch validates one envelope delivered by the session's peer on ch
// and routes it. Every failure is already an event (validator, router);
// dispatch adds the trust consequence for the authenticated delivering peer
// (SPEC §1: never for the identity named inside a failed envelope).
func (n *Node) dispatch(ctx context.Context, ps *peerSession, ch rtt.Channel, raw []byte) {
	remote := ps.t.RemotePeer()
	fp := ps.fp
	env, err := n.validator.Validate(raw)
	if err == nil {
		err = checkDirectSender(env, ps.pub)
	}
	if err != nil {
		n.penalise(fp, remote, err, msgIDOf(env))
		return
	}
	msg := &router.Message{
		Peer: fp, PeerID: remote.String(), Channel: ch.String(), Type: env.Type.String(),
		MsgID: env.MsgID, Raw: env.Raw(), Envelope: env, Payload: env.Payload, Time: env.Timestamp,
	}
	if err := n.router.Route(ctx, msg); err != nil {
		switch {
		case errors.Is(err, envelope.ErrTrustViolation):
			n.penalise(fp, remote, err, env.MsgID)
		case errors.Is(err, knowledge.ErrInvalidFact), errors.Is(err, knowledge.ErrInvalidVote):
			n.penalise(fp, remote, err, env.MsgID)
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

// penalise applies the trust consequence of a rejected message to the
// delivering peer fp.
func (n *Node) penalise(fp string, remote peer.ID, err error, cause string) {
	ev := trust.InvalidMessage
	switch {
	case errors.Is(err, envelope.ErrFingerprintMismatch):
		ev = trust.FingerprintMismatch
	case errors.Is(err, envelope.ErrReplay):
		// RTT already drops duplicate frames; an envelope replayed on a
		// direct channel was sent twice on purpose (SPEC §5 replay attack).
		ev = trust.ProvenMalice
	}
	tr, aerr := n.trust.Apply(fp, ev, cause)
	if aerr != nil {
		n.em.Error("node", "trust_apply", remote.String(), aerr, nil)
		return
	}
	if tr != nil && tr.To == trust.Blacklisted {
		n.disconnect(remote, fmt.Sprintf("blacklisted: %v", err))
	}
}

// disconnect closes every connection to p (SPEC §4.3: blacklisted → closed).
func (n *Node) disconnect(p peer.ID, why string) {
	n.em.Emit("web4.node.peer_dropped", p.String(), map[string]any{"reason": why})
	if ps := n.peerSession(p); ps != nil {
		ctx, cancel := context.WithTimeout(n.Context(), 0)
		_ = ps.t.Shutdown(ctx)
		cancel()
	}
	if h := n.Host(); h != nil {
		_ = h.Network().ClosePeer(p)
	}
}
