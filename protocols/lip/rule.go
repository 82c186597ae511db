package lip

import (
	"fmt"
	"sort"
	"time"

	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/lip/extract"
	"github.com/web4p2p/web4p2p/trust"
)

// CorroborationKind is how a peer supports a claim. The zero value is
// invalid.
type CorroborationKind uint8

// Corroboration kinds (SPEC §7 cross-agent corroboration).
const (
	// SameContent: the peer re-fetched the claim's URI and got content with
	// the same SHA-256.
	SameContent CorroborationKind = iota + 1
	// OwnEvidence: the peer contributed its own evidence (LIP_EVIDENCE) for
	// the same statement with the same verdict.
	OwnEvidence
)

var corrKindNames = []string{"", "same_content", "own_evidence"}

// String returns "same_content", "own_evidence" or "invalid(N)".
func (k CorroborationKind) String() string { return enumName(corrKindNames, uint8(k)) }

// MarshalText implements encoding.TextMarshaler.
func (k CorroborationKind) MarshalText() ([]byte, error) { return enumMarshal(corrKindNames, uint8(k)) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *CorroborationKind) UnmarshalText(b []byte) error {
	return enumUnmarshal(corrKindNames, b, (*uint8)(k))
}

// Corroboration is one peer's support for a claim.
type Corroboration struct {
	// Peer is the corroborating agent's fingerprint (the verified sender).
	Peer string            `json:"peer"`
	Kind CorroborationKind `json:"kind"`
	// URI and ContentSHA256 are what the peer fetched (SameContent).
	URI           string `json:"uri,omitempty"`
	ContentSHA256 string `json:"content_sha256,omitempty"`
	// FactID and Verdict are what the peer's own evidence says
	// (OwnEvidence).
	FactID  string          `json:"fact_id,omitempty"`
	Verdict extract.Verdict `json:"verdict,omitempty"`
	// At is when the corroboration arrived.
	At time.Time `json:"at"`
}

// Supports reports whether the corroboration is about claim c: the same
// URI and content hash, or evidence for the same statement and verdict.
// It does not look at trust.
func (k Corroboration) Supports(c Claim) bool {
	if k.Peer == "" || k.Peer == c.Origin {
		return false
	}
	switch k.Kind {
	case SameContent:
		return k.URI == c.Provenance.URI && isHex64(k.ContentSHA256) && k.ContentSHA256 == c.Provenance.ContentSHA256
	case OwnEvidence:
		return k.FactID == c.FactID && k.Verdict == c.Verdict
	}
	return false
}

// TrustedSupport returns the sorted distinct fingerprints of trusted peers
// whose corroborations support c.
func TrustedSupport(c Claim, cs []Corroboration, view func(fp string) trust.State) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range cs {
		if seen[k.Peer] || !k.Supports(c) || view == nil || view(k.Peer) != trust.Trusted {
			continue
		}
		seen[k.Peer] = true
		out = append(out, k.Peer)
	}
	sort.Strings(out)
	return out
}

// Outcome is what the acceptance rule decides for a claim now. The zero
// value is invalid.
type Outcome uint8

// Outcomes.
const (
	// Wait: keep the claim pending.
	Wait Outcome = iota + 1
	// Accept: the claim may enter the knowledge base.
	Accept
	// Reject: the claim is refused (with a Reason).
	Reject
	// Dispute: an unresolved conflict; the claim is held as disputed.
	Dispute
)

var outcomeNames = []string{"", "wait", "accept", "reject", "dispute"}

// String returns the outcome name.
func (o Outcome) String() string { return enumName(outcomeNames, uint8(o)) }

// Reason says which rule decided. The zero value is invalid.
type Reason uint8

