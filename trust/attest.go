package trust

// Mesh trust propagation (SPEC §5 "Propagation", TRUST_ATTEST of §4.1).
//
// Three pieces, all pure of networking (the node's GossipSub layer on topic
// /web4/trust/1.0 calls them):
//
//   - attest.go: the TRUST_ATTEST payload (ParseAttestation, Payload) and
//     proof-carrying attestations: VerifyProof checks on the receiver's own
//     authority that two embedded envelopes were signed by the subject and
//     contradict; ApplyProof blacklists the subject (ProvenMalice) or, for a
//     forged proof, charges the delivering peer (InvalidMessage).
//   - attest_detector.go: Detector notices equivocation among the verified
//     envelopes this node sees and hands back both raw envelopes, ready to
//     be attested (Equivocation.Payload).
//   - attest_book.go: AttestationBook counts attestations without proof
//     from trusted attesters only (TallyAttestations is the pure rule) and
//     applies AttestedUntrusted / Vouched through the Ledger; its Handle is
//     the one entry point for a verified TRUST_ATTEST, sending proofs to
//     ApplyProof and the rest to Record.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// Errors of attestation parsing and proof verification. Every invalid proof
// wraps ErrInvalidProof and, more precisely, one of ErrForgedEvidence,
// ErrWrongSigner or ErrNoContradiction; compare with errors.Is.
var (
	// ErrInvalidAttestation: the TRUST_ATTEST payload is malformed.
	ErrInvalidAttestation = errors.New("trust: invalid attestation")
	// ErrNoProof: the attestation embeds fewer than two envelopes, so it
	// carries no proof; it may still count as an attestation without proof.
	ErrNoProof = errors.New("trust: attestation carries no proof")
	// ErrInvalidProof: the attestation claims a proof that does not hold.
	ErrInvalidProof = errors.New("trust: invalid proof")
	// ErrForgedEvidence: an embedded envelope is not validly signed (bad
	// signature, fingerprint ≠ SHA-256(pubkey), not an envelope at all).
	ErrForgedEvidence = errors.New("forged evidence")
	// ErrWrongSigner: an embedded envelope is validly signed, but not by
	// the attestation's subject.
	ErrWrongSigner = errors.New("evidence not signed by the subject")
	// ErrNoContradiction: the embedded envelopes are genuine but no two of
	// them contradict each other.
	ErrNoContradiction = errors.New("evidence does not contradict itself")
	// ErrProofTooLarge: the two envelopes of an equivocation do not fit in
	// one TRUST_ATTEST envelope.
	ErrProofTooLarge = errors.New("trust: proof too large for one envelope")
)

// Attestation is a decoded TRUST_ATTEST payload (SPEC §4.1, §5): what the
// attester says about Subject, and why.
type Attestation struct {
	// Subject is the fingerprint of the peer attested about.
	Subject string
	// View is the attester's trust state for the subject.
	View State
	// Reason is free text; ReasonEquivocation and ReasonVouch have meaning.
	Reason string
	// Evidence lists msg_ids and embedded envelopes, in payload order.
	Evidence []Evidence
}

// Evidence is one evidence item: a msg_id, an embedded signed envelope (its
// exact wire bytes), or both.
type Evidence struct {
	MsgID string
	// Envelope is the decoded wire bytes of an embedded envelope, nil if
	// the item only names a msg_id.
	Envelope []byte
}

type wireAttest struct {
	Subject  *string        `json:"subject"`
	View     *string        `json:"view"`
	Reason   *string        `json:"reason"`
	Evidence []wireEvidence `json:"evidence"`
}

type wireEvidence struct {
	MsgID    string `json:"msg_id,omitempty"`
	Envelope string `json:"envelope,omitempty"`
}

