package lip

import (
	"embed"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/lip/extract"
	"github.com/web4p2p/web4p2p/protocols/lip/fetch"
)

// SchemaFS holds the JSON Schemas (draft 2020-12) of the five LIP payloads,
// payload-lip_<type>.json. They $ref the envelope package's common.json.
//
//go:embed schema/*.json
var SchemaFS embed.FS

var schemaFiles = map[envelope.Type]string{
	envelope.LIPFetch:    "schema/payload-lip_fetch.json",
	envelope.LIPEvidence: "schema/payload-lip_evidence.json",
	envelope.LIPConflict: "schema/payload-lip_conflict.json",
	envelope.LIPAccept:   "schema/payload-lip_accept.json",
	envelope.LIPReject:   "schema/payload-lip_reject.json",
}

var (
	registerOnce sync.Once
	registerErr  error
)

// Register installs the LIP payload schemas into protocols/envelope, so
// that Validator check 9 and envelope.ValidatePayload know them. It is
// idempotent and cheap after the first call; it is not run from init so
// that importing the package has no global side effect and a broken schema
// surfaces as an error where the node starts. Builder and the Decode
// functions call it themselves.
func Register() error {
	registerOnce.Do(func() {
		for t, name := range schemaFiles {
			b, err := SchemaFS.ReadFile(name)
			if err == nil {
				err = envelope.RegisterPayloadSchema(t, b)
			}
			if err != nil {
				registerErr = fmt.Errorf("lip: register %v schema: %w", t, err)
				return
			}
		}
	})
	return registerErr
}

// FetchPayload is LIP_FETCH: fetch URI (or look up Query) under
// Constraints. Constraints double as the statements the verbatim extractor
// looks for.
type FetchPayload struct {
	Query       string   `json:"query,omitempty"`
	URI         string   `json:"uri,omitempty"`
	Constraints []string `json:"constraints"`
}

// Statements returns what the verbatim extractor should look for: the
// query (when it is not a URI) and the constraints.
func (p FetchPayload) Statements() []string {
	var out []string
	if p.Query != "" && !strings.Contains(p.Query, "://") {
		out = append(out, p.Query)
	}
	return append(out, p.Constraints...)
}

// EvidenceClaim is one claim inside LIP_EVIDENCE.
type EvidenceClaim struct {
	FactID     string          `json:"fact_id"`
	Statement  string          `json:"statement"`
	Domain     string          `json:"domain"`
	Subject    string          `json:"subject,omitempty"`
	Predicate  string          `json:"predicate,omitempty"`
	Object     string          `json:"object,omitempty"`
	Verdict    extract.Verdict `json:"verdict"`
	Confidence float64         `json:"confidence"`
}

// EvidenceItem supports claim number Claim of the same payload.
type EvidenceItem struct {
	Claim     int    `json:"claim"`
	Extractor string `json:"extractor"`
	Snippet   string `json:"snippet"`
	Reviewer  string `json:"reviewer,omitempty"`
	Notes     string `json:"notes,omitempty"`
}

// EvidencePayload is LIP_EVIDENCE (SPEC §7).
type EvidencePayload struct {
	Claims          []EvidenceClaim `json:"claims"`
	Evidence        []EvidenceItem  `json:"evidence"`
	Confidence      float64         `json:"confidence"`
	ExtractionNotes string          `json:"extraction_notes"`
	ContentSHA256   string          `json:"content_sha256"`
}

// ConflictPayload is LIP_CONFLICT.
type ConflictPayload struct {
	ClaimID       string       `json:"claim_id"`
	FactID        string       `json:"fact_id"`
	WithClaimID   string       `json:"with_claim_id"`
	WithFactID    string       `json:"with_fact_id"`
	Kind          ConflictKind `json:"kind"`
	Severity      Severity     `json:"severity"`
	Statement     string       `json:"statement"`
	WithStatement string       `json:"with_statement,omitempty"`
	Winner        string       `json:"winner,omitempty"`
}

