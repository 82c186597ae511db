package hcp

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

var validPayloads = map[envelope.Type]string{
	envelope.HCPHello:       `{"identity":{"name":"Ada"},"consent_scope":["topic:work"],"safety_flags":["no_finance"]}`,
	envelope.HCPIntent:      `{"goal":"request","topic":"work","priority":"high","context":"find papers"}`,
	envelope.HCPContext:     `{"topic":"work","context":"the deadline is friday"}`,
	envelope.HCPDecision:    `{"choice":"ship","rationale":"tests pass","alternatives":["wait a week"]}`,
	envelope.HCPFeedback:    `{"feedback":"good","corrections":["use SI units"],"satisfaction":85}`,
	envelope.HCPStateUpdate: `{"presence":"focused","affect":"calm","clarity":70,"pressure":40,"intent":"write","consent":"limited","consent_scope":["topic:work"],"consent_expires":"2026-11-25T09:00:00Z"}`,
}

func TestSchemasRegistered(t *testing.T) {
	if err := RegisterSchemas(); err != nil {
		t.Fatal(err)
	}
	for _, typ := range envelope.Types(envelope.HCP) {
		if !envelope.HasPayloadSchema(typ) {
			t.Errorf("%v: no payload schema registered", typ)
		}
		if _, err := Schema(typ); err != nil {
			t.Errorf("%v: %v", typ, err)
		}
	}
	if _, err := Schema(envelope.Hello); err == nil {
		t.Error("Schema(HELLO) should fail: not an HCP type")
	}
}

func TestParsePayloadValid(t *testing.T) {
	for typ, raw := range validPayloads {
		v, err := ParsePayload(typ, []byte(raw))
		if err != nil {
			t.Errorf("%v: %v", typ, err)
			continue
		}
		switch p := v.(type) {
		case *Intent:
			if p.Goal != GoalRequest || p.Priority != PriorityHigh || p.Topic != "work" {
				t.Errorf("intent decoded wrong: %+v", p)
			}
		case *Decision:
			if p.Rationale != "tests pass" || len(p.Alternatives) != 1 {
				t.Errorf("decision decoded wrong: %+v", p)
			}
		case *envelope.Human:
			if p.Presence != envelope.Focused || p.Clarity != 70 || p.Consent != envelope.ConsentLimited || p.ConsentExpires.IsZero() {
				t.Errorf("state decoded wrong: %+v", p)
			}
		}
	}
}

