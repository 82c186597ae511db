package knowledge

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// Errors for rejected facts and votes. They are wrapped with the field path
// and the reason.
var (
	// ErrInvalidFact: a fact failed validation.
	ErrInvalidFact = errors.New("knowledge: invalid fact")
	// ErrInvalidVote: a vote failed validation.
	ErrInvalidVote = errors.New("knowledge: invalid vote")
	// ErrLimit: a bound of limits.go was reached.
	ErrLimit = errors.New("knowledge: limit reached")
)

// Fact is a statement an agent proposed (FACT_PROPOSE, SPEC §4.1).
type Fact struct {
	// ID is envelope.FactID(Domain, Statement).
	ID        string `json:"id"`
	Statement string `json:"statement"`
	Domain    string `json:"domain"`
	// Confidence is the proposer's own confidence, 0..1.
	Confidence float64 `json:"confidence"`
	// Proposer is the proposer's fingerprint (the verified envelope sender).
	Proposer string `json:"proposer"`
	// MsgID is the FACT_PROPOSE envelope's msg_id.
	MsgID      string    `json:"msg_id,omitempty"`
	ProposedAt time.Time `json:"proposed_at"`
	// Expires is when the fact is rejected if it has not reached quorum.
	// Zero means never (Store fills in ProposedAt + TTL).
	Expires time.Time `json:"expires"`
}

// VoteKind is what a vote says about a fact. The zero value is invalid.
type VoteKind uint8

// Vote kinds (FACT_CONFIRM, FACT_REJECT, FACT_CHALLENGE).
const (
	Confirm VoteKind = iota + 1
	Reject
	Challenge
)

var voteKindNames = [...]string{Confirm: "confirm", Reject: "reject", Challenge: "challenge"}

// Valid reports whether k is a defined kind.
func (k VoteKind) Valid() bool { return k >= Confirm && k <= Challenge }

// String returns "confirm", "reject", "challenge" or "invalid(N)".
func (k VoteKind) String() string {
	if !k.Valid() {
		return fmt.Sprintf("invalid(%d)", uint8(k))
	}
	return voteKindNames[k]
}

