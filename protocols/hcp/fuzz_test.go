package hcp

import (
	"errors"
	"testing"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

func FuzzParseState(f *testing.F) {
	f.Add([]byte(validPayloads[envelope.HCPStateUpdate]))
	f.Add([]byte(`{"presence":"overloaded","affect":"anxious","clarity":0,"pressure":100,"intent":"","consent":"revoked","consent_scope":[]}`))
	f.Add([]byte(`{"clarity":1e999}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseState(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidState) {
				t.Fatalf("error not ErrInvalidState: %v", err)
			}
			return
		}
		// Whatever parses validates, and survives a round trip unchanged.
		if err := ValidateState(h); err != nil {
			t.Fatalf("parsed state does not validate: %v", err)
		}
		out, err := MarshalState(h)
		if err != nil {
			t.Fatal(err)
		}
		h2, err := ParseState(out)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if h2.Clarity != h.Clarity || h2.Pressure != h.Pressure || h2.Consent != h.Consent || h2.Intent != h.Intent || len(h2.ConsentScope) != len(h.ConsentScope) {
			t.Fatalf("round trip changed state: %+v → %+v", h, h2)
		}
	})
}

func FuzzParsePayload(f *testing.F) {
	for typ, raw := range validPayloads {
		f.Add(uint8(typ), []byte(raw))
	}
	f.Add(uint8(envelope.HCPDecision), []byte(`{"choice":"x","alternatives":["y"]}`))
	f.Add(uint8(envelope.HCPFeedback), []byte(`{"feedback":"x","corrections":[],"satisfaction":-1}`))
	f.Fuzz(func(t *testing.T, typ uint8, raw []byte) {
		tt := envelope.Type(typ)
		v, err := ParsePayload(tt, raw)
		if err != nil {
			if !errors.Is(err, envelope.ErrPayloadSchema) && !errors.Is(err, ErrPayload) && !errors.Is(err, ErrInvalidState) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if tt.Family() != envelope.HCP || v == nil {
			t.Fatalf("accepted %v", tt)
		}
		if d, ok := v.(*Decision); ok && (d.Rationale == "" || len(d.Alternatives) == 0) {
			t.Fatalf("decision without rationale/alternatives accepted: %+v", d)
		}
		if fb, ok := v.(*Feedback); ok && (fb.Satisfaction < 0 || fb.Satisfaction > 100) {
			t.Fatalf("satisfaction out of range accepted: %d", fb.Satisfaction)
		}
	})
}
