package envelope

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/gowebpki/jcs"
)

// t0 is the fixed clock of every test.
var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return t0 }

// key returns a deterministic Ed25519 key named by seed.
func key(seed string) ed25519.PrivateKey {
	s := sha256.Sum256([]byte(seed))
	return ed25519.NewKeyFromSeed(s[:])
}

var (
	aliceKey = key("alice")
	bobKey   = key("bob")
	aliceFP  = Fingerprint(aliceKey.Public().(ed25519.PublicKey))
	bobFP    = Fingerprint(bobKey.Public().(ed25519.PublicKey))
)

const factPayload = `{"fact":{"statement":"water boils at 100 C at sea level","domain":"physics","confidence":0.9,"sources":["https://example.org/boil"],"context":"textbook"},"dmp_trace":{"decision_id":"d-1","steps":["read","compare"],"counterfactuals":[],"evidence":["https://example.org/boil"]},"causal_links":[]}`

// newEnv returns an in-memory envelope from alice to bob.
func newEnv(t Type, payload string) *Envelope {
	pub := aliceKey.Public().(ed25519.PublicKey)
	e := &Envelope{
		Family:    t.Family(),
		MsgID:     "6f1c1a2e-8f3b-4c5d-9e7f-0a1b2c3d4e5f",
		Type:      t,
		Timestamp: t0,
		Sender:    Sender{AgentID: "alice", Fingerprint: Fingerprint(pub), Capabilities: []string{"facts"}, Pubkey: EncodePubkey(pub)},
		Receiver:  Receiver{AgentID: "bob", Fingerprint: bobFP},
		Trust:     Trust{SenderView: ViewProbing, ReceiverView: ViewProbing},
		State:     State{Presence: Focused, LRI: 12, KernelSignals: []string{}, Intent: "learn"},
		Payload:   json.RawMessage(payload),
	}
	switch t.Family() {
	case HCP:
		e.State.Human = &Human{Presence: Focused, Affect: Calm, Clarity: 80, Pressure: 20, Intent: "work",
			Consent: ConsentLimited, ConsentScope: []string{"topic:work"}, ConsentExpires: t0.Add(time.Hour)}
	case LIP:
		e.Source = &Source{URI: "https://example.org/boil", TrustTier: TierMedium, RetrievedAt: t0.Add(-time.Minute)}
	}
	return e
}

func seal(tb testing.TB, e *Envelope, k ed25519.PrivateKey) []byte {
	tb.Helper()
	b, err := Seal(e, k)
	if err != nil {
		tb.Fatalf("Seal: %v", err)
	}
	return b
}

// resign decodes wire, applies mutate to the generic document, and signs
// the result again with k, so that a test can put a validly signed
// envelope in front of any later check.
func resign(tb testing.TB, wire []byte, k ed25519.PrivateKey, mutate func(m map[string]any)) []byte {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(wire, &m); err != nil {
		tb.Fatal(err)
	}
	mutate(m)
	delete(m, "sign")
	b, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := jcs.Transform(b)
	if err != nil {
		tb.Fatal(err)
	}
	sig := ed25519.Sign(k, append([]byte(SignPrefix), c...))
	m["sign"] = map[string]any{"algo": "ed25519", "signature": base64.StdEncoding.EncodeToString(sig)}
	out, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func sub(m map[string]any, k string) map[string]any { return m[k].(map[string]any) }

// bobValidator validates as bob with the fixed clock.
func bobValidator(mod func(*Config)) *Validator {
	cfg := DefaultConfig(bobFP)
	cfg.Now = fixedNow
	if mod != nil {
		mod(&cfg)
	}
	return NewValidator(cfg)
}

func wantErr(tb testing.TB, err error, kind error, check int, path string) *Error {
	tb.Helper()
	if err == nil {
		tb.Fatalf("want %v at check %d (%s), got nil", kind, check, path)
	}
	e, ok := AsError(err)
	if !ok {
		tb.Fatalf("error %v (%T) is not *Error", err, err)
	}
	if e.Check != check || (path != "" && e.Path != path) {
		tb.Fatalf("got check %d path %q (%v), want check %d path %q", e.Check, e.Path, err, check, path)
	}
	if kind != nil && !errErrorsIs(err, kind) {
		tb.Fatalf("error %v is not %v", err, kind)
	}
	return e
}

func decodeB64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

func jcsTransform(b []byte) ([]byte, error) { return jcs.Transform(b) }

func slicesSort(s []string) { sort.Strings(s) }

// matchUUID4 reports whether s is a msg_id of the form the schemas require
// (common.json's uuid4 pattern), for tests that check generated ids.
var matchUUID4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString
