package knowledge

import "time"

// Limits and defaults of the package, in one place.
const (
	// DefaultQuorum is the number of distinct trusted confirmers (and of
	// trusted rejecters) that decides a fact (SPEC §8: 2).
	DefaultQuorum = 2
	// DefaultTTL is how long a fact proposed without an expiry waits for
	// quorum before it is rejected. The SPEC leaves it open; one hour spans
	// many gossip rounds yet keeps abandoned facts from lingering.
	DefaultTTL = time.Hour

	// MaxStatementBytes bounds a fact's statement.
	MaxStatementBytes = 4096
	// MaxDomainBytes bounds a fact's domain.
	MaxDomainBytes = 256
	// MaxIDBytes bounds msg_ids and fingerprints stored with facts and votes.
	MaxIDBytes = 128
	// MaxVotersPerFact bounds how many distinct voters one fact records, so
	// a flood of identities cannot grow a fact without bound.
	MaxVotersPerFact = 1024
	// MaxOrphanFacts bounds how many unknown fact ids may hold votes that
	// arrived before their proposal (gossip reorders), so votes for made-up
	// fact ids cannot grow memory without bound.
	MaxOrphanFacts = 10000
	// MaxProvenanceItems bounds each list of a DMP trace (steps,
	// counterfactuals, evidence), a proposal's sources and its causal links
	// (the payload schemas allow 256 causal links and trace items).
	MaxProvenanceItems = 256
	// MaxProvenanceText bounds one trace item, context, outcome or
	// retrospective (common.json text: 16384).
	MaxProvenanceText = 16384
	// bulkThreshold: an Ingest call with at least this many items commits
	// in its own transaction; smaller ones go through bbolt's Batch to be
	// coalesced with concurrent callers.
	bulkThreshold = 16
	// maxEventStatement bounds the statement text copied into events.
	maxEventStatement = 160
)
