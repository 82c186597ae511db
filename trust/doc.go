// Package trust decides, per peer, how far this node trusts it (SPEC §5).
//
// It has two halves. FSM is a pure state machine: Step(state, event, now)
// returns the next state and, when the state changed, a Transition record.
// It does no I/O, reads no clock and draws no randomness, so the same inputs
// always give the same outputs (the handshake's golden transcript relies on
// this). Ledger wraps the FSM with persistence (internal/store, bbolt),
// a lock, an injected clock, the `web4.trust.transition` event and change
// subscribers (GossipSub scoring, knowledge re-evaluation).
//
// Peers are keyed by fingerprint: the lowercase hex SHA-256 of the peer's
// 32-byte Ed25519 public key, the identity envelopes name (SPEC §1).
//
// Whom penalties hit: every Ledger method takes the fingerprint of the
// authenticated peer that delivered the message (the libp2p remote, whose
// key Noise proved), never a fingerprint read from an envelope that failed
// verification. Otherwise a forged envelope naming a third party could lower
// that party's trust (SPEC §1, last point). Callers that only have a PeerID
// derive the fingerprint from the PeerID's public key.
//
// Above this package: protocols/router gates message types by State
// (SPEC §4.3), knowledge counts only trusted votes, and the node wiring feeds
// handshake outcomes, invalid messages and accepted facts in as Events.
package trust
