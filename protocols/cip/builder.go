package cip

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
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

func (b *Builder) now() time.Time {
	if b.Now == nil {
		return time.Now()
	}
	return b.Now()
}

func (b *Builder) rand() io.Reader {
	if b.Rand == nil {
		return rand.Reader
	}
	return b.Rand
}

// random returns n bytes from the builder's randomness source.
func (b *Builder) random(n int) ([]byte, error) { return readN(b.rand(), n) }

func readN(r io.Reader, n int) ([]byte, error) {
	out := make([]byte, n)
	if _, err := io.ReadFull(r, out); err != nil {
		return nil, fmt.Errorf("%w: randomness: %w", ErrBuild, err)
	}
	return out, nil
}

// newMsgID returns a UUID v4 drawn from the builder's randomness source.
func (b *Builder) newMsgID() (string, error) {
	src := b.IDs
	if src == nil {
		src = b.rand()
	}
	u, err := readN(src, 16)
	if err != nil {
		return "", err
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(u)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], nil
}

// Build signs an envelope of type t to peer to carrying payload (any value
// that marshals to a JSON object). The payload is checked against the
// type's schema first, so a Builder never emits what a Validator rejects
// at check 9.
func (b *Builder) Build(t envelope.Type, to Peer, payload any) (*Message, error) {
	if t.Family() != envelope.CIP {
		return nil, fmt.Errorf("%w: %v is not a CIP type", ErrBuild, t)
	}
	pub := b.PublicKey()
	if pub == nil {
		return nil, fmt.Errorf("%w: no ed25519 private key", ErrBuild)
	}
	raw, err := envelope.EncodePayload(t, payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBuild, err)
	}
	id, err := b.newMsgID()
	if err != nil {
		return nil, err
	}
	st := envelope.State{Presence: envelope.Diffuse, KernelSignals: []string{}}
	if b.State != nil {
		st = b.State()
	}
	env := &envelope.Envelope{
		Family:    envelope.CIP,
		MsgID:     id,
		Type:      t,
		Timestamp: b.now().UTC(),
		Sender: envelope.Sender{
			AgentID: b.AgentID, Fingerprint: envelope.Fingerprint(pub),
			Capabilities: nz(b.Capabilities), Pubkey: envelope.EncodePubkey(pub),
		},
		Receiver: envelope.Receiver{AgentID: to.AgentID, Fingerprint: to.Fingerprint},
		Trust:    envelope.TrustFor(to.View, to.TheirView),
		State:    st,
		Payload:  raw,
	}
	wire, err := envelope.Seal(env, b.Key)
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
