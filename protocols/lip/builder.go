package lip

import (
	"crypto/ed25519"
	"fmt"
	"io"
	"time"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// Peer addresses a LIP envelope: Fingerprint is the receiver's
// fingerprint, or envelope.Broadcast for the knowledge topic.
type Peer struct {
	AgentID     string
	Fingerprint string
	// View is our trust state for the peer (trust.receiver_view); zero
	// means unknown. TheirView is what we believe the peer thinks of us
	// (trust.sender_view); zero means untrusted.
	View, TheirView envelope.TrustView
}

// Broadcast addresses mesh-wide LIP envelopes (gossip topic).
var Broadcast = Peer{Fingerprint: envelope.Broadcast}

// Message is a built envelope and its wire bytes.
type Message struct {
	Env  *envelope.Envelope
	Wire []byte
}

// Builder produces signed LIP envelopes ("lip": "1.0") for one local
// identity. Every input that makes output vary is a field, so fixed inputs
// give byte-identical output. Not safe for concurrent use unless Rand is.
type Builder struct {
	// Key signs envelopes (the node's Ed25519 key).
	Key ed25519.PrivateKey
	// AgentID and Capabilities fill the sender block.
	AgentID      string
	Capabilities []string
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Rand supplies msg_ids. Default crypto/rand.
	Rand io.Reader
	// State returns the sender's state block. Default: diffuse, LRI 0.
	State func() envelope.State
}

// Build signs an envelope of LIP type t to peer to, with the source block
// src (required for every type but LIP_FETCH) and payload. The payload is
// checked against its schema first, so a Builder never emits what a
// Validator rejects at check 9.
func (b *Builder) Build(t envelope.Type, to Peer, src *envelope.Source, payload any) (*Message, error) {
	if err := Register(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBuild, err)
	}
	if src == nil && t.Family() == envelope.LIP && t != envelope.LIPFetch {
		return nil, fmt.Errorf("%w: %v needs a source block", ErrBuild, t)
	}
	s := envelope.Signer{Family: envelope.LIP, Key: b.Key, AgentID: b.AgentID, Capabilities: b.Capabilities,
		Now: b.Now, Rand: b.Rand, State: b.State}
	env, wire, err := s.Sign(envelope.Draft{
		Type:     t,
		Receiver: envelope.Receiver{AgentID: to.AgentID, Fingerprint: to.Fingerprint},
		Trust:    envelope.TrustFor(to.View, to.TheirView),
		Source:   src,
		Payload:  payload,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBuild, err)
	}
	return &Message{Env: env, Wire: wire}, nil
}

// SourceOf returns the envelope source block for a claim's provenance.
func SourceOf(p Provenance) *envelope.Source {
	tier := p.Tier
	if tier == 0 {
		tier = envelope.TierUnknown
	}
	return &envelope.Source{URI: p.URI, TrustTier: tier, RetrievedAt: p.RetrievedAt.UTC()}
}

// Fetch builds LIP_FETCH.
func (b *Builder) Fetch(to Peer, p FetchPayload) (*Message, error) {
	if p.Constraints == nil {
		p.Constraints = []string{}
	}
	return b.Build(envelope.LIPFetch, to, nil, p)
}

// Evidence builds LIP_EVIDENCE with the source block src.
func (b *Builder) Evidence(to Peer, src Provenance, p EvidencePayload) (*Message, error) {
	return b.Build(envelope.LIPEvidence, to, SourceOf(src), p)
}

// Conflict builds LIP_CONFLICT for a queue conflict (source: claim A's).
func (b *Builder) Conflict(to Peer, c Conflict) (*Message, error) {
	return b.Build(envelope.LIPConflict, to, SourceOf(withTier(c.A)), ConflictPayloadFor(c))
}

// Accept builds LIP_ACCEPT for an accepted entry.
func (b *Builder) Accept(to Peer, e Entry) (*Message, error) {
	p, err := AcceptPayloadFor(e)
	if err != nil {
		return nil, err
	}
	return b.Build(envelope.LIPAccept, to, SourceOf(withTier(e)), p)
}

// Reject builds LIP_REJECT for a rejected entry.
func (b *Builder) Reject(to Peer, e Entry) (*Message, error) {
	p, err := RejectPayloadFor(e)
	if err != nil {
		return nil, err
	}
	return b.Build(envelope.LIPReject, to, SourceOf(withTier(e)), p)
}

// withTier is the entry's provenance carrying the tier the queue decided
// with (not the one a peer declared).
func withTier(e Entry) Provenance {
	p := e.Claim.Provenance
	if e.Tier != 0 {
		p.Tier = e.Tier
	}
	if p.RetrievedAt.IsZero() {
		p.RetrievedAt = e.Submitted
	}
	if p.URI == "" {
		p.URI = "urn:lip:unknown"
	}
	return p
}