// AcceptPayload is LIP_ACCEPT.
type AcceptPayload struct {
	ClaimID       string          `json:"claim_id"`
	FactID        string          `json:"fact_id"`
	Statement     string          `json:"statement"`
	Domain        string          `json:"domain"`
	Verdict       extract.Verdict `json:"verdict"`
	ContentSHA256 string          `json:"content_sha256"`
	Reason        Reason          `json:"reason"`
	Corroborators []string        `json:"corroborators"`
}

// RejectPayload is LIP_REJECT.
type RejectPayload struct {
	ClaimID   string `json:"claim_id"`
	FactID    string `json:"fact_id"`
	Statement string `json:"statement"`
	Reason    Reason `json:"reason"`
	Detail    string `json:"detail"`
}

// EvidenceFor assembles LIP_EVIDENCE from a fetch result and the claims
// extracted from it. Claims without a domain get DefaultDomain; claims
// that name no fact (envelope.FactID refuses them) are left out. The
// overall confidence is the mean extraction confidence (0 with no claims).
func EvidenceFor(res *fetch.Result, claims []extract.Claim, notes string) EvidencePayload {
	p := EvidencePayload{Claims: []EvidenceClaim{}, Evidence: []EvidenceItem{}, ContentSHA256: res.SHA256,
		ExtractionNotes: clipN(notes, 16384)}
	total := 0.0
	for _, c := range claims {
		if len(p.Claims) >= extract.MaxClaims {
			break
		}
		if c.Domain == "" {
			c.Domain = DefaultDomain
		}
		id, err := envelope.FactID(c.Domain, c.Statement)
		if err != nil {
			// No id, no claim: NewClaim refuses it too, and the learner
			// reports it there.
			continue
		}
		p.Claims = append(p.Claims, EvidenceClaim{
			FactID: id, Statement: c.Statement, Domain: c.Domain,
			Subject: c.Subject, Predicate: c.Predicate, Object: c.Object, Verdict: c.Verdict, Confidence: c.Confidence,
		})
		p.Evidence = append(p.Evidence, EvidenceItem{Claim: len(p.Claims) - 1, Extractor: c.Extractor, Snippet: clipN(c.Evidence, 1024),
			Reviewer: c.Reviewer, Notes: clipN(c.Notes, 1024)})
		total += c.Confidence
	}
	if len(p.Claims) > 0 {
		p.Confidence = total / float64(len(p.Claims))
	}
	return p
}

// ConflictPayloadFor renders a queue conflict as LIP_CONFLICT.
func ConflictPayloadFor(c Conflict) ConflictPayload {
	return ConflictPayload{ClaimID: c.A.ID, FactID: c.A.Claim.FactID, WithClaimID: c.B.ID, WithFactID: c.B.Claim.FactID,
		Kind: c.Kind, Severity: c.Severity, Statement: c.A.Claim.Statement, WithStatement: c.B.Claim.Statement, Winner: c.Winner}
}

// AcceptPayloadFor renders an accepted entry as LIP_ACCEPT.
func AcceptPayloadFor(e Entry) (AcceptPayload, error) {
	if e.State != Accepted {
		return AcceptPayload{}, fmt.Errorf("%w: claim %s is %v, not accepted", ErrBuild, e.ID, e.State)
	}
	sup := append([]string{}, e.Support...)
	return AcceptPayload{ClaimID: e.ID, FactID: e.Claim.FactID, Statement: e.Claim.Statement, Domain: e.Claim.Domain,
		Verdict: e.Claim.Verdict, ContentSHA256: e.Claim.Provenance.ContentSHA256, Reason: e.Reason, Corroborators: sup}, nil
}

// RejectPayloadFor renders a rejected entry as LIP_REJECT.
func RejectPayloadFor(e Entry) (RejectPayload, error) {
	if e.State != Rejected {
		return RejectPayload{}, fmt.Errorf("%w: claim %s is %v, not rejected", ErrBuild, e.ID, e.State)
	}
	return RejectPayload{ClaimID: e.ID, FactID: e.Claim.FactID, Statement: e.Claim.Statement, Reason: e.Reason,
		Detail: clipN(e.Detail, 1024)}, nil
}

