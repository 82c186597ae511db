package hcp

import (
	"errors"
	"strings"
	"testing"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

func TestParseStateFieldErrors(t *testing.T) {
	base := validPayloads[envelope.HCPStateUpdate]
	cases := []struct {
		name, from, to, field string
	}{
		{"clarity over", `"clarity":70`, `"clarity":101`, "clarity"},
		{"clarity negative", `"clarity":70`, `"clarity":-1`, "clarity"},
		{"clarity fractional", `"clarity":70`, `"clarity":70.5`, "clarity"},
		{"clarity huge", `"clarity":70`, `"clarity":1e400`, "clarity"},
		{"clarity string", `"clarity":70`, `"clarity":"70"`, "clarity"},
		{"pressure over", `"pressure":40`, `"pressure":250`, "pressure"},
		{"presence unknown", `"presence":"focused"`, `"presence":"asleep"`, "presence"},
		{"affect unknown", `"affect":"calm"`, `"affect":"angry"`, "affect"},
		{"consent unknown", `"consent":"limited"`, `"consent":"maybe"`, "consent"},
		{"consent missing", `"consent":"limited",`, ``, "consent"},
		{"scope missing", `"consent_scope":["topic:work"],`, ``, "consent_scope"},
		{"scope empty label", `"consent_scope":["topic:work"]`, `"consent_scope":[""]`, "consent_scope[0]"},
		{"scope wrong type", `"consent_scope":["topic:work"]`, `"consent_scope":"topic:work"`, "consent_scope"},
		{"expiry malformed", `"2026-11-25T09:00:00Z"`, `"tomorrow"`, "consent_expires"},
		{"intent too long", `"intent":"write"`, `"intent":"` + strings.Repeat("x", MaxIntentLen+1) + `"`, "intent"},
		{"unknown member", `"intent":"write"`, `"intent":"write","mood":"ok"`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := strings.Replace(base, c.from, c.to, 1)
			if raw == base {
				t.Fatal("test case did not change the input")
			}
			_, err := ParseState([]byte(raw))
			var fe *FieldError
			if !errors.Is(err, ErrInvalidState) || !errors.As(err, &fe) {
				t.Fatalf("err = %v, want *FieldError", err)
			}
			if fe.Field != c.field {
				t.Fatalf("field = %q (%v), want %q", fe.Field, err, c.field)
			}
		})
	}
	if _, err := ParseState([]byte(base + ` {}`)); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("trailing data: err = %v", err)
	}
}

func TestStateRoundTrip(t *testing.T) {
	h, err := ParseState([]byte(validPayloads[envelope.HCPStateUpdate]))
	if err != nil {
		t.Fatal(err)
	}
	b, err := MarshalState(h)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := ParseState(b)
	if err != nil {
		t.Fatal(err)
	}
	if h2.Clarity != h.Clarity || h2.Consent != h.Consent || !h2.ConsentExpires.Equal(h.ConsentExpires) || h2.ConsentScope[0] != "topic:work" {
		t.Fatalf("round trip changed the state: %+v vs %+v", h, h2)
	}
	// The wire form satisfies the registered schema too.
	if err := envelope.ValidatePayload(envelope.HCPStateUpdate, b); err != nil {
		t.Fatal(err)
	}
	if _, err := MarshalState(envelope.Human{}); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("zero state: err = %v", err)
	}
}
