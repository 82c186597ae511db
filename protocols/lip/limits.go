package lip

import "time"

// Every bound and default of the LIP runtime lives here (SPEC §7).
const (
	// DefaultTTL is how long a claim may stay pending (or disputed) before
	// it is rejected with reason "expired".
	DefaultTTL = 10 * time.Minute

	// DefaultMinCorroborators is how many distinct trusted peers must
	// corroborate a claim from a source below tier medium.
	DefaultMinCorroborators = 2

	// DefaultMinConfidence is the lowest extraction confidence a claim may
	// have and still be accepted: below it, the extractor itself doubts the
	// source says this (e.g. a verbatim match under a negation cue).
	DefaultMinConfidence = 0.5

	// DefaultCorroborationWeight is what one trusted corroborator adds to a
	// side's weight in a conflict; a tier adds its rank (blocked 0 … high 4).
	DefaultCorroborationWeight = 1

	// DefaultConflictMargin is the weight lead one side of a conflict needs
	// to win it; closer conflicts leave both sides disputed.
	DefaultConflictMargin = 2

	// DefaultRetention is how long accepted and rejected claims stay in the
	// queue (for conflict checks against later claims and for audit) before
	// Tick prunes them.
	DefaultRetention = 24 * time.Hour

	// MaxOpen bounds pending + disputed claims; Submit refuses beyond it.
	MaxOpen = 10000
	// MaxOpenPerPeer bounds the open claims carried by one peer's evidence.
	MaxOpenPerPeer = 1000
	// MaxEntries bounds all claims held, terminal ones included.
	MaxEntries = 50000
	// MaxCorroborations bounds the corroborations kept per claim.
	MaxCorroborations = 64
	// MaxReasonBytes bounds free-text reasons and details.
	MaxReasonBytes = 1024

	// MaxTierRules bounds the source-tier file.
	MaxTierRules = 10000

	// DefaultDomain is the knowledge domain of a claim whose document names
	// none.
	DefaultDomain = "web"
)
