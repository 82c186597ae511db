package extract

// Bounds every extractor honours, so a hostile page cannot make extraction
// allocate without limit.
const (
	// MaxClaims is the most claims one document yields (all extractors
	// together when run through a Set).
	MaxClaims = 256
	// MaxStatementBytes bounds one claim's statement; longer ones are
	// skipped (the knowledge layer would refuse them anyway).
	MaxStatementBytes = 4096
	// MaxFieldBytes bounds domain, subject, predicate, object and reviewer.
	MaxFieldBytes = 1024
	// MaxEvidenceBytes bounds the evidence snippet copied from the page.
	MaxEvidenceBytes = 512
	// MaxDepth bounds JSON/JSON-LD nesting walked looking for ClaimReview
	// nodes.
	MaxDepth = 32
	// MaxScripts bounds the ld+json script elements read from one page.
	MaxScripts = 64
	// MaxStatementsSought bounds Document.Statements for Verbatim, so the
	// cost of one document stays linear in its size.
	MaxStatementsSought = 64
	// SnippetContext is how many bytes of text either side of a verbatim
	// match are kept as evidence.
	SnippetContext = 120

	// Default confidences, in the extractor's ability to read the claim —
	// not in the claim's truth.
	confidenceReviewNamed   = 0.9 // explicit alternateName such as "False"
	confidenceReviewNumeric = 0.8 // verdict derived from ratingValue alone
	confidenceJSONDefault   = 0.7 // {"claims":[...]} entry without its own confidence
	confidenceVerbatim      = 0.6 // statement found as written
	confidenceVerbatimNeg   = 0.3 // found, but a negation cue precedes it
)