// ParseAttestation decodes and checks a TRUST_ATTEST payload: subject a
// fingerprint, view a trust state, reason bounded UTF-8, evidence at most
// MaxAttestEvidence items, each with a msg_id (UUID shape) and/or an
// envelope in canonical standard base64 no longer than MaxAttestEnvelopeB64
// and no larger than an envelope may be. Unknown members of an evidence
// item are refused (the schema forbids them); unknown top-level members are
// tolerated (the schema allows them, for later versions). It never panics.
func ParseAttestation(payload []byte) (Attestation, error) {
	var w wireAttest
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&w); err != nil {
		return Attestation{}, fmt.Errorf("%w: payload: %v", ErrInvalidAttestation, err)
	}
	if dec.More() {
		return Attestation{}, fmt.Errorf("%w: payload: trailing data", ErrInvalidAttestation)
	}
	if w.Subject == nil {
		return Attestation{}, fmt.Errorf("%w: payload.subject: required", ErrInvalidAttestation)
	}
	if err := CheckFingerprint(*w.Subject); err != nil {
		return Attestation{}, fmt.Errorf("%w: payload.subject: %w", ErrInvalidAttestation, err)
	}
	if w.View == nil {
		return Attestation{}, fmt.Errorf("%w: payload.view: required", ErrInvalidAttestation)
	}
	view, err := ParseState(*w.View)
	if err != nil {
		return Attestation{}, fmt.Errorf("%w: payload.view: %w", ErrInvalidAttestation, err)
	}
	if w.Reason == nil {
		return Attestation{}, fmt.Errorf("%w: payload.reason: required", ErrInvalidAttestation)
	}
	if len(*w.Reason) > MaxAttestReasonBytes || !utf8.ValidString(*w.Reason) {
		return Attestation{}, fmt.Errorf("%w: payload.reason: must be UTF-8 of at most %d bytes", ErrInvalidAttestation, MaxAttestReasonBytes)
	}
	if w.Evidence == nil {
		return Attestation{}, fmt.Errorf("%w: payload.evidence: required", ErrInvalidAttestation)
	}
	if len(w.Evidence) > MaxAttestEvidence {
		return Attestation{}, fmt.Errorf("%w: payload.evidence: %d items, max %d", ErrInvalidAttestation, len(w.Evidence), MaxAttestEvidence)
	}
	a := Attestation{Subject: *w.Subject, View: view, Reason: *w.Reason, Evidence: make([]Evidence, 0, len(w.Evidence))}
	for i, it := range w.Evidence {
		path := fmt.Sprintf("payload.evidence[%d]", i)
		if it.MsgID == "" && it.Envelope == "" {
			return Attestation{}, fmt.Errorf("%w: %s: needs msg_id or envelope", ErrInvalidAttestation, path)
		}
		ev := Evidence{MsgID: it.MsgID}
		if it.MsgID != "" && !isUUID4(it.MsgID) {
			return Attestation{}, fmt.Errorf("%w: %s.msg_id: not a UUID v4", ErrInvalidAttestation, path)
		}
		if it.Envelope != "" {
			if len(it.Envelope) > MaxAttestEnvelopeB64 {
				return Attestation{}, fmt.Errorf("%w: %s.envelope: %d characters, max %d", ErrInvalidAttestation, path, len(it.Envelope), MaxAttestEnvelopeB64)
			}
			raw, err := base64.StdEncoding.Strict().DecodeString(it.Envelope)
			if err != nil {
				return Attestation{}, fmt.Errorf("%w: %s.envelope: not canonical standard base64", ErrInvalidAttestation, path)
			}
			if len(raw) > envelope.MaxSize {
				return Attestation{}, fmt.Errorf("%w: %s.envelope: %d bytes, max %d", ErrInvalidAttestation, path, len(raw), envelope.MaxSize)
			}
			ev.Envelope = raw
		}
		a.Evidence = append(a.Evidence, ev)
	}
	return a, nil
}

// UnmarshalJSON refuses unknown members of an evidence item.
func (w *wireEvidence) UnmarshalJSON(b []byte) error {
	type plain wireEvidence
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p plain
	if err := dec.Decode(&p); err != nil {
		return err
	}
	*w = wireEvidence(p)
	return nil
}

