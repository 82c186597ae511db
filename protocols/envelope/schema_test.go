package envelope

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func sha256hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

var sig64 = b64(make([]byte, 64))

// samplePayloads has one valid payload per CIP type (both INTENT forms and
// both HELLO forms), the test envelopes for the shipped schemas.
var samplePayloads = map[string]struct {
	typ     Type
	payload string
}{
	"hello":          {Hello, helloPayload},
	"hello response": {Hello, strings.TrimSuffix(helloPayload, "}") + `,"challenge_response":"` + sig64 + `"}`},
	"verify":         {Verify, `{"challenge_response":"` + sig64 + `"}`},
	"intent":         {Intent, `{"goal":"verify_knowledge","topic":"physics","priority":"high","context":"why"}`},
	"intent reply":   {Intent, `{"reply_to":"6f1c1a2e-8f3b-4c5d-9e7f-0a1b2c3d4e5f","decision":"defer","reason":"overloaded"}`},
	"fact propose":   {FactPropose, factPayload},
	"fact challenge": {FactChallenge, `{"fact_ref":"` + sha256hex("x") + `","reason":"insufficient_evidence","notes":""}`},
	"fact confirm":   {FactConfirm, `{"fact_ref":"` + sha256hex("x") + `","decision":"confirm","confidence":1,"notes":"ok"}`},
	"fact reject":    {FactReject, `{"fact_ref":"` + sha256hex("x") + `","decision":"reject","confidence":0,"notes":"no"}`},
	"decision share": {DecisionShare, `{"decision":{"choice":"a","outcome":"good","context":"c"},"dmp_trace":{"decision_id":"d","steps":[],"counterfactuals":["b"],"evidence":[]},"retrospective":"fine"}`},
	"state update":   {StateUpdate, `{"presence":"engaged","lri":55,"trust_state":"probing","kernel_signals":["busy"],"intent":"learn"}`},
	"trust attest":   {TrustAttest, `{"subject":"` + sha256hex("p") + `","view":"blacklisted","reason":"equivocation","evidence":[{"msg_id":"6f1c1a2e-8f3b-4c5d-9e7f-0a1b2c3d4e5f"},{"envelope":"e30="}]}`},
}

var badPayloads = map[string]struct {
	typ     Type
	payload string
	path    string
}{
	"hello without challenge": {Hello, strings.Replace(helloPayload, `"challenge":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",`, "", 1), "payload.challenge"},
	"hello short challenge":   {Hello, strings.Replace(helloPayload, `AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=`, `AAAA`, 1), "payload.challenge"},
	"intent bad goal":         {Intent, `{"goal":"conquer","topic":"t","priority":"low"}`, ""},
	"intent mixed forms":      {Intent, `{"goal":"ask","topic":"t","priority":"low","reply_to":"6f1c1a2e-8f3b-4c5d-9e7f-0a1b2c3d4e5f","decision":"accept"}`, ""},
	"reply bad decision":      {Intent, `{"reply_to":"6f1c1a2e-8f3b-4c5d-9e7f-0a1b2c3d4e5f","decision":"maybe"}`, "payload.decision"},
	"challenge reason":        {FactChallenge, `{"fact_ref":"` + sha256hex("x") + `","reason":"dislike","notes":""}`, "payload.reason"},
	"confirm says reject":     {FactConfirm, `{"fact_ref":"` + sha256hex("x") + `","decision":"reject","confidence":1,"notes":""}`, "payload.decision"},
	"state lri":               {StateUpdate, `{"presence":"engaged","lri":-1,"trust_state":"probing","kernel_signals":[],"intent":""}`, "payload.lri"},
	"attest empty evidence":   {TrustAttest, `{"subject":"` + sha256hex("p") + `","view":"trusted","reason":"r","evidence":[{}]}`, "payload.evidence[0]"},
	"decision no trace":       {DecisionShare, `{"decision":{"choice":"a","outcome":"good","context":"c"},"retrospective":"fine"}`, "payload.dmp_trace"},
}

func TestShippedSchemasCompileAndCoverCIP(t *testing.T) {
	if _, err := schemas(); err != nil {
		t.Fatal(err)
	}
	for _, typ := range Types(CIP) {
		if !HasPayloadSchema(typ) {
			t.Errorf("no payload schema for %v", typ)
		}
	}
}

func TestSampleEnvelopesValidate(t *testing.T) {
	for name, c := range samplePayloads {
		t.Run(name, func(t *testing.T) {
			if _, err := bobValidator(nil).Validate(seal(t, newEnv(c.typ, c.payload), aliceKey)); err != nil {
				t.Fatal(err)
			}
			if err := ValidatePayload(c.typ, []byte(c.payload)); err != nil {
				t.Fatal(err)
			}
		})
	}
	for name, c := range badPayloads {
		t.Run(name, func(t *testing.T) {
			_, err := bobValidator(nil).Validate(seal(t, newEnv(c.typ, c.payload), aliceKey))
			wantErr(t, err, ErrPayloadSchema, CheckPayload, c.path)
		})
	}
}

func TestRegisterPayloadSchema(t *testing.T) {
	const s = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
	  "required":["rationale","alternatives"],
	  "properties":{"rationale":{"$ref":"common.json#/$defs/text"},"alternatives":{"type":"array","minItems":1}}}`
	if err := RegisterPayloadSchema(HCPDecision, []byte(s)); err != nil {
		t.Fatal(err)
	}
	ok := newEnv(HCPDecision, `{"rationale":"r","alternatives":["a"]}`)
	if _, err := bobValidator(nil).Validate(seal(t, ok, aliceKey)); err != nil {
		t.Fatal(err)
	}
	bad := newEnv(HCPDecision, `{"rationale":"r"}`)
	_, err := bobValidator(nil).Validate(seal(t, bad, aliceKey))
	wantErr(t, err, ErrPayloadSchema, CheckPayload, "payload.alternatives")

	if err := RegisterPayloadSchema(HCPFeedback, []byte(`{"type":`)); !errors.Is(err, ErrSchema) {
		t.Fatalf("broken schema: %v", err)
	}
	if err := RegisterPayloadSchema(HCPFeedback, []byte(`{"$ref":"nowhere.json"}`)); !errors.Is(err, ErrSchema) {
		t.Fatalf("dangling ref: %v", err)
	}
	if err := RegisterPayloadSchema(Type(0), []byte(`{}`)); !errors.Is(err, ErrSchema) {
		t.Fatalf("invalid type: %v", err)
	}
}