// Reasons, one per rule of Decide (in rule order), plus the ones the queue
// uses outside Decide.
const (
	ReasonInvalid       Reason = iota + 1 // claim fails validation
	ReasonNoProvenance                    // uri, retrieved_at or hash missing
	ReasonBlocked                         // source tier blocked
	ReasonExpired                         // pending/disputed past its expiry
	ReasonConflictLost                    // lost a conflict on weight
	ReasonLowConfidence                   // extraction confidence below the minimum
	ReasonDisputed                        // unresolved conflict
	ReasonOverloaded                      // agent overloaded: wait
	ReasonTier                            // accepted: source tier ≥ medium
	ReasonCorroborated                    // accepted: ≥ N trusted corroborators
	ReasonInsufficient                    // wait: low tier, not enough corroboration
	ReasonRetracted                       // an accepted claim later rejected from outside
	ReasonWithdrawn                       // a peer's claim withdrawn by that peer (its LIP_REJECT)
)

var reasonNames = []string{"", "invalid", "no_provenance", "blocked_source", "expired", "conflict_lost",
	"low_confidence", "disputed", "overloaded", "tier", "corroborated", "insufficient_support", "retracted", "withdrawn"}

// String returns the reason's wire name (used in LIP_REJECT/LIP_ACCEPT and
// events).
func (r Reason) String() string { return enumName(reasonNames, uint8(r)) }

// MarshalText implements encoding.TextMarshaler.
func (r Reason) MarshalText() ([]byte, error) { return enumMarshal(reasonNames, uint8(r)) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Reason) UnmarshalText(b []byte) error { return enumUnmarshal(reasonNames, b, (*uint8)(r)) }

// ConflictState summarises a claim's conflicts for the acceptance rule. The
// zero value is invalid.
type ConflictState uint8

// Conflict states.
const (
	// NoConflict: nothing contradicts the claim.
	NoConflict ConflictState = iota + 1
	// ConflictWon: every conflict was resolved in the claim's favour.
	ConflictWon
	// ConflictLost: the claim lost at least one conflict.
	ConflictLost
	// ConflictUnresolved: at least one conflict is too close to call.
	ConflictUnresolved
)

var conflictStateNames = []string{"", "none", "won", "lost", "unresolved"}

// String returns the state name.
func (s ConflictState) String() string { return enumName(conflictStateNames, uint8(s)) }

// Rules are the tunable thresholds of the acceptance rule.
type Rules struct {
	// MinCorroborators: trusted corroborators that stand in for tier ≥ medium.
	MinCorroborators int
	// MinConfidence: lowest acceptable extraction confidence.
	MinConfidence float64
	// CorroborationWeight and ConflictMargin resolve conflicts (Resolve).
	CorroborationWeight int
	ConflictMargin      int
}

// DefaultRules returns the defaults of limits.go.
func DefaultRules() Rules {
	return Rules{
		MinCorroborators:    DefaultMinCorroborators,
		MinConfidence:       DefaultMinConfidence,
		CorroborationWeight: DefaultCorroborationWeight,
		ConflictMargin:      DefaultConflictMargin,
	}
}

func (r Rules) norm() Rules {
	d := DefaultRules()
	if r.MinCorroborators <= 0 {
		r.MinCorroborators = d.MinCorroborators
	}
	if r.MinConfidence <= 0 {
		r.MinConfidence = d.MinConfidence
	}
	if r.CorroborationWeight <= 0 {
		r.CorroborationWeight = d.CorroborationWeight
	}
	if r.ConflictMargin <= 0 {
		r.ConflictMargin = d.ConflictMargin
	}
	return r
}

// Input is everything the acceptance rule looks at. Nothing else
// (no clock, no store, no network) influences the decision.
type Input struct {
	Claim          Claim
	Corroborations []Corroboration
	// View is the local trust view (trust.Ledger.State).
	View func(fp string) trust.State
	// Tier is the source's current tier (from Tiers, not the claim's
	// self-declared one).
	Tier envelope.Tier
	// Now and Expires decide expiry.
	Now, Expires time.Time
	// Overloaded: the agent is overloaded, so nothing is accepted now.
	Overloaded bool
	// Conflict is the claim's conflict summary (Resolve over its conflicts).
	Conflict ConflictState
	Rules    Rules
}

