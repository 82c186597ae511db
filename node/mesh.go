package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/node/gossip"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/router"
	"github.com/web4p2p/web4p2p/trust"
)

// topicTypes lists what each GossipSub topic may carry (SPEC §5, §8);
// anything else on a topic is rejected before it is forwarded.
var topicTypes = map[string]map[envelope.Type]bool{
	gossip.TopicKnowledge: {
		envelope.FactPropose: true, envelope.FactChallenge: true, envelope.FactConfirm: true,
		envelope.FactReject: true, envelope.DecisionShare: true, envelope.LIPEvidence: true,
	},
	gossip.TopicTrust: {envelope.TrustAttest: true},
}

// errWrongTopic: an envelope type that does not belong on the topic.
var errWrongTopic = errors.New("envelope type not allowed on this topic")

func (n *Node) startMesh(ctx context.Context) error {
	n.gossipValidator = envelope.NewValidator(envelope.Config{
		Now: n.cfg.Now, LocalFingerprint: n.fp, Gossip: true,
		Replay: envelope.NewReplayCache(envelope.DefaultReplayWindow, envelope.DefaultReplayCapacity),
		Policy: n.gossipPolicy, Events: n.em,
	})
	gcfg := n.cfg.Gossip
	if gcfg.ValidateQueue == 0 {
		gcfg = gossip.DefaultConfig()
	}
	gcfg.Validate = n.validateGossip
	gcfg.Score = n.gossipScore
	gcfg.Events = n.em
	gcfg.Registerer = n.reg
	gcfg.Now = n.cfg.Now
	g, err := gossip.New(n.ctx, n.host, gcfg)
	if err != nil {
		return err
	}
	n.gossip = g
	n.closers = append(n.closers, g.Close)
	for topic := range topicTypes {
		if err := g.Join(topic, func(from peer.ID, raw []byte) { n.deliverGossip(topic, from, raw) }); err != nil {
			return err
		}
	}
	// A trust change takes effect in GossipSub scoring at once.
	n.trust.OnChange(func(trust.Transition) { g.RefreshScores() })
	return nil
}

// gossipPolicy is check 8 for gossip: the router's §4.3 table, except that
// a TRUST_ATTEST carrying a proof is admitted from any signer that is not
// blacklisted or untrusted here. SPEC §5 has every receiver check a proof
// itself, so the attester's standing is irrelevant to it — and a proof
// must be able to cross parts of the mesh that never met its attester, or
// an equivocator would keep its standing there.
func (n *Node) gossipPolicy(env *envelope.Envelope) error {
	if env.Type == envelope.TrustAttest && carriesProof(env.Payload) {
		switch n.trust.State(env.Sender.Fingerprint) {
		case trust.Blacklisted, trust.Untrusted:
		default:
			return nil
		}
	}
	return n.router.Policy().Envelope(env)
}

// carriesProof reports whether a TRUST_ATTEST payload embeds the two (or
// more) signed envelopes of a proof.
func carriesProof(payload []byte) bool {
	a, err := trust.ParseAttestation(payload)
	if err != nil {
		return false
	}
	k := 0
	for _, e := range a.Evidence {
		if e.Envelope != nil {
			k++
		}
	}
	return k >= 2
}

// Gossip returns the node's GossipSub layer (nil before Start).
func (n *Node) Gossip() *gossip.Gossip { return n.gossip }

// gossipScore maps the local trust view to GossipSub's application score,
// so the gossip layer itself stops forwarding for blacklisted peers.
func (n *Node) gossipScore(p peer.ID) float64 {
	fp, err := FingerprintOf(p)
	if err != nil {
		return gossip.ScoreProbing
	}
	switch n.trust.State(fp) {
	case trust.Trusted:
		return gossip.ScoreTrusted
	case trust.Untrusted:
		return gossip.ScoreUntrusted
	case trust.Blacklisted:
		return gossip.ScoreBlacklisted
	}
	return gossip.ScoreProbing
}