// ParseVoteKind parses a kind name.
func ParseVoteKind(s string) (VoteKind, error) {
	for k := Confirm; k <= Challenge; k++ {
		if voteKindNames[k] == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%w: kind: %q is not confirm|reject|challenge", ErrInvalidVote, s)
}

// MarshalText encodes the kind name.
func (k VoteKind) MarshalText() ([]byte, error) {
	if !k.Valid() {
		return nil, fmt.Errorf("%w: kind %d", ErrInvalidVote, uint8(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText decodes a kind name.
func (k *VoteKind) UnmarshalText(b []byte) error {
	v, err := ParseVoteKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// Vote is one peer's verdict on a fact.
type Vote struct {
	// Voter is the voter's fingerprint (the verified envelope sender).
	Voter  string   `json:"voter"`
	FactID string   `json:"fact_id"`
	Kind   VoteKind `json:"kind"`
	// MsgID is the vote envelope's msg_id; it breaks ties between two votes
	// of one voter with the same Time.
	MsgID string `json:"msg_id"`
	// Time is the vote envelope's timestamp.
	Time       time.Time `json:"time"`
	Confidence float64   `json:"confidence"`
}

// Status is a fact's state. The zero value is invalid.
type Status uint8

// Fact statuses (SPEC §8).
const (
	// Proposed: no counted (trusted) vote yet.
	Proposed Status = iota + 1
	// Pending: some trusted votes, no decision yet.
	Pending
	// Accepted: quorum of trusted confirmers and no trusted objection.
	Accepted
	// Disputed: a trusted challenge, or trusted confirmers and rejecters disagree.
	Disputed
	// Rejected: quorum of trusted rejecters, untrusted proposer, or expired.
	Rejected
)

var statusNames = [...]string{Proposed: "proposed", Pending: "pending", Accepted: "accepted", Disputed: "disputed", Rejected: "rejected"}

// Valid reports whether s is a defined status.
func (s Status) Valid() bool { return s >= Proposed && s <= Rejected }

// String returns the status name or "invalid(N)".
func (s Status) String() string {
	if !s.Valid() {
		return fmt.Sprintf("invalid(%d)", uint8(s))
	}
	return statusNames[s]
}

// ParseStatus parses a status name.
func ParseStatus(name string) (Status, error) {
	for s := Proposed; s <= Rejected; s++ {
		if statusNames[s] == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("knowledge: invalid status %q", name)
}

// MarshalText encodes the status name.
func (s Status) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("knowledge: invalid status %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes a status name.
func (s *Status) UnmarshalText(b []byte) error {
	v, err := ParseStatus(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// factID is envelope.FactID with its refusals (empty or non-UTF-8 domain
// or statement) reported as ErrInvalidFact, the class this package's
// callers compare against.
func factID(domain, statement string) (string, error) {
	id, err := envelope.FactID(domain, statement)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidFact, err)
	}
	return id, nil
}

// Validate checks a fact: statement and domain present, bounded and UTF-8,
// confidence within [0,1], proposer and proposal time set, ID (if set)
// matching envelope.FactID, expiry not before the proposal.
func (f Fact) Validate() error {
	switch {
	case f.Statement == "":
		return fmt.Errorf("%w: fact.statement: required", ErrInvalidFact)
	case len(f.Statement) > MaxStatementBytes:
		return fmt.Errorf("%w: fact.statement: %d bytes, max %d", ErrInvalidFact, len(f.Statement), MaxStatementBytes)
	case f.Domain == "":
		return fmt.Errorf("%w: fact.domain: required", ErrInvalidFact)
	case len(f.Domain) > MaxDomainBytes:
		return fmt.Errorf("%w: fact.domain: %d bytes, max %d", ErrInvalidFact, len(f.Domain), MaxDomainBytes)
	case math.IsNaN(f.Confidence) || f.Confidence < 0 || f.Confidence > 1:
		return fmt.Errorf("%w: fact.confidence: must be within [0,1]", ErrInvalidFact)
	case f.Proposer == "" || len(f.Proposer) > MaxIDBytes:
		return fmt.Errorf("%w: fact.proposer: required, at most %d bytes", ErrInvalidFact, MaxIDBytes)
	case len(f.MsgID) > MaxIDBytes:
		return fmt.Errorf("%w: fact.msg_id: at most %d bytes", ErrInvalidFact, MaxIDBytes)
	case f.ProposedAt.IsZero():
		return fmt.Errorf("%w: fact.proposed_at: required", ErrInvalidFact)
	case !f.Expires.IsZero() && f.Expires.Before(f.ProposedAt):
		return fmt.Errorf("%w: fact.expires: before proposed_at", ErrInvalidFact)
	}
	id, err := factID(f.Domain, f.Statement)
	if err != nil {
		return err
	}
	if f.ID != "" && f.ID != id {
		return fmt.Errorf("%w: fact.id: %q does not match the statement (want %s)", ErrInvalidFact, f.ID, id)
	}
	return nil
}

// Validate checks a vote: voter, fact id, msg_id, kind and time set,
// bounded, and confidence within [0,1].
func (v Vote) Validate() error {
	switch {
	case v.Voter == "" || len(v.Voter) > MaxIDBytes:
		return fmt.Errorf("%w: vote.voter: required, at most %d bytes", ErrInvalidVote, MaxIDBytes)
	case len(v.FactID) != 64:
		return fmt.Errorf("%w: vote.fact_ref: must be a 64-character fact id", ErrInvalidVote)
	case !v.Kind.Valid():
		return fmt.Errorf("%w: vote.kind: %s", ErrInvalidVote, v.Kind)
	case v.MsgID == "" || len(v.MsgID) > MaxIDBytes:
		return fmt.Errorf("%w: vote.msg_id: required, at most %d bytes", ErrInvalidVote, MaxIDBytes)
	case v.Time.IsZero():
		return fmt.Errorf("%w: vote.time: required", ErrInvalidVote)
	case math.IsNaN(v.Confidence) || v.Confidence < 0 || v.Confidence > 1:
		return fmt.Errorf("%w: vote.confidence: must be within [0,1]", ErrInvalidVote)
	}
	for i := 0; i < len(v.FactID); i++ {
		if c := v.FactID[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("%w: vote.fact_ref: not lowercase hex", ErrInvalidVote)
		}
	}
	return nil
}
