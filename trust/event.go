package trust

import (
	"errors"
	"fmt"
)

// Event is something that happened with a peer and may move its state.
// The zero value is invalid.
type Event uint8

// FSM events (SPEC §5 table, plus the propagation rules).
const (
	// ValidHandshake: HELLO/VERIFY exchange verified.
	ValidHandshake Event = iota + 1
	// BadSignature: handshake challenge response or envelope signature did not verify.
	BadSignature
	// FingerprintMismatch: fingerprint ≠ SHA-256(pubkey), or pubkey ≠ the libp2p remote key.
	FingerprintMismatch
	// FactAccepted: one of the peer's proposed facts reached quorum (verified knowledge).
	FactAccepted
	// ConflictLost: the peer's fact lost a conflict (rejected by trusted quorum).
	ConflictLost
	// InvalidMessage: an invalid or unverifiable message delivered by the peer.
	InvalidMessage
	// TemporaryAnomaly: any other one-off anomaly (timeout storm, schema slip).
	TemporaryAnomaly
	// ProvenMalice: equivocation, replay attack or forged evidence, proven.
	ProvenMalice
	// ManualOverride: the human/operator lifts a blacklisting.
	ManualOverride
	// Anchor: the operator lists the peer as a trust anchor.
	Anchor
	// Vouched: a trusted peer vouched for the peer; it may skip the cooldown.
	Vouched
	// AttestedUntrusted: enough trusted attesters (counted by the propagation
	// layer, default 2) said the peer is blacklisted.
	AttestedUntrusted
	// ManualDemote: the operator takes trust back one step on their own
	// authority: trusted → probing (for an anchor, this un-anchors it).
	ManualDemote
	// ManualDistrust: the operator marks the peer untrusted (its cooldown
	// starts).
	ManualDistrust
	// ManualBlacklist: the operator blacklists the peer.
	ManualBlacklist
)

// lastEvent is the highest defined Event.
const lastEvent = ManualBlacklist

var eventNames = [...]string{
	ValidHandshake:      "valid_handshake",
	BadSignature:        "bad_signature",
	FingerprintMismatch: "fingerprint_mismatch",
	FactAccepted:        "fact_accepted",
	ConflictLost:        "conflict_lost",
	InvalidMessage:      "invalid_message",
	TemporaryAnomaly:    "temporary_anomaly",
	ProvenMalice:        "proven_malice",
	ManualOverride:      "manual_override",
	Anchor:              "anchor",
	Vouched:             "vouched",
	AttestedUntrusted:   "attested_untrusted",
	ManualDemote:        "manual_demote",
	ManualDistrust:      "manual_distrust",
	ManualBlacklist:     "manual_blacklist",
}

// ErrInvalidEvent is returned for an event outside the defined set.
var ErrInvalidEvent = errors.New("trust: invalid event")

// Valid reports whether e is a defined event.
func (e Event) Valid() bool { return e >= ValidHandshake && e <= lastEvent }

// String returns the snake_case name, or "invalid(N)".
func (e Event) String() string {
	if !e.Valid() {
		return fmt.Sprintf("invalid(%d)", uint8(e))
	}
	return eventNames[e]
}

// ParseEvent parses a snake_case event name.
func ParseEvent(name string) (Event, error) {
	for e := ValidHandshake; e <= lastEvent; e++ {
		if eventNames[e] == name {
			return e, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrInvalidEvent, name)
}

// MarshalText encodes the event name.
func (e Event) MarshalText() ([]byte, error) {
	if !e.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrInvalidEvent, uint8(e))
	}
	return []byte(e.String()), nil
}

// UnmarshalText decodes an event name.
func (e *Event) UnmarshalText(b []byte) error {
	v, err := ParseEvent(string(b))
	if err != nil {
		return err
	}
	*e = v
	return nil
}