// Decision is the rule's verdict.
type Decision struct {
	Outcome Outcome
	Reason  Reason
	// Support lists the trusted corroborators counted.
	Support []string
	// Detail explains the decision for people.
	Detail string
}

// Decide is the acceptance rule of SPEC §7, a pure function. Rules apply in
// this order; the first that decides wins:
//
//  1. invalid claim → reject (invalid)
//  2. provenance incomplete (uri, retrieved_at, content hash) → reject (no_provenance)
//  3. source tier blocked → reject (blocked_source)
//  4. now ≥ expiry → reject (expired)
//  5. lost a conflict → reject (conflict_lost)
//  6. extraction confidence below Rules.MinConfidence → reject (low_confidence)
//  7. unresolved conflict → dispute (disputed)
//  8. agent overloaded → wait (overloaded)
//  9. tier ≥ medium, for a claim this node fetched itself → accept (tier)
//  10. ≥ Rules.MinCorroborators distinct trusted corroborators → accept (corroborated)
//  11. otherwise → wait (insufficient_support)
//
// Rejections come before the overload check: refusing costs the agent
// nothing and frees the queue, while accepting must wait for attention.
//
// Rule 9 needs Origin == "": a claim carried in a peer's LIP_EVIDENCE says
// what the peer says the page says, and a peer could name a high-tier site
// for words it never printed. Such a claim is accepted only through
// corroboration (rule 10), or when this node re-fetches the page itself
// (Learner.Recheck), which queues its own claim with the real tier.
func Decide(in Input) Decision {
	r := in.Rules.norm()
	c := in.Claim
	support := TrustedSupport(c, in.Corroborations, in.View)
	d := func(o Outcome, why Reason, detail string, args ...any) Decision {
		return Decision{Outcome: o, Reason: why, Support: support, Detail: fmt.Sprintf(detail, args...)}
	}
	if err := c.Validate(); err != nil {
		return d(Reject, ReasonInvalid, "%v", err)
	}
	if !c.Provenance.Complete() {
		return d(Reject, ReasonNoProvenance, "provenance needs uri, retrieved_at and content_sha256")
	}
	if in.Tier == envelope.TierBlocked || in.Tier.Rank() < 0 {
		return d(Reject, ReasonBlocked, "source %s is blocked", c.Provenance.Host())
	}
	if !in.Expires.IsZero() && !in.Now.Before(in.Expires) {
		return d(Reject, ReasonExpired, "not accepted before its expiry %s", envelope.FormatTime(in.Expires))
	}
	switch in.Conflict {
	case ConflictLost:
		return d(Reject, ReasonConflictLost, "contradicted by better-supported evidence")
	}
	if c.Confidence < r.MinConfidence {
		return d(Reject, ReasonLowConfidence, "extraction confidence %.2f below %.2f", c.Confidence, r.MinConfidence)
	}
	if in.Conflict == ConflictUnresolved {
		return d(Dispute, ReasonDisputed, "conflicting evidence of similar weight")
	}
	if in.Overloaded {
		return d(Wait, ReasonOverloaded, "agent overloaded; the claim waits")
	}
	if c.Origin == "" && in.Tier.Rank() >= envelope.TierMedium.Rank() {
		return d(Accept, ReasonTier, "source tier %v", in.Tier)
	}
	if len(support) >= r.MinCorroborators {
		return d(Accept, ReasonCorroborated, "%d trusted corroborators", len(support))
	}
	return d(Wait, ReasonInsufficient, "tier %v and %d of %d trusted corroborators", in.Tier, len(support), r.MinCorroborators)
}

// Severity grades a conflict. The zero value is invalid.
type Severity uint8

// Severities.
const (
	SeverityLow Severity = iota + 1
	SeverityMedium
	SeverityHigh
)

var severityNames = []string{"", "low", "medium", "high"}

