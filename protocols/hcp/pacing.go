package hcp

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// Prompt is one thing the agent wants to put in front of the human.
type Prompt struct {
	Kind     PromptKind
	Priority Priority
}

// PaceState is the pacer's memory between decisions. The zero value is a
// full bucket that has never prompted.
type PaceState struct {
	// Tokens in the bucket and when they were last refilled.
	Tokens  float64
	Refill  time.Time
	started bool
	// LastStrained is when a prompt last went out under strain.
	LastStrained time.Time
	// LastCheckIn is when a check-in was last shown.
	LastCheckIn time.Time
}

// Verdict is the outcome of Pace with the reason and, for Defer, how long
// to wait.
type Verdict struct {
	Outcome    Outcome
	Reason     string
	RetryAfter time.Duration
}

// Pace is the pacing rule of SPEC §6 as a pure function of (config, state,
// human state, prompt, now). It returns the verdict and the new state; the
// state only changes when the outcome is Allow (a token is taken) or when
// the bucket is refilled. Rules, first match wins:
//
//  1. presence overloaded → only safety prompts (else Suppress);
//  2. affect anxious/tense and a decision prompt with no check-in shown in
//     the last CheckInValidity → CheckIn (show a check-in first);
//  3. safety prompts → Allow, bypassing bucket and strain spacing (a safety
//     prompt that must wait is not a safety prompt); a token is taken if any;
//  4. strain (pressure ≥ StrainPressure or clarity ≤ StrainClarity) → only
//     high priority (else Suppress), and at most one per StrainInterval
//     (else Defer);
//  5. presence focused → only high priority (else Suppress);
//  6. token bucket (RatePerMinute, Burst): a token → Allow, else Defer.
//
// A check-in prompt counts as shown when it is allowed. h == nil (no human
// state yet) paces as a calm, diffuse human with full clarity.
func Pace(cfg PacingConfig, st PaceState, h *envelope.Human, p Prompt, now time.Time) (Verdict, PaceState) {
	if p.Priority < PriorityLow || p.Priority > PrioritySafety {
		return Verdict{Outcome: Suppress, Reason: "invalid priority"}, st
	}
	if p.Kind < PromptInfo || p.Kind > PromptCheckIn {
		return Verdict{Outcome: Suppress, Reason: "invalid prompt kind"}, st
	}
	hs := envelope.Human{Presence: envelope.Diffuse, Affect: envelope.Calm, Clarity: 100}
	if h != nil {
		hs = *h
	}
	st = refill(cfg, st, now)
	if hs.Presence == envelope.Overloaded && p.Priority < PrioritySafety {
		return Verdict{Outcome: Suppress, Reason: "human overloaded: safety prompts only"}, st
	}
	if p.Kind == PromptDecision && (hs.Affect == envelope.Anxious || hs.Affect == envelope.Tense) &&
		(st.LastCheckIn.IsZero() || now.Sub(st.LastCheckIn) >= cfg.CheckInValidity || now.Before(st.LastCheckIn)) {
		return Verdict{Outcome: CheckIn, Reason: "human " + hs.Affect.String() + ": check in before a decision"}, st
	}
	strained := hs.Pressure >= cfg.StrainPressure || hs.Clarity <= cfg.StrainClarity
	if p.Priority == PrioritySafety {
		if st.Tokens >= 1 {
			st.Tokens--
		}
		return allow(st, p, strained, now, "safety")
	}
	if strained {
		if p.Priority < PriorityHigh {
			return Verdict{Outcome: Suppress, Reason: fmt.Sprintf("human strained (pressure %d, clarity %d): high priority only", hs.Pressure, hs.Clarity)}, st
		}
		if !st.LastStrained.IsZero() {
			if wait := st.LastStrained.Add(cfg.StrainInterval).Sub(now); wait > 0 {
				return Verdict{Outcome: Defer, Reason: "human strained: one prompt per interval", RetryAfter: wait}, st
			}
		}
	}
	if hs.Presence == envelope.Focused && p.Priority < PriorityHigh {
		return Verdict{Outcome: Suppress, Reason: "human focused: high priority only"}, st
	}
	if st.Tokens < 1 {
		wait := time.Duration(math.Ceil((1 - st.Tokens) / perNano(cfg)))
		return Verdict{Outcome: Defer, Reason: "prompt rate limit", RetryAfter: wait}, st
	}
	st.Tokens--
	return allow(st, p, strained, now, "within rate")
}

