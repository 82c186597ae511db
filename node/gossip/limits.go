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
	ScoreTrusted     = 10.0
	ScoreProbing     = 0.0
	ScoreUntrusted   = -10.0
	ScoreBlacklisted = -1000.0

	GossipThreshold             = -50.0
	PublishThreshold            = -100.0
	GraylistThreshold           = -500.0
	AcceptPXThreshold           = 10.0
	OpportunisticGraftThreshold = 2.0
	TopicScoreCap               = 5.0

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
