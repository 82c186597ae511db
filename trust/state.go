package trust

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// State is a peer's trust level. The zero value is invalid; a peer the
// ledger has never seen is Unknown.
type State uint8

// Trust states (SPEC §5).
const (
	// Unknown: never completed a handshake with us.
	Unknown State = iota + 1
	// Untrusted: failed a handshake or misbehaved; may retry after a cooldown.
	Untrusted
	// Probing: handshake valid; may exchange knowledge, votes not counted.
	Probing
	// Trusted: earned (verified knowledge) or configured (trust anchor).
	Trusted
	// Blacklisted: proven malicious; only a manual override leaves this state.
	Blacklisted
)

var stateNames = [...]string{
	Unknown:     "unknown",
	Untrusted:   "untrusted",
	Probing:     "probing",
	Trusted:     "trusted",
	Blacklisted: "blacklisted",
}

// ErrInvalidState is returned when parsing an unknown state name.
var ErrInvalidState = errors.New("trust: invalid state")

// Valid reports whether s is one of the defined states.
func (s State) Valid() bool { return s >= Unknown && s <= Blacklisted }

// String returns the wire name ("unknown", "probing", ...), or "invalid(N)".
func (s State) String() string {
	if !s.Valid() {
		return fmt.Sprintf("invalid(%d)", uint8(s))
	}
	return stateNames[s]
}

// ParseState parses a wire name as used in envelopes' trust block.
func ParseState(name string) (State, error) {
	for s := Unknown; s <= Blacklisted; s++ {
		if stateNames[s] == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("%w: %q (want unknown|untrusted|probing|trusted|blacklisted)", ErrInvalidState, name)
}

// MarshalText encodes the state as its wire name.
func (s State) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrInvalidState, uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes a wire name.
func (s *State) UnmarshalText(b []byte) error {
	v, err := ParseState(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ErrInvalidFingerprint is returned for a peer key that is not 64 lowercase
// hex characters.
var ErrInvalidFingerprint = errors.New("trust: invalid fingerprint")

// Fingerprint returns the lowercase hex SHA-256 of a raw 32-byte Ed25519
// public key, the peer identity used throughout (SPEC §1).
func Fingerprint(pubkey []byte) string {
	sum := sha256.Sum256(pubkey)
	return hex.EncodeToString(sum[:])
}

// CheckFingerprint returns nil if fp is 64 lowercase hex characters.
func CheckFingerprint(fp string) error {
	if len(fp) != 64 {
		return fmt.Errorf("%w: length %d, want 64", ErrInvalidFingerprint, len(fp))
	}
	for i := 0; i < len(fp); i++ {
		c := fp[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("%w: byte %d is not lowercase hex", ErrInvalidFingerprint, i)
		}
	}
	return nil
}
