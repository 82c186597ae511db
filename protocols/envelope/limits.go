package envelope

import "time"

// Every bound the envelope layer enforces lives here, so a reviewer can see
// at a glance what an attacker can make a node spend.
const (
	// MaxSize is the largest envelope accepted on the wire (SPEC §3.1).
	MaxSize = 256 << 10

	// MaxDepth bounds JSON nesting so that a hostile document cannot make the
	// strict parser recurse without limit. Real envelopes nest < 10 deep.
	MaxDepth = 64

	// MaxMembers bounds the members of one JSON object. RFC 8785 sorts
	// members, and the JCS library sorts by insertion (quadratic), so a
	// non-canonical 256 KiB object with tens of thousands of keys would cost
	// seconds of CPU; real envelope objects have a few dozen members.
	MaxMembers = 256

	// DefaultMaxSkew is how far an envelope timestamp may lie from the local
	// clock, either way (SPEC §3.3 check 5).
	DefaultMaxSkew = 120 * time.Second

	// DefaultReplayWindow is how long a msg_id is remembered. It is twice the
	// skew: an envelope accepted at local time t carries a timestamp ≥ t-skew
	// and stays timestamp-valid until ≤ t+skew, so remembering it for
	// 2×skew covers every moment at which check 5 would let it through again.
	DefaultReplayWindow = 2 * DefaultMaxSkew

	// DefaultReplayCapacity bounds the replay cache (entries). When full, the
	// oldest entry is evicted early and the eviction is counted; at ~100 bytes
	// an entry this is a few MiB at most.
	DefaultReplayCapacity = 1 << 16
)

// Fixed protocol strings.
const (
	// SignPrefix is prepended to JCS(envelope without sign) before signing:
	// domain separation, because the same Ed25519 key also signs libp2p
	// records and Noise handshake payloads (SPEC §3.1).
	SignPrefix = "web4-envelope/1.0\n"

	// Algo is the only signature algorithm defined for v1.0.
	Algo = "ed25519"

	// Version is the protocol version carried in the cip/hcp/lip key.
	Version = "1.0"

	// Broadcast is the receiver fingerprint of gossip (mesh-wide) envelopes.
	Broadcast = "*"
)