// String returns "low", "medium", "high" or "invalid(N)".
func (s Severity) String() string { return enumName(severityNames, uint8(s)) }

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) { return enumMarshal(severityNames, uint8(s)) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error { return enumUnmarshal(severityNames, b, (*uint8)(s)) }

// ConflictKind says why two claims conflict. The zero value is invalid.
type ConflictKind uint8

// Conflict kinds (SPEC §7).
const (
	// Contradiction: same (domain, subject, predicate), different object.
	Contradiction ConflictKind = iota + 1
	// VerdictClash: the same statement rated with different verdicts — e.g.
	// a ClaimReview rating false a statement another source asserts.
	VerdictClash
)

var conflictKindNames = []string{"", "contradiction", "verdict_clash"}

// String returns the kind name.
func (k ConflictKind) String() string { return enumName(conflictKindNames, uint8(k)) }

// MarshalText implements encoding.TextMarshaler.
func (k ConflictKind) MarshalText() ([]byte, error) { return enumMarshal(conflictKindNames, uint8(k)) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *ConflictKind) UnmarshalText(b []byte) error {
	return enumUnmarshal(conflictKindNames, b, (*uint8)(k))
}

// Conflicting reports whether a and b contradict each other and how. Two
// claims from the same URI with the same verdict never conflict.
func Conflicting(a, b Claim) (ConflictKind, bool) {
	if a.FactID == b.FactID && a.Verdict != b.Verdict {
		return VerdictClash, true
	}
	ka := a.tripleKey()
	if ka != "" && ka == b.tripleKey() && a.Verdict == extract.True && b.Verdict == extract.True &&
		!equalFold(a.Object, b.Object) {
		return Contradiction, true
	}
	return 0, false
}

// Side is one claim's standing in a conflict.
type Side struct {
	Tier envelope.Tier
	// Support is the number of trusted corroborators.
	Support int
	// Accepted: the claim is already in the knowledge base.
	Accepted bool
}

// Weight is the side's weight: tier rank plus CorroborationWeight per
// trusted corroborator.
func (s Side) Weight(r Rules) int {
	r = r.norm()
	rank := s.Tier.Rank()
	if rank < 0 {
		rank = 0
	}
	return rank + r.CorroborationWeight*s.Support
}

// Resolve decides a conflict between a and b by weight: the side ahead by
// at least Rules.ConflictMargin wins (+1 for a, -1 for b); otherwise 0,
// unresolved. Pure.
func Resolve(a, b Side, r Rules) int {
	r = r.norm()
	wa, wb := a.Weight(r), b.Weight(r)
	switch {
	case wa-wb >= r.ConflictMargin:
		return 1
	case wb-wa >= r.ConflictMargin:
		return -1
	}
	return 0
}

// Grade returns a conflict's severity: high when it touches an accepted
// claim or both sides would be acceptable on their own, medium when one
// would, low otherwise.
func Grade(a, b Side, r Rules) Severity {
	r = r.norm()
	acceptable := func(s Side) bool {
		return s.Tier.Rank() >= envelope.TierMedium.Rank() || s.Support >= r.MinCorroborators
	}
	switch {
	case a.Accepted || b.Accepted || acceptable(a) && acceptable(b):
		return SeverityHigh
	case acceptable(a) || acceptable(b):
		return SeverityMedium
	}
	return SeverityLow
}

func equalFold(a, b string) bool {
	return normFold(a) == normFold(b)
}

func enumName(names []string, v uint8) string {
	if int(v) > 0 && int(v) < len(names) {
		return names[v]
	}
	return fmt.Sprintf("invalid(%d)", v)
}

func enumMarshal(names []string, v uint8) ([]byte, error) {
	if int(v) > 0 && int(v) < len(names) {
		return []byte(names[v]), nil
	}
	return nil, fmt.Errorf("invalid enum value %d", v)
}

func enumUnmarshal(names []string, b []byte, v *uint8) error {
	for i := 1; i < len(names); i++ {
		if names[i] == string(b) {
			*v = uint8(i)
			return nil
		}
	}
	return fmt.Errorf("invalid value %q", b)
}