// Payload encodes the attestation as a TRUST_ATTEST payload (JSON object
// with subject, view, reason, evidence; envelopes as standard base64).
func (a Attestation) Payload() ([]byte, error) {
	if err := CheckFingerprint(a.Subject); err != nil {
		return nil, fmt.Errorf("%w: subject: %w", ErrInvalidAttestation, err)
	}
	if !a.View.Valid() {
		return nil, fmt.Errorf("%w: view: %v", ErrInvalidAttestation, a.View)
	}
	if len(a.Evidence) > MaxAttestEvidence {
		return nil, fmt.Errorf("%w: evidence: %d items, max %d", ErrInvalidAttestation, len(a.Evidence), MaxAttestEvidence)
	}
	subject, view, reason := a.Subject, a.View.String(), a.Reason
	w := wireAttest{Subject: &subject, View: &view, Reason: &reason, Evidence: make([]wireEvidence, 0, len(a.Evidence))}
	for i, e := range a.Evidence {
		if e.MsgID == "" && len(e.Envelope) == 0 {
			return nil, fmt.Errorf("%w: evidence[%d]: needs msg_id or envelope", ErrInvalidAttestation, i)
		}
		w.Evidence = append(w.Evidence, wireEvidence{MsgID: e.MsgID, Envelope: base64.StdEncoding.EncodeToString(e.Envelope)})
	}
	return json.Marshal(w)
}

// Contradiction names how two envelopes of one signer contradict. The zero
// value is invalid.
type Contradiction uint8

// Kinds of equivocation (SPEC §5 "two valid signed envelopes that
// contradict").
const (
	// SameMsgID: two envelopes with one msg_id but different signed
	// content. A msg_id names one message; signing two is equivocation
	// whatever the type (a resend carries the same bytes, and Ed25519
	// signatures are deterministic).
	SameMsgID Contradiction = iota + 1
	// OppositeVotes: FACT_CONFIRM and FACT_REJECT (or FACT_CHALLENGE) on
	// the same fact_ref whose timestamps lie within EquivocationWindow.
	OppositeVotes
)

var contradictionNames = [...]string{SameMsgID: "same_msg_id", OppositeVotes: "opposite_votes"}

// Valid reports whether c is defined.
func (c Contradiction) Valid() bool { return c >= SameMsgID && c <= OppositeVotes }

// String returns "same_msg_id", "opposite_votes" or "invalid(N)".
func (c Contradiction) String() string {
	if !c.Valid() {
		return fmt.Sprintf("invalid(%d)", uint8(c))
	}
	return contradictionNames[c]
}

// Proof is a verified proof of malice: two envelopes validly signed by
// Subject that contradict each other.
type Proof struct {
	Subject string
	Kind    Contradiction
	// A and B are the two envelopes, in evidence order; A.Raw() and
	// B.Raw() are their exact wire bytes.
	A, B *envelope.Envelope
}

// VerifyEvidence is the default verify function for VerifyProof: it parses
// an embedded envelope strictly and runs the checks that still make sense
// for an old message — shape, fingerprint = SHA-256(pubkey), signature
// (SPEC §3.3 checks 1–4) and the payload schema (check 9). The timestamp,
// replay and receiver checks are deliberately skipped: evidence is an old
// message addressed to someone else.
func VerifyEvidence(raw []byte) (*envelope.Envelope, error) {
	env, err := envelope.Parse(raw)
	if err != nil {
		return nil, err
	}
	if err := envelope.VerifySignature(env); err != nil {
		return nil, err
	}
	if err := envelope.ValidatePayload(env.Type, env.Payload); err != nil {
		return nil, err
	}
	return env, nil
}

// VerifyProof checks, on the receiver's own authority, the proof a
// TRUST_ATTEST payload carries. verify checks one embedded envelope's
// signature (VerifyEvidence when nil). The proof holds when at least two
// embedded envelopes were validly signed by the subject and two of them
// contradict (Contradiction). Errors:
//
//   - ErrInvalidAttestation: the payload itself is malformed;
//   - ErrNoProof: fewer than two embedded envelopes (not a proof attempt);
//   - ErrInvalidProof with ErrForgedEvidence: an embedded envelope fails
//     verify; with ErrWrongSigner: one is signed by someone else; with
//     ErrNoContradiction: genuine, but nothing contradicts.
//
// Every embedded envelope must verify and be the subject's: a proof padded
// with garbage is not accepted, so a relay cannot hide forgeries behind one
// genuine pair. VerifyProof is pure; ApplyProof feeds its outcome to a
// Ledger.
func VerifyProof(payload []byte, verify func(raw []byte) (*envelope.Envelope, error)) (Proof, error) {
	a, err := ParseAttestation(payload)
	if err != nil {
		return Proof{}, err
	}
	return a.VerifyProof(verify)
}

