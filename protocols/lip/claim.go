package lip

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gowebpki/jcs"

	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/lip/extract"
)

// Errors of the LIP core. They are wrapped with the field and the reason.
var (
	// ErrInvalidClaim: a claim failed validation.
	ErrInvalidClaim = errors.New("lip: invalid claim")
	// ErrNotFound: no claim with that id.
	ErrNotFound = errors.New("lip: claim not found")
	// ErrQueueFull: MaxOpen or MaxEntries reached.
	ErrQueueFull = errors.New("lip: queue full")
	// ErrClosed: the queue was closed.
	ErrClosed = errors.New("lip: queue closed")
	// ErrInvalidPayload: a LIP payload failed decoding or validation.
	ErrInvalidPayload = errors.New("lip: invalid payload")
	// ErrTierConfig: the source-tier file does not parse.
	ErrTierConfig = errors.New("lip: bad tier config")
	// ErrBuild: an envelope could not be built.
	ErrBuild = errors.New("lip: cannot build envelope")
)

// Provenance says where and when a claim was read (SPEC §7: uri,
// retrieved_at and the content hash must be present for acceptance).
type Provenance struct {
	URI           string        `json:"uri"`
	RetrievedAt   time.Time     `json:"retrieved_at"`
	ContentSHA256 string        `json:"content_sha256"`
	ContentType   string        `json:"content_type,omitempty"`
	Tier          envelope.Tier `json:"tier,omitempty"`
}

// Complete reports whether the provenance carries uri, retrieval time and a
// well-formed content hash.
func (p Provenance) Complete() bool {
	return p.URI != "" && !p.RetrievedAt.IsZero() && isHex64(p.ContentSHA256)
}

// Host returns the lowercased host of the provenance URI ("" if none).
func (p Provenance) Host() string { return HostOf(p.URI) }

// Claim is a statement read from the internet, waiting in (or decided by)
// the liminal queue.
type Claim struct {
	extract.Claim
	// FactID is envelope.FactID(Domain, Statement): the statement's
	// identity, shared with the knowledge layer.
	FactID string `json:"fact_id"`
	// Provenance is the source of the claim.
	Provenance Provenance `json:"provenance"`
	// Origin is the fingerprint of the agent whose evidence this is;
	// empty for the local node's own fetch. An origin never corroborates
	// its own claim.
	Origin string `json:"origin,omitempty"`
}

// NewClaim builds a queue claim from an extracted claim and its
// provenance, filling the domain default and the FactID.
func NewClaim(c extract.Claim, p Provenance, origin string) (Claim, error) {
	if c.Domain == "" {
		c.Domain = DefaultDomain
	}
	cl := Claim{Claim: c, Provenance: p, Origin: origin}
	// An id that cannot be computed (statement empty or not UTF-8) stays
	// empty; Validate says why.
	cl.FactID, _ = envelope.FactID(c.Domain, c.Statement)
	return cl, cl.Validate()
}

// ID names one queue entry: one statement with one verdict from one
// source URI. Hex SHA-256 of JCS({fact_id, verdict, uri}).
func (c Claim) ID() string {
	b, err := json.Marshal(map[string]string{"fact_id": c.FactID, "verdict": c.Verdict.String(), "uri": c.Provenance.URI})
	if err == nil {
		b, err = jcs.Transform(b)
	}
	if err != nil {
		b = []byte(c.FactID + "\x00" + c.Verdict.String() + "\x00" + c.Provenance.URI)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Assertion is the statement the claim makes as knowledge: the statement
// itself for a true verdict, "It is false that …" for a false one and
// "It is disputed whether …" for a mixed one. It is what FactFor puts in
// the knowledge base.
func (c Claim) Assertion() string {
	switch c.Verdict {
	case extract.False:
		return "It is false that " + c.Statement
	case extract.Mixed:
		return "It is disputed whether " + c.Statement
	}
	return c.Statement
}

// Validate checks the claim's own fields (the extractor contract, FactID,
// origin and provenance shape). Missing provenance is NOT an error here:
// the acceptance rule rejects it with reason no_provenance, so it is
// visible in the queue's history.
func (c Claim) Validate() error {
	if err := c.Claim.Check(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidClaim, err)
	}
	if c.Domain == "" || len(c.Domain) > 256 || !utf8.ValidString(c.Domain) {
		return fmt.Errorf("%w: claim.domain: empty, over 256 bytes or not UTF-8", ErrInvalidClaim)
	}
	if id, err := envelope.FactID(c.Domain, c.Statement); err != nil {
		return fmt.Errorf("%w: claim.fact_id: %w", ErrInvalidClaim, err)
	} else if c.FactID != id {
		return fmt.Errorf("%w: claim.fact_id: does not match domain and statement", ErrInvalidClaim)
	}
	if c.Origin != "" && !isHex64(c.Origin) {
		return fmt.Errorf("%w: claim.origin: not a fingerprint", ErrInvalidClaim)
	}
	if len(c.Provenance.URI) > 4096 || !utf8.ValidString(c.Provenance.URI) {
		return fmt.Errorf("%w: claim.provenance.uri: over 4096 bytes or not UTF-8", ErrInvalidClaim)
	}
	if c.Provenance.ContentSHA256 != "" && !isHex64(c.Provenance.ContentSHA256) {
		return fmt.Errorf("%w: claim.provenance.content_sha256: not 64 lowercase hex digits", ErrInvalidClaim)
	}
	if c.Provenance.Tier != 0 && c.Provenance.Tier.Rank() < 0 {
		return fmt.Errorf("%w: claim.provenance.tier: invalid", ErrInvalidClaim)
	}
	return nil
}

// tripleKey is the (domain, subject, predicate) conflict key, or "" when
// the claim carries no triple.
func (c Claim) tripleKey() string {
	if c.Subject == "" || c.Predicate == "" || c.Object == "" {
		return ""
	}
	return "t\x00" + strings.ToLower(c.Domain) + "\x00" + strings.ToLower(c.Subject) + "\x00" + strings.ToLower(c.Predicate)
}

// HostOf returns the lowercased host name of a URI without port and
// trailing dot ("" if it does not parse).
func HostOf(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func clipReason(s string) string {
	if len(s) <= MaxReasonBytes {
		return s
	}
	n := MaxReasonBytes
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// normFold lowercases and collapses white space for comparisons.
func normFold(s string) string { return strings.Join(strings.Fields(strings.ToLower(s)), " ") }
