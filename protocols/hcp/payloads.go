package hcp

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// Payload structs of the HCP types (SPEC §6). Their JSON matches the
// schemas in schema/, which are registered for envelope check 9.

// Identity names the human in HCP_HELLO.
type Identity struct {
	Name string `json:"name"`
	// Fingerprint of the human key (optional; the envelope's sender block
	// carries it anyway).
	Fingerprint string `json:"fingerprint,omitempty"`
}

// Hello is the HCP_HELLO payload: who the human is, the topics consent
// covers, and safety flags the agent must respect.
type Hello struct {
	Identity     Identity `json:"identity"`
	ConsentScope []string `json:"consent_scope"`
	SafetyFlags  []string `json:"safety_flags"`
}

// Intent is the HCP_INTENT payload.
type Intent struct {
	Goal     Goal     `json:"goal"`
	Topic    string   `json:"topic"`
	Priority Priority `json:"priority"`
	Context  string   `json:"context,omitempty"`
}

// Context is the HCP_CONTEXT payload.
type Context struct {
	Topic   string   `json:"topic"`
	Context string   `json:"context"`
	Refs    []string `json:"refs,omitempty"` // msg_ids the context is about
}

// Decision is the HCP_DECISION payload. Rationale and Alternatives are
// mandatory (SPEC §6): without them a decision cannot be explained later.
type Decision struct {
	ReplyTo      string   `json:"reply_to,omitempty"`
	Topic        string   `json:"topic,omitempty"`
	Choice       string   `json:"choice"`
	Rationale    string   `json:"rationale"`
	Alternatives []string `json:"alternatives"`
}

// Feedback is the HCP_FEEDBACK payload; Satisfaction is 0–100.
type Feedback struct {
	ReplyTo      string   `json:"reply_to,omitempty"`
	Feedback     string   `json:"feedback"`
	Corrections  []string `json:"corrections"`
	Satisfaction int      `json:"satisfaction"`
}

// StateUpdate is the HCP_STATE_UPDATE payload: the human-state vector.
// Use MarshalState/ParseState to convert from and to envelope.Human.
type StateUpdate = envelope.Human

//go:embed schema/*.json
var schemaFS embed.FS

// schemaFiles maps each HCP type to its schema file.
var schemaFiles = map[envelope.Type]string{
	envelope.HCPHello:       "payload-hcp_hello.json",
	envelope.HCPIntent:      "payload-hcp_intent.json",
	envelope.HCPContext:     "payload-hcp_context.json",
	envelope.HCPDecision:    "payload-hcp_decision.json",
	envelope.HCPFeedback:    "payload-hcp_feedback.json",
	envelope.HCPStateUpdate: "payload-hcp_state_update.json",
}

// Schema returns the embedded JSON Schema of t's payload.
func Schema(t envelope.Type) ([]byte, error) {
	f, ok := schemaFiles[t]
	if !ok {
		return nil, fmt.Errorf("%w: %v is not an HCP type", ErrPayload, t)
	}
	return schemaFS.ReadFile("schema/" + f)
}

var (
	regOnce sync.Once
	regErr  error
)

func init() { _ = RegisterSchemas() }

// RegisterSchemas registers the HCP payload schemas with the envelope
// package (done once, when the package loads; calling it again returns the
// first result). The node calls it at start to surface a failure.
func RegisterSchemas() error {
	regOnce.Do(func() {
		for t, f := range schemaFiles {
			b, err := schemaFS.ReadFile("schema/" + f)
			if err == nil {
				err = envelope.RegisterPayloadSchema(t, b)
			}
			if err != nil {
				regErr = fmt.Errorf("hcp: register %s: %w", f, err)
				return
			}
		}
	})
	return regErr
}

// ErrPayload reports a payload that cannot be decoded into its Go type.
// Schema violations are envelope.ErrPayloadSchema (an *envelope.Error
// naming the field), exactly as envelope check 9 reports them.
var ErrPayload = errors.New("hcp: bad payload")

// ParsePayload validates raw against the schema of t (check 9) and decodes
// it into the matching struct: Hello, Intent, Context, Decision, Feedback
// (as pointers) or, for HCP_STATE_UPDATE, *envelope.Human (also checked by
// ValidateState).
func ParsePayload(t envelope.Type, raw []byte) (any, error) {
	if t.Family() != envelope.HCP {
		return nil, fmt.Errorf("%w: %v is not an HCP type", ErrPayload, t)
	}
	if err := RegisterSchemas(); err != nil {
		return nil, err
	}
	if err := envelope.ValidatePayload(t, raw); err != nil {
		return nil, err
	}
	var v any
	switch t {
	case envelope.HCPHello:
		v = new(Hello)
	case envelope.HCPIntent:
		v = new(Intent)
	case envelope.HCPContext:
		v = new(Context)
	case envelope.HCPDecision:
		v = new(Decision)
	case envelope.HCPFeedback:
		v = new(Feedback)
	case envelope.HCPStateUpdate:
		h, err := ParseState(raw)
		if err != nil {
			return nil, err
		}
		return &h, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return nil, fmt.Errorf("%w: %v: %w", ErrPayload, t, err)
	}
	return v, nil
}
