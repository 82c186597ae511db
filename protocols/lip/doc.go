// Package lip is the LIP runtime core (SPEC §7): how an agent learns from
// the internet without swallowing falsehoods.
//
// The flow is fetch → extract → liminal queue → knowledge:
//
//   - protocols/lip/fetch performs the bounded, SSRF-safe HTTP(S) GET a
//     LIP_FETCH asks for and returns the body with its provenance;
//   - protocols/lip/extract turns the body into candidate claims through
//     pluggable extractors (ClaimReview JSON-LD, {"claims":[...]} JSON,
//     verbatim statement match);
//   - this package holds each claim in the liminal Queue
//     (pending → accepted | rejected | disputed), persisted in the node's
//     store, and decides with Decide — a pure function of the claim, the
//     corroborations, the trust view, the source tier, the time and the
//     overload flag, table-tested rule by rule. Conflicts (same
//     (domain, subject, predicate) with another object, or the same
//     statement with another verdict, e.g. a ClaimReview rating it false)
//     are graded (Grade) and resolved by tier and corroboration weight
//     (Resolve), else the claims are disputed;
//   - accepted claims are handed to the Queue's OnAccept delegate; the node
//     turns them into knowledge facts (FactFor helps) with provenance and a
//     DMP trace. Only accepted claims reach the knowledge base.
//
// Learner glues the three together for the node: Learn runs a LIP_FETCH end
// to end and returns the LIP_EVIDENCE payload to share; Evidence takes a
// peer's verified LIP_EVIDENCE (optionally re-fetching the page, Recheck).
// A claim only a peer has read never rides on the named site's tier: it
// needs trusted corroboration or this node's own matching re-fetch.
//
// Tiers maps source hosts to tiers (unknown|low|medium|high|blocked) from a
// JSON file of domain patterns and lowers a source one tier whenever one of
// its accepted claims is later rejected (historical accuracy); changes
// persist and emit web4.lip.tier_changed.
//
// The wire side — LIP_FETCH, LIP_EVIDENCE, LIP_CONFLICT, LIP_ACCEPT and
// LIP_REJECT payloads, their JSON Schemas (schema/, embedded) and a Builder
// producing signed "lip": "1.0" envelopes with the source block — is in
// payload.go and builder.go. Call Register once at start-up to install the
// payload schemas into protocols/envelope (the validator's check 9);
// builders call it themselves.
//
// This package imports no networking besides its fetch sub-package; the
// node wires fetcher, queue, tiers, router and knowledge store together.
// Bounds and defaults live in limits.go.
package lip
