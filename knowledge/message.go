package knowledge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// ErrUnsupportedType: Decode was given a message type that is not FACT_*.
var ErrUnsupportedType = errors.New("knowledge: unsupported message type")

// Incoming is one verified knowledge message, reduced to what this package
// needs. The wiring fills it from a verified envelope: Type is the type the
// validator parsed, Sender the verified signer's fingerprint, Time the
// envelope's timestamp.
type Incoming struct {
	// Type is FACT_PROPOSE, FACT_CONFIRM, FACT_REJECT, FACT_CHALLENGE or
	// DECISION_SHARE.
	Type    envelope.Type
	Sender  string
	MsgID   string
	Time    time.Time
	Payload json.RawMessage
}

// proposePayload is a FACT_PROPOSE payload: the fact and its provenance.
type proposePayload struct {
	FactID *string `json:"fact_id"`
	Fact   *struct {
		Statement  string   `json:"statement"`
		Domain     string   `json:"domain"`
		Confidence *float64 `json:"confidence"`
		Sources    []string `json:"sources"`
		Context    string   `json:"context"`
	} `json:"fact"`
	Trace       *DMPTrace `json:"dmp_trace"`
	CausalLinks []string  `json:"causal_links"`
}

type votePayload struct {
	FactRef    string   `json:"fact_ref"`
	Decision   string   `json:"decision"`
	Confidence *float64 `json:"confidence"`
	Reason     string   `json:"reason"`
}

// Message is one knowledge message decoded from its payload once: a
// FACT_PROPOSE is a Fact and its Provenance, a vote a Vote, a
// DECISION_SHARE a Decision. Store.Apply records it.
type Message struct {
	Type       envelope.Type
	Fact       *Fact
	Provenance *Provenance
	Vote       *Vote
	Decision   *Decision
}

// DecodeMessage decodes a knowledge message's payload once into what the
// store records: a FACT_PROPOSE yields the fact and its provenance (both
// validated, so a proposal with a malformed trace leaves nothing behind), a
// FACT_CONFIRM, FACT_REJECT or FACT_CHALLENGE a vote, a DECISION_SHARE a
// decision. It checks what the payload schema cannot (fact_id equals
// FactID(domain, statement), a vote's decision agrees with its type) and
// refuses anything it cannot use, so it is safe on unvalidated input. Errors
// wrap ErrInvalidFact, ErrInvalidVote, ErrInvalidProvenance or
// ErrUnsupportedType.
func DecodeMessage(in Incoming) (Message, error) {
	m := Message{Type: in.Type}
	switch in.Type {
	case envelope.FactPropose:
		var p proposePayload
		if err := decodeOne(in.Payload, &p); err != nil {
			return m, fmt.Errorf("%w: payload: %v", ErrInvalidFact, err)
		}
		f, err := factOf(in, &p)
		if err != nil {
			return m, err
		}
		pv, err := provenanceOf(in, &p)
		if err != nil {
			return m, err
		}
		m.Fact, m.Provenance = f, pv
	case envelope.FactConfirm, envelope.FactReject, envelope.FactChallenge:
		v, err := voteOf(in)
		if err != nil {
			return m, err
		}
		m.Vote = v
	case envelope.DecisionShare:
		d, err := decisionOf(in)
		if err != nil {
			return m, err
		}
		m.Decision = d
	default:
		return m, fmt.Errorf("%w: %s", ErrUnsupportedType, in.Type)
	}
	return m, nil
}

// Apply records a decoded message — a proposal with its provenance, a vote,
// or a shared decision — and returns the status changes it caused, for the
// caller to apply to the trust ledger (see Change). Nothing of a proposal
// is stored if any part of it is refused.
func (s *Store) Apply(ctx context.Context, m Message) ([]Change, error) {
	switch {
	case m.Fact != nil:
		_, changes, err := s.Propose(ctx, *m.Fact)
		if err != nil {
			return changes, err
		}
		if m.Provenance != nil {
			err = s.RecordProvenance(ctx, []Provenance{*m.Provenance}, nil)
		}
		return changes, err
	case m.Vote != nil:
		_, changes, err := s.Vote(ctx, *m.Vote)
		return changes, err
	case m.Decision != nil:
		return nil, s.RecordProvenance(ctx, nil, []Decision{*m.Decision})
	}
	return nil, fmt.Errorf("%w: empty message", ErrUnsupportedType)
}

// Types lists the message types DecodeMessage accepts.
func Types() []envelope.Type {
	return []envelope.Type{envelope.FactPropose, envelope.FactConfirm, envelope.FactReject, envelope.FactChallenge, envelope.DecisionShare}
}

// Decode turns a FACT_PROPOSE into a Fact, or a FACT_CONFIRM, FACT_REJECT
// or FACT_CHALLENGE into a Vote (SPEC §4.1). Exactly one of the results is
// non-nil on success. Unlike DecodeMessage it does not need the proposal's
// provenance.
func Decode(in Incoming) (*Fact, *Vote, error) {
	switch in.Type {
	case envelope.FactPropose:
		var p proposePayload
		if err := decodeOne(in.Payload, &p); err != nil {
			return nil, nil, fmt.Errorf("%w: payload: %v", ErrInvalidFact, err)
		}
		f, err := factOf(in, &p)
		return f, nil, err
	case envelope.FactConfirm, envelope.FactReject, envelope.FactChallenge:
		v, err := voteOf(in)
		return nil, v, err
	}
	return nil, nil, fmt.Errorf("%w: %s", ErrUnsupportedType, in.Type)
}

// factOf builds and validates the Fact of a decoded FACT_PROPOSE.
func factOf(in Incoming, p *proposePayload) (*Fact, error) {
	if p.Fact == nil {
		return nil, fmt.Errorf("%w: payload.fact: required", ErrInvalidFact)
	}
	if p.Fact.Confidence == nil {
		return nil, fmt.Errorf("%w: payload.fact.confidence: required", ErrInvalidFact)
	}
	f := Fact{Statement: p.Fact.Statement, Domain: p.Fact.Domain, Confidence: *p.Fact.Confidence,
		Proposer: in.Sender, MsgID: in.MsgID, ProposedAt: in.Time.UTC()}
	if p.FactID != nil {
		f.ID = *p.FactID
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if f.ID == "" {
		f.ID, _ = factID(f.Domain, f.Statement)
	}
	return &f, nil
}

// voteOf decodes and validates a FACT_CONFIRM, FACT_REJECT or
// FACT_CHALLENGE.
func voteOf(in Incoming) (*Vote, error) {
	var p votePayload
	if err := decodeOne(in.Payload, &p); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrInvalidVote, err)
	}
	v := Vote{Voter: in.Sender, FactID: p.FactRef, MsgID: in.MsgID, Time: in.Time.UTC()}
	switch in.Type {
	case envelope.FactConfirm:
		v.Kind = Confirm
	case envelope.FactReject:
		v.Kind = Reject
	default:
		v.Kind = Challenge
	}
	if in.Type != envelope.FactChallenge {
		if p.Decision != v.Kind.String() {
			return nil, fmt.Errorf("%w: payload.decision: %q does not match type %s", ErrInvalidVote, clip(p.Decision), in.Type)
		}
		if p.Confidence == nil {
			return nil, fmt.Errorf("%w: payload.confidence: required", ErrInvalidVote)
		}
		v.Confidence = *p.Confidence
	}
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return &v, nil
}

// decodeOne decodes one JSON value and refuses anything after it.
func decodeOne(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}
