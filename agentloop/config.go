package agentloop

import (
	"io"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// Hard limits, independent of configuration.
const (
	// MaxCauses bounds the causes recorded per causal-memory node.
	MaxCauses = 64
	// MaxWhyDepth bounds how far Why walks back; DefaultWhyDepth is used
	// when the caller passes 0.
	MaxWhyDepth     = 256
	DefaultWhyDepth = 32
	// MaxWhyNodes bounds the size of one Why answer.
	MaxWhyNodes = 1024
	// MaxTextLen bounds free-text fields copied into memory.
	MaxTextLen = 4096
)

// Weights are the LRI weights; they are normalised by their sum, so only
// their ratios matter.
type Weights struct {
	CPU     float64 // process CPU share of the machine, 0..1
	Memory  float64 // process RSS share of available memory, 0..1
	Inbox   float64 // inbox backlog / inbox capacity
	Latency float64 // processing latency (EWMA) / LatencyCeiling, capped at 1
}

// Config configures a Loop. Start from DefaultConfig.
type Config struct {
	// InboxSize is the inbox capacity; Submit blocks and TrySubmit fails
	// with ErrBackpressure when it is full.
	InboxSize int
	// MaxBatch is how many items one perceive phase drains.
	MaxBatch int
	// Tick is how often the loop orients while the inbox is empty, so LRI
	// and presence keep up with load that does not come from messages.
	Tick time.Duration
	// ActTimeout bounds one Actor.Act call.
	ActTimeout time.Duration

	// Weights of the LRI components.
	Weights Weights
	// LatencyCeiling is the latency counted as full load.
	LatencyCeiling time.Duration
	// LatencyAlpha is the EWMA factor for latency (0 < α ≤ 1).
	LatencyAlpha float64

	// OverloadEnter/OverloadExit are the presence hysteresis: overloaded
	// from LRI ≥ OverloadEnter until LRI < OverloadExit.
	OverloadEnter int
	OverloadExit  int
	// FocusedEnter/FocusedExit: with one active intent the agent is
	// focused below FocusedEnter and stays focused until LRI ≥ FocusedExit.
	FocusedEnter int
	FocusedExit  int
	// IntentTTL is how long an accepted human intent stays active unless
	// an ItemIntentDone ends it.
	IntentTTL time.Duration

	// MaxFanout bounds CIP INTENTs sent for one human intent.
	MaxFanout int

	// Mission is the set of mission topics. A topic is on-mission if it
	// equals one of them or extends one with "/" ("work/papers" is within
	// "work"). Empty mission: drift is not measured.
	Mission []string
	// DriftWindow is N, the number of last acted intents considered: human
	// intents the loop accepted and peer intents it accepted (deferred
	// ones were not acted on). Drift is 0 until N intents were acted on.
	DriftWindow int
	// DriftThreshold: drift above it (share 0..1) raises the alarm.
	DriftThreshold float64

	// OnPresence is called on the loop goroutine whenever presence changes
	// (old → new at LRI lri). The node broadcasts STATE_UPDATE from it. It
	// must not block for long. May be nil.
	OnPresence func(old, new envelope.Presence, lri int)

	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Rand supplies action ids (UUID v4). Default crypto/rand.
	Rand io.Reader
	// Events receives web4.agentloop.* events. nil discards.
	Events *events.Emitter
}

// DefaultConfig returns the SPEC §10 defaults: overloaded at LRI ≥ 80
// (leaving below 65), focused below 50, drift over the last 10 intents
// with threshold 0.5.
func DefaultConfig() Config {
	return Config{
		InboxSize:      256,
		MaxBatch:       32,
		Tick:           time.Second,
		ActTimeout:     10 * time.Second,
		Weights:        Weights{CPU: 0.35, Memory: 0.15, Inbox: 0.30, Latency: 0.20},
		LatencyCeiling: 2 * time.Second,
		LatencyAlpha:   0.3,
		OverloadEnter:  80,
		OverloadExit:   65,
		FocusedEnter:   50,
		FocusedExit:    55,
		IntentTTL:      30 * time.Minute,
		MaxFanout:      8,
		DriftWindow:    10,
		DriftThreshold: 0.5,
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.InboxSize <= 0 {
		c.InboxSize = d.InboxSize
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = d.MaxBatch
	}
	if c.Tick <= 0 {
		c.Tick = d.Tick
	}
	if c.ActTimeout <= 0 {
		c.ActTimeout = d.ActTimeout
	}
	if c.Weights.CPU < 0 || c.Weights.Memory < 0 || c.Weights.Inbox < 0 || c.Weights.Latency < 0 ||
		c.Weights.CPU+c.Weights.Memory+c.Weights.Inbox+c.Weights.Latency <= 0 {
		c.Weights = d.Weights
	}
	if c.LatencyCeiling <= 0 {
		c.LatencyCeiling = d.LatencyCeiling
	}
	if c.LatencyAlpha <= 0 || c.LatencyAlpha > 1 {
		c.LatencyAlpha = d.LatencyAlpha
	}
	if c.OverloadEnter <= 0 || c.OverloadEnter > 100 {
		c.OverloadEnter = d.OverloadEnter
	}
	if c.OverloadExit <= 0 || c.OverloadExit > c.OverloadEnter {
		c.OverloadExit = min(d.OverloadExit, c.OverloadEnter)
	}
	if c.FocusedEnter <= 0 || c.FocusedEnter > c.OverloadExit {
		c.FocusedEnter = min(d.FocusedEnter, c.OverloadExit)
	}
	if c.FocusedExit < c.FocusedEnter || c.FocusedExit > c.OverloadExit {
		c.FocusedExit = max(c.FocusedEnter, min(d.FocusedExit, c.OverloadExit))
	}
	if c.IntentTTL <= 0 {
		c.IntentTTL = d.IntentTTL
	}
	if c.MaxFanout <= 0 {
		c.MaxFanout = d.MaxFanout
	}
	if c.DriftWindow <= 0 {
		c.DriftWindow = d.DriftWindow
	}
	if c.DriftThreshold <= 0 || c.DriftThreshold >= 1 {
		c.DriftThreshold = d.DriftThreshold
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
