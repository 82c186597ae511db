// Package extract turns a fetched document into candidate claims for the
// LIP liminal queue (SPEC §7). It sits between protocols/lip/fetch (which
// returns bytes and provenance) and protocols/lip (which decides whether a
// claim may become knowledge): extractors only say what a document asserts,
// never whether it is true.
//
// Built-in extractors:
//
//   - ClaimReview: schema.org ClaimReview JSON-LD, as a JSON document or
//     inside <script type="application/ld+json"> of an HTML page; the
//     reviewRating becomes a Verdict (true, false or mixed).
//   - JSONClaims: JSON documents of the form {"claims":[...]}.
//   - Verbatim: finds the statements the fetch asked about (Document.Statements)
//     verbatim (whitespace- and Unicode-normalised) in plain text or in the
//     visible text of HTML parsed with golang.org/x/net/html.
//
// Extractors are pluggable through the small Extractor interface; its
// contract (purity, concurrency, bounds, errors) is documented on the
// interface. Set runs several and merges their output. Bounds live in
// limits.go.
package extract
