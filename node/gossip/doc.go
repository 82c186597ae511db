// Package gossip is the GossipSub layer of the web4p2p mesh (SPEC §5
// "propagation", §8): it carries relayable envelopes — TRUST_ATTEST on
// TopicTrust, FACT_* and LIP_EVIDENCE on TopicKnowledge — to every node of the
// mesh, not just to direct RTT peers.
//
// Place in the whole: node builds the libp2p host, then calls New(ctx, host,
// cfg) with a Config whose Validate hook verifies envelopes (protocols/envelope)
// and whose Score hook maps local trust (trust.Ledger) to GossipSub's
// application-specific score. This package knows nothing about envelopes or
// trust states; it only moves opaque byte strings and reports what happened
// through events (web4.gossip.*) and Prometheus counters (web4_gossip_*).
//
// Design decisions (where SPEC is silent):
//
//   - Message signing: pubsub.StrictNoSign with message ID = SHA-256 of the
//     data. Envelopes are already signed by their author, so a second pubsub
//     signature would only cost CPU and bytes; content-addressed IDs make the
//     same envelope relayed (or re-published) by two peers one message, which
//     is what de-duplication should mean for signed envelopes. Consequence:
//     pubsub has no author; the only peer identity a validator can rely on is
//     the authenticated delivering peer (Message.ReceivedFrom), and that is the
//     peer pubsub's scoring penalises on rejection — never the identity named
//     inside a (possibly forged) envelope (SPEC §1).
//   - Validation runs inline on pubsub's validation workers (not one goroutine
//     per message), so bursts queue in the sized validation queue instead of
//     hitting pubsub's async-validation throttle (1,024 per topic), which
//     drops once saturated.
//   - Queues (peer outbound queue, validation queue, subscription buffer) are
//     sized for bursts (see limits.go): pubsub's defaults of 32 drop under a
//     burst of a few hundred messages, and in a small mesh gossip repair
//     (IHAVE/IWANT within a 3-heartbeat history) cannot recover them. Every
//     drop that pubsub reports is counted by a RawTracer and emitted as a
//     rate-limited web4.gossip.dropped event.
//   - Flood publishing is on: own messages go to every topic peer whose
//     score is above PublishThreshold, not only to mesh peers, so a
//     publisher whose mesh is empty (just pruned, not formed yet) still
//     reaches its neighbours. Forwarding of others' messages stays
//     mesh-only.
//   - Peer exchange (PX) is off: peers are introduced by discovery and the
//     trust layer, not by whoever prunes us.
//   - Peer scoring is always on. The application score (Config.Score) is the
//     dominant term; thresholds are chosen so that a blacklisted peer (−1000)
//     is far below GraylistThreshold (all its RPCs ignored) while an untrusted
//     peer (−10) is only kept out of the mesh. See limits.go for the scale.
//
// Events: web4.gossip.joined; web4.gossip.published (one per own message);
// web4.gossip.rejected and web4.gossip.dropped, rate-limited to one per
// reason per EventInterval with a "suppressed" count of those held back;
// web4.gossip.closed; web4.error when a deliver callback panics.
//
// Concurrency: Join's deliver callback is called on one goroutine per topic;
// Validate and Score are called concurrently from pubsub's goroutines. Close
// is idempotent; when it returns, every goroutine this package started has
// exited and no callback runs any more. pubsub's own goroutines (it has no
// Close) end asynchronously, within moments, once Close has cancelled its
// context and reset its streams.
package gossip