func TestParsePayloadInvalid(t *testing.T) {
	cases := []struct {
		name string
		typ  envelope.Type
		raw  string
		path string
	}{
		{"decision without rationale", envelope.HCPDecision, `{"choice":"ship","alternatives":["wait"]}`, "payload.rationale"},
		{"decision without alternatives", envelope.HCPDecision, `{"choice":"ship","rationale":"ok"}`, "payload.alternatives"},
		{"decision empty alternatives", envelope.HCPDecision, `{"choice":"ship","rationale":"ok","alternatives":[]}`, "payload.alternatives"},
		{"decision empty rationale", envelope.HCPDecision, `{"choice":"ship","rationale":"","alternatives":["x"]}`, "payload.rationale"},
		{"intent bad goal", envelope.HCPIntent, `{"goal":"ask","topic":"w","priority":"low"}`, "payload.goal"},
		{"intent bad priority", envelope.HCPIntent, `{"goal":"align","topic":"w","priority":"urgent"}`, "payload.priority"},
		{"feedback satisfaction 101", envelope.HCPFeedback, `{"feedback":"x","corrections":[],"satisfaction":101}`, "payload.satisfaction"},
		{"feedback satisfaction fractional", envelope.HCPFeedback, `{"feedback":"x","corrections":[],"satisfaction":50.5}`, "payload.satisfaction"},
		{"hello without safety flags", envelope.HCPHello, `{"identity":{"name":"A"},"consent_scope":[]}`, "payload.safety_flags"},
		{"context unknown member", envelope.HCPContext, `{"topic":"w","context":"c","extra":1}`, "payload.extra"},
		{"state clarity 120", envelope.HCPStateUpdate, strings.Replace(validPayloads[envelope.HCPStateUpdate], `"clarity":70`, `"clarity":120`, 1), "payload.clarity"},
		{"duplicate key", envelope.HCPIntent, `{"goal":"align","goal":"align","topic":"w","priority":"low"}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParsePayload(c.typ, []byte(c.raw))
			if !errors.Is(err, envelope.ErrPayloadSchema) {
				t.Fatalf("err = %v, want ErrPayloadSchema", err)
			}
			if e, ok := envelope.AsError(err); !ok || (c.path != "" && e.Path != c.path) {
				t.Fatalf("err = %v, want path %q", err, c.path)
			}
		})
	}
	if _, err := ParsePayload(envelope.Intent, []byte(`{}`)); !errors.Is(err, ErrPayload) {
		t.Fatalf("CIP type: err = %v, want ErrPayload", err)
	}
}

// TestDecisionThroughValidator proves envelope check 9 applies the HCP
// schema: a signed HCP_DECISION without rationale is ErrPayloadSchema.
func TestDecisionThroughValidator(t *testing.T) {
	c := newClock()
	node := seedKey("node")
	nodeFP := envelope.Fingerprint(node.Public().(ed25519.PublicKey))
	b := &Builder{Key: seedKey("human"), AgentID: "human@a", Now: c.now, Rand: bytes.NewReader(bytes.Repeat([]byte{7}, 64)),
		Human: func() envelope.Human { return human(envelope.ConsentGranted) }}
	msg, err := b.Decision(To{AgentID: "a", Fingerprint: nodeFP}, Decision{Choice: "ship", Rationale: "green", Alternatives: []string{"wait"}})
	if err != nil {
		t.Fatal(err)
	}
	v := envelope.NewValidator(envelope.Config{Now: c.now, LocalFingerprint: nodeFP})
	env, err := v.Validate(msg.Wire)
	if err != nil {
		t.Fatalf("valid decision rejected: %v", err)
	}
	if env.State.Human == nil || env.State.Human.Consent != envelope.ConsentGranted || env.Sender.Fingerprint != b.Fingerprint() {
		t.Fatalf("decoded envelope wrong: %+v", env)
	}
	// Sign a decision whose payload lacks rationale by going around the
	// builder's own check, as a foreign client could.
	bad := *msg.Env
	bad.MsgID = "6f1c1a2e-8f3b-4c5d-9e7f-0a1b2c3d4e5f"
	bad.Payload = []byte(`{"choice":"ship","alternatives":["wait"]}`)
	wire, err := envelope.Seal(&bad, b.Key)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Validate(wire)
	if e, ok := envelope.AsError(err); !ok || !errors.Is(err, envelope.ErrPayloadSchema) || e.Check != envelope.CheckPayload {
		t.Fatalf("err = %v, want ErrPayloadSchema at check 9", err)
	}
	// And the builder refuses to sign it in the first place.
	if _, err := b.Decision(To{Fingerprint: nodeFP}, Decision{Choice: "x", Alternatives: []string{"y"}}); !errors.Is(err, ErrBuild) || !errors.Is(err, envelope.ErrPayloadSchema) {
		t.Fatalf("builder err = %v", err)
	}
}

func TestBuilderDeterministicAndChecksState(t *testing.T) {
	c := newClock()
	mk := func(h envelope.Human) *Builder {
		return &Builder{Key: seedKey("human"), AgentID: "human@a", Now: c.now,
			Rand: bytes.NewReader(bytes.Repeat([]byte{1}, 16)), Human: func() envelope.Human { return h }}
	}
	to := To{AgentID: "a", Fingerprint: strings.Repeat("ab", 32)}
	in := Intent{Goal: GoalAlign, Topic: "work", Priority: PriorityNormal}
	m1, err := mk(human(envelope.ConsentGranted)).Intent(to, in)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := mk(human(envelope.ConsentGranted)).Intent(to, in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m1.Wire, m2.Wire) {
		t.Fatal("same inputs gave different envelopes")
	}
	bad := human(envelope.ConsentGranted)
	bad.Clarity = 101
	if _, err := mk(bad).Intent(to, in); !errors.Is(err, ErrInvalidState) || !errors.Is(err, ErrBuild) {
		t.Fatalf("err = %v, want ErrBuild wrapping ErrInvalidState", err)
	}
	if _, err := (&Builder{AgentID: "h", Human: func() envelope.Human { return human(envelope.ConsentGranted) }}).Intent(to, in); !errors.Is(err, ErrBuild) {
		t.Fatalf("no key: err = %v", err)
	}
	if _, err := mk(human(envelope.ConsentGranted)).Build(envelope.Hello, to, in); !errors.Is(err, ErrBuild) {
		t.Fatalf("CIP type: err = %v", err)
	}
	// Every builder method yields an envelope its own schemas accept.
	b := mk(human(envelope.ConsentLimited, "topic:work"))
	b.Rand = nil
	for name, f := range map[string]func() (*Message, error){
		"hello":    func() (*Message, error) { return b.Hello(to, Hello{Identity: Identity{Name: "Ada"}}) },
		"context":  func() (*Message, error) { return b.Context(to, Context{Topic: "w", Context: "c"}) },
		"feedback": func() (*Message, error) { return b.Feedback(to, Feedback{Feedback: "ok", Satisfaction: 90}) },
		"state":    func() (*Message, error) { return b.StateUpdate(to, human(envelope.ConsentRevoked)) },
	} {
		m, err := f()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if _, err := envelope.Parse(m.Wire); err != nil {
			t.Errorf("%s: own envelope does not parse: %v", name, err)
		}
	}
}
