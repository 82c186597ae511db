package lip

import (
	"fmt"
	"time"

	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// FactFor builds the knowledge fact an accepted claim becomes: its
// Assertion (the statement, or "It is false that …" for a claim a
// fact-check rated false) in the claim's domain, with the extraction
// confidence, proposed by the local node (proposer = its fingerprint) at
// now. The provenance (URI, retrieval time, content hash) and the decision
// (tier or corroborators) are in Sources and the DMP trace the node
// attaches; FactSources lists them in the form FACT_PROPOSE carries.
func FactFor(e Entry, proposer string, now time.Time) (knowledge.Fact, error) {
	if e.State != Accepted {
		return knowledge.Fact{}, fmt.Errorf("%w: claim %s is %v, only accepted claims become facts", ErrInvalidClaim, e.ID, e.State)
	}
	stmt := e.Claim.Assertion()
	id, err := envelope.FactID(e.Claim.Domain, stmt)
	if err != nil {
		return knowledge.Fact{}, fmt.Errorf("%w: %w", knowledge.ErrInvalidFact, err)
	}
	f := knowledge.Fact{
		ID: id, Statement: stmt, Domain: e.Claim.Domain, Confidence: e.Claim.Confidence,
		Proposer: proposer, ProposedAt: now.UTC(),
	}
	if err := f.Validate(); err != nil {
		return knowledge.Fact{}, err
	}
	return f, nil
}

// FactSources renders an accepted claim's provenance and decision as the
// "sources" strings of a FACT_PROPOSE payload: the URI, then
// "sha256:<hash>", "retrieved_at:<RFC 3339>", "tier:<tier>", "lip:<reason>"
// and one "corroborated_by:<fingerprint>" per trusted corroborator.
func FactSources(e Entry) []string {
	p := e.Claim.Provenance
	out := []string{p.URI, "sha256:" + p.ContentSHA256, "retrieved_at:" + p.RetrievedAt.UTC().Format(time.RFC3339Nano),
		"tier:" + e.Tier.String(), "lip:" + e.Reason.String()}
	for _, fp := range e.Support {
		out = append(out, "corroborated_by:"+fp)
	}
	return out
}
