// Package knowledge keeps the facts agents propose to each other and decides,
// from the votes and the local trust view, which of them this node holds to
// be accepted (SPEC §8, payloads in §4.1).
//
// The core is Evaluate (and Rules.Tally): a pure, order-independent function
// of a fact, the set of votes on it, the trust view and the time. Gossip
// delivers votes in any order, duplicated, or late; every node that has seen
// the same votes and holds the same trust view reaches the same status.
//
// Store persists facts and votes in the node's embedded store
// (internal/store, buckets knowledge.facts and knowledge.votes), writing
// through bbolt batch transactions so concurrent ingest coalesces into few
// disk syncs. It re-evaluates a fact whenever a vote or the fact arrives,
// and on demand when trust changes (TrustChanged, Reevaluate), and emits
// web4.knowledge.fact_proposed|fact_confirmed|fact_accepted|fact_disputed|
// fact_rejected on changes. Its OnStatus delegate is how the node tells the
// TrustFSM that a proposer's fact was accepted (trust.FactAccepted) or lost
// (trust.ConflictLost).
//
// Votes are only taken for facts this node holds: a vote naming an unknown
// fact_ref is refused with ErrUnknownFact (unless StoreConfig.HoldUnknown
// keeps it for a proposal still in flight), one cast after its fact's
// expiry with ErrExpired; either way the store is untouched and
// web4.knowledge.vote_rejected is emitted. The node calls ExpireDue on a
// ticker so facts that ran out of time are rejected even when no vote
// arrives.
//
// Provenance (provenance.go) keeps where each proposal came from — its DMP
// trace, sources, context and causal links — and every DECISION_SHARE, in
// the buckets knowledge.provenance and knowledge.decisions;
// Store.Provenance(factID) and Store.Decision(id) read them back for
// causal memory ("why").
//
// The router's Knowledge route delivers FACT_* and DECISION_SHARE messages to Handler (combine
// it with the LIP runtime through router.TypeMux); Decode turns a verified
// message's payload into a Fact or a Vote, checking the fact_id the schema
// cannot. Envelope verification happens before, in protocols/envelope; this
// package imports no networking.
package knowledge