// validateGossip runs the envelope validator before anything is delivered
// or forwarded. Cryptographic and format failures charge the delivering
// peer (SPEC §1); failures that depend on our own view (trust, clock,
// already seen) reject without blaming a relayer that could not know.
func (n *Node) validateGossip(ctx context.Context, topic string, from peer.ID, raw []byte) error {
	if from == n.id {
		return nil // our own publish, built and signed here
	}
	fromFP, err := FingerprintOf(from)
	if err != nil {
		return err
	}
	if n.trust.State(fromFP) == trust.Blacklisted {
		return fmt.Errorf("relayed by blacklisted peer %s", from)
	}
	env, err := n.gossipValidator.Validate(raw)
	if err != nil {
		switch {
		case errors.Is(err, envelope.ErrInvalidEnvelope), errors.Is(err, envelope.ErrSignatureMismatch), errors.Is(err, envelope.ErrPayloadSchema):
			// Broken or forged: reject (pubsub scoring charges the
			// deliverer) and count it against the deliverer's trust.
			n.penalise(fromFP, from, err, msgIDOf(env))
			return err
		default:
			// Seen already, outside our clock window, or a signer our
			// trust view does not admit: drop without forwarding, but do
			// not blame a relayer who could not know.
			return fmt.Errorf("%w: %v", gossip.ErrIgnore, err)
		}
	}
	if !topicTypes[topic][env.Type] {
		err := fmt.Errorf("%w: %s on %s", errWrongTopic, env.Type, topic)
		n.em.Error("gossip", "wrong_topic", from.String(), err, map[string]any{"msg_id": env.MsgID})
		n.penalise(fromFP, from, err, env.MsgID)
		return err
	}
	return nil
}

// deliverGossip routes a validated gossip envelope. Sender is the signer,
// Peer the relayer that delivered it.
func (n *Node) deliverGossip(topic string, from peer.ID, raw []byte) {
	// The validator already verified these bytes; parsing them again
	// (checks 1–2 only) is cheaper than keeping validated envelopes in a
	// map that a dropped delivery would leak.
	env, err := envelope.Parse(raw)
	if err != nil {
		n.em.Error("gossip", "parse", from.String(), err, nil)
		return
	}
	fromFP, _ := FingerprintOf(from)
	msg := &router.Message{
		Peer: fromFP, PeerID: from.String(), Channel: topic, Type: env.Type.String(),
		MsgID: env.MsgID, Raw: raw, Envelope: env, Payload: env.Payload, Time: env.Timestamp,
	}
	if env.Sender.Fingerprint != fromFP {
		msg.Sender = env.Sender.Fingerprint
	}
	if from == n.id {
		// Our own messages come back through pubsub's local delivery;
		// they were already applied when published.
		return
	}
	if env.Type == envelope.TrustAttest && carriesProof(env.Payload) {
		// Admitted by gossipPolicy whatever the attester's standing; the
		// proof itself is what the handler checks.
		msg.Kind = env.Type
		if err := n.handleAttest(n.Context(), msg); err != nil {
			n.em.Error("trust", "attestation", from.String(), err, map[string]any{"msg_id": env.MsgID})
		}
		return
	}
	_ = n.router.Route(n.Context(), msg)
}

// Publish signs nothing: it publishes an already sealed gossip envelope
// (receiver "*") on topic and applies it locally first.
func (n *Node) Publish(ctx context.Context, topic string, raw []byte) error {
	if n.gossip == nil {
		return errors.New("node not started")
	}
	env, err := envelope.Parse(raw)
	if err != nil {
		return err
	}
	if !topicTypes[topic][env.Type] {
		return fmt.Errorf("%w: %s on %s", errWrongTopic, env.Type, topic)
	}
	if env.Sender.Fingerprint != n.fp {
		return fmt.Errorf("publish: envelope signed by %s, not this node", env.Sender.Fingerprint)
	}
	if topic == gossip.TopicKnowledge && env.Type != envelope.LIPEvidence && env.Type != envelope.DecisionShare {
		// Our own proposal or vote counts in our own store too.
		msg := &router.Message{Peer: n.fp, PeerID: n.id.String(), Channel: topic, Type: env.Type.String(), Kind: env.Type,
			MsgID: env.MsgID, Raw: raw, Envelope: env, Payload: env.Payload, Time: env.Timestamp}
		if err := (knowledge.Handler{Store: n.knowledge}).Handle(ctx, msg); err != nil {
			return err
		}
	}
	return n.gossip.Publish(ctx, topic, raw)
}