// VerifyProof is VerifyProof on an already parsed attestation.
func (a Attestation) VerifyProof(verify func(raw []byte) (*envelope.Envelope, error)) (Proof, error) {
	if verify == nil {
		verify = VerifyEvidence
	}
	var envs []*envelope.Envelope
	var idx []int
	for i, ev := range a.Evidence {
		if ev.Envelope == nil {
			continue
		}
		envs = append(envs, nil)
		idx = append(idx, i)
	}
	if len(envs) < 2 {
		return Proof{}, fmt.Errorf("%w: %d embedded envelopes, a proof needs 2", ErrNoProof, len(envs))
	}
	for k, i := range idx {
		env, err := verify(a.Evidence[i].Envelope)
		if err != nil {
			return Proof{}, fmt.Errorf("%w: %w: payload.evidence[%d].envelope: %w", ErrInvalidProof, ErrForgedEvidence, i, err)
		}
		if env == nil {
			return Proof{}, fmt.Errorf("%w: %w: payload.evidence[%d].envelope: verifier returned no envelope", ErrInvalidProof, ErrForgedEvidence, i)
		}
		if env.Sender.Fingerprint != a.Subject {
			return Proof{}, fmt.Errorf("%w: %w: payload.evidence[%d].envelope: signed by %s, subject is %s", ErrInvalidProof, ErrWrongSigner, i, env.Sender.Fingerprint, a.Subject)
		}
		if ev := a.Evidence[i].MsgID; ev != "" && ev != env.MsgID {
			return Proof{}, fmt.Errorf("%w: %w: payload.evidence[%d].msg_id: %s, envelope says %s", ErrInvalidProof, ErrForgedEvidence, i, ev, env.MsgID)
		}
		envs[k] = env
	}
	for x := 0; x < len(envs); x++ {
		for y := x + 1; y < len(envs); y++ {
			if c := Contradicts(envs[x], envs[y]); c.Valid() {
				return Proof{Subject: a.Subject, Kind: c, A: envs[x], B: envs[y]}, nil
			}
		}
	}
	return Proof{}, fmt.Errorf("%w: %w: %d envelopes of %s, no two contradict", ErrInvalidProof, ErrNoContradiction, len(envs), a.Subject)
}

// Contradicts reports how two envelopes contradict, or 0 if they do not.
// It only compares content; the caller has verified both signatures. Two
// envelopes contradict when they have one signer and
//
//   - the same msg_id but different signed bytes (SameMsgID), or
//   - one is FACT_CONFIRM and the other FACT_REJECT or FACT_CHALLENGE, on
//     the same fact_ref, with timestamps at most EquivocationWindow apart
//     (OppositeVotes).
//
// The same bytes twice never contradict.
func Contradicts(a, b *envelope.Envelope) Contradiction {
	if a == nil || b == nil || a.Sender.Fingerprint != b.Sender.Fingerprint {
		return 0
	}
	sa, errA := a.SigningBytes()
	sb, errB := b.SigningBytes()
	if errA != nil || errB != nil {
		return 0
	}
	if bytes.Equal(sa, sb) {
		return 0
	}
	if a.MsgID == b.MsgID {
		return SameMsgID
	}
	va, okA := voteOf(a)
	vb, okB := voteOf(b)
	if !okA || !okB || va.ref != vb.ref || va.confirm == vb.confirm {
		return 0
	}
	if timeAbs(a.Timestamp.Sub(b.Timestamp)) <= EquivocationWindow {
		return OppositeVotes
	}
	return 0
}

type voteFacts struct {
	ref     string
	confirm bool
}

// voteOf extracts fact_ref and polarity from a vote envelope.
func voteOf(e *envelope.Envelope) (voteFacts, bool) {
	switch e.Type {
	case envelope.FactConfirm, envelope.FactReject, envelope.FactChallenge:
	default:
		return voteFacts{}, false
	}
	var p struct {
		FactRef string `json:"fact_ref"`
	}
	if err := json.Unmarshal(e.Payload, &p); err != nil || p.FactRef == "" {
		return voteFacts{}, false
	}
	return voteFacts{ref: p.FactRef, confirm: e.Type == envelope.FactConfirm}, true
}

