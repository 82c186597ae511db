package mesh

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/node/gossip"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/router"
	"github.com/web4p2p/web4p2p/trust"
)

// KnowledgeHandler handles FACT_* and DECISION_SHARE (knowledge.Types) on
// the Knowledge route: votes are shown to the equivocation detector, the
// payload is decoded once and recorded, and the status changes it caused
// are applied to the trust ledger. The node composes it with the LIP
// runtime's handler in a router.TypeMux.
func (r *Runtime) KnowledgeHandler() router.Handler { return router.HandlerFunc(r.handleKnowledge) }

func (r *Runtime) handleKnowledge(ctx context.Context, m *router.Message) error {
	env := m.Env
	switch env.Type {
	case envelope.FactConfirm, envelope.FactReject, envelope.FactChallenge:
		r.observeVote(ctx, env)
	}
	km, err := knowledge.DecodeMessage(knowledge.Incoming{Type: env.Type, Sender: env.Sender.Fingerprint,
		MsgID: env.MsgID, Time: env.Timestamp, Payload: env.Payload})
	if err != nil {
		return err
	}
	changes, err := r.deps.Store.Apply(ctx, km)
	r.applyChanges(changes)
	return err
}

// applyChanges feeds fact outcomes into the proposer's trust record:
// accepted facts are verified knowledge (probing → trusted after enough),
// a fact rejected by trusted quorum is a lost conflict (SPEC §5).
func (r *Runtime) applyChanges(changes []knowledge.Change) {
	for _, c := range changes {
		if c.Fact.Proposer == r.deps.Fingerprint || c.From == c.Result.Status {
			continue
		}
		var err error
		switch c.Result.Status {
		case knowledge.Accepted:
			_, err = r.deps.Trust.ApplyInput(c.Fact.Proposer, trust.Input{Event: trust.FactAccepted, Cause: c.Fact.ID, Confirmations: len(c.Result.Confirmers)})
		case knowledge.Rejected:
			if len(c.Result.Rejecters) > 0 {
				_, err = r.deps.Trust.Apply(c.Fact.Proposer, trust.ConflictLost, c.Fact.ID)
			}
		}
		if err != nil {
			r.deps.Events.Error("trust", "fact_outcome", c.Fact.Proposer, err, map[string]any{"fact_id": c.Fact.ID})
		}
	}
}

// ProposeFact signs a FACT_PROPOSE for the mesh (receiver "*"), records it
// in this node's store and gossips it on /web4/knowledge/1.0. It returns the
// fact_id (SPEC §4.1: SHA-256 of JCS {domain, statement}).
func (r *Runtime) ProposeFact(ctx context.Context, f cip.Fact, trace cip.DMPTrace) (string, error) {
	b := r.deps.Sign()
	if f.Sources == nil {
		f.Sources = []string{}
	}
	if trace.DecisionID == "" {
		trace.DecisionID = uuid.NewString()
	}
	if len(trace.Steps) == 0 {
		trace.Steps = []string{"proposed by " + b.AgentID}
	}
	if trace.Counterfactuals == nil {
		trace.Counterfactuals = []string{}
	}
	if trace.Evidence == nil {
		trace.Evidence = f.Sources
	}
	msg, err := b.FactPropose(cip.Broadcast, cip.FactPropose{Fact: f, DMPTrace: trace, CausalLinks: []string{}})
	if err != nil {
		return "", err
	}
	if err := r.Publish(ctx, gossip.TopicKnowledge, msg.Wire); err != nil {
		return "", err
	}
	return envelope.FactID(f.Domain, f.Statement)
}

// VoteFact signs a FACT_CONFIRM (confirm) or FACT_REJECT for factID and
// gossips it. The fact must be known to this node.
func (r *Runtime) VoteFact(ctx context.Context, factID string, confirm bool, confidence float64, notes string) error {
	if _, _, ok := r.deps.Store.Fact(factID); !ok {
		return fmt.Errorf("%w: %s", knowledge.ErrUnknownFact, factID)
	}
	v := cip.FactVote{FactRef: factID, Confidence: confidence, Notes: notes}
	var msg *cip.Message
	var err error
	if confirm {
		msg, err = r.deps.Sign().FactConfirm(cip.Broadcast, v)
	} else {
		msg, err = r.deps.Sign().FactReject(cip.Broadcast, v)
	}
	if err != nil {
		return err
	}
	return r.Publish(ctx, gossip.TopicKnowledge, msg.Wire)
}

// Store returns the knowledge store.
func (r *Runtime) Store() *knowledge.Store { return r.deps.Store }

// handleAttest is the §9 TrustPropagation route: proofs are checked here
// and acted on by our own authority; statements without proof count only
// from attesters we trust.
func (r *Runtime) handleAttest(_ context.Context, m *router.Message) error {
	env := m.Env
	attester := m.Sender()
	a, err := trust.ParseAttestation(env.Payload)
	if err != nil {
		// Handle reports and charges a payload that does not parse.
		_, err = r.book.Handle(m.Peer, attester, env.MsgID, env.Timestamp, env.Payload, nil)
		return err
	}
	if a.Subject == r.deps.Fingerprint {
		// Nobody gets this node to distrust itself.
		r.deps.Events.Emit("web4.trust.attestation_about_self", m.PeerID, map[string]any{"attester": attester, "msg_id": env.MsgID})
		return nil
	}
	out, err := r.book.HandleParsed(m.Peer, attester, env.MsgID, env.Timestamp, a, env.Payload, nil)
	if err != nil {
		return err
	}
	r.deps.Events.Emit("web4.trust.attestation", m.PeerID, map[string]any{"attester": attester, "outcome": out.String(), "msg_id": env.MsgID})
	return nil
}

// observeVote feeds a verified vote to the equivocation detector; on a
// contradiction the signer is blacklisted on this node's own authority and
// the proof is published so every other node can check it too.
func (r *Runtime) observeVote(ctx context.Context, env *envelope.Envelope) {
	eq := r.detector.Observe(env)
	if eq == nil || eq.Subject == r.deps.Fingerprint {
		return
	}
	tr, err := r.deps.Trust.Apply(eq.Subject, trust.ProvenMalice, eq.SecondID)
	if err != nil {
		r.deps.Events.Error("trust", "equivocation_apply", eq.Subject, err, nil)
		return
	}
	r.deps.Events.Emit("web4.trust.equivocation", eq.Subject, map[string]any{
		"kind": eq.Kind.String(), "first": eq.FirstID, "second": eq.SecondID, "blacklisted": tr != nil})
	payload, err := eq.Payload()
	if err != nil {
		r.deps.Events.Error("trust", "proof_build", eq.Subject, err, nil)
		return
	}
	if err := r.publishAttestation(ctx, payload); err != nil && ctx.Err() == nil {
		r.deps.Events.Error("trust", "proof_publish", eq.Subject, err, nil)
	}
}

// publishAttestation signs and gossips a TRUST_ATTEST payload.
func (r *Runtime) publishAttestation(ctx context.Context, payload []byte) error {
	msg, err := r.deps.Sign().Build(envelope.TrustAttest, cip.Broadcast, json.RawMessage(payload))
	if err != nil {
		return err
	}
	return r.Publish(ctx, gossip.TopicTrust, msg.Wire)
}
