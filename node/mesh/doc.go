// Package mesh is the node's runtime for the GossipSub mesh: knowledge
// consensus (SPEC §8) and trust propagation (SPEC §5) over the topics of
// node/gossip.
//
// # Receive path
//
// Every gossiped envelope is verified once, in the topic validator, before
// GossipSub forwards it (SPEC §3.3, with check 8 = gossipPolicy); the
// verified *envelope.Envelope rides with the message to deliver, which
// hands it to router.Route like any other envelope: no path bypasses the
// router. The Knowledge route's FACT_* and DECISION_SHARE reach
// KnowledgeHandler, which decodes the payload once
// (knowledge.DecodeMessage), records it (Store.Apply) and applies the
// status changes the store returns to the trust ledger itself (accepted →
// FactAccepted for the proposer; rejected by trusted quorum →
// ConflictLost): the store never calls back into trust. Votes are shown
// to the equivocation detector first; TRUST_ATTEST reaches the attestation
// book through the TrustPropagation route.
//
// # Publishing
//
// Publish takes an envelope this node signed, verifies it with the local
// validator (check 8 = router.Policy.Local), applies this node's own
// proposals and votes to its own store through the router (Local), then
// gossips it.
//
// # Lifecycle
//
// New builds the runtime and registers the TrustPropagation route; Open
// starts GossipSub on the host and joins the topics (its doors). Goroutines
// run in Deps.Group.
//
// # Locks
//
// The runtime holds one lock, mu, a leaf guarding the gossip layer pointer.
package mesh
