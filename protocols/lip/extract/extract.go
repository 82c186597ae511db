package extract

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrMalformed reports a document an extractor recognised as its own but
// could not read (broken JSON, a claims entry without statement, ...). It is
// wrapped with the location and reason.
var ErrMalformed = errors.New("lip/extract: malformed document")

// Verdict is what a source says about a statement. The zero value is
// invalid.
type Verdict uint8

// Verdicts.
const (
	// True: the source asserts the statement (the default for plain claims)
	// or a fact-check rates it true.
	True Verdict = iota + 1
	// False: a fact-check rates the statement false (or the source denies it).
	False
	// Mixed: partly true, misleading, or the match is hedged.
	Mixed
)

var verdictNames = []string{"", "true", "false", "mixed"}

// String returns "true", "false", "mixed" or "invalid(N)".
func (v Verdict) String() string {
	if v >= True && v <= Mixed {
		return verdictNames[v]
	}
	return fmt.Sprintf("invalid(%d)", uint8(v))
}

// Valid reports whether v is defined.
func (v Verdict) Valid() bool { return v >= True && v <= Mixed }

// ParseVerdict parses a verdict name.
func ParseVerdict(s string) (Verdict, error) {
	for i := 1; i < len(verdictNames); i++ {
		if verdictNames[i] == s {
			return Verdict(i), nil
		}
	}
	return 0, fmt.Errorf("verdict %q is not true|false|mixed", s)
}

// MarshalText implements encoding.TextMarshaler.
func (v Verdict) MarshalText() ([]byte, error) {
	if !v.Valid() {
		return nil, fmt.Errorf("invalid verdict %d", uint8(v))
	}
	return []byte(v.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *Verdict) UnmarshalText(b []byte) error {
	x, err := ParseVerdict(string(b))
	if err != nil {
		return err
	}
	*v = x
	return nil
}

// Claim is one statement a document makes, as an extractor read it.
type Claim struct {
	// Statement is the claim in words (required, ≤ MaxStatementBytes).
	Statement string `json:"statement"`
	// Domain is the topic area, if the document names one.
	Domain string `json:"domain,omitempty"`
	// Subject, Predicate and Object are the claim as a triple, when the
	// document gives one; the queue uses them to detect conflicts.
	Subject   string `json:"subject,omitempty"`
	Predicate string `json:"predicate,omitempty"`
	Object    string `json:"object,omitempty"`
	// Verdict is what the document says about Statement.
	Verdict Verdict `json:"verdict"`
	// Confidence (0..1) is the extractor's confidence that the document
	// says this — not that it is true.
	Confidence float64 `json:"confidence"`
	// Evidence is a bounded snippet of the document supporting the claim.
	Evidence string `json:"evidence,omitempty"`
	// Reviewer names who rated the claim (ClaimReview author), if any.
	Reviewer string `json:"reviewer,omitempty"`
	// Extractor is the Name of the extractor that produced the claim.
	Extractor string `json:"extractor"`
	// Notes says how the claim was read (e.g. "rating 1/5 → false").
	Notes string `json:"notes,omitempty"`
}

// Document is what an extractor reads.
type Document struct {
	// URI is where the document came from (for notes only; extractors do
	// no I/O).
	URI string
	// ContentType is the lowercased media type, e.g. "text/html".
	ContentType string
	// Body is the document, valid UTF-8 (the fetcher guarantees it).
	Body []byte
	// Statements are the statements the fetch was looking for (the
	// LIP_FETCH query and constraints); Verbatim searches for them.
	Statements []string
}

// Extractor reads claims out of a document.
//
// Contract:
//   - Extract is called on the fetching goroutine, possibly for many
//     documents at once: it must be safe for concurrent use.
//   - It must not block: no I/O, no locks held across calls, time linear in
//     len(Body) (plus the statements sought).
//   - It must not retain or modify Body after returning.
//   - A document that is not for this extractor (other content type, no
//     matching structure) yields (nil, nil).
//   - A document it recognises but cannot read yields an error wrapping
//     ErrMalformed; it may still return the claims it could read.
//   - It never panics, yields at most MaxClaims claims, and every claim has
//     a non-empty valid-UTF-8 Statement, a valid Verdict and a Confidence
//     within [0,1].
type Extractor interface {
	// Name identifies the extractor in claims, notes and events.
	Name() string
	// Extract returns the claims the document makes.
	Extract(doc Document) ([]Claim, error)
}

// Set runs several extractors over a document.
type Set []Extractor

// Builtin returns the built-in extractors: ClaimReview, JSONClaims and
// Verbatim.
func Builtin() Set { return Set{ClaimReview{}, JSONClaims{}, Verbatim{}} }

// Extract runs every extractor and merges the claims, dropping exact
// duplicates (same statement, verdict and triple) and any claim that breaks
// the Extractor contract, up to MaxClaims. The error joins the extractors'
// errors, each prefixed with the extractor's name.
func (s Set) Extract(doc Document) ([]Claim, error) {
	var (
		out  []Claim
		errs []error
		seen = map[string]bool{}
	)
	for _, x := range s {
		cs, err := safeExtract(x, doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", x.Name(), err))
		}
		for _, c := range cs {
			if err := c.Check(); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", x.Name(), err))
				continue
			}
			k := c.Verdict.String() + "\x00" + c.Statement + "\x00" + c.Subject + "\x00" + c.Predicate + "\x00" + c.Object
			if seen[k] || len(out) >= MaxClaims {
				continue
			}
			seen[k] = true
			if c.Extractor == "" {
				c.Extractor = x.Name()
			}
			out = append(out, c)
		}
	}
	return out, errors.Join(errs...)
}

