package knowledge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/router"
)

// ErrUnsupportedType: Decode was given a message type that is not FACT_*.
var ErrUnsupportedType = errors.New("knowledge: unsupported message type")

// Incoming is one verified knowledge message, reduced to what this package
// needs. The node fills it from a verified envelope: Sender is the verified
// signer's fingerprint, Time the envelope's timestamp.
type Incoming struct {
	// Type is FACT_PROPOSE, FACT_CONFIRM, FACT_REJECT or FACT_CHALLENGE
	// (either spelling).
	Type    string
	Sender  string
	MsgID   string
	Time    time.Time
	Payload json.RawMessage
}

type proposePayload struct {
	FactID *string `json:"fact_id"`
	Fact   *struct {
		Statement  string   `json:"statement"`
		Domain     string   `json:"domain"`
		Confidence *float64 `json:"confidence"`
	} `json:"fact"`
}

type votePayload struct {
	FactRef    string   `json:"fact_ref"`
	Decision   string   `json:"decision"`
	Confidence *float64 `json:"confidence"`
	Reason     string   `json:"reason"`
}

// Decode turns a FACT_PROPOSE into a Fact, or a FACT_CONFIRM, FACT_REJECT
// or FACT_CHALLENGE into a Vote (SPEC §4.1). Exactly one of the results is
// non-nil on success. It checks what the payload schema cannot: a
// FACT_PROPOSE's fact_id, when present, must equal FactID(domain,
// statement), and a vote's decision must agree with its type. The full
// payload schema is the envelope validator's job (check 9); Decode still
// refuses anything it cannot use, so it is safe on unvalidated input.
func Decode(in Incoming) (*Fact, *Vote, error) {
	t, err := envelope.ParseType(in.Type)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %q", ErrUnsupportedType, clip(in.Type))
	}
	switch t {
	case envelope.FactPropose:
		var p proposePayload
		if err := decodeOne(in.Payload, &p); err != nil {
			return nil, nil, fmt.Errorf("%w: payload: %v", ErrInvalidFact, err)
		}
		if p.Fact == nil {
			return nil, nil, fmt.Errorf("%w: payload.fact: required", ErrInvalidFact)
		}
		if p.Fact.Confidence == nil {
			return nil, nil, fmt.Errorf("%w: payload.fact.confidence: required", ErrInvalidFact)
		}
		f := Fact{Statement: p.Fact.Statement, Domain: p.Fact.Domain, Confidence: *p.Fact.Confidence,
			Proposer: in.Sender, MsgID: in.MsgID, ProposedAt: in.Time.UTC()}
		if p.FactID != nil {
			f.ID = *p.FactID
		}
		if err := f.Validate(); err != nil {
			return nil, nil, err
		}
		if f.ID == "" {
			f.ID, _ = factID(f.Domain, f.Statement)
		}
		return &f, nil, nil
	case envelope.FactConfirm, envelope.FactReject, envelope.FactChallenge:
		var p votePayload
		if err := decodeOne(in.Payload, &p); err != nil {
			return nil, nil, fmt.Errorf("%w: payload: %v", ErrInvalidVote, err)
		}
		v := Vote{Voter: in.Sender, FactID: p.FactRef, MsgID: in.MsgID, Time: in.Time.UTC()}
		switch t {
		case envelope.FactConfirm:
			v.Kind = Confirm
		case envelope.FactReject:
			v.Kind = Reject
		default:
			v.Kind = Challenge
		}
		if t != envelope.FactChallenge {
			if p.Decision != v.Kind.String() {
				return nil, nil, fmt.Errorf("%w: payload.decision: %q does not match type %s", ErrInvalidVote, clip(p.Decision), t)
			}
			if p.Confidence == nil {
				return nil, nil, fmt.Errorf("%w: payload.confidence: required", ErrInvalidVote)
			}
			v.Confidence = *p.Confidence
		}
		if err := v.Validate(); err != nil {
			return nil, nil, err
		}
		return nil, &v, nil
	}
	return nil, nil, fmt.Errorf("%w: %s", ErrUnsupportedType, t)
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

// Handler adapts a Store to the router's Knowledge route for FACT_*
// messages (combine it with the LIP runtime through router.TypeMux). It
// reads Kind, Sender (or Peer), MsgID, Time and Payload from the message.
type Handler struct {
	Store *Store
}

// Handle decodes and ingests one message: a FACT_PROPOSE becomes a fact
// plus its provenance (DMP trace, sources, causal links), a vote is
// recorded, a DECISION_SHARE is kept as a Decision. Invalid payloads return
// an error wrapping ErrInvalidFact, ErrInvalidVote or ErrInvalidProvenance
// (the caller may count it as an invalid message of the delivering peer);
// votes on unknown or expired facts return ErrUnknownFact / ErrExpired.
func (h Handler) Handle(ctx context.Context, m *router.Message) error {
	if h.Store == nil {
		return errors.New("knowledge: Handler without a Store")
	}
	sender := m.Sender
	if sender == "" {
		sender = m.Peer
	}
	in := Incoming{Type: m.Kind.String(), Sender: sender, MsgID: m.MsgID, Time: m.Time, Payload: m.Payload}
	if m.Kind == envelope.DecisionShare {
		_, d, err := DecodeProvenance(in)
		if err != nil {
			return err
		}
		return h.Store.RecordProvenance(ctx, nil, []Decision{*d})
	}
	f, v, err := Decode(in)
	if err != nil {
		return err
	}
	if v != nil {
		_, err = h.Store.Vote(ctx, *v)
		return err
	}
	// Decode the provenance before storing anything, so a proposal whose
	// trace is malformed leaves no fact behind.
	p, _, err := DecodeProvenance(in)
	if err != nil {
		return err
	}
	if _, err := h.Store.Propose(ctx, *f); err != nil {
		return err
	}
	return h.Store.RecordProvenance(ctx, []Provenance{*p}, nil)
}

// Types lists the message types Handler accepts, for building a TypeMux.
func (Handler) Types() []envelope.Type {
	return []envelope.Type{envelope.FactPropose, envelope.FactConfirm, envelope.FactReject, envelope.FactChallenge, envelope.DecisionShare}
}
