package gossip

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/web4p2p/web4p2p/internal/events"
)

// Config configures a Gossip. Start from DefaultConfig and set Validate.
type Config struct {
	// Validate runs before anything is delivered or forwarded (topic
	// validator). It is required. from is the authenticated delivering peer
	// (pubsub Message.ReceivedFrom; the local host for own publishes), raw
	// the message data. Return nil to accept; an error wrapping ErrIgnore to
	// drop without penalty (duplicate at the application level, not for us);
	// any other error to reject: the message is dropped, not forwarded, and
	// pubsub's scoring penalises the DELIVERING peer (P4 invalid deliveries) —
	// never the identity named inside the envelope (SPEC §1).
	//
	// Called concurrently from ValidateWorkers goroutines; ctx carries
	// ValidateTimeout and is cancelled on Close. It must not block on the
	// network. An error returned after ctx ended counts as an ignore (a slow
	// validator is not the peer's fault); a panic is recovered and counts
	// as a reject.
	//
	// The value Validate returns with a nil error (the parsed, verified
	// envelope, say) is handed to the topic's deliver function as data, so
	// a message is parsed once on its way in.
	Validate func(ctx context.Context, topic string, from peer.ID, raw []byte) (any, error)

	// Score is the application-specific score of a peer (local trust →
	// pubsub AppSpecificScore, weight 1). Scale and thresholds: limits.go
	// (trusted +10, probing 0, untrusted −10, blacklisted −1000). nil means 0
	// for everyone. Results are cached for ScoreCacheTTL; call RefreshScores
	// after a trust change to make it effective at once. Called
	// concurrently from pubsub's goroutines; must be fast and must not call
	// back into Gossip. NaN counts as 0; values are clamped to
	// ±1e6.
	Score func(p peer.ID) float64

	// PeerOutboundQueue is pubsub's per-peer outbound RPC queue length.
	PeerOutboundQueue int
	// ValidateQueue is pubsub's validation queue length (all topics).
	ValidateQueue int
	// SubscriptionBuffer is the per-topic buffer in front of deliver.
	SubscriptionBuffer int
	// ValidateWorkers is the number of goroutines running Validate
	// (0 = pubsub's default, runtime.NumCPU()).
	ValidateWorkers int
	// ValidateTimeout bounds one Validate call (its ctx deadline).
	ValidateTimeout time.Duration
	// MaxMessageSize bounds one message, in bytes, on publish and receive.
	MaxMessageSize int
	// ScoreCacheTTL is how long a Score result is reused.
	ScoreCacheTTL time.Duration
	// Heartbeat is the GossipSub heartbeat interval; tests shorten it.
	Heartbeat time.Duration
	// DecayInterval is how often score counters decay (≥ 1s).
	DecayInterval time.Duration

	// Events receives web4.gossip.* events; nil discards.
	Events *events.Emitter
	// Registerer receives the web4_gossip_* counters; nil skips
	// registration (counters still feed Stats).
	Registerer prometheus.Registerer
	// Now is the clock for the score cache and event rate limiting; nil
	// means time.Now.
	Now func() time.Time
}

// DefaultConfig returns a Config with every bound at its default (limits.go)
// and no Validate hook: the caller must supply one.
func DefaultConfig() Config {
	return Config{
		PeerOutboundQueue:  DefaultPeerOutboundQueue,
		ValidateQueue:      DefaultValidateQueue,
		SubscriptionBuffer: DefaultSubscriptionBuffer,
		ValidateTimeout:    DefaultValidateTimeout,
		MaxMessageSize:     DefaultMaxMessageSize,
		ScoreCacheTTL:      DefaultScoreCacheTTL,
		Heartbeat:          DefaultHeartbeat,
		DecayInterval:      DefaultDecayInterval,
	}
}

// check reports the first invalid field.
func (c *Config) check() error {
	switch {
	case c.Validate == nil:
		return fmt.Errorf("%w: Validate: required (gossip must never forward unverified envelopes)", ErrConfig)
	case c.PeerOutboundQueue < 1:
		return fmt.Errorf("%w: PeerOutboundQueue: must be ≥ 1, got %d", ErrConfig, c.PeerOutboundQueue)
	case c.ValidateQueue < 1:
		return fmt.Errorf("%w: ValidateQueue: must be ≥ 1, got %d", ErrConfig, c.ValidateQueue)
	case c.SubscriptionBuffer < 1:
		return fmt.Errorf("%w: SubscriptionBuffer: must be ≥ 1, got %d", ErrConfig, c.SubscriptionBuffer)
	case c.ValidateWorkers < 0:
		return fmt.Errorf("%w: ValidateWorkers: must be ≥ 0, got %d", ErrConfig, c.ValidateWorkers)
	case c.ValidateTimeout <= 0:
		return fmt.Errorf("%w: ValidateTimeout: must be > 0, got %v", ErrConfig, c.ValidateTimeout)
	case c.MaxMessageSize < 1:
		return fmt.Errorf("%w: MaxMessageSize: must be ≥ 1, got %d", ErrConfig, c.MaxMessageSize)
	case c.ScoreCacheTTL < 0:
		return fmt.Errorf("%w: ScoreCacheTTL: must be ≥ 0, got %v", ErrConfig, c.ScoreCacheTTL)
	case c.Heartbeat <= 0:
		return fmt.Errorf("%w: Heartbeat: must be > 0, got %v", ErrConfig, c.Heartbeat)
	case c.DecayInterval < time.Second:
		return fmt.Errorf("%w: DecayInterval: must be ≥ 1s, got %v", ErrConfig, c.DecayInterval)
	}
	return nil
}
