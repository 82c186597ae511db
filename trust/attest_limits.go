package trust

import "time"

// Bounds and protocol constants of mesh trust propagation (TRUST_ATTEST,
// SPEC §5 "Propagation"). They sit here, next to the FSM's limits.go, so
// every number the attestation code uses is visible in one place.
const (
	// MaxAttestEvidence is the most evidence items one TRUST_ATTEST may carry
	// (payload-trust_attest.json: maxItems 16).
	MaxAttestEvidence = 16
	// MaxAttestEnvelopeB64 bounds one embedded envelope's base64 text
	// (payload-trust_attest.json: maxLength 360000, enough for a 256 KiB
	// envelope).
	MaxAttestEnvelopeB64 = 360000
	// MaxAttestReasonBytes bounds the reason (common.json text: 16384).
	MaxAttestReasonBytes = 16384

	// EquivocationWindow is how close in time two opposite votes by one
	// signer on one fact must be to count as equivocation. An honest agent
	// may change its verdict later (the latest vote wins, SPEC §8), but it
	// does not sign "confirm" and "reject" of the same fact within a second:
	// that is sending different verdicts to different parts of the mesh.
	// It is a protocol constant, not configuration: every receiver must
	// reach the same verdict on the same proof.
	EquivocationWindow = time.Second

	// DefaultAttestQuorum is how many distinct trusted attesters must say
	// "blacklisted" (without proof) before the subject becomes untrusted
	// locally (SPEC §5: 2).
	DefaultAttestQuorum = 2
	// DefaultAttestTTL is how long an attestation without proof keeps
	// counting. The SPEC is silent; an hour lets attestations from a few
	// gossip rounds add up, while an old accusation never revived by anyone
	// else fades.
	DefaultAttestTTL = time.Hour
	// MaxAttestSubjects bounds the subjects the AttestationBook tracks;
	// when full, the subject with the oldest latest attestation is dropped.
	MaxAttestSubjects = 10000
	// MaxAttestersPerSubject bounds the attesters remembered per subject
	// (far above any quorum; it only stops a flood of identities).
	MaxAttestersPerSubject = 64

	// DefaultDetectorWindow is how long the Detector remembers a signer's
	// envelopes. Twice the replay window of the envelope validator: long
	// enough that both halves of an equivocation delivered through gossip
	// meet, short enough to stay small.
	DefaultDetectorWindow = 10 * time.Minute
	// DefaultDetectorBytes bounds the raw envelope bytes the Detector keeps
	// (oldest dropped first).
	DefaultDetectorBytes = 16 << 20
	// maxVotesPerRef bounds the votes the Detector keeps per (signer,
	// fact_ref): far more than an honest agent casts within a window.
	maxVotesPerRef = 16
)

// ReasonEquivocation is the reason of a TRUST_ATTEST carrying an
// equivocation proof; ReasonVouch the reason of a vouch given with view
// "probing".
const (
	ReasonEquivocation = "equivocation"
	ReasonVouch        = "vouch"
)
