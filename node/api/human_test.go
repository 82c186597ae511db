package api

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/hcp"
)

// FuzzHumanAPIBodies feeds arbitrary bodies to the parsers of the human
// endpoints: nothing panics, every refusal is a 4xx API error, and every
// accepted body carries valid enums and builds a signed envelope or fails
// with an error the API reports as 400.
func FuzzHumanAPIBodies(f *testing.F) {
	for _, s := range []string{
		`{"goal":"request","topic":"work","priority":"high","context":"c"}`,
		`{"goal":"resolve_conflict","topic":"work"}`,
		`{"goal":"conquer","topic":"work"}`,
		`{"consent":"limited","scope":["topic:work"],"expires":"2026-11-25T10:00:00Z"}`,
		`{"consent":"granted","expires":"tomorrow"}`,
		`{"choice":"approve","rationale":"r","alternatives":["a"]}`,
		`{"choice":"approve"}`,
		`{"choice":"maybe","rationale":"r","alternatives":[]}`,
		`{"topic":""}`, `{}`, `[]`, `null`, `{"goal":1}`, `{"goal":"request"} x`, ``, `{"extra":true}`,
	} {
		f.Add([]byte(s))
	}
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	b := &hcp.Builder{Key: key, AgentID: "human@fuzz", Human: func() envelope.Human {
		return envelope.Human{Presence: envelope.Diffuse, Affect: envelope.Calm, Clarity: 50, Pressure: 50,
			Consent: envelope.ConsentGranted, ConsentScope: []string{}}
	}}
	to := hcp.To{AgentID: "fuzz", Fingerprint: strings.Repeat("0", 64)}
	refused := func(t *testing.T, what string, err error) {
		t.Helper()
		var ae *Error
		if !errors.As(mapErr(err), &ae) || ae.Status < 400 || ae.Status >= 500 {
			t.Fatalf("%s: %v not reported as a 4xx API error (%+v)", what, err, ae)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req := func() *http.Request { return httptest.NewRequest("POST", "/", bytes.NewReader(raw)) }
		if in, err := parseIntentBody(req()); err != nil {
			refused(t, "intent body", err)
		} else {
			if in.Goal < hcp.GoalAlign || in.Goal > hcp.GoalResolveConflict || in.Priority < hcp.PriorityLow || in.Priority > hcp.PrioritySafety {
				t.Fatalf("accepted invalid enums: %+v", in)
			}
			if _, err := b.Intent(to, in); err != nil {
				refused(t, "intent build", err)
			}
		}
		if c, _, _, err := parseConsentBody(req()); err != nil {
			refused(t, "consent body", err)
		} else if c < envelope.ConsentGranted || c > envelope.ConsentRevoked {
			t.Fatalf("accepted consent %d", c)
		}
		if d, err := parseDecisionBody(req()); err != nil {
			refused(t, "decision body", err)
		} else {
			if d.Choice != "approve" && d.Choice != "reject" {
				t.Fatalf("accepted choice %q", d.Choice)
			}
			if _, err := b.Decision(to, d); err != nil {
				refused(t, "decision build", err)
			}
		}
	})
}
