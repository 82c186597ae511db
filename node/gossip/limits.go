package gossip

import "time"

// Topic names used by the node (SPEC §5, §8).
const (
	// TopicTrust carries TRUST_ATTEST envelopes.
	TopicTrust = "/web4/trust/1.0"
	// TopicKnowledge carries FACT_* and LIP_EVIDENCE envelopes with receiver "*".
	TopicKnowledge = "/web4/knowledge/1.0"
)

// Queue sizes. pubsub's defaults (32 each) drop silently under bursts; these
// absorb a burst of a few thousand messages per heartbeat. Memory cost is a
// pointer per slot (plus the queued messages themselves while they wait).
const (
	// DefaultPeerOutboundQueue is the per-peer outbound RPC queue.
	DefaultPeerOutboundQueue = 4096
	// DefaultValidateQueue is the validation queue shared by all topics. It is
	// larger than the others because duplicates of a message that is still
	// waiting for validation are queued too (each mesh peer forwards a copy).
	DefaultValidateQueue = 16384
	// DefaultSubscriptionBuffer is the per-topic buffer between pubsub and the
	// deliver callback.
	DefaultSubscriptionBuffer = 4096
)

// Other bounds.
const (
	// DefaultMaxMessageSize bounds one gossip message (an envelope). Same as
	// pubsub's default; larger payloads belong on an RTT channel.
	DefaultMaxMessageSize = 1 << 20
	// rpcOverhead is added to MaxMessageSize for pubsub's limit on a whole
	// RPC (which also carries control messages and framing); pubsub's
	// default RPC limit is the floor, so a small MaxMessageSize can never
	// starve control traffic. The per-message bound is enforced by Publish
	// and by the validator.
	rpcOverhead = 64 << 10
	// DefaultValidateTimeout bounds one Validate call; the callback sees it
	// as its context deadline.
	DefaultValidateTimeout = 5 * time.Second
	// DefaultScoreCacheTTL is how long an application score from Config.Score
	// is reused before it is asked again. pubsub computes scores on every
	// incoming RPC, so Config.Score would otherwise be called thousands of
	// times per second. RefreshScores drops the cache at once.
	DefaultScoreCacheTTL = time.Second
	// DefaultHeartbeat is the GossipSub heartbeat (mesh maintenance, gossip
	// emission). pubsub's default.
	DefaultHeartbeat = time.Second
	// DefaultDecayInterval is how often score counters decay (pubsub's
	// minimum is 1s).
	DefaultDecayInterval = time.Second
	// EventInterval is the minimum interval between two rejected/dropped
	// events with the same reason; occurrences in between are counted and
	// reported in the next event's "suppressed" field.
	EventInterval = time.Second
)

// Score scale. Config.Score returns the application-specific score, which
// pubsub multiplies by AppSpecificWeight (1). Suggested mapping from local
// trust: trusted +10, probing/unknown 0, untrusted −10, blacklisted −1000.
//
// What a total score means to this node's router:
//
//	score < 0                  peer is pruned from / never grafted into the mesh
//	score < GossipThreshold    no IHAVE/IWANT gossip exchanged with it
//	score < PublishThreshold   own messages are not flood-published to it
//	score < GraylistThreshold  every RPC from it is ignored (nothing it sends
//	                           is validated, delivered or forwarded)
//
// Positive topic contributions (time in mesh, first deliveries) are capped at
// TopicScoreCap so that good service cannot lift an untrusted peer (−10) back
// to a non-negative score.
const (
	ScoreTrusted     = 10.0    // suggested Score for a trusted peer
	ScoreProbing     = 0.0     // suggested Score for an unknown or probing peer
	ScoreUntrusted   = -10.0   // suggested Score for an untrusted peer: out of the mesh
	ScoreBlacklisted = -1000.0 // suggested Score for a blacklisted peer: graylisted

	GossipThreshold             = -50.0  // below: no gossip with the peer
	PublishThreshold            = -100.0 // below: own messages not flood-published to it
	GraylistThreshold           = -500.0 // below: all its RPCs ignored
	AcceptPXThreshold           = 10.0   // PX is off; kept valid for pubsub
	OpportunisticGraftThreshold = 2.0    // median mesh score that triggers opportunistic grafting
	TopicScoreCap               = 5.0    // cap on the positive topic contributions

	// InvalidMessageWeight is the P4 weight: the penalty is weight × n² for n
	// invalid messages (decaying): 1 → −5 (out of the mesh), 4 → −80 (no
	// gossip), 10 → −500 (graylisted).
	InvalidMessageWeight = -5.0
	// InvalidMessageDecay is applied every DecayInterval (half-life ≈ 13.5
	// intervals).
	InvalidMessageDecay = 0.95
)

// maxAppScore bounds what Config.Score may return; NaN counts as 0.
const maxAppScore = 1e6

// Seen-message cache: pubsub remembers message IDs for 2 minutes
// (pubsub.TimeCacheDuration). Because IDs are content hashes, the same
// envelope published again after that window is a new gossip message; the
// application's own replay protection (envelope msg_id) must make handling
// it idempotent.
