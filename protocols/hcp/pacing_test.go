package hcp

import (
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

func hstate(mod func(h *envelope.Human)) *envelope.Human {
	h := human(envelope.ConsentGranted)
	if mod != nil {
		mod(&h)
	}
	return &h
}

var (
	info   = func(p Priority) Prompt { return Prompt{Kind: PromptInfo, Priority: p} }
	decide = func(p Priority) Prompt { return Prompt{Kind: PromptDecision, Priority: p} }
)

func TestPaceRules(t *testing.T) {
	cfg := DefaultPacingConfig()
	overloaded := hstate(func(h *envelope.Human) { h.Presence = envelope.Overloaded })
	focused := hstate(func(h *envelope.Human) { h.Presence = envelope.Focused })
	pressured := hstate(func(h *envelope.Human) { h.Pressure = 80 })
	unclear := hstate(func(h *envelope.Human) { h.Clarity = 30 })
	almost := hstate(func(h *envelope.Human) { h.Pressure = 79; h.Clarity = 31 })
	anxious := hstate(func(h *envelope.Human) { h.Affect = envelope.Anxious })
	tense := hstate(func(h *envelope.Human) { h.Affect = envelope.Tense })
	cases := []struct {
		name string
		h    *envelope.Human
		p    Prompt
		want Outcome
	}{
		{"calm normal", hstate(nil), info(PriorityNormal), Allow},
		{"no state paces as calm", nil, info(PriorityLow), Allow},
		{"overloaded blocks high", overloaded, info(PriorityHigh), Suppress},
		{"overloaded admits safety", overloaded, info(PrioritySafety), Allow},
		{"focused blocks normal", focused, info(PriorityNormal), Suppress},
		{"focused admits high", focused, info(PriorityHigh), Allow},
		{"pressure 80 blocks normal", pressured, info(PriorityNormal), Suppress},
		{"pressure 80 admits high", pressured, info(PriorityHigh), Allow},
		{"clarity 30 blocks normal", unclear, info(PriorityNormal), Suppress},
		{"clarity 30 admits high", unclear, info(PriorityHigh), Allow},
		{"just below strain thresholds", almost, info(PriorityLow), Allow},
		{"anxious decision needs check-in", anxious, decide(PriorityHigh), CheckIn},
		{"tense decision needs check-in", tense, decide(PriorityNormal), CheckIn},
		{"anxious safety decision needs check-in", anxious, decide(PrioritySafety), CheckIn},
		{"anxious info is fine", anxious, info(PriorityNormal), Allow},
		{"calm decision", hstate(nil), decide(PriorityNormal), Allow},
		{"invalid priority", hstate(nil), Prompt{Kind: PromptInfo}, Suppress},
		{"invalid kind", hstate(nil), Prompt{Priority: PriorityHigh}, Suppress},
	}
	for _, c := range cases {
		v, _ := Pace(cfg, PaceState{}, c.h, c.p, t0)
		if v.Outcome != c.want {
			t.Errorf("%s: %v (%s), want %v", c.name, v.Outcome, v.Reason, c.want)
		}
	}
}

func TestPaceTokenBucket(t *testing.T) {
	cfg := DefaultPacingConfig()
	h := hstate(nil)
	var st PaceState
	now := t0
	for i := 0; i < 6; i++ {
		var v Verdict
		v, st = Pace(cfg, st, h, info(PriorityLow), now)
		if v.Outcome != Allow {
			t.Fatalf("prompt %d: %v", i, v)
		}
	}
	v, st := Pace(cfg, st, h, info(PriorityLow), now)
	if v.Outcome != Defer || v.RetryAfter != 10*time.Second {
		t.Fatalf("7th prompt: %+v, want defer 10s", v)
	}
	// Safety bypasses the empty bucket.
	if v, _ := Pace(cfg, st, h, info(PrioritySafety), now); v.Outcome != Allow {
		t.Fatalf("safety: %+v", v)
	}
	now = now.Add(10*time.Second - time.Millisecond)
	if v, _ := Pace(cfg, st, h, info(PriorityLow), now); v.Outcome != Defer {
		t.Fatalf("before refill: %+v", v)
	}
	now = now.Add(time.Millisecond)
	if v, st = Pace(cfg, st, h, info(PriorityLow), now); v.Outcome != Allow {
		t.Fatalf("after refill: %+v", v)
	}
	// Over a long quiet period the bucket fills only to Burst.
	now = now.Add(time.Hour)
	n := 0
	for {
		var v Verdict
		if v, st = Pace(cfg, st, h, info(PriorityLow), now); v.Outcome != Allow {
			break
		}
		n++
	}
	if n != 6 {
		t.Fatalf("burst after an hour = %d, want 6", n)
	}
	// A clock going backwards earns nothing and does not panic.
	if v, _ := Pace(cfg, st, h, info(PriorityLow), now.Add(-time.Hour)); v.Outcome != Defer {
		t.Fatalf("backwards clock: %+v", v)
	}
}

func TestPaceStrainOnePerInterval(t *testing.T) {
	cfg := DefaultPacingConfig()
	h := hstate(func(h *envelope.Human) { h.Pressure = 95 })
	var st PaceState
	v, st := Pace(cfg, st, h, info(PriorityHigh), t0)
	if v.Outcome != Allow {
		t.Fatalf("first: %+v", v)
	}
	v, st = Pace(cfg, st, h, info(PriorityHigh), t0.Add(time.Minute))
	if v.Outcome != Defer || v.RetryAfter != 4*time.Minute {
		t.Fatalf("second within 5 min: %+v, want defer 4m", v)
	}
	v, _ = Pace(cfg, st, h, info(PriorityHigh), t0.Add(5*time.Minute))
	if v.Outcome != Allow {
		t.Fatalf("after 5 min: %+v", v)
	}
	// Safety is not spaced.
	if v, _ := Pace(cfg, st, h, info(PrioritySafety), t0.Add(time.Second)); v.Outcome != Allow {
		t.Fatalf("safety under strain: %+v", v)
	}
}

func TestPaceCheckInPrecedesDecision(t *testing.T) {
	cfg := DefaultPacingConfig()
	h := hstate(func(h *envelope.Human) { h.Affect = envelope.Anxious })
	var st PaceState
	v, st := Pace(cfg, st, h, decide(PriorityHigh), t0)
	if v.Outcome != CheckIn {
		t.Fatalf("decision first: %+v", v)
	}
	v, st = Pace(cfg, st, h, Prompt{Kind: PromptCheckIn, Priority: PriorityHigh}, t0)
	if v.Outcome != Allow {
		t.Fatalf("check-in: %+v", v)
	}
	v, st = Pace(cfg, st, h, decide(PriorityHigh), t0.Add(time.Minute))
	if v.Outcome != Allow {
		t.Fatalf("decision after check-in: %+v", v)
	}
	v, _ = Pace(cfg, st, h, decide(PriorityHigh), t0.Add(cfg.CheckInValidity))
	if v.Outcome != CheckIn {
		t.Fatalf("decision after the check-in went stale: %+v", v)
	}
}

func TestPacerEmitsAndUsesInjectedState(t *testing.T) {
	c := newClock()
	em, ring := sink(t, c.now)
	h := hstate(func(h *envelope.Human) { h.Presence = envelope.Focused })
	p := NewPacer(PacingConfig{}, func() *envelope.Human { return h }, em, c.now)
	if p.Config() != DefaultPacingConfig() {
		t.Fatalf("zero config did not take defaults: %+v", p.Config())
	}
	if v := p.Decide(info(PriorityNormal)); v.Outcome != Suppress {
		t.Fatalf("focused normal: %+v", v)
	}
	if v := p.Decide(info(PriorityHigh)); v.Outcome != Allow {
		t.Fatalf("focused high: %+v", v)
	}
	ev, ok := ring.WaitFor(nil, func(e events.Event) bool { return e.Type == EventPromptPaced })
	if !ok || ev.Data["outcome"] != "suppress" {
		t.Fatalf("paced event: %+v", ev)
	}
	if ring.Count(EventPromptPaced) != 1 {
		t.Fatalf("allowed prompts must not emit paced events")
	}
}