func allow(st PaceState, p Prompt, strained bool, now time.Time, why string) (Verdict, PaceState) {
	if strained {
		st.LastStrained = now
	}
	if p.Kind == PromptCheckIn {
		st.LastCheckIn = now
	}
	return Verdict{Outcome: Allow, Reason: why}, st
}

func perNano(cfg PacingConfig) float64 { return cfg.RatePerMinute / float64(time.Minute) }

// refill adds the tokens earned since the last refill, capped at Burst. A
// clock that goes backwards earns nothing (and resets the reference).
func refill(cfg PacingConfig, st PaceState, now time.Time) PaceState {
	if !st.started {
		return PaceState{Tokens: cfg.Burst, Refill: now, started: true, LastStrained: st.LastStrained, LastCheckIn: st.LastCheckIn}
	}
	if d := now.Sub(st.Refill); d > 0 {
		st.Tokens = math.Min(cfg.Burst, st.Tokens+float64(d)*perNano(cfg))
	}
	st.Refill = now
	return st
}

// EventPromptPaced is emitted for every prompt the Pacer does not allow.
const EventPromptPaced = "web4.hcp.prompt_paced"

// Pacer applies Pace with its own state, a clock and a human-state source.
// Safe for concurrent use.
type Pacer struct {
	cfg   PacingConfig
	now   func() time.Time
	human func() *envelope.Human
	em    *events.Emitter

	mu sync.Mutex
	st PaceState
}

// NewPacer returns a Pacer. human supplies the current human state (for
// example Gate.Human); now may be nil (time.Now); em may be nil. Zero or
// negative config fields take the defaults.
func NewPacer(cfg PacingConfig, human func() *envelope.Human, em *events.Emitter, now func() time.Time) *Pacer {
	def := DefaultPacingConfig()
	if cfg.RatePerMinute <= 0 {
		cfg.RatePerMinute = def.RatePerMinute
	}
	if cfg.Burst < 1 {
		cfg.Burst = def.Burst
	}
	if cfg.StrainPressure <= 0 {
		cfg.StrainPressure = def.StrainPressure
	}
	if cfg.StrainClarity <= 0 {
		cfg.StrainClarity = def.StrainClarity
	}
	if cfg.StrainInterval <= 0 {
		cfg.StrainInterval = def.StrainInterval
	}
	if cfg.CheckInValidity <= 0 {
		cfg.CheckInValidity = def.CheckInValidity
	}
	if now == nil {
		now = time.Now
	}
	if human == nil {
		human = func() *envelope.Human { return nil }
	}
	return &Pacer{cfg: cfg, now: now, human: human, em: em}
}

// Config returns the effective configuration.
func (p *Pacer) Config() PacingConfig { return p.cfg }

// Decide paces one prompt now and records the outcome.
func (p *Pacer) Decide(pr Prompt) Verdict {
	h := p.human()
	p.mu.Lock()
	v, st := Pace(p.cfg, p.st, h, pr, p.now())
	p.st = st
	p.mu.Unlock()
	if v.Outcome != Allow {
		p.em.Emit(EventPromptPaced, "", map[string]any{
			"outcome": v.Outcome.String(), "reason": v.Reason, "kind": pr.Kind.String(),
			"priority": pr.Priority.String(), "retry_after_ms": v.RetryAfter.Milliseconds(),
		})
	}
	return v
}
