package negentropy

import (
	"errors"
	"fmt"
)

// Kinds of malformed message. Every decoding failure is a *DecodeError whose
// Kind is one of these; errors.Is matches both the kind and ErrMalformed.
var (
	// ErrMalformed matches every *DecodeError.
	ErrMalformed = errors.New("malformed negentropy message")

	// ErrTruncated: the message ends inside a field.
	ErrTruncated = errors.New("truncated")
	// ErrVarint: a varint is not minimal (leading zero digit) or exceeds 64 bits.
	ErrVarint = errors.New("malformed varint")
	// ErrVersion: the first byte is not a protocol version byte, or a
	// server answered the client with a version this package does not speak.
	ErrVersion = errors.New("unsupported protocol version")
	// ErrBound: a bound's timestamp overflows or its id prefix is longer
	// than 32 bytes.
	ErrBound = errors.New("invalid bound")
	// ErrOrder: a range's upper bound is below the previous one.
	ErrOrder = errors.New("bounds out of order")
	// ErrMode: a range's mode is not Skip (0), Fingerprint (1) or IdList (2).
	ErrMode = errors.New("unknown range mode")
	// ErrCount: an id list claims more ids than the message holds.
	ErrCount = errors.New("id count exceeds message")
)

// DecodeError describes why a peer's message was rejected: the kind, the
// byte offset of the offending field in the message, and which field it is.
type DecodeError struct {
	Kind   error
	Offset int
	Reason string
}

// Error formats as "negentropy: <kind> at offset N: <reason>".
func (e *DecodeError) Error() string {
	return fmt.Sprintf("negentropy: %v at offset %d: %s", e.Kind, e.Offset, e.Reason)
}

// Unwrap returns the kind and ErrMalformed.
func (e *DecodeError) Unwrap() []error { return []error{e.Kind, ErrMalformed} }

// Errors of the local side: misuse of a Session or a Vector, or a Storage
// that breaks its contract.
var (
	// ErrFrameSizeLimit: New was given a limit that is neither 0 nor at
	// least MinFrameSizeLimit.
	ErrFrameSizeLimit = errors.New("negentropy: frame size limit must be 0 or at least 4096")
	// ErrRole: Initiate twice, Reconcile on the client or ReconcileClient
	// on the server.
	ErrRole = errors.New("negentropy: wrong role for this call")
	// ErrSealed: Insert after Seal, or Seal twice.
	ErrSealed = errors.New("negentropy: storage already sealed")
	// ErrNotSealed: a Vector is read before Seal.
	ErrNotSealed = errors.New("negentropy: storage not sealed")
	// ErrDuplicate: the same (timestamp, id) was inserted twice.
	ErrDuplicate = errors.New("negentropy: duplicate item")
	// ErrReservedTimestamp: an item with timestamp 2^64-1, which the
	// protocol reserves for the infinity bound.
	ErrReservedTimestamp = errors.New("negentropy: timestamp 2^64-1 is reserved")
	// ErrRange: a Storage was asked for an index range outside [0, Size()].
	ErrRange = errors.New("negentropy: index range out of bounds")
)
