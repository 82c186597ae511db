package hcp

import (
	"fmt"
	"strings"
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
func (g Goal) String() string { return enumString(goalNames, g) }

// MarshalText implements encoding.TextMarshaler.
func (g Goal) MarshalText() ([]byte, error) { return marshalEnum(goalNames, g) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (g *Goal) UnmarshalText(b []byte) error { return unmarshalEnum(goalNames, b, g) }

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
func (p Priority) String() string { return enumString(priorityNames, p) }

// MarshalText implements encoding.TextMarshaler.
func (p Priority) MarshalText() ([]byte, error) { return marshalEnum(priorityNames, p) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Priority) UnmarshalText(b []byte) error { return unmarshalEnum(priorityNames, b, p) }

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
func (k PromptKind) String() string { return enumString(promptKindNames, k) }

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
func (o Outcome) String() string { return enumString(outcomeNames, o) }

func enumString[T ~uint8](names []string, v T) string {
	if int(v) > 0 && int(v) < len(names) {
		return names[v]
	}
	return fmt.Sprintf("invalid(%d)", uint8(v))
}

func marshalEnum[T ~uint8](names []string, v T) ([]byte, error) {
	if int(v) > 0 && int(v) < len(names) {
		return []byte(names[v]), nil
	}
	return nil, fmt.Errorf("invalid enum value %d", uint8(v))
}

func parseEnum[T ~uint8](names []string, s string) (T, bool) {
	for i := 1; i < len(names); i++ {
		if names[i] == s {
			return T(i), true
		}
	}
	return 0, false
}

func unmarshalEnum[T ~uint8](names []string, b []byte, v *T) error {
	x, ok := parseEnum[T](names, string(b))
	if !ok {
		return fmt.Errorf("invalid value %q (want one of %s)", b, strings.Join(names[1:], "|"))
	}
	*v = x
	return nil
}
