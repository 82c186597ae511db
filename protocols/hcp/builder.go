package hcp

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// ErrBuild reports an HCP envelope that could not be built: no key, a
// payload or human state that fails validation, or failing randomness.
var ErrBuild = errors.New("hcp: cannot build envelope")

// Builder signs HCP envelopes as the human. Key is the human key
// (LoadOrCreateHumanKey), never the node key. Every input that makes output
// vary is a field, so with fixed inputs the bytes are reproducible. Not
// safe for concurrent use unless Rand is (crypto/rand is).
type Builder struct {
	// Key is the human's Ed25519 key.
	Key ed25519.PrivateKey
	// AgentID is sender.agent_id, e.g. "human@<node agent id>".
	AgentID string
	// Now is the clock for timestamps. Default time.Now.
	Now func() time.Time
	// Rand supplies msg_ids. Default crypto/rand.
	Rand io.Reader
	// Human returns the current human-state vector (state.human). Required.
	Human func() envelope.Human
}

// To addresses an HCP envelope: the human's own node.
type To struct {
	AgentID     string
	Fingerprint string
}

// Message is a built envelope and its wire bytes.
type Message struct {
	Env  *envelope.Envelope
	Wire []byte
}

// Fingerprint returns the human key's fingerprint (empty without a key).
func (b *Builder) Fingerprint() string {
	if len(b.Key) != ed25519.PrivateKeySize {
		return ""
	}
	return envelope.Fingerprint(b.Key.Public().(ed25519.PublicKey))
}

// Build signs an HCP envelope of type t carrying payload. The payload is
// checked against t's schema and the human state with ValidateState before
// signing, so a Builder never emits what a Validator rejects.
func (b *Builder) Build(t envelope.Type, to To, payload any) (*Message, error) {
	// The Signer refuses other families and a missing key too; saying
	// which key is missing helps the operator.
	if len(b.Key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: no ed25519 human key", ErrBuild)
	}
	if n := len(b.AgentID); n == 0 || n > 128 {
		return nil, fmt.Errorf("%w: sender.agent_id: must be 1..128 bytes", ErrBuild)
	}
	if b.Human == nil {
		return nil, fmt.Errorf("%w: no human state source", ErrBuild)
	}
	if err := RegisterSchemas(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBuild, err)
	}
	h := b.Human()
	if err := ValidateState(h); err != nil {
		return nil, fmt.Errorf("%w: state.human: %w", ErrBuild, err)
	}
	// A human has no load index; state.human carries pressure.
	st := envelope.State{Presence: h.Presence, LRI: 0, KernelSignals: []string{}, Intent: h.Intent, Human: &h}
	s := envelope.Signer{Family: envelope.HCP, Key: b.Key, AgentID: b.AgentID, Capabilities: []string{"human"},
		Now: b.Now, Rand: b.Rand, State: func() envelope.State { return st }}
	env, wire, err := s.Sign(envelope.Draft{
		Type:     t,
		Receiver: envelope.Receiver{AgentID: to.AgentID, Fingerprint: to.Fingerprint},
		// The human and their own node trust each other by construction;
		// the views are informational (gating uses local state).
		Trust:   envelope.Trust{SenderView: envelope.ViewTrusted, ReceiverView: envelope.ViewTrusted},
		Payload: payload,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBuild, err)
	}
	return &Message{Env: env, Wire: wire}, nil
}

// Hello builds an HCP_HELLO.
func (b *Builder) Hello(to To, p Hello) (*Message, error) {
	p.ConsentScope, p.SafetyFlags = nz(p.ConsentScope), nz(p.SafetyFlags)
	return b.Build(envelope.HCPHello, to, p)
}

// Intent builds an HCP_INTENT.
func (b *Builder) Intent(to To, p Intent) (*Message, error) {
	return b.Build(envelope.HCPIntent, to, p)
}

// Context builds an HCP_CONTEXT.
func (b *Builder) Context(to To, p Context) (*Message, error) {
	return b.Build(envelope.HCPContext, to, p)
}

// Decision builds an HCP_DECISION (rationale and alternatives required).
func (b *Builder) Decision(to To, p Decision) (*Message, error) {
	return b.Build(envelope.HCPDecision, to, p)
}

// Feedback builds an HCP_FEEDBACK.
func (b *Builder) Feedback(to To, p Feedback) (*Message, error) {
	p.Corrections = nz(p.Corrections)
	return b.Build(envelope.HCPFeedback, to, p)
}

// StateUpdate builds an HCP_STATE_UPDATE carrying h (which is also what
// state.human will say once the Builder's Human source reports it).
func (b *Builder) StateUpdate(to To, h envelope.Human) (*Message, error) {
	raw, err := MarshalState(h)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBuild, err)
	}
	return b.Build(envelope.HCPStateUpdate, to, json.RawMessage(raw))
}

func nz(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