// Decode checks env's payload against its LIP schema and decodes it into
// the payload struct of its type (*FetchPayload, *EvidencePayload, ...).
// Errors wrap ErrInvalidPayload and name the field.
func Decode(env *envelope.Envelope) (any, error) {
	if err := Register(); err != nil {
		return nil, err
	}
	if env == nil || env.Type.Family() != envelope.LIP {
		return nil, fmt.Errorf("%w: not a LIP envelope", ErrInvalidPayload)
	}
	if err := envelope.ValidatePayload(env.Type, env.Payload); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPayload, err)
	}
	var v any
	switch env.Type {
	case envelope.LIPFetch:
		v = new(FetchPayload)
	case envelope.LIPEvidence:
		v = new(EvidencePayload)
	case envelope.LIPConflict:
		v = new(ConflictPayload)
	case envelope.LIPAccept:
		v = new(AcceptPayload)
	case envelope.LIPReject:
		v = new(RejectPayload)
	}
	if err := json.Unmarshal(env.Payload, v); err != nil {
		return nil, fmt.Errorf("%w: %v payload: %v", ErrInvalidPayload, env.Type, err)
	}
	return v, nil
}

// EvidenceClaims turns a verified LIP_EVIDENCE envelope into queue claims
// whose Origin is the sender and whose provenance is the envelope's source
// block plus the payload's content hash. It checks what the schema cannot:
// every fact_id matches its domain and statement, and evidence entries
// point at existing claims.
func EvidenceClaims(env *envelope.Envelope) ([]Claim, error) {
	_, cs, err := DecodeEvidence(env)
	return cs, err
}

// DecodeEvidence is EvidenceClaims that also returns the decoded payload,
// so a caller that needs both decodes the payload once.
func DecodeEvidence(env *envelope.Envelope) (*EvidencePayload, []Claim, error) {
	v, err := Decode(env)
	if err != nil {
		return nil, nil, err
	}
	p, ok := v.(*EvidencePayload)
	if !ok {
		return nil, nil, fmt.Errorf("%w: %v is not LIP_EVIDENCE", ErrInvalidPayload, env.Type)
	}
	if env.Source == nil {
		return nil, nil, fmt.Errorf("%w: source: required on LIP_EVIDENCE", ErrInvalidPayload)
	}
	for i, ev := range p.Evidence {
		if ev.Claim >= len(p.Claims) {
			return nil, nil, fmt.Errorf("%w: payload.evidence[%d].claim: %d, only %d claims", ErrInvalidPayload, i, ev.Claim, len(p.Claims))
		}
	}
	prov := Provenance{URI: env.Source.URI, RetrievedAt: env.Source.RetrievedAt, ContentSHA256: p.ContentSHA256, Tier: env.Source.TrustTier}
	out := make([]Claim, 0, len(p.Claims))
	for i, ec := range p.Claims {
		if id, err := envelope.FactID(ec.Domain, ec.Statement); err != nil || ec.FactID != id {
			return nil, nil, fmt.Errorf("%w: payload.claims[%d].fact_id: does not match domain and statement", ErrInvalidPayload, i)
		}
		xc := extract.Claim{Statement: ec.Statement, Domain: ec.Domain, Subject: ec.Subject, Predicate: ec.Predicate,
			Object: ec.Object, Verdict: ec.Verdict, Confidence: ec.Confidence, Extractor: "peer"}
		for _, ev := range p.Evidence {
			if ev.Claim == i {
				xc.Extractor, xc.Evidence, xc.Reviewer, xc.Notes = ev.Extractor, ev.Snippet, ev.Reviewer, ev.Notes
				break
			}
		}
		c, err := NewClaim(xc, prov, env.Sender.Fingerprint)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: payload.claims[%d]: %w", ErrInvalidPayload, i, err)
		}
		out = append(out, c)
	}
	return p, out, nil
}

func clipN(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
