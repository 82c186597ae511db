package hcp

import (
	"github.com/web4p2p/web4p2p/internal/enum"
)

// Goal is what an HCP_INTENT asks of the agent. The zero value is invalid.
type Goal uint8

// Goals of SPEC §6.
const (
	GoalAlign Goal = iota + 1
	GoalRequest
	GoalClarify
	GoalDecide
	GoalResolveConflict
)

var goalNames = []string{"", "align", "request", "clarify", "decide", "resolve_conflict"}

// String returns the wire form.
func (g Goal) String() string { return enum.String(goalNames, g) }

// MarshalText implements encoding.TextMarshaler.
func (g Goal) MarshalText() ([]byte, error) { return enum.Marshal(goalNames, g) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (g *Goal) UnmarshalText(b []byte) error { return enum.Unmarshal(goalNames, b, g) }

// Priority ranks intents and prompts. Values are ordered: Low < Normal <
// High < Safety, so comparisons such as p >= PriorityHigh are meaningful.
// The zero value is invalid.
type Priority uint8

// Priorities of SPEC §6.
const (
	PriorityLow Priority = iota + 1
	PriorityNormal
	PriorityHigh
	PrioritySafety
)

var priorityNames = []string{"", "low", "normal", "high", "safety"}

// String returns the wire form.
func (p Priority) String() string { return enum.String(priorityNames, p) }

// MarshalText implements encoding.TextMarshaler.
func (p Priority) MarshalText() ([]byte, error) { return enum.Marshal(priorityNames, p) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Priority) UnmarshalText(b []byte) error { return enum.Unmarshal(priorityNames, b, p) }

// PromptKind says what a prompt to the human is, which matters for pacing:
// decisions need a preceding check-in when the human is anxious or tense.
// The zero value is invalid.
type PromptKind uint8

// Prompt kinds.
const (
	// PromptInfo shows something; no answer expected.
	PromptInfo PromptKind = iota + 1
	// PromptQuestion asks for input (clarification).
	PromptQuestion
	// PromptDecision asks the human to decide (HCP_DECISION).
	PromptDecision
	// PromptCheckIn asks how the human is before a decision.
	PromptCheckIn
)

var promptKindNames = []string{"", "info", "question", "decision", "check_in"}

// String returns the snake_case name.
func (k PromptKind) String() string { return enum.String(promptKindNames, k) }

// Outcome is the pacing verdict for one prompt. The zero value is invalid.
type Outcome uint8

// Pacing outcomes.
const (
	// Allow: show the prompt now (a token was taken).
	Allow Outcome = iota + 1
	// Defer: the prompt is allowed in principle but must wait (bucket empty
	// or strain interval); Decision.RetryAfter says how long.
	Defer
	// Suppress: the human's state admits no prompt of this priority now.
	Suppress
	// CheckIn: show a check-in first (affect anxious/tense before a decision).
	CheckIn
)

var outcomeNames = []string{"", "allow", "defer", "suppress", "check_in"}

// String returns the snake_case name.
func (o Outcome) String() string { return enum.String(outcomeNames, o) }