// safeExtract shields the caller from a plugged-in extractor that panics
// despite its contract: the panic becomes an ErrMalformed-free error.
func safeExtract(x Extractor, doc Document) (cs []Claim, err error) {
	defer func() {
		if r := recover(); r != nil {
			cs, err = nil, fmt.Errorf("extractor panicked: %v", r)
		}
	}()
	return x.Extract(doc)
}

// Check verifies the Extractor contract for one claim.
func (c Claim) Check() error {
	switch {
	case c.Statement == "":
		return fmt.Errorf("%w: claim.statement: empty", ErrMalformed)
	case len(c.Statement) > MaxStatementBytes:
		return fmt.Errorf("%w: claim.statement: %d bytes, max %d", ErrMalformed, len(c.Statement), MaxStatementBytes)
	case !utf8.ValidString(c.Statement):
		return fmt.Errorf("%w: claim.statement: not valid UTF-8", ErrMalformed)
	case !c.Verdict.Valid():
		return fmt.Errorf("%w: claim.verdict: %v", ErrMalformed, c.Verdict)
	case !(c.Confidence >= 0 && c.Confidence <= 1):
		return fmt.Errorf("%w: claim.confidence: %v not within [0,1]", ErrMalformed, c.Confidence)
	}
	for name, v := range map[string]string{"domain": c.Domain, "subject": c.Subject, "predicate": c.Predicate, "object": c.Object, "reviewer": c.Reviewer} {
		if len(v) > MaxFieldBytes || !utf8.ValidString(v) {
			return fmt.Errorf("%w: claim.%s: over %d bytes or not UTF-8", ErrMalformed, name, MaxFieldBytes)
		}
	}
	return nil
}

// normSpace collapses runs of white space to one ASCII space and trims.
func normSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// isJSONType reports whether a media type carries JSON.
func isJSONType(mt string) bool {
	return mt == "application/json" || mt == "application/ld+json" || strings.HasSuffix(mt, "+json")
}

// isHTMLType reports whether a media type is HTML.
func isHTMLType(mt string) bool { return mt == "text/html" || mt == "application/xhtml+xml" }
