package hcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// ErrInvalidState reports a human-state vector that is malformed, out of
// range or uses an unknown enum value. The concrete error is a *FieldError.
var ErrInvalidState = errors.New("hcp: invalid human state")

// FieldError names the field of the human-state vector that is wrong and
// why. It unwraps to ErrInvalidState.
type FieldError struct {
	Field  string // e.g. "clarity", "consent_scope[2]"
	Reason string // e.g. "must be within [0,100] (got 120)"
}

// Error formats as "hcp: invalid human state: <field>: <reason>".
func (e *FieldError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%v: %s", ErrInvalidState, e.Reason)
	}
	return fmt.Sprintf("%v: %s: %s", ErrInvalidState, e.Field, e.Reason)
}

// Unwrap returns ErrInvalidState.
func (e *FieldError) Unwrap() error { return ErrInvalidState }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ValidateState checks every field of a human-state vector: enums defined,
// clarity and pressure within [0,100], intent and scope within bounds.
func ValidateState(h envelope.Human) error {
	if h.Presence < envelope.Focused || h.Presence > envelope.Engaged {
		return fieldErr("presence", "must be focused|diffuse|overloaded|engaged")
	}
	if h.Affect < envelope.Calm || h.Affect > envelope.Neutral {
		return fieldErr("affect", "must be calm|tense|anxious|energized|neutral")
	}
	if h.Clarity < 0 || h.Clarity > 100 {
		return fieldErr("clarity", "must be within [0,100] (got %d)", h.Clarity)
	}
	if h.Pressure < 0 || h.Pressure > 100 {
		return fieldErr("pressure", "must be within [0,100] (got %d)", h.Pressure)
	}
	if utf8.RuneCountInString(h.Intent) > MaxIntentLen || !utf8.ValidString(h.Intent) {
		return fieldErr("intent", "must be valid UTF-8 of at most %d characters", MaxIntentLen)
	}
	if h.Consent < envelope.ConsentGranted || h.Consent > envelope.ConsentRevoked {
		return fieldErr("consent", "must be granted|limited|revoked")
	}
	if len(h.ConsentScope) > MaxScope {
		return fieldErr("consent_scope", "at most %d entries (got %d)", MaxScope, len(h.ConsentScope))
	}
	for i, s := range h.ConsentScope {
		if n := utf8.RuneCountInString(s); n == 0 || n > MaxLabelLen || !utf8.ValidString(s) {
			return fieldErr("consent_scope["+strconv.Itoa(i)+"]", "must be 1..%d characters of valid UTF-8", MaxLabelLen)
		}
	}
	return nil
}

// wireState is the JSON form with loose field types, so that every problem
// can be reported against its field rather than as a generic decode error.
type wireState struct {
	Presence       *string         `json:"presence"`
	Affect         *string         `json:"affect"`
	Clarity        json.RawMessage `json:"clarity"`
	Pressure       json.RawMessage `json:"pressure"`
	Intent         *string         `json:"intent"`
	Consent        *string         `json:"consent"`
	ConsentScope   []string        `json:"consent_scope"`
	ConsentExpires *string         `json:"consent_expires"`
}

// ParseState parses a human-state vector (the HCP_STATE_UPDATE payload and
// state.human of HCP envelopes) strictly: unknown members, trailing data,
// missing required members, unknown enum values, non-integer or
// out-of-range clarity/pressure and a malformed consent_expires are all
// ErrInvalidState errors naming the field.
func ParseState(b []byte) (envelope.Human, error) {
	var w wireState
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return envelope.Human{}, fieldErr(te.Field, "wrong JSON type %s", te.Value)
		}
		return envelope.Human{}, fieldErr("", "not a JSON object of the state vector: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return envelope.Human{}, fieldErr("", "trailing data after the object")
	}
	var h envelope.Human
	var err error
	if h.Presence, err = enumField[envelope.Presence]("presence", w.Presence); err != nil {
		return envelope.Human{}, err
	}
	if h.Affect, err = enumField[envelope.Affect]("affect", w.Affect); err != nil {
		return envelope.Human{}, err
	}
	if h.Clarity, err = percentField("clarity", w.Clarity); err != nil {
		return envelope.Human{}, err
	}
	if h.Pressure, err = percentField("pressure", w.Pressure); err != nil {
		return envelope.Human{}, err
	}
	if w.Intent == nil {
		return envelope.Human{}, fieldErr("intent", "required")
	}
	h.Intent = *w.Intent
	if h.Consent, err = enumField[envelope.Consent]("consent", w.Consent); err != nil {
		return envelope.Human{}, err
	}
	if w.ConsentScope == nil {
		return envelope.Human{}, fieldErr("consent_scope", "required (may be empty)")
	}
	h.ConsentScope = w.ConsentScope
	if w.ConsentExpires != nil {
		t, err := time.Parse(time.RFC3339Nano, *w.ConsentExpires)
		if err != nil {
			return envelope.Human{}, fieldErr("consent_expires", "must be an RFC 3339 timestamp: %v", err)
		}
		h.ConsentExpires = t.UTC()
	}
	return h, ValidateState(h)
}

// MarshalState encodes a human-state vector in its wire form after
// validating it.
func MarshalState(h envelope.Human) ([]byte, error) {
	if err := ValidateState(h); err != nil {
		return nil, err
	}
	w := struct {
		Presence       envelope.Presence `json:"presence"`
		Affect         envelope.Affect   `json:"affect"`
		Clarity        int               `json:"clarity"`
		Pressure       int               `json:"pressure"`
		Intent         string            `json:"intent"`
		Consent        envelope.Consent  `json:"consent"`
		ConsentScope   []string          `json:"consent_scope"`
		ConsentExpires string            `json:"consent_expires,omitempty"`
	}{h.Presence, h.Affect, h.Clarity, h.Pressure, h.Intent, h.Consent, h.ConsentScope, ""}
	if w.ConsentScope == nil {
		w.ConsentScope = []string{}
	}
	if !h.ConsentExpires.IsZero() {
		w.ConsentExpires = envelope.FormatTime(h.ConsentExpires)
	}
	return json.Marshal(w)
}

type textEnum interface {
	~uint8
	String() string
}

func enumField[T textEnum](field string, s *string) (T, error) {
	if s == nil {
		return 0, fieldErr(field, "required")
	}
	var v T
	u, ok := any(&v).(interface{ UnmarshalText([]byte) error })
	if !ok {
		return 0, fieldErr(field, "internal: not a text enum")
	}
	if err := u.UnmarshalText([]byte(*s)); err != nil {
		return 0, fieldErr(field, "%v", err)
	}
	return v, nil
}

func percentField(field string, raw json.RawMessage) (int, error) {
	if raw == nil {
		return 0, fieldErr(field, "required")
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		// Accept 50.0 the way JSON Schema's "integer" does, nothing else.
		f, ferr := strconv.ParseFloat(string(raw), 64)
		switch {
		case ferr != nil && !errors.Is(ferr, strconv.ErrRange):
			return 0, fieldErr(field, "must be an integer within [0,100] (got %s)", clip(string(raw)))
		case f < 0 || f > 100 || ferr != nil:
			return 0, fieldErr(field, "must be within [0,100] (got %s)", clip(string(raw)))
		case f != float64(int64(f)):
			return 0, fieldErr(field, "must be an integer (got %s)", clip(string(raw)))
		}
		n = int64(f)
	}
	if n < 0 || n > 100 {
		return 0, fieldErr(field, "must be within [0,100] (got %d)", n)
	}
	return int(n), nil
}

func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
