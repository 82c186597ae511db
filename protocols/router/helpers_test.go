package router

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/trust"
)

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

func testKey(seed string) ed25519.PrivateKey {
	s := sha256.Sum256([]byte(seed))
	return ed25519.NewKeyFromSeed(s[:])
}

func fpOf(k ed25519.PrivateKey) string { return envelope.Fingerprint(k.Public().(ed25519.PublicKey)) }

var (
	peerKey  = testKey("peer")
	relayKey = testKey("relay")
	selfKey  = testKey("self")
	fpPeer   = fpOf(peerKey)
	fpRelay  = fpOf(relayKey)
	fpSelf   = fpOf(selfKey)
)

func sha(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

var sig64 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="

// payloads has one payload per type that passes the envelope package's
// built-in CIP schemas; HCP and LIP schemas are registered by their own
// packages, which this test does not import, so "{}" passes there.
var payloads = map[envelope.Type]string{
	envelope.Hello:         `{"protocols":["/web4/cip/1.0"],"capabilities":["facts"],"session_nonce":"AAAAAAAAAAAAAAAAAAAAAA==","challenge":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","features":{"supports_mesh":true,"supports_multiplex":true}}`,
	envelope.Verify:        `{"challenge_response":"` + sig64 + `"}`,
	envelope.Intent:        `{"goal":"verify_knowledge","topic":"physics","priority":"high","context":"why"}`,
	envelope.FactPropose:   `{"fact":{"statement":"s","domain":"d","confidence":0.9,"sources":[],"context":"c"},"dmp_trace":{"decision_id":"d-1","steps":[],"counterfactuals":[],"evidence":[]},"causal_links":[]}`,
	envelope.FactChallenge: `{"fact_ref":"` + sha("x") + `","reason":"insufficient_evidence","notes":""}`,
	envelope.FactConfirm:   `{"fact_ref":"` + sha("x") + `","decision":"confirm","confidence":1,"notes":"ok"}`,
	envelope.FactReject:    `{"fact_ref":"` + sha("x") + `","decision":"reject","confidence":0,"notes":"no"}`,
	envelope.DecisionShare: `{"decision":{"choice":"a","outcome":"good","context":"c"},"dmp_trace":{"decision_id":"d","steps":[],"counterfactuals":["b"],"evidence":[]},"retrospective":"fine"}`,
	envelope.StateUpdate:   `{"presence":"engaged","lri":55,"trust_state":"probing","kernel_signals":[],"intent":"learn"}`,
	envelope.TrustAttest:   `{"subject":"` + sha("p") + `","view":"blacklisted","reason":"equivocation","evidence":[{"msg_id":"6f1c1a2e-8f3b-4c5d-9e7f-0a1b2c3d4e5f"}]}`,
}

func allTypes() []envelope.Type {
	var all []envelope.Type
	for _, f := range []envelope.Family{envelope.CIP, envelope.HCP, envelope.LIP} {
		all = append(all, envelope.Types(f)...)
	}
	return all
}

var msgSeq atomic.Uint64

// sealed returns the wire bytes of an envelope of type typ signed by k and
// addressed to this node (fpSelf), with a fresh msg_id.
func sealed(tb testing.TB, typ envelope.Type, k ed25519.PrivateKey) []byte {
	tb.Helper()
	pub := k.Public().(ed25519.PublicKey)
	p, ok := payloads[typ]
	if !ok {
		p = `{}`
	}
	n := msgSeq.Add(1)
	e := &envelope.Envelope{
		Family:    typ.Family(),
		MsgID:     fmt.Sprintf("6f1c1a2e-8f3b-4c5d-9e7f-%012x", n),
		Type:      typ,
		Timestamp: t0,
		Sender:    envelope.Sender{AgentID: "a", Fingerprint: envelope.Fingerprint(pub), Capabilities: []string{}, Pubkey: envelope.EncodePubkey(pub)},
		Receiver:  envelope.Receiver{AgentID: "self", Fingerprint: fpSelf},
		Trust:     envelope.Trust{SenderView: envelope.ViewProbing, ReceiverView: envelope.ViewProbing},
		State:     envelope.State{Presence: envelope.Focused, KernelSignals: []string{}},
		Payload:   json.RawMessage(p),
	}
	switch typ.Family() {
	case envelope.HCP:
		e.State.Human = &envelope.Human{Presence: envelope.Focused, Affect: envelope.Calm, Clarity: 80, Pressure: 20,
			Consent: envelope.ConsentGranted, ConsentScope: []string{}}
	case envelope.LIP:
		e.Source = &envelope.Source{URI: "https://example.org/x", TrustTier: envelope.TierMedium, RetrievedAt: t0.Add(-time.Minute)}
	}
	b, err := envelope.Seal(e, k)
	if err != nil {
		tb.Fatalf("seal %s: %v", typ, err)
	}
	return b
}

// validator validates as this node (fpSelf) with policy as check 8.
func validator(policy func(*envelope.Envelope) error) *envelope.Validator {
	return envelope.NewValidator(envelope.Config{Now: func() time.Time { return t0 }, LocalFingerprint: fpSelf, Policy: policy})
}

// verified returns a validated envelope of type typ signed by k (no gate).
func verified(tb testing.TB, typ envelope.Type, k ed25519.PrivateKey) *envelope.Envelope {
	tb.Helper()
	env, err := validator(nil).Validate(sealed(tb, typ, k))
	if err != nil {
		tb.Fatalf("validate %s: %v", typ, err)
	}
	return env
}

// fixedTrust is a TrustSource with fixed answers that counts its lookups.
type fixedTrust struct {
	states  map[string]trust.State
	cooled  map[string]bool
	lookups *atomic.Int64
}

func (f fixedTrust) Standing(fp string) (trust.State, bool) {
	if f.lookups != nil {
		f.lookups.Add(1)
	}
	st, ok := f.states[fp]
	if !ok {
		return trust.Unknown, true
	}
	c, ok := f.cooled[fp]
	if !ok {
		c = true
	}
	return st, c
}
