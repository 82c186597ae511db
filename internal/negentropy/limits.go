package negentropy

import "math"

// Every constant of the protocol and every bound the package enforces, in
// one place.
const (
	// ProtocolVersion is the first byte of every version-1 message. Bytes
	// 0x60..0x6f are reserved for protocol versions; anything else is not a
	// negentropy message.
	ProtocolVersion = 0x61
	minVersionByte  = 0x60
	maxVersionByte  = 0x6f

	// IDSize and FingerprintSize are fixed by the protocol.
	IDSize          = 32
	FingerprintSize = 16

	// MinFrameSizeLimit is the smallest non-zero frame size limit (the
	// reference rejects smaller ones): below it the reserve below would leave
	// too little room for progress.
	MinFrameSizeLimit = 4096

	// frameSizeReserve is kept free below the frame size limit while ranges
	// are added, for the closing fingerprint range and the last bound, mode
	// and count written after a check (the reference's 200).
	frameSizeReserve = 200

	// buckets is how many fingerprint ranges a mismatched range is split
	// into; a range of fewer than 2*buckets items is sent as an id list
	// instead. Both are part of the deterministic output.
	buckets = 16

	// maxVarintLen is the longest minimal varint of a uint64 (⌈64/7⌉ digits).
	maxVarintLen = 10

	// infinityTimestamp is the reserved upper bound of the item space; no
	// item may carry it.
	infinityTimestamp = math.MaxUint64
)

// A message is never trusted for a size: an id list's count must fit in the
// bytes that remain of the message (32 each) before anything is allocated
// for it, so decoding allocates at most in proportion to the message, and a
// server's answer is at most in proportion to the message and its own set.
