package envelope

import (
	"errors"
	"fmt"
)

// Error sentinels, one per failure class of SPEC §3.3. Compare with
// errors.Is; the concrete error is an *Error naming check, path and reason.
var (
	// ErrInvalidEnvelope: checks 1 (size, UTF-8, strict JSON), 2 (version,
	// required fields, enums, formats), 3 (fingerprint) and 7 (receiver).
	ErrInvalidEnvelope = errors.New("invalid envelope")
	// ErrSignatureMismatch: check 4.
	ErrSignatureMismatch = errors.New("signature mismatch")
	// ErrTimestamp: check 5.
	ErrTimestamp = errors.New("timestamp out of range")
	// ErrReplay: check 6.
	ErrReplay = errors.New("replayed msg_id")
	// ErrTrustViolation: check 8.
	ErrTrustViolation = errors.New("trust violation")
	// ErrPayloadSchema: check 9.
	ErrPayloadSchema = errors.New("payload schema violation")

	// ErrFingerprintMismatch is the kind of check 3 failures. It wraps
	// ErrInvalidEnvelope (errors.Is matches both) so that callers that only
	// care about "invalid" still see it, while the handshake can single it
	// out: a peer that delivers such an envelope gets blacklisted (SPEC §4.2).
	ErrFingerprintMismatch error = &subKind{msg: "fingerprint does not match pubkey", parent: ErrInvalidEnvelope}
)

type subKind struct {
	msg    string
	parent error
}

func (k *subKind) Error() string { return k.msg }
func (k *subKind) Unwrap() error { return k.parent }

// Check numbers of SPEC §3.3, in the order they run.
const (
	CheckStrict      = 1 // size, UTF-8, strict JSON
	CheckShape       = 2 // version, required fields, enums, UUID v4, formats
	CheckFingerprint = 3 // fingerprint = SHA-256(pubkey)
	CheckSignature   = 4 // ed25519 signature
	CheckTimestamp   = 5 // within ±skew of the local clock
	CheckReplay      = 6 // msg_id not seen within the replay window
	CheckReceiver    = 7 // receiver is this node (or * on gossip)
	CheckTrust       = 8 // trust policy for (sender state, type)
	CheckPayload     = 9 // payload schema for the type
)

// Error is the concrete error of every rejected envelope. Kind is one of the
// sentinels above (Unwrap returns it), Check the §3.3 check number that
// failed, Path the dotted field path ("payload.fact.confidence",
// "sender.capabilities[2]"; empty for whole-document problems) and Reason a
// human-readable explanation.
type Error struct {
	Kind   error
	Check  int
	Path   string
	Reason string
}

// Error formats as "<kind> (check N): <path>: <reason>".
func (e *Error) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("%v (check %d): %s", e.Kind, e.Check, e.Reason)
	}
	return fmt.Sprintf("%v (check %d): %s: %s", e.Kind, e.Check, e.Path, e.Reason)
}

// Unwrap returns the sentinel kind.
func (e *Error) Unwrap() error { return e.Kind }

func newErr(kind error, check int, path, reason string) *Error {
	return &Error{Kind: kind, Check: check, Path: path, Reason: reason}
}

// AsError extracts the *Error from err, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
