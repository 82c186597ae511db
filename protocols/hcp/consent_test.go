package hcp

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

func TestPermits(t *testing.T) {
	now := t0
	expired := human(envelope.ConsentGranted)
	expired.ConsentExpires = now
	future := human(envelope.ConsentLimited, "topic:work")
	future.ConsentExpires = now.Add(time.Minute)
	cases := []struct {
		name  string
		h     *envelope.Human
		topic string
		want  error
	}{
		{"no state", nil, "work", ErrNoConsent},
		{"granted", ptr(human(envelope.ConsentGranted)), "anything", nil},
		{"revoked blocks all", ptr(human(envelope.ConsentRevoked, "topic:work", ScopeAll)), "work", ErrConsentRevoked},
		{"limited in scope", ptr(human(envelope.ConsentLimited, "topic:work")), "work", nil},
		{"limited out of scope", ptr(human(envelope.ConsentLimited, "topic:work")), "family", ErrOutOfScope},
		{"limited empty scope", ptr(human(envelope.ConsentLimited)), "work", ErrOutOfScope},
		{"limited wildcard", ptr(human(envelope.ConsentLimited, ScopeAll)), "family", nil},
		{"limited scope needs topic prefix", ptr(human(envelope.ConsentLimited, "work")), "work", ErrOutOfScope},
		{"expired counts as revoked", &expired, "work", ErrConsentExpired},
		{"not yet expired", &future, "work", nil},
	}
	for _, c := range cases {
		err := Permits(c.h, c.topic, now)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		if c.want != nil && !errors.Is(err, ErrConsentBlocked) {
			t.Errorf("%s: %v does not wrap ErrConsentBlocked", c.name, err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestGateHoldAndRelease(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	em, ring := sink(t, c.now)
	db := openStore(t, t.TempDir())
	defer db.Close()
	g, err := NewGate(db, GateConfig{HoldTTL: 10 * time.Minute}, em, c.now)
	if err != nil {
		t.Fatal(err)
	}
	// Before any state nothing passes.
	if err := g.Pass(ctx, Action{ID: "a0", Kind: "prompt", Topic: "work"}); !errors.Is(err, ErrHeld) || !errors.Is(err, ErrNoConsent) {
		t.Fatalf("err = %v", err)
	}
	if _, err := g.SetHuman(ctx, human(envelope.ConsentLimited, "topic:work")); err != nil {
		t.Fatal(err)
	}
	if g.Held() != nil && len(g.Held()) != 0 {
		t.Fatalf("a0 should have been released by limited consent covering work: %v", g.Held())
	}
	if err := g.Pass(ctx, Action{ID: "a1", Kind: "prompt", Topic: "work"}); err != nil {
		t.Fatalf("in-scope action blocked: %v", err)
	}
	err = g.Pass(ctx, Action{ID: "a2", Kind: "send_intent", Topic: "family", Causes: []string{"m1"}})
	if !errors.Is(err, ErrHeld) || !errors.Is(err, ErrOutOfScope) {
		t.Fatalf("out-of-scope: err = %v", err)
	}
	c.add(time.Minute)
	if _, err := g.SetHuman(ctx, human(envelope.ConsentRevoked)); err != nil {
		t.Fatal(err)
	}
	if err := g.Pass(ctx, Action{ID: "a3", Kind: "prompt", Topic: "work"}); !errors.Is(err, ErrConsentRevoked) {
		t.Fatalf("revoked: err = %v", err)
	}
	if n := len(g.Held()); n != 2 {
		t.Fatalf("held = %d, want 2", n)
	}
	if n := ring.Count(EventConsentBlocked); n != 3 {
		t.Fatalf("consent_blocked events = %d, want 3", n)
	}
	// Limited consent for work releases a3 only; granted releases a2.
	c.add(time.Minute)
	rel, err := g.SetHuman(ctx, human(envelope.ConsentLimited, "topic:work"))
	if err != nil || len(rel) != 1 || rel[0].ID != "a3" {
		t.Fatalf("released %v (%v), want [a3]", rel, err)
	}
	rel, err = g.SetHuman(ctx, human(envelope.ConsentGranted))
	if err != nil || len(rel) != 1 || rel[0].ID != "a2" || rel[0].Causes[0] != "m1" {
		t.Fatalf("released %v (%v), want [a2]", rel, err)
	}
	ev, ok := ring.WaitFor(ctx.Done(), func(e events.Event) bool { return e.Type == EventActionReleased && e.Subject == "a2" })
	if !ok || len(ev.Causes) != 1 || ev.Causes[0] != "m1" || ev.Data["held_for_ms"] != int64(2*time.Minute/time.Millisecond) {
		t.Fatalf("release event wrong: %+v", ev)
	}
	if ring.Count(EventActionReleased) != 3 || ring.Count(EventActionExpired) != 0 {
		t.Fatalf("events: %d released, %d expired", ring.Count(EventActionReleased), ring.Count(EventActionExpired))
	}
}

func TestGateExpiresHeldActions(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	em, ring := sink(t, c.now)
	db := openStore(t, t.TempDir())
	defer db.Close()
	g, err := NewGate(db, GateConfig{HoldTTL: 5 * time.Minute}, em, c.now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.SetHuman(ctx, human(envelope.ConsentRevoked)); err != nil {
		t.Fatal(err)
	}
	_ = g.Pass(ctx, Action{ID: "old", Kind: "prompt", Topic: "work"})
	c.add(3 * time.Minute)
	_ = g.Pass(ctx, Action{ID: "new", Kind: "prompt", Topic: "work"})
	c.add(2*time.Minute - time.Nanosecond)
	if exp := g.Sweep(); len(exp) != 0 {
		t.Fatalf("expired too early: %v", exp)
	}
	c.add(time.Nanosecond)
	if exp := g.Sweep(); len(exp) != 1 || exp[0].ID != "old" {
		t.Fatalf("expired %v, want [old]", exp)
	}
	// Consent returning after expiry releases only what is still held.
	c.add(time.Minute)
	rel, err := g.SetHuman(ctx, human(envelope.ConsentGranted))
	if err != nil || len(rel) != 1 || rel[0].ID != "new" {
		t.Fatalf("released %v (%v), want [new]", rel, err)
	}
	if ring.Count(EventActionExpired) != 1 || ring.Count(EventActionReleased) != 1 {
		t.Fatalf("events: %d expired, %d released", ring.Count(EventActionExpired), ring.Count(EventActionReleased))
	}
	// Consent that itself expires counts as revoked.
	h := human(envelope.ConsentGranted)
	h.ConsentExpires = c.now().Add(time.Minute)
	if _, err := g.SetHuman(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := g.Pass(ctx, Action{ID: "x", Kind: "prompt", Topic: "work"}); err != nil {
		t.Fatal(err)
	}
	c.add(time.Minute)
	if err := g.Pass(ctx, Action{ID: "y", Kind: "prompt", Topic: "work"}); !errors.Is(err, ErrConsentExpired) {
		t.Fatalf("after consent expiry: err = %v", err)
	}
}

func TestGateHeldActionsSurviveRestart(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	dir := t.TempDir()
	db := openStore(t, dir)
	g, err := NewGate(db, GateConfig{HoldTTL: time.Hour}, nil, c.now)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"b", "a", "c"} {
		c.add(time.Second)
		if err := g.Pass(ctx, Action{ID: id, Kind: "prompt", Topic: "work", Priority: PriorityHigh, Payload: []byte(`{"text":"` + id + `"}`)}); !errors.Is(err, ErrHeld) {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openStore(t, dir)
	defer db.Close()
	em, ring := sink(t, c.now)
	g2, err := NewGate(db, GateConfig{HoldTTL: time.Hour}, em, c.now)
	if err != nil {
		t.Fatal(err)
	}
	held := g2.Held()
	if len(held) != 3 || held[0].ID != "b" || held[2].ID != "c" || string(held[1].Payload) != `{"text":"a"}` || held[1].Priority != PriorityHigh {
		t.Fatalf("after restart held = %+v", held)
	}
	rel, err := g2.SetHuman(ctx, human(envelope.ConsentGranted))
	if err != nil || len(rel) != 3 || rel[0].ID != "b" {
		t.Fatalf("released %v (%v)", rel, err)
	}
	if ring.Count(EventActionReleased) != 3 {
		t.Fatal("no release events after restart")
	}
	// Released actions are gone from the store too.
	db.Close()
	db2 := openStore(t, dir)
	defer db2.Close()
	g3, err := NewGate(db2, GateConfig{}, nil, c.now)
	if err != nil || len(g3.Held()) != 0 {
		t.Fatalf("released actions persisted: %v %v", g3.Held(), err)
	}
}

func TestGateBoundsAndBadInput(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	em, ring := sink(t, c.now)
	db := openStore(t, t.TempDir())
	defer db.Close()
	g, err := NewGate(db, GateConfig{MaxHeld: 2}, em, c.now)
	if err != nil {
		t.Fatal(err)
	}
	_ = g.Pass(ctx, Action{ID: "1", Kind: "k", Topic: "t"})
	_ = g.Pass(ctx, Action{ID: "2", Kind: "k", Topic: "t"})
	if err := g.Pass(ctx, Action{ID: "3", Kind: "k", Topic: "t"}); !errors.Is(err, ErrHoldFull) || errors.Is(err, ErrHeld) {
		t.Fatalf("err = %v, want ErrHoldFull (not held)", err)
	}
	// Re-submitting an already held id replaces it rather than counting twice.
	if err := g.Pass(ctx, Action{ID: "2", Kind: "k", Topic: "t"}); !errors.Is(err, ErrHeld) {
		t.Fatalf("re-hold: %v", err)
	}
	// Passing a held id once consent allows it takes it out of the hold.
	if _, err := g.SetHuman(ctx, human(envelope.ConsentLimited, "topic:other")); err != nil {
		t.Fatal(err)
	}
	if err := g.Pass(ctx, Action{ID: "2", Kind: "k", Topic: "other"}); err != nil {
		t.Fatal(err)
	}
	if h := g.Held(); len(h) != 1 || h[0].ID != "1" {
		t.Fatalf("held after performing 2 = %+v", h)
	}
	for _, a := range []Action{{Kind: "k"}, {ID: "z"}, {ID: "z", Kind: "k", Payload: make([]byte, MaxActionPayload+1)},
		{ID: "z", Kind: "k", Causes: []string{""}}, {ID: "z", Kind: "k", Payload: []byte("{")}} {
		if err := g.Pass(ctx, a); !errors.Is(err, ErrAction) {
			t.Errorf("%+v: err = %v, want ErrAction", a.ID, err)
		}
	}
	bad := human(envelope.ConsentGranted)
	bad.Pressure = -5
	if _, err := g.SetHuman(ctx, bad); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("bad state: err = %v", err)
	}
	if h := g.Human(); h == nil || h.Pressure != 20 || h.ConsentScope[0] != "topic:other" {
		t.Fatalf("invalid state was installed: %+v", h)
	}
	if ring.Count("web4.error") != 7 {
		t.Fatalf("error events = %d, want 7", ring.Count("web4.error"))
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := g.Pass(cctx, Action{ID: "q", Kind: "k"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
	if _, err := NewGate(nil, GateConfig{}, nil, nil); err == nil {
		t.Fatal("nil store accepted")
	}
}

func TestGateTakeReleasesOrDropsOnTheHumansWord(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	em, ring := sink(t, c.now)
	dir := t.TempDir()
	db := openStore(t, dir)
	g, err := NewGate(db, GateConfig{HoldTTL: time.Hour}, em, c.now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.SetHuman(ctx, human(envelope.ConsentRevoked)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"keep", "drop", "go"} {
		if err := g.Pass(ctx, Action{ID: id, Kind: "prompt", Topic: "work", Causes: []string{"m-" + id}}); !errors.Is(err, ErrHeld) {
			t.Fatal(err)
		}
	}
	c.add(time.Minute)
	a, err := g.Take(ctx, "go", true)
	if err != nil || a.ID != "go" || a.Causes[0] != "m-go" {
		t.Fatalf("release: %+v %v", a, err)
	}
	if _, err := g.Take(ctx, "drop", false); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"go", "drop", "never-held", ""} {
		if _, err := g.Take(ctx, id, true); !errors.Is(err, ErrNotHeld) {
			t.Fatalf("take %q again: %v, want ErrNotHeld", id, err)
		}
	}
	rel, ok := ring.WaitFor(ctx.Done(), func(e events.Event) bool { return e.Type == EventActionReleased && e.Subject == "go" })
	if !ok || rel.Data["by"] != "human" || rel.Data["held_for_ms"] != int64(time.Minute/time.Millisecond) || rel.Causes[0] != "m-go" {
		t.Fatalf("release event %+v", rel)
	}
	if ring.Count(EventActionDropped) != 1 || ring.Count(EventActionReleased) != 1 {
		t.Fatalf("events: %d dropped, %d released", ring.Count(EventActionDropped), ring.Count(EventActionReleased))
	}
	// Taken actions are gone from the store: a restart holds only "keep",
	// and granting consent releases only it.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openStore(t, dir)
	defer db.Close()
	g2, err := NewGate(db, GateConfig{HoldTTL: time.Hour}, nil, c.now)
	if err != nil {
		t.Fatal(err)
	}
	if h := g2.Held(); len(h) != 1 || h[0].ID != "keep" {
		t.Fatalf("after restart held = %+v", h)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := g2.Take(cctx, "keep", false); !errors.Is(err, context.Canceled) {
		t.Fatalf("take with a cancelled ctx: %v", err)
	}
}
