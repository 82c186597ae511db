package trust

import "time"

// Defaults of the FSM (SPEC §5). Every bound of the package lives here.
const (
	// DefaultCooldown is how long an untrusted peer waits before a new
	// handshake can move it to probing (SPEC §4.3: 60 s).
	DefaultCooldown = 60 * time.Second
	// DefaultWindow is the sliding window for invalid messages and for the
	// "no failure in the window" condition of verified knowledge. The SPEC
	// leaves it open; ten minutes spans several gossip rounds.
	DefaultWindow = 10 * time.Minute
	// DefaultInvalidThreshold invalid messages within the window move a
	// probing peer to untrusted (SPEC §5: 3).
	DefaultInvalidThreshold = 3
	// DefaultVerifiedFacts accepted facts promote a probing peer (SPEC §5: 2).
	DefaultVerifiedFacts = 2
	// DefaultVerifiedConfirmations trusted confirmations each of those facts
	// needs (SPEC §5: 2).
	DefaultVerifiedConfirmations = 2

	// maxInvalidTracked bounds the per-peer list of invalid-message times,
	// so a flooding peer cannot grow a record without bound. Only the newest
	// are kept; the threshold is far below it.
	maxInvalidTracked = 64
	// maxCauseLen bounds the cause (msg_id or operator reason) stored with a
	// transition.
	maxCauseLen = 512
)

// Config tunes the FSM. Use DefaultConfig and change what you need.
type Config struct {
	// Cooldown an untrusted peer waits before a handshake can probe again.
	Cooldown time.Duration
	// Window for counting invalid messages and for "no failure" before promotion.
	Window time.Duration
	// InvalidThreshold invalid messages in the window demote probing → untrusted.
	InvalidThreshold int
	// VerifiedFacts accepted facts promote probing → trusted.
	VerifiedFacts int
	// VerifiedConfirmations trusted confirmations each such fact needs.
	VerifiedConfirmations int
}

// DefaultConfig returns the SPEC defaults.
func DefaultConfig() Config {
	return Config{
		Cooldown:              DefaultCooldown,
		Window:                DefaultWindow,
		InvalidThreshold:      DefaultInvalidThreshold,
		VerifiedFacts:         DefaultVerifiedFacts,
		VerifiedConfirmations: DefaultVerifiedConfirmations,
	}
}

// normalized replaces non-positive fields with their defaults, so a zero
// Config behaves like DefaultConfig.
func (c Config) normalized() Config {
	d := DefaultConfig()
	if c.Cooldown <= 0 {
		c.Cooldown = d.Cooldown
	}
	if c.Window <= 0 {
		c.Window = d.Window
	}
	if c.InvalidThreshold <= 0 {
		c.InvalidThreshold = d.InvalidThreshold
	}
	if c.VerifiedFacts <= 0 {
		c.VerifiedFacts = d.VerifiedFacts
	}
	if c.VerifiedConfirmations <= 0 {
		c.VerifiedConfirmations = d.VerifiedConfirmations
	}
	return c
}
