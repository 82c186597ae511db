package cip

import "time"

// Bounds and fixed strings of the CIP runtime, in one place.
const (
	// DefaultStepTimeout bounds every send and receive of the handshake
	// (SPEC §4.2); exceeding it fails the handshake with ErrHandshake.
	DefaultStepTimeout = 10 * time.Second

	// NonceSize is the size of HELLO.session_nonce in bytes.
	NonceSize = 16
	// ChallengeSize is the size of HELLO.challenge in bytes (SPEC §4.1).
	ChallengeSize = 32

	// ChallengePrefix starts the bytes a challenge response signs:
	//
	//	"web4-cip-challenge/1.0\n" || challenge (32 raw bytes)
	//	   || challenger fingerprint (64 lowercase hex ASCII bytes)
	//	   || responder fingerprint (64 lowercase hex ASCII bytes)
	//
	// 183 bytes in all. The challenge is the raw bytes, not its base64;
	// fingerprints are their ASCII hex text. Binding both fingerprints stops a
	// response from being relayed to a third party (SPEC §4.2). The prefix
	// separates these signatures from envelope signatures made with the same
	// key ("web4-envelope/1.0\n").
	ChallengePrefix = "web4-cip-challenge/1.0\n"

	// ProtocolID names CIP v1.0 in HELLO.protocols.
	ProtocolID = "/web4/cip/1.0"
)
