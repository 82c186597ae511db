package hcp

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/router"
)

// TestHandlerThroughRouter drives the two HCP routes of a real router with
// envelopes built and verified like the control API would.
func TestHandlerThroughRouter(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	em, ring := sink(t, c.now)
	db := openStore(t, t.TempDir())
	defer db.Close()
	g, err := NewGate(db, GateConfig{}, em, c.now)
	if err != nil {
		t.Fatal(err)
	}
	state := human(envelope.ConsentLimited, "topic:work")
	b := &Builder{Key: seedKey("human"), AgentID: "human", Now: c.now, Human: func() envelope.Human { return state }}
	node := To{AgentID: "agent", Fingerprint: envelope.Fingerprint(seedKey("node").Public().(ed25519.PublicKey))}
	var delivered []any
	var released []Action
	h := &Handler{Gate: g, Human: b.Fingerprint(),
		Deliver:  func(_ context.Context, _ *router.Message, p any) error { delivered = append(delivered, p); return nil },
		Released: func(_ context.Context, r []Action) { released = append(released, r...) }}
	r := router.New(router.Config{Events: em})
	for _, rt := range []router.Route{router.HumanState, router.ConsentGate} {
		if _, err := r.Register(rt, h); err != nil {
			t.Fatal(err)
		}
	}
	v := envelope.NewValidator(envelope.Config{Now: c.now, LocalFingerprint: node.Fingerprint, Policy: r.Policy().Local})
	route := func(m *Message, local bool) error {
		t.Helper()
		env, err := v.Validate(m.Wire)
		if err != nil {
			t.Fatal(err)
		}
		return r.Route(ctx, &router.Message{Local: local, Env: env, Channel: "control_api"})
	}
	must := func(m *Message, err error) *Message {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	// HELLO installs the limited state; an in-scope intent is delivered.
	if err := route(must(b.Hello(node, Hello{Identity: Identity{Name: "Ada"}, ConsentScope: []string{"topic:work"}})), true); err != nil {
		t.Fatal(err)
	}
	if err := route(must(b.Intent(node, Intent{Goal: GoalRequest, Topic: "work", Priority: PriorityNormal})), true); err != nil {
		t.Fatal(err)
	}
	if len(delivered) != 1 || delivered[0].(*Intent).Topic != "work" {
		t.Fatalf("delivered = %v", delivered)
	}
	// An out-of-scope intent is held, not delivered and not an error.
	held := must(b.Intent(node, Intent{Goal: GoalRequest, Topic: "family", Priority: PriorityHigh}))
	if err := route(held, true); err != nil {
		t.Fatal(err)
	}
	if len(delivered) != 1 || len(g.Held()) != 1 || ring.Count(EventConsentBlocked) != 1 {
		t.Fatalf("out-of-scope intent: delivered %d, held %d", len(delivered), len(g.Held()))
	}
	// A state update granting consent releases it.
	if err := route(must(b.StateUpdate(node, human(envelope.ConsentGranted))), true); err != nil {
		t.Fatal(err)
	}
	if len(released) != 1 || released[0].ID != held.Env.MsgID || released[0].Kind != ActionHumanIntent {
		t.Fatalf("released = %+v", released)
	}
	// Decisions go straight through.
	state = human(envelope.ConsentGranted)
	if err := route(must(b.Decision(node, Decision{Choice: "a", Rationale: "b", Alternatives: []string{"c"}})), true); err != nil {
		t.Fatal(err)
	}
	if _, ok := delivered[len(delivered)-1].(*Decision); !ok {
		t.Fatalf("decision not delivered: %v", delivered)
	}
	// A message not from the local session is refused even with the human key.
	m := must(b.Context(node, Context{Topic: "work", Context: "x"}))
	env, err := v.Validate(m.Wire)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Handle(ctx, &router.Message{Peer: "p", Env: env}); !errors.Is(err, ErrNotHuman) {
		t.Fatalf("remote: %v", err)
	}
	if _, err := (&Builder{Key: b.Key, Human: b.Human}).Context(node, Context{Topic: "w", Context: "x"}); !errors.Is(err, ErrBuild) {
		t.Fatalf("empty agent id: %v", err)
	}
	// Another key speaking as the human is refused.
	imp := &Builder{Key: seedKey("mallory"), AgentID: "human", Now: c.now, Human: b.Human}
	if err := route(must(imp.Intent(node, Intent{Goal: GoalAlign, Topic: "work", Priority: PriorityLow})), true); !errors.Is(err, ErrNotHuman) {
		t.Fatalf("impostor: %v", err)
	}
}
