package gossip

import (
	"math"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// scoreCache memoises Config.Score: pubsub asks for a peer's score on every
// incoming RPC and on every heartbeat.
type scoreCache struct {
	fn  func(peer.ID) float64
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[peer.ID]scoreEntry
}

type scoreEntry struct {
	v  float64
	at time.Time
}

// maxScoreEntries bounds the cache; past it, expired entries are swept.
const maxScoreEntries = 4096

func newScoreCache(fn func(peer.ID) float64, ttl time.Duration, now func() time.Time) *scoreCache {
	return &scoreCache{fn: fn, ttl: ttl, now: now, m: make(map[peer.ID]scoreEntry)}
}

// get returns the (possibly cached) application score of p.
func (c *scoreCache) get(p peer.ID) float64 {
	if c.fn == nil {
		return 0
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[p]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl {
		return e.v
	}
	// Call outside the lock: fn may be slow-ish and is called concurrently.
	v := sanitizeScore(c.fn(p))
	c.mu.Lock()
	if len(c.m) >= maxScoreEntries {
		for k, old := range c.m {
			if now.Sub(old.at) >= c.ttl {
				delete(c.m, k)
			}
		}
	}
	if len(c.m) < maxScoreEntries {
		c.m[p] = scoreEntry{v: v, at: now}
	}
	c.mu.Unlock()
	return v
}

// reset forgets every cached score.
func (c *scoreCache) reset() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

// sanitizeScore maps NaN to 0 and clamps to ±maxAppScore so that a buggy
// trust function cannot poison pubsub's arithmetic.
func sanitizeScore(v float64) float64 {
	switch {
	case math.IsNaN(v):
		return 0
	case v > maxAppScore:
		return maxAppScore
	case v < -maxAppScore:
		return -maxAppScore
	}
	return v
}

// peerScoreParams builds pubsub's global score parameters.
//
// Deliberately off: P3 mesh message delivery deficits (in a small,
// low-traffic mesh every honest peer "under-delivers" and would be pruned)
// and P6 IP colocation (agents behind one NAT or on one machine are normal;
// sybil resistance comes from the trust FSM, which gives new identities no
// positive score until trusted peers confirm their facts).
func peerScoreParams(app func(peer.ID) float64, decay time.Duration) *pubsub.PeerScoreParams {
	return &pubsub.PeerScoreParams{
		Topics:                 map[string]*pubsub.TopicScoreParams{},
		TopicScoreCap:          TopicScoreCap,
		AppSpecificScore:       app,
		AppSpecificWeight:      1,
		BehaviourPenaltyWeight: -1,
		// A few broken IWANT promises or backoff violations are noise;
		// persistent misbehaviour adds up quadratically.
		BehaviourPenaltyThreshold: 5,
		BehaviourPenaltyDecay:     0.95,
		DecayInterval:             decay,
		DecayToZero:               0.01,
		RetainScore:               10 * time.Minute,
	}
}

// peerScoreThresholds returns the thresholds documented in limits.go.
func peerScoreThresholds() *pubsub.PeerScoreThresholds {
	return &pubsub.PeerScoreThresholds{
		GossipThreshold:             GossipThreshold,
		PublishThreshold:            PublishThreshold,
		GraylistThreshold:           GraylistThreshold,
		AcceptPXThreshold:           AcceptPXThreshold,
		OpportunisticGraftThreshold: OpportunisticGraftThreshold,
	}
}

// topicScoreParams are set on every joined topic: small positive rewards
// (capped by TopicScoreCap) and a quadratic penalty for invalid messages.
func topicScoreParams() *pubsub.TopicScoreParams {
	return &pubsub.TopicScoreParams{
		TopicWeight:                    1,
		TimeInMeshWeight:               0.01,
		TimeInMeshQuantum:              time.Second,
		TimeInMeshCap:                  300,
		FirstMessageDeliveriesWeight:   0.5,
		FirstMessageDeliveriesDecay:    0.9,
		FirstMessageDeliveriesCap:      10,
		InvalidMessageDeliveriesWeight: InvalidMessageWeight,
		InvalidMessageDeliveriesDecay:  InvalidMessageDecay,
	}
}
