package hcp

import "time"

// Bounds and defaults of the HCP runtime, in one place.
const (
	// HumanKeyFile is the name of the human's signing key in the data
	// directory. It is separate from the node key: a compromised node
	// process that only holds the node key cannot speak as the human.
	HumanKeyFile = "human.key"

	// MaxIntentLen bounds state.human.intent (as the envelope schema does).
	MaxIntentLen = 1024
	// MaxScope bounds consent_scope entries; MaxLabelLen each entry.
	MaxScope    = 64
	MaxLabelLen = 256

	// DefaultHoldTTL is how long an action blocked by consent is held
	// before it expires (web4.hcp.action_expired).
	DefaultHoldTTL = 30 * time.Minute
	// DefaultMaxHeld bounds held actions, so a human who revoked consent
	// cannot be made to accumulate unbounded state on disk.
	DefaultMaxHeld = 1024
	// MaxActionPayload bounds the payload stored with a held action.
	MaxActionPayload = 64 << 10
)

// PacingConfig holds every pacing threshold (SPEC §6). DefaultPacingConfig
// returns the SPEC values.
type PacingConfig struct {
	// RatePerMinute is the token-bucket refill rate for prompts (6/min).
	RatePerMinute float64
	// Burst is the bucket capacity (prompts that may go out back to back).
	Burst float64
	// StrainPressure: pressure at or above it puts the human under strain.
	StrainPressure int
	// StrainClarity: clarity at or below it puts the human under strain.
	StrainClarity int
	// StrainInterval: under strain at most one (high-priority) prompt per
	// this interval.
	StrainInterval time.Duration
	// CheckInValidity: after a check-in was shown, decisions may follow for
	// this long before another check-in is needed (affect anxious/tense).
	CheckInValidity time.Duration
}

// DefaultPacingConfig returns the SPEC §6 defaults: 6 prompts/min (burst
// 6), strain at pressure ≥ 80 or clarity ≤ 30 with one prompt per 5 min,
// and a check-in valid for 10 minutes.
func DefaultPacingConfig() PacingConfig {
	return PacingConfig{
		RatePerMinute:   6,
		Burst:           6,
		StrainPressure:  80,
		StrainClarity:   30,
		StrainInterval:  5 * time.Minute,
		CheckInValidity: 10 * time.Minute,
	}
}

// GateConfig configures the consent Gate.
type GateConfig struct {
	// HoldTTL is how long a blocked action is held (default DefaultHoldTTL).
	HoldTTL time.Duration
	// MaxHeld bounds held actions (default DefaultMaxHeld).
	MaxHeld int
}

// DefaultGateConfig returns the default hold TTL and bound.
func DefaultGateConfig() GateConfig {
	return GateConfig{HoldTTL: DefaultHoldTTL, MaxHeld: DefaultMaxHeld}
}
