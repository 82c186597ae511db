package envelope

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"time"
)

// Signer stamps and signs envelopes of one family for one identity: it
// draws the msg_id, reads the clock, fills the sender block from its key
// and checks the payload against its schema, then seals. The protocol
// builders (cip.Builder, hcp.Builder, lip.Builder) are typed wrappers that
// decide the rest of an envelope — receiver, trust, source, payload — and
// hand it over as a Draft.
//
// Every input that makes the output vary is a field, so with a fixed key,
// clock, randomness and state the bytes are reproducible (the golden
// handshake transcript depends on it). Each Sign reads 16 bytes from Rand,
// then calls State once and Now once, in that order, and only after the
// draft passed its checks: a refused draft consumes no randomness. A Signer is not safe for concurrent use unless
// Rand and State are (crypto/rand is).
type Signer struct {
	// Family is the only family this Signer signs (envelope.Family, the
	// version member).
	Family Family
	// Key signs and names the sender (fingerprint, pubkey).
	Key ed25519.PrivateKey
	// AgentID is sender.agent_id.
	AgentID string
	// Capabilities is sender.capabilities; nil is written as [].
	Capabilities []string
	// Now is the clock for timestamps. Default time.Now.
	Now func() time.Time
	// Rand supplies the 16 random bytes of each msg_id (UUID v4). Default
	// crypto/rand.
	Rand io.Reader
	// State returns the sender's state block. Default: diffuse, LRI 0.
	State func() State
}

// Draft is the part of an envelope its protocol decides; Sign fills the
// rest (family, msg_id, timestamp, sender, state, sign).
type Draft struct {
	Type     Type
	Receiver Receiver
	Trust    Trust
	// Source is the provenance block (LIP only; nil otherwise).
	Source *Source
	// Payload is any value that marshals to a JSON object; it is checked
	// against Type's payload schema before anything is signed.
	Payload any
}

// Sign builds, signs and seals the envelope d describes and returns it with
// its wire bytes. Failures of the Signer's own inputs (wrong family, no key,
// failing randomness) wrap ErrSeal; a payload that fails its schema is the
// error of EncodePayload (ErrPayloadSchema). Sign does not run a Validator
// on the result, but a Signer never emits what one rejects at check 9.
func (s *Signer) Sign(d Draft) (*Envelope, []byte, error) {
	if d.Type.Family() != s.Family {
		return nil, nil, fmt.Errorf("%w: %v is not a %v type", ErrSeal, d.Type, s.Family)
	}
	if len(s.Key) != ed25519.PrivateKeySize {
		return nil, nil, fmt.Errorf("%w: no ed25519 private key", ErrSeal)
	}
	raw, err := EncodePayload(d.Type, d.Payload)
	if err != nil {
		return nil, nil, err
	}
	id, err := s.msgID()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	st := State{Presence: Diffuse, KernelSignals: []string{}}
	if s.State != nil {
		st = s.State()
	}
	pub := s.Key.Public().(ed25519.PublicKey)
	e := &Envelope{
		Family:    s.Family,
		MsgID:     id,
		Type:      d.Type,
		Timestamp: now().UTC(),
		Sender: Sender{
			AgentID: s.AgentID, Fingerprint: Fingerprint(pub),
			Capabilities: nonNil(s.Capabilities), Pubkey: EncodePubkey(pub),
		},
		Receiver: d.Receiver,
		Trust:    d.Trust,
		State:    st,
		Source:   d.Source,
		Payload:  raw,
	}
	wire, err := Seal(e, s.Key)
	if err != nil {
		return nil, nil, err
	}
	return e, wire, nil
}

// msgID returns a UUID v4 drawn from the Signer's randomness.
func (s *Signer) msgID() (string, error) {
	r := s.Rand
	if r == nil {
		r = rand.Reader
	}
	u := make([]byte, 16)
	if _, err := io.ReadFull(r, u); err != nil {
		return "", fmt.Errorf("%w: randomness: %w", ErrSeal, err)
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(u)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], nil
}
