package cip

import "github.com/web4p2p/web4p2p/protocols/envelope"

// Payload structs of every CIP type (SPEC §4.1). Their JSON matches the
// schemas shipped in protocols/envelope/schema; builders validate against
// those schemas before signing.

// Features advertises optional abilities in HELLO.
type Features struct {
	SupportsMesh      bool `json:"supports_mesh"`
	SupportsMultiplex bool `json:"supports_multiplex"`
}

// Hello is the HELLO payload. ChallengeResponse is set only on the
// responding HELLO.
type Hello struct {
	Protocols         []string `json:"protocols"`
	Capabilities      []string `json:"capabilities"`
	SessionNonce      string   `json:"session_nonce"` // base64 of NonceSize bytes
	Challenge         string   `json:"challenge"`     // base64 of ChallengeSize bytes
	Features          Features `json:"features"`
	ChallengeResponse string   `json:"challenge_response,omitempty"`
}

// VerifyPayload is the VERIFY payload: the initiator's response to the
// responder's challenge.
type VerifyPayload struct {
	ChallengeResponse string `json:"challenge_response"`
}

// IntentRequest is an INTENT asking the peer for something.
type IntentRequest struct {
	Goal     Goal     `json:"goal"`
	Topic    string   `json:"topic"`
	Priority Priority `json:"priority"`
	Context  string   `json:"context,omitempty"`
}

// IntentReply answers an IntentRequest (also type INTENT).
type IntentReply struct {
	ReplyTo  string   `json:"reply_to"` // msg_id of the request
	Decision Decision `json:"decision"`
	Reason   string   `json:"reason,omitempty"`
}

// Fact is the proposed statement of FACT_PROPOSE.
type Fact struct {
	Statement  string   `json:"statement"`
	Domain     string   `json:"domain"`
	Confidence float64  `json:"confidence"`
	Sources    []string `json:"sources"`
	Context    string   `json:"context"`
	Subject    string   `json:"subject,omitempty"`
	Predicate  string   `json:"predicate,omitempty"`
	Object     string   `json:"object,omitempty"`
}

// DMPTrace is a decision trace (causal memory, SPEC §10).
type DMPTrace struct {
	DecisionID      string   `json:"decision_id"`
	Steps           []string `json:"steps"`
	Counterfactuals []string `json:"counterfactuals"`
	Evidence        []string `json:"evidence"`
}

// FactPropose is the FACT_PROPOSE payload. The builder fills FactID from
// the fact's domain and statement.
type FactPropose struct {
	FactID      string   `json:"fact_id,omitempty"`
	Fact        Fact     `json:"fact"`
	DMPTrace    DMPTrace `json:"dmp_trace"`
	CausalLinks []string `json:"causal_links"`
}

// FactChallenge is the FACT_CHALLENGE payload.
type FactChallenge struct {
	FactRef string          `json:"fact_ref"`
	Reason  ChallengeReason `json:"reason"`
	Notes   string          `json:"notes"`
}

// FactVote is the payload of FACT_CONFIRM and FACT_REJECT; the builder sets
// Decision to "confirm" or "reject" by type.
type FactVote struct {
	FactRef    string  `json:"fact_ref"`
	Decision   string  `json:"decision"`
	Confidence float64 `json:"confidence"`
	Notes      string  `json:"notes"`
}

// DecisionRecord is the decision of DECISION_SHARE.
type DecisionRecord struct {
	Choice  string `json:"choice"`
	Outcome string `json:"outcome"`
	Context string `json:"context"`
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
	Presence      envelope.Presence  `json:"presence"`
	LRI           int                `json:"lri"`
	TrustState    envelope.TrustView `json:"trust_state"`
	KernelSignals []string           `json:"kernel_signals"`
	Intent        string             `json:"intent"`
}

// AttestEvidence is one item of TRUST_ATTEST evidence: a msg_id, or a
// signed envelope embedded as base64 of its exact wire bytes (so receivers
// can verify it themselves).
type AttestEvidence struct {
	MsgID    string `json:"msg_id,omitempty"`
	Envelope string `json:"envelope,omitempty"`
}

// TrustAttestPayload is the TRUST_ATTEST payload.
type TrustAttestPayload struct {
	Subject  string             `json:"subject"` // fingerprint
	View     envelope.TrustView `json:"view"`
	Reason   string             `json:"reason"`
	Evidence []AttestEvidence   `json:"evidence"`
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
