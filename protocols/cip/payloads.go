package cip

import "github.com/web4p2p/web4p2p/protocols/envelope"

// Payload structs of every CIP type (SPEC §4.1). Their JSON matches the
// schemas shipped in protocols/envelope/schema; builders validate against
// those schemas before signing. Fields are declared in JSON key order, so
// encoding/json emits RFC 8785 form directly and sealing skips the
// canonicaliser (TestPayloadsEncodeCanonically keeps it so).

// Features advertises optional abilities in HELLO.
type Features struct {
	SupportsMesh      bool `json:"supports_mesh"`
	SupportsMultiplex bool `json:"supports_multiplex"`
}

// Hello is the HELLO payload. ChallengeResponse is set only on the
// responding HELLO.
type Hello struct {
	Capabilities      []string `json:"capabilities"`
	Challenge         string   `json:"challenge"` // base64 of ChallengeSize bytes
	ChallengeResponse string   `json:"challenge_response,omitempty"`
	Features          Features `json:"features"`
	Protocols         []string `json:"protocols"`
	SessionNonce      string   `json:"session_nonce"` // base64 of NonceSize bytes
}

// VerifyPayload is the VERIFY payload: the initiator's response to the
// responder's challenge.
type VerifyPayload struct {
	ChallengeResponse string `json:"challenge_response"`
}

// IntentRequest is an INTENT asking the peer for something.
type IntentRequest struct {
	Context  string   `json:"context,omitempty"`
	Goal     Goal     `json:"goal"`
	Priority Priority `json:"priority"`
	Topic    string   `json:"topic"`
}

// IntentReply answers an IntentRequest (also type INTENT).
type IntentReply struct {
	Decision Decision `json:"decision"`
	Reason   string   `json:"reason,omitempty"`
	ReplyTo  string   `json:"reply_to"` // msg_id of the request
}

// Fact is the proposed statement of FACT_PROPOSE.
type Fact struct {
	Confidence float64  `json:"confidence"`
	Context    string   `json:"context"`
	Domain     string   `json:"domain"`
	Object     string   `json:"object,omitempty"`
	Predicate  string   `json:"predicate,omitempty"`
	Sources    []string `json:"sources"`
	Statement  string   `json:"statement"`
	Subject    string   `json:"subject,omitempty"`
}

// DMPTrace is a decision trace (causal memory, SPEC §10).
type DMPTrace struct {
	Counterfactuals []string `json:"counterfactuals"`
	DecisionID      string   `json:"decision_id"`
	Evidence        []string `json:"evidence"`
	Steps           []string `json:"steps"`
}

// FactPropose is the FACT_PROPOSE payload. The builder fills FactID from
// the fact's domain and statement.
type FactPropose struct {
	CausalLinks []string `json:"causal_links"`
	DMPTrace    DMPTrace `json:"dmp_trace"`
	Fact        Fact     `json:"fact"`
	FactID      string   `json:"fact_id,omitempty"`
}

// FactChallenge is the FACT_CHALLENGE payload.
type FactChallenge struct {
	FactRef string          `json:"fact_ref"`
	Notes   string          `json:"notes"`
	Reason  ChallengeReason `json:"reason"`
}

// FactVote is the payload of FACT_CONFIRM and FACT_REJECT; the builder sets
// Decision to "confirm" or "reject" by type.
type FactVote struct {
	Confidence float64 `json:"confidence"`
	Decision   string  `json:"decision"`
	FactRef    string  `json:"fact_ref"`
	Notes      string  `json:"notes"`
}

// DecisionRecord is the decision of DECISION_SHARE.
type DecisionRecord struct {
	Choice  string `json:"choice"`
	Context string `json:"context"`
	Outcome string `json:"outcome"`
}

// DecisionShare is the DECISION_SHARE payload.
type DecisionShare struct {
	Decision      DecisionRecord `json:"decision"`
	DMPTrace      DMPTrace       `json:"dmp_trace"`
	Retrospective string         `json:"retrospective"`
}

// StateUpdatePayload is the STATE_UPDATE payload. TrustState is the
// sender's current trust state for the receiver.
type StateUpdatePayload struct {
	Intent        string             `json:"intent"`
	KernelSignals []string           `json:"kernel_signals"`
	LRI           int                `json:"lri"`
	Presence      envelope.Presence  `json:"presence"`
	TrustState    envelope.TrustView `json:"trust_state"`
}

// AttestEvidence is one item of TRUST_ATTEST evidence: a msg_id, or a
// signed envelope embedded as base64 of its exact wire bytes (so receivers
// can verify it themselves).
type AttestEvidence struct {
	Envelope string `json:"envelope,omitempty"`
	MsgID    string `json:"msg_id,omitempty"`
}

// TrustAttestPayload is the TRUST_ATTEST payload.
type TrustAttestPayload struct {
	Evidence []AttestEvidence   `json:"evidence"`
	Reason   string             `json:"reason"`
	Subject  string             `json:"subject"` // fingerprint
	View     envelope.TrustView `json:"view"`
}

func nz(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (t DMPTrace) normalised() DMPTrace {
	t.Steps, t.Counterfactuals, t.Evidence = nz(t.Steps), nz(t.Counterfactuals), nz(t.Evidence)
	return t
}
