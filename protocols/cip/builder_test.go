package cip

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/gowebpki/jcs"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// TestBuildersProduceValidEnvelopes builds every CIP type and runs the
// receiver's nine checks on it.
func TestBuildersProduceValidEnvelopes(t *testing.T) {
	clk := &clock{t: t0}
	a := builder("alice", clk)
	bobFP := envelope.Fingerprint(pub(key("bob")))
	to := Peer{AgentID: "bob", Fingerprint: bobFP, View: envelope.ViewProbing, TheirView: envelope.ViewTrusted}
	hello, err := a.NewHello(Features{SupportsMesh: true})
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := RespondChallenge(a.Key, hello.Challenge, bobFP)
	trace := DMPTrace{DecisionID: "d-1", Steps: []string{"read"}}
	fact := Fact{Statement: "water boils at 100 C", Domain: "physics", Confidence: 0.9, Context: "sea level"}
	fid := envelope.MustFactID("physics", "water boils at 100 C")
	type build func() (*Message, error)
	cases := map[string]struct {
		typ envelope.Type
		fn  build
	}{
		"hello":          {envelope.Hello, func() (*Message, error) { return a.Hello(to, hello) }},
		"hello response": {envelope.Hello, func() (*Message, error) { h := hello; h.ChallengeResponse = resp; return a.Hello(to, h) }},
		"verify":         {envelope.Verify, func() (*Message, error) { return a.Verify(to, VerifyPayload{ChallengeResponse: resp}) }},
		"intent": {envelope.Intent, func() (*Message, error) {
			return a.Intent(to, IntentRequest{Goal: GoalTestHypothesis, Topic: "t", Priority: PriorityNormal})
		}},
		"intent reply": {envelope.Intent, func() (*Message, error) {
			return a.IntentReply(to, IntentReply{ReplyTo: "6f1c1a2e-8f3b-4c5d-9e7f-0a1b2c3d4e5f", Decision: Accept})
		}},
		"fact propose": {envelope.FactPropose, func() (*Message, error) {
			return a.FactPropose(to, FactPropose{Fact: fact, DMPTrace: trace})
		}},
		"fact challenge": {envelope.FactChallenge, func() (*Message, error) {
			return a.FactChallenge(to, FactChallenge{FactRef: fid, Reason: ReasonConflict, Notes: "n"})
		}},
		"fact confirm": {envelope.FactConfirm, func() (*Message, error) {
			return a.FactConfirm(to, FactVote{FactRef: fid, Confidence: 0.8})
		}},
		"fact reject": {envelope.FactReject, func() (*Message, error) {
			return a.FactReject(to, FactVote{FactRef: fid, Confidence: 0.2})
		}},
		"decision share": {envelope.DecisionShare, func() (*Message, error) {
			return a.DecisionShare(to, DecisionShare{Decision: DecisionRecord{Choice: "c", Outcome: "o", Context: "x"}, DMPTrace: trace})
		}},
		"state update": {envelope.StateUpdate, func() (*Message, error) {
			return a.StateUpdate(to, StateUpdatePayload{Presence: envelope.Engaged, LRI: 40, TrustState: envelope.ViewProbing})
		}},
		"trust attest": {envelope.TrustAttest, func() (*Message, error) {
			return a.TrustAttest(to, TrustAttestPayload{Subject: bobFP, View: envelope.ViewBlacklisted, Reason: "equivocation",
				Evidence: []AttestEvidence{{MsgID: "6f1c1a2e-8f3b-4c5d-9e7f-0a1b2c3d4e5f"}, {Envelope: base64.StdEncoding.EncodeToString([]byte("{}"))}}})
		}},
	}
	v := envelope.NewValidator(envelope.Config{Now: clk.Now, LocalFingerprint: bobFP})
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := c.fn()
			if err != nil {
				t.Fatal(err)
			}
			env, err := v.Validate(m.Wire)
			if err != nil {
				t.Fatalf("%v\n%s", err, m.Wire)
			}
			if env.Type != c.typ || env.Sender.AgentID != "alice" || env.Trust.ReceiverView != envelope.ViewProbing ||
				env.Trust.SenderView != envelope.ViewTrusted || env.Receiver.AgentID != "bob" {
				t.Fatalf("envelope %+v", env)
			}
		})
	}
	m, err := a.FactPropose(to, FactPropose{Fact: fact, DMPTrace: trace})
	if err != nil {
		t.Fatal(err)
	}
	var fp FactPropose
	if err := json.Unmarshal(m.Env.Payload, &fp); err != nil || fp.FactID != fid {
		t.Fatalf("fact_id %q, want %q (%v)", fp.FactID, fid, err)
	}
	// Gossip: addressed to "*", accepted only by a gossip validator.
	g, err := a.FactConfirm(Broadcast, FactVote{FactRef: fid, Confidence: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := envelope.NewValidator(envelope.Config{Now: clk.Now, LocalFingerprint: bobFP, Gossip: true}).Validate(g.Wire); err != nil {
		t.Fatal(err)
	}
}

func TestBuilderRejectsBadInput(t *testing.T) {
	clk := &clock{t: t0}
	a := builder("alice", clk)
	to := Peer{Fingerprint: envelope.Fingerprint(pub(key("bob")))}
	// Schema violation: confidence outside [0,1].
	_, err := a.FactConfirm(to, FactVote{FactRef: envelope.MustFactID("d", "s"), Confidence: 1.5})
	if !errors.Is(err, ErrBuild) || !errors.Is(err, envelope.ErrPayloadSchema) || !strings.Contains(err.Error(), "payload.confidence") {
		t.Fatalf("err %v", err)
	}
	// A statement that is not UTF-8 names no fact, so it is not proposed.
	bad := FactPropose{Fact: Fact{Statement: "\xff", Domain: "d", Confidence: 0.5, Sources: []string{}}}
	if _, err := a.FactPropose(to, bad); !errors.Is(err, ErrBuild) || !errors.Is(err, envelope.ErrFactID) {
		t.Fatalf("invalid UTF-8 statement: %v", err)
	}
	// Enum left at zero cannot be marshalled.
	if _, err := a.Intent(to, IntentRequest{Topic: "t"}); !errors.Is(err, ErrBuild) {
		t.Fatalf("zero goal: %v", err)
	}
	// Not a CIP type.
	if _, err := a.Build(envelope.HCPHello, to, map[string]any{}); !errors.Is(err, ErrBuild) {
		t.Fatal(err)
	}
	// No key.
	if _, err := (&Builder{}).Verify(to, VerifyPayload{}); !errors.Is(err, ErrBuild) {
		t.Fatal(err)
	}
	// Exhausted randomness.
	a.Rand = io.LimitReader(a.Rand, 3)
	if _, err := a.NewHello(Features{}); !errors.Is(err, ErrBuild) {
		t.Fatal(err)
	}
}

func TestEnums(t *testing.T) {
	if GoalProposeSolution.String() != "propose_solution" || Defer.String() != "defer" || Outcome(0).String() != "none" ||
		OutcomeFingerprintMismatch.String() != "fingerprint_mismatch" || ReasonCannotVerify.String() != "cannot_verify" ||
		PriorityHigh.String() != "high" || Received.String() != "received" || Goal(9).String() != "invalid(9)" {
		t.Fatal("enum names")
	}
	var g Goal
	if err := json.Unmarshal([]byte(`"conquer"`), &g); err == nil {
		t.Fatal("bad goal accepted")
	}
}

func TestSeparateIDSource(t *testing.T) {
	mk := func(ids string) *Builder {
		b := builder("alice", &clock{t: t0})
		b.IDs = &detReader{seed: ids}
		return b
	}
	to := Peer{Fingerprint: envelope.Fingerprint(pub(key("bob")))}
	m1, err1 := mk("ids-1").Verify(to, VerifyPayload{ChallengeResponse: strings.Repeat("A", 86) + "=="})
	m2, err2 := mk("ids-1").Verify(to, VerifyPayload{ChallengeResponse: strings.Repeat("A", 86) + "=="})
	m3, err3 := mk("ids-2").Verify(to, VerifyPayload{ChallengeResponse: strings.Repeat("A", 86) + "=="})
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal(err1, err2, err3)
	}
	if m1.Env.MsgID != m2.Env.MsgID || m1.Env.MsgID == m3.Env.MsgID || m1.Env.MsgID[14] != '4' {
		t.Fatalf("ids %s %s %s", m1.Env.MsgID, m2.Env.MsgID, m3.Env.MsgID)
	}
}

