package cip

import (
	"github.com/web4p2p/web4p2p/internal/enum"
)

// Goal is an INTENT goal (SPEC §4.1). The zero value is invalid.
type Goal uint8

// Goals.
const (
	GoalVerifyKnowledge Goal = iota + 1
	GoalAsk
	GoalLearn
	GoalProposeSolution
	GoalTestHypothesis
)

var goalNames = []string{"", "verify_knowledge", "ask", "learn", "propose_solution", "test_hypothesis"}

// String returns the wire form.
func (g Goal) String() string { return enum.String(goalNames, g) }

// MarshalText implements encoding.TextMarshaler.
func (g Goal) MarshalText() ([]byte, error) { return enum.Marshal(goalNames, g) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (g *Goal) UnmarshalText(b []byte) error { return enum.Unmarshal(goalNames, b, g) }

// Priority is an INTENT priority. The zero value is invalid.
type Priority uint8

// Priorities.
const (
	PriorityLow Priority = iota + 1
	PriorityNormal
	PriorityHigh
)

var priorityNames = []string{"", "low", "normal", "high"}

// String returns the wire form.
func (p Priority) String() string { return enum.String(priorityNames, p) }

// MarshalText implements encoding.TextMarshaler.
func (p Priority) MarshalText() ([]byte, error) { return enum.Marshal(priorityNames, p) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Priority) UnmarshalText(b []byte) error { return enum.Unmarshal(priorityNames, b, p) }

// Decision answers an INTENT. The zero value is invalid.
type Decision uint8

// Decisions.
const (
	Accept Decision = iota + 1
	Defer
)

var decisionNames = []string{"", "accept", "defer"}

// String returns the wire form.
func (d Decision) String() string { return enum.String(decisionNames, d) }

// MarshalText implements encoding.TextMarshaler.
func (d Decision) MarshalText() ([]byte, error) { return enum.Marshal(decisionNames, d) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Decision) UnmarshalText(b []byte) error { return enum.Unmarshal(decisionNames, b, d) }

// ChallengeReason is why a FACT_CHALLENGE was raised. The zero value is invalid.
type ChallengeReason uint8

// Challenge reasons.
const (
	ReasonConflict ChallengeReason = iota + 1
	ReasonInsufficientEvidence
	ReasonCannotVerify
)

var reasonNames = []string{"", "conflict", "insufficient_evidence", "cannot_verify"}

// String returns the wire form.
func (r ChallengeReason) String() string { return enum.String(reasonNames, r) }

// MarshalText implements encoding.TextMarshaler.
func (r ChallengeReason) MarshalText() ([]byte, error) { return enum.Marshal(reasonNames, r) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *ChallengeReason) UnmarshalText(b []byte) error { return enum.Unmarshal(reasonNames, b, r) }

// Outcome is the verdict of a handshake, which the node feeds to its trust
// FSM (SPEC §4.2 step 4). The zero value means "no verdict": the handshake
// failed before the peer's identity could be judged (timeout, malformed or
// unexpected message), which carries no trust consequence.
type Outcome uint8

// Outcomes.
const (
	// OutcomeOK: the peer proved its key; it may move to probing.
	OutcomeOK Outcome = iota + 1
	// OutcomeBadSignature: an envelope signature or the challenge response
	// did not verify; the peer becomes untrusted.
	OutcomeBadSignature
	// OutcomeFingerprintMismatch: sender.fingerprint ≠ SHA-256(pubkey), or
	// sender.pubkey ≠ the authenticated libp2p key of the connection; the
	// delivering peer is blacklisted.
	OutcomeFingerprintMismatch
)

var outcomeNames = []string{"", "ok", "bad_signature", "fingerprint_mismatch"}

// String returns the snake_case name ("none" for the zero value).
func (o Outcome) String() string {
	if o == 0 {
		return "none"
	}
	return enum.String(outcomeNames, o)
}
