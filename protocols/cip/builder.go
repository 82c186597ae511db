package cip

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// ErrBuild reports an envelope that could not be built: bad key, payload
// that does not satisfy its schema, or a failing randomness source.
var ErrBuild = errors.New("cip: cannot build envelope")

// Builder produces signed CIP envelopes for one local identity. Every input
// that would make output vary — key, clock, randomness, state — is a field,
// so with fixed inputs the output is byte-for-byte reproducible. A Builder
// is not safe for concurrent use when Rand is not (crypto/rand is).
type Builder struct {
	// Key signs envelopes; it is the node's libp2p Ed25519 key.
	Key ed25519.PrivateKey
	// AgentID is sender.agent_id.
	AgentID string
	// Capabilities is sender.capabilities (and HELLO.capabilities).
	Capabilities []string
	// Now is the clock for timestamps. Default time.Now.
	Now func() time.Time
	// Rand supplies nonces and challenges (and msg_ids when IDs is nil).
	// Default crypto/rand.
	Rand io.Reader
	// IDs supplies the 16 random bytes of each msg_id (UUID v4). Default:
	// Rand. Separate so a test can fix ids without fixing challenges.
	IDs io.Reader
	// State returns the sender's state block. Default: diffuse, LRI 0.
	State func() envelope.State
}

// Peer addresses an envelope. Fingerprint is the receiver's fingerprint, or
// envelope.Broadcast for gossip.
type Peer struct {
	AgentID     string
	Fingerprint string
	// View is our trust state for the peer (trust.receiver_view).
	// Zero means unknown.
	View envelope.TrustView
	// TheirView is what we believe the peer thinks of us
	// (trust.sender_view). Zero means untrusted.
	TheirView envelope.TrustView
}

// Broadcast addresses gossip (mesh-wide) envelopes.
var Broadcast = Peer{Fingerprint: envelope.Broadcast}

// Message is a built envelope and its wire bytes.
type Message struct {
	Env  *envelope.Envelope
	Wire []byte
}

// PublicKey returns the builder's public key.
func (b *Builder) PublicKey() ed25519.PublicKey {
	if len(b.Key) != ed25519.PrivateKeySize {
		return nil
	}
	return b.Key.Public().(ed25519.PublicKey)
}

// Fingerprint returns the builder's fingerprint.
func (b *Builder) Fingerprint() string { return envelope.Fingerprint(b.PublicKey()) }

func (b *Builder) rand() io.Reader {
	if b.Rand == nil {
		return rand.Reader
	}
	return b.Rand
}

// random returns n bytes from the builder's randomness source.
func (b *Builder) random(n int) ([]byte, error) {
	out := make([]byte, n)
	if _, err := io.ReadFull(b.rand(), out); err != nil {
		return nil, fmt.Errorf("%w: randomness: %w", ErrBuild, err)
	}
	return out, nil
}

// signer is the envelope.Signer for the builder's current fields; msg_ids
// come from IDs, or Rand when IDs is nil.
func (b *Builder) signer() envelope.Signer {
	ids := b.IDs
	if ids == nil {
		ids = b.rand()
	}
	return envelope.Signer{Family: envelope.CIP, Key: b.Key, AgentID: b.AgentID, Capabilities: b.Capabilities,
		Now: b.Now, Rand: ids, State: b.State}
}

// Build signs an envelope of type t to peer to carrying payload (any value
// that marshals to a JSON object). The payload is checked against the
// type's schema first, so a Builder never emits what a Validator rejects
// at check 9.
func (b *Builder) Build(t envelope.Type, to Peer, payload any) (*Message, error) {
	s := b.signer()
	env, wire, err := s.Sign(envelope.Draft{
		Type:     t,
		Receiver: envelope.Receiver{AgentID: to.AgentID, Fingerprint: to.Fingerprint},
		Trust:    envelope.TrustFor(to.View, to.TheirView),
		Payload:  payload,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBuild, err)
	}
	return &Message{Env: env, Wire: wire}, nil
}

// NewHello returns a HELLO payload with a fresh nonce and challenge from
// the builder's randomness, advertising CIP v1.0 and the builder's
// capabilities.
func (b *Builder) NewHello(f Features) (Hello, error) {
	nonce, err := b.random(NonceSize)
	if err != nil {
		return Hello{}, err
	}
	ch, err := b.random(ChallengeSize)
	if err != nil {
		return Hello{}, err
	}
	return Hello{
		Protocols:    []string{ProtocolID},
		Capabilities: nz(b.Capabilities),
		SessionNonce: base64.StdEncoding.EncodeToString(nonce),
		Challenge:    base64.StdEncoding.EncodeToString(ch),
		Features:     f,
	}, nil
}

// Hello builds a HELLO.
func (b *Builder) Hello(to Peer, p Hello) (*Message, error) {
	p.Protocols, p.Capabilities = nz(p.Protocols), nz(p.Capabilities)
	return b.Build(envelope.Hello, to, p)
}

// Verify builds a VERIFY.
func (b *Builder) Verify(to Peer, p VerifyPayload) (*Message, error) {
	return b.Build(envelope.Verify, to, p)
}

// Intent builds an INTENT request.
func (b *Builder) Intent(to Peer, p IntentRequest) (*Message, error) {
	return b.Build(envelope.Intent, to, p)
}

// IntentReply builds an INTENT reply.
func (b *Builder) IntentReply(to Peer, p IntentReply) (*Message, error) {
	return b.Build(envelope.Intent, to, p)
}

// FactPropose builds a FACT_PROPOSE, filling fact_id.
func (b *Builder) FactPropose(to Peer, p FactPropose) (*Message, error) {
	id, err := envelope.FactID(p.Fact.Domain, p.Fact.Statement)
	if err != nil {
		return nil, fmt.Errorf("%w: payload.fact: %w", ErrBuild, err)
	}
	p.FactID = id
	p.Fact.Sources, p.CausalLinks, p.DMPTrace = nz(p.Fact.Sources), nz(p.CausalLinks), p.DMPTrace.normalised()
	return b.Build(envelope.FactPropose, to, p)
}

// FactChallenge builds a FACT_CHALLENGE.
func (b *Builder) FactChallenge(to Peer, p FactChallenge) (*Message, error) {
	return b.Build(envelope.FactChallenge, to, p)
}

// FactConfirm builds a FACT_CONFIRM (decision "confirm").
func (b *Builder) FactConfirm(to Peer, p FactVote) (*Message, error) {
	p.Decision = "confirm"
	return b.Build(envelope.FactConfirm, to, p)
}

// FactReject builds a FACT_REJECT (decision "reject").
func (b *Builder) FactReject(to Peer, p FactVote) (*Message, error) {
	p.Decision = "reject"
	return b.Build(envelope.FactReject, to, p)
}

// DecisionShare builds a DECISION_SHARE.
func (b *Builder) DecisionShare(to Peer, p DecisionShare) (*Message, error) {
	p.DMPTrace = p.DMPTrace.normalised()
	return b.Build(envelope.DecisionShare, to, p)
}

// StateUpdate builds a STATE_UPDATE.
func (b *Builder) StateUpdate(to Peer, p StateUpdatePayload) (*Message, error) {
	p.KernelSignals = nz(p.KernelSignals)
	return b.Build(envelope.StateUpdate, to, p)
}

// TrustAttest builds a TRUST_ATTEST (usually to Broadcast).
func (b *Builder) TrustAttest(to Peer, p TrustAttestPayload) (*Message, error) {
	if p.Evidence == nil {
		p.Evidence = []AttestEvidence{}
	}
	return b.Build(envelope.TrustAttest, to, p)
}
