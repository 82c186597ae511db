package node

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/node/gossip"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// ProposeFact signs a FACT_PROPOSE for the mesh (receiver "*"), records it
// in this node's store and gossips it on /web4/knowledge/1.0. It returns the
// fact_id (SPEC §4.1: SHA-256 of JCS {domain, statement}).
func (n *Node) ProposeFact(ctx context.Context, f cip.Fact, trace cip.DMPTrace) (string, error) {
	if f.Sources == nil {
		f.Sources = []string{}
	}
	if trace.DecisionID == "" {
		trace.DecisionID = uuid.NewString()
	}
	if len(trace.Steps) == 0 {
		trace.Steps = []string{"proposed by " + n.cfg.AgentID}
	}
	if trace.Counterfactuals == nil {
		trace.Counterfactuals = []string{}
	}
	if trace.Evidence == nil {
		trace.Evidence = f.Sources
	}
	msg, err := n.builder().FactPropose(cip.Broadcast, cip.FactPropose{Fact: f, DMPTrace: trace, CausalLinks: []string{}})
	if err != nil {
		return "", err
	}
	if err := n.Publish(ctx, gossip.TopicKnowledge, msg.Wire); err != nil {
		return "", err
	}
	return envelope.FactID(f.Domain, f.Statement)
}

// VoteFact signs a FACT_CONFIRM (confirm) or FACT_REJECT for factID and
// gossips it. The fact must be known to this node.
func (n *Node) VoteFact(ctx context.Context, factID string, confirm bool, confidence float64, notes string) error {
	if _, _, ok := n.knowledge.Fact(factID); !ok {
		return fmt.Errorf("%w: %s", knowledge.ErrUnknownFact, factID)
	}
	v := cip.FactVote{FactRef: factID, Confidence: confidence, Notes: notes}
	var msg *cip.Message
	var err error
	if confirm {
		msg, err = n.builder().FactConfirm(cip.Broadcast, v)
	} else {
		msg, err = n.builder().FactReject(cip.Broadcast, v)
	}
	if err != nil {
		return err
	}
	return n.Publish(ctx, gossip.TopicKnowledge, msg.Wire)
}