// ProofAttestation builds the TRUST_ATTEST payload for an equivocation:
// subject blacklisted, reason ReasonEquivocation, both envelopes embedded
// with their msg_ids. It fails with ErrProofTooLarge when the encoded
// payload could not fit in one envelope.
func ProofAttestation(subject string, first, second []byte, firstID, secondID string) ([]byte, error) {
	a := Attestation{Subject: subject, View: Blacklisted, Reason: ReasonEquivocation,
		Evidence: []Evidence{{MsgID: firstID, Envelope: first}, {MsgID: secondID, Envelope: second}}}
	for i, e := range a.Evidence {
		if base64.StdEncoding.EncodedLen(len(e.Envelope)) > MaxAttestEnvelopeB64 {
			return nil, fmt.Errorf("%w: evidence[%d] has %d bytes", ErrProofTooLarge, i, len(e.Envelope))
		}
	}
	p, err := a.Payload()
	if err != nil {
		return nil, err
	}
	// Leave room for the envelope around the payload (identity, state,
	// signature: well under 8 KiB).
	if len(p) > envelope.MaxSize-8<<10 {
		return nil, fmt.Errorf("%w: payload of %d bytes", ErrProofTooLarge, len(p))
	}
	return p, nil
}

// ApplyProof verifies the proof in a TRUST_ATTEST payload and acts on it
// through the ledger, on this node's own authority:
//
//   - proof holds → the subject is blacklisted (ProvenMalice, cause =
//     attestMsgID);
//   - the evidence is forged (an embedded envelope that does not verify,
//     ErrForgedEvidence) or signed by someone other than the subject
//     (ErrWrongSigner) → the attester is blacklisted: forged evidence is
//     proven malice (SPEC §5);
//   - the proof is otherwise invalid (ErrNoContradiction,
//     ErrInvalidAttestation) → the attester is charged an invalid message;
//   - no proof (ErrNoProof) → nothing is applied; hand the attestation to
//     an AttestationBook instead.
//
// attester is the verified signer of the TRUST_ATTEST: it answers for what
// it signed, wherever it came from. A relay that forwarded it is never
// charged here (relays verify a proof before forwarding it, so one that
// reaches a node unverified came from its attester or from a relay that
// broke that rule, which gossip scoring handles). It returns the proof (if
// it held), the transition applied (nil if the state did not change) and
// the verification error.
func ApplyProof(l *Ledger, attester, attestMsgID string, payload []byte, verify func([]byte) (*envelope.Envelope, error)) (Proof, *Transition, error) {
	p, err := VerifyProof(payload, verify)
	switch {
	case err == nil:
		tr, aerr := l.Apply(p.Subject, ProvenMalice, attestMsgID)
		l.em.Emit(EventProofVerified, p.Subject, map[string]any{
			"subject": p.Subject, "kind": p.Kind.String(), "attester": attester,
			"msg_id": attestMsgID, "evidence": []any{p.A.MsgID, p.B.MsgID},
		}, causeList(attestMsgID)...)
		if aerr != nil {
			return p, nil, aerr
		}
		return p, tr, nil
	case errors.Is(err, ErrNoProof):
		return Proof{}, nil, err
	default:
		l.em.Error("trust", "invalid_proof", attester, err, map[string]any{"msg_id": attestMsgID})
		tr, aerr := l.Apply(attester, ProofFailure(err), attestMsgID)
		if aerr != nil {
			return Proof{}, nil, errors.Join(err, aerr)
		}
		return Proof{}, tr, err
	}
}

// ProofFailure is the trust event an attester earns for a proof that did
// not verify with err: ProvenMalice for forged evidence or evidence
// signed by someone other than the subject (SPEC §5), InvalidMessage for
// anything else.
func ProofFailure(err error) Event {
	if errors.Is(err, ErrForgedEvidence) || errors.Is(err, ErrWrongSigner) {
		return ProvenMalice
	}
	return InvalidMessage
}

func causeList(id string) []string {
	if id == "" {
		return nil
	}
	return []string{id}
}

// EventProofVerified is emitted when a TRUST_ATTEST proof verified.
const EventProofVerified = "web4.trust.proof_verified"

// isUUID4 checks the UUID v4 shape of common.json (lowercase hex).
func isUUID4(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
			continue
		}
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	if s[14] != '4' {
		return false
	}
	switch s[19] {
	case '8', '9', 'a', 'b':
		return true
	}
	return false
}

// timeAbs returns |d|.
func timeAbs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
