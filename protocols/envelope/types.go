package envelope

import (
	"fmt"
	"strings"

	"github.com/web4p2p/web4p2p/internal/enum"
)

// Family is the protocol an envelope belongs to; it decides the version key
// ("cip", "hcp" or "lip") and which types are allowed.
type Family uint8

// Families. The zero value is invalid.
const (
	CIP Family = iota + 1 // agent ↔ agent (SPEC §4)
	HCP                   // human ↔ agent (SPEC §6)
	LIP                   // internet ↔ agent (SPEC §7)
)

var familyNames = []string{"", "cip", "hcp", "lip"}

// String returns the version key of the family ("cip", "hcp", "lip").
func (f Family) String() string { return enum.String(familyNames, f) }

// Type is an envelope message type. The zero value is invalid.
type Type uint8

// Message types of the three families.
const (
	Hello Type = iota + 1
	Verify
	Intent
	FactPropose
	FactChallenge
	FactConfirm
	FactReject
	DecisionShare
	StateUpdate
	TrustAttest

	HCPHello
	HCPIntent
	HCPContext
	HCPDecision
	HCPFeedback
	HCPStateUpdate

	LIPFetch
	LIPEvidence
	LIPConflict
	LIPAccept
	LIPReject

	numTypes = iota + 1 // one past the last type
)

var typeNames = []string{"",
	"HELLO", "VERIFY", "INTENT", "FACT_PROPOSE", "FACT_CHALLENGE", "FACT_CONFIRM",
	"FACT_REJECT", "DECISION_SHARE", "STATE_UPDATE", "TRUST_ATTEST",
	"HCP_HELLO", "HCP_INTENT", "HCP_CONTEXT", "HCP_DECISION", "HCP_FEEDBACK", "HCP_STATE_UPDATE",
	"LIP_FETCH", "LIP_EVIDENCE", "LIP_CONFLICT", "LIP_ACCEPT", "LIP_REJECT",
}

// typeByName maps both spellings (FACT_PROPOSE and FACTPROPOSE) to the type.
var typeByName = func() map[string]Type {
	m := make(map[string]Type, 2*numTypes)
	for t := Type(1); t < numTypes; t++ {
		m[typeNames[t]] = t
		m[strings.ReplaceAll(typeNames[t], "_", "")] = t
	}
	return m
}()

// String returns the wire form (with underscores), e.g. "FACT_PROPOSE".
func (t Type) String() string { return enum.String(typeNames, t) }

// Valid reports whether t is a defined type.
func (t Type) Valid() bool { return t > 0 && t < numTypes }

// Family returns the family the type belongs to (0 for an invalid type).
func (t Type) Family() Family {
	switch {
	case t >= Hello && t <= TrustAttest:
		return CIP
	case t >= HCPHello && t <= HCPStateUpdate:
		return HCP
	case t >= LIPFetch && t <= LIPReject:
		return LIP
	}
	return 0
}

// ParseType accepts both spellings of a type name — the wire form with
// underscores and the milestone's form without ("FACTPROPOSE") — and
// returns the normalised type.
func ParseType(s string) (Type, error) {
	if t, ok := typeByName[s]; ok {
		return t, nil
	}
	return 0, fmt.Errorf("unknown message type %q", s)
}

// Types returns every type of family f, in declaration order.
func Types(f Family) []Type {
	var out []Type
	for t := Type(1); t < numTypes; t++ {
		if t.Family() == f {
			out = append(out, t)
		}
	}
	return out
}

// MarshalText implements encoding.TextMarshaler (wire form).
func (t Type) MarshalText() ([]byte, error) { return enum.Marshal(typeNames, t) }

// UnmarshalText implements encoding.TextUnmarshaler (both spellings).
func (t *Type) UnmarshalText(b []byte) error {
	v, err := ParseType(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// Presence is the attention state of an agent or human (SPEC §3.2, §6, §10).
type Presence uint8

// Presence values. The zero value is invalid.
const (
	Focused Presence = iota + 1
	Diffuse
	Overloaded
	Engaged
)

var presenceNames = []string{"", "focused", "diffuse", "overloaded", "engaged"}

// String returns the wire form.
func (p Presence) String() string { return enum.String(presenceNames, p) }

// MarshalText implements encoding.TextMarshaler.
func (p Presence) MarshalText() ([]byte, error) { return enum.Marshal(presenceNames, p) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Presence) UnmarshalText(b []byte) error { return enum.Unmarshal(presenceNames, b, p) }

// TrustView is a trust state as carried in envelopes (SPEC §5 states).
type TrustView uint8

// Trust views. The zero value is invalid.
const (
	ViewUnknown TrustView = iota + 1
	ViewUntrusted
	ViewProbing
	ViewTrusted
	ViewBlacklisted
)

var viewNames = []string{"", "unknown", "untrusted", "probing", "trusted", "blacklisted"}

// String returns the wire form.
func (v TrustView) String() string { return enum.String(viewNames, v) }

// MarshalText implements encoding.TextMarshaler.
func (v TrustView) MarshalText() ([]byte, error) { return enum.Marshal(viewNames, v) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *TrustView) UnmarshalText(b []byte) error { return enum.Unmarshal(viewNames, b, v) }

// Affect is the human's affective state (SPEC §6).
type Affect uint8

// Affect values. The zero value is invalid.
const (
	Calm Affect = iota + 1
	Tense
	Anxious
	Energized
	Neutral
)

var affectNames = []string{"", "calm", "tense", "anxious", "energized", "neutral"}

// String returns the wire form.
func (a Affect) String() string { return enum.String(affectNames, a) }

// MarshalText implements encoding.TextMarshaler.
func (a Affect) MarshalText() ([]byte, error) { return enum.Marshal(affectNames, a) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Affect) UnmarshalText(b []byte) error { return enum.Unmarshal(affectNames, b, a) }

// Consent is the human's consent state (SPEC §6).
type Consent uint8

// Consent values. The zero value is invalid.
const (
	ConsentGranted Consent = iota + 1
	ConsentLimited
	ConsentRevoked
)

var consentNames = []string{"", "granted", "limited", "revoked"}

// String returns the wire form.
func (c Consent) String() string { return enum.String(consentNames, c) }

// MarshalText implements encoding.TextMarshaler.
func (c Consent) MarshalText() ([]byte, error) { return enum.Marshal(consentNames, c) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Consent) UnmarshalText(b []byte) error { return enum.Unmarshal(consentNames, b, c) }

// Tier is a LIP source trust tier (SPEC §7). The numeric values are not an
// order; use Rank to compare tiers.
type Tier uint8

// Source tiers. The zero value is invalid.
const (
	TierUnknown Tier = iota + 1
	TierLow
	TierMedium
	TierHigh
	TierBlocked
)

var tierNames = []string{"", "unknown", "low", "medium", "high", "blocked"}

// String returns the wire form.
func (t Tier) String() string { return enum.String(tierNames, t) }

// Rank orders tiers for comparisons such as "tier ≥ medium":
// blocked 0, unknown 1, low 2, medium 3, high 4; invalid -1.
func (t Tier) Rank() int {
	switch t {
	case TierBlocked:
		return 0
	case TierUnknown:
		return 1
	case TierLow:
		return 2
	case TierMedium:
		return 3
	case TierHigh:
		return 4
	}
	return -1
}

// MarshalText implements encoding.TextMarshaler.
func (t Tier) MarshalText() ([]byte, error) { return enum.Marshal(tierNames, t) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *Tier) UnmarshalText(b []byte) error { return enum.Unmarshal(tierNames, b, t) }
