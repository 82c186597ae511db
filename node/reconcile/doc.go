// Package reconcile is the node's anti-entropy: it keeps the signed gossip
// envelopes a node has accepted (fact proposals and votes, decisions,
// trust attestations with their proofs, LIP evidence and verdicts) in a
// log, and reconciles that log with a peer over /web4/sync/1.0 with
// range-based set reconciliation (internal/negentropy, the protocol of
// Nostr's NIP-77), on connect and periodically. A node that joined late,
// restarted or sat behind a partition thereby learns what was gossiped
// meanwhile, and votes dropped or reordered in flight are sent again: every
// honest node converges on the same set.
//
// Every envelope a peer sends over sync goes through Deps.Apply, the same
// full validation and routing a live gossip envelope gets (node/mesh); sync
// adds no trust of its own. Per-session budgets bound what one peer can
// make a node send or receive (bytes, envelopes, rounds); a peer that is
// not past the CIP handshake is not served.
//
// # Protocol
//
// The initiator opens a stream and sends frames, each a uvarint length, a
// kind byte and a body:
//
//	'N' negentropy message  (both ways, alternating, initiator first)
//	'W' want: 32-byte ids the initiator needs
//	'E' one envelope        (responder: what was wanted; initiator: what
//	                         the responder lacks)
//	'D' done with the current phase
//
// Phase 1 reconciles: 'N' frames until the initiator's negentropy session
// has no next message; the initiator then sends 'D'. Phase 2: the
// initiator sends its wants ('W', in chunks), then 'D'; the responder
// answers with an 'E' per id it still holds, then 'D'. Phase 3: the
// initiator sends an 'E' per id the responder lacks, then 'D'; the
// responder answers 'D' once it has applied them, and the initiator
// closes.
// An item's id is the SHA-256 of the envelope's bytes and its timestamp the
// envelope's, in seconds.
//
// # Lifecycle and locks
//
// New builds the runtime and loads the log; Open registers the stream
// handler and starts the periodic loop in Deps.Group. Log.mu guards the log
// and is a leaf.
package reconcile