// TestPayloadsEncodeCanonically: every CIP payload struct encodes straight
// to RFC 8785 form (fields declared in key order), which is what lets
// sealing skip the canonicaliser. A field added out of order fails here,
// not silently slows every message down.
func TestPayloadsEncodeCanonically(t *testing.T) {
	payloads := []any{
		Hello{Capabilities: []string{"a"}, Challenge: "c", ChallengeResponse: "r", Protocols: []string{"cip/1.0"}, SessionNonce: "n"},
		VerifyPayload{ChallengeResponse: "r"},
		IntentRequest{Goal: GoalAsk, Topic: "t", Priority: PriorityLow, Context: "c"},
		IntentReply{ReplyTo: "m", Decision: Accept, Reason: "r"},
		FactPropose{FactID: "f", Fact: Fact{Statement: "s", Domain: "d", Confidence: 0.5, Sources: []string{}, Subject: "a", Predicate: "b", Object: "c"},
			DMPTrace: DMPTrace{}.normalised(), CausalLinks: []string{}},
		FactChallenge{FactRef: "f", Reason: ReasonConflict, Notes: "n"},
		FactVote{FactRef: "f", Decision: "confirm", Confidence: 1, Notes: "n"},
		DecisionShare{Decision: DecisionRecord{Choice: "c"}, DMPTrace: DMPTrace{}.normalised(), Retrospective: "r"},
		StateUpdatePayload{Presence: envelope.Focused, LRI: 3, TrustState: envelope.ViewProbing, KernelSignals: []string{}},
		TrustAttestPayload{Subject: "s", View: envelope.ViewProbing, Reason: "r", Evidence: []AttestEvidence{{MsgID: "m", Envelope: "e"}}},
	}
	for _, p := range payloads {
		plain, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		canon, err := jcs.Transform(plain)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(plain, canon) {
			t.Errorf("%T encodes as\n%s\nnot in key order:\n%s", p, plain, canon)
		}
	}
}
