package node

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/node/gossip"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/router"
	"github.com/web4p2p/web4p2p/trust"
)

// startTrustPropagation opens the attestation book and the equivocation
// detector (SPEC §5 propagation).
func (n *Node) startTrustPropagation() error {
	book, err := trust.OpenAttestationBook(n.trust, trust.BookConfig{})
	if err != nil {
		return err
	}
	n.attestBook = book
	n.detector = trust.NewDetector(trust.DetectorConfig{Now: n.cfg.Now})
	if _, err := n.router.Register(router.TrustPropagation, router.HandlerFunc(n.handleAttest)); err != nil {
		return err
	}
	// SPEC §4.3: a blacklisted peer's connection is closed, whatever made
	// it blacklisted (handshake, proof, detector, attestations).
	n.trust.OnChange(func(tr trust.Transition) {
		if tr.To != trust.Blacklisted || tr.PeerID == "" {
			return
		}
		if p, err := peer.Decode(tr.PeerID); err == nil && p != n.id {
			n.Go(func(context.Context) { n.disconnect(p, "blacklisted: "+tr.Event.String()) })
		}
	})
	return nil
}

// handleAttest is the §9 TrustPropagation route: proofs are checked here
// and acted on by our own authority; statements without proof count only
// from attesters we trust.
func (n *Node) handleAttest(ctx context.Context, m *router.Message) error {
	attester := m.Sender
	if attester == "" {
		attester = m.Peer
	}
	a, err := trust.ParseAttestation(m.Payload)
	if err == nil && a.Subject == n.fp {
		// Nobody gets this node to distrust itself.
		n.em.Emit("web4.trust.attestation_about_self", m.PeerID, map[string]any{"attester": attester, "msg_id": m.MsgID})
		return nil
	}
	out, err := n.attestBook.Handle(m.Peer, attester, m.MsgID, m.Time, m.Payload, nil)
	if err != nil {
		return err
	}
	n.em.Emit("web4.trust.attestation", m.PeerID, map[string]any{"attester": attester, "outcome": out.String(), "msg_id": m.MsgID})
	return nil
}

// observeVote feeds a verified vote to the equivocation detector; on a
// contradiction the signer is blacklisted on this node's own authority and
// the proof is published so every other node can check it too.
func (n *Node) observeVote(ctx context.Context, env *envelope.Envelope) {
	eq := n.detector.Observe(env)
	if eq == nil || eq.Subject == n.fp {
		return
	}
	tr, err := n.trust.Apply(eq.Subject, trust.ProvenMalice, eq.SecondID)
	if err != nil {
		n.em.Error("trust", "equivocation_apply", eq.Subject, err, nil)
		return
	}
	n.em.Emit("web4.trust.equivocation", eq.Subject, map[string]any{
		"kind": eq.Kind.String(), "first": eq.FirstID, "second": eq.SecondID, "blacklisted": tr != nil})
	payload, err := eq.Payload()
	if err != nil {
		n.em.Error("trust", "proof_build", eq.Subject, err, nil)
		return
	}
	if err := n.publishAttestation(ctx, payload); err != nil && ctx.Err() == nil {
		n.em.Error("trust", "proof_publish", eq.Subject, err, nil)
	}
}

// publishAttestation signs and gossips a TRUST_ATTEST payload.
func (n *Node) publishAttestation(ctx context.Context, payload []byte) error {
	msg, err := n.builder().Build(envelope.TrustAttest, cip.Broadcast, json.RawMessage(payload))
	if err != nil {
		return err
	}
	if n.gossip == nil {
		return fmt.Errorf("no gossip layer")
	}
	return n.gossip.Publish(ctx, gossip.TopicTrust, msg.Wire)
}

// knowledgeHandler stores FACT_* / DECISION_SHARE after showing votes to
// the equivocation detector.
func (n *Node) knowledgeHandler() router.Handler {
	h := knowledge.Handler{Store: n.knowledge}
	kh := router.HandlerFunc(func(ctx context.Context, m *router.Message) error {
		if env, ok := m.Envelope.(*envelope.Envelope); ok {
			switch env.Type {
			case envelope.FactConfirm, envelope.FactReject, envelope.FactChallenge:
				n.observeVote(ctx, env)
			}
		}
		return h.Handle(ctx, m)
	})
	// The Knowledge route carries FACT_*/DECISION_SHARE (knowledge store)
	// and LIP_EVIDENCE/CONFLICT/ACCEPT/REJECT (LIP runtime).
	mux := router.TypeMux{}
	for _, t := range h.Types() {
		mux[t] = kh
	}
	lh := n.lipHandler()
	for _, t := range []envelope.Type{envelope.LIPEvidence, envelope.LIPConflict, envelope.LIPAccept, envelope.LIPReject} {
		mux[t] = lh
	}
	return mux
}

// expireLoop rejects facts whose expiry passed without quorum (SPEC §8).
func (n *Node) expireLoop(ctx context.Context) {
	t := time.NewTicker(expireEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.knowledge.ExpireDue(n.cfg.Now())
		}
	}
}

// expireEvery is how often pending facts are checked for expiry.
const expireEvery = 5 * time.Second
