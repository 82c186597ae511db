package lip

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/lip/extract"
	"github.com/web4p2p/web4p2p/protocols/lip/fetch"
)

// ErrNoURI reports a LIP_FETCH with only a query and no Resolve hook to
// turn the query into a URI (this package ships no search engine).
var ErrNoURI = errors.New("lip: fetch has no uri and no query resolver")

// Learner runs one LIP_FETCH end to end: fetch → extract → queue. The node
// calls Learn from its LIP.FETCH route (or its own curiosity), broadcasts
// the returned evidence as LIP_EVIDENCE, and feeds peers' evidence to
// Queue.Submit through EvidenceClaims.
type Learner struct {
	Fetcher *fetch.Fetcher
	// Extractors default to extract.Builtin().
	Extractors extract.Set
	// Tiers gives the source tier stamped into provenance. nil: unknown.
	Tiers *Tiers
	Queue *Queue
	// Resolve turns a query into a URI to fetch (e.g. a configured search
	// or a lookup table). nil: query-only fetches fail with ErrNoURI.
	Resolve func(ctx context.Context, query string) (string, error)
	// Recheck makes Evidence re-fetch the page a peer's LIP_EVIDENCE
	// names: if the content hash matches, this node queues the claims as
	// its own reading too (so the source's tier applies, and the peer's
	// evidence corroborates). Off, peer claims can only be accepted through
	// corroboration. The fetcher's SSRF rules apply; rate-limiting peers
	// is the router's job.
	Recheck bool
	// Events receives web4.lip.evidence, web4.lip.extract_failed,
	// web4.lip.evidence_refused and web4.lip.recheck_mismatch.
	Events *events.Emitter
}

// Learned is the outcome of one Learn.
type Learned struct {
	// Provenance of the fetched document (tier as now configured).
	Provenance Provenance
	// Evidence is the LIP_EVIDENCE payload to share with peers.
	Evidence EvidencePayload
	// Entries are the queue entries of the extracted claims, after their
	// first decision.
	Entries []Entry
	// ExtractErr joins the extractors' errors (claims they could read are
	// still in Entries).
	ExtractErr error
}

// Learn fetches what req names, extracts claims and submits them to the
// queue. Fetch refusals are returned as is (they wrap fetch's sentinels and
// were already reported as web4.lip.fetch_refused); nothing reaches the
// queue then.
func (l *Learner) Learn(ctx context.Context, req FetchPayload) (*Learned, error) {
	uri := req.URI
	if uri == "" && strings.Contains(req.Query, "://") {
		uri = req.Query
	}
	if uri == "" {
		if l.Resolve == nil {
			return nil, fmt.Errorf("%w: query %q", ErrNoURI, clipN(req.Query, 128))
		}
		u, err := l.Resolve(ctx, req.Query)
		if err != nil {
			return nil, fmt.Errorf("lip: resolve query: %w", err)
		}
		uri = u
	}
	res, err := l.Fetcher.Fetch(ctx, uri)
	if err != nil {
		return nil, err
	}
	xs := l.Extractors
	if xs == nil {
		xs = extract.Builtin()
	}
	claims, xerr := xs.Extract(extract.Document{URI: res.FinalURI, ContentType: res.ContentType, Body: res.Body, Statements: req.Statements()})
	if xerr != nil {
		l.Events.Emit("web4.lip.extract_failed", clipN(uri, 512), map[string]any{"uri": clipN(uri, 512), "detail": clipN(xerr.Error(), 1024)})
	}
	prov := Provenance{URI: res.FinalURI, RetrievedAt: res.RetrievedAt, ContentSHA256: res.SHA256, ContentType: res.ContentType, Tier: envelope.TierUnknown}
	if l.Tiers != nil {
		prov.Tier = l.Tiers.TierOf(res.FinalURI)
	}
	notes := make([]string, 0, len(claims))
	for _, c := range claims {
		if c.Notes != "" {
			notes = append(notes, c.Extractor+": "+c.Notes)
		}
	}
	out := &Learned{Provenance: prov, Evidence: EvidenceFor(res, claims, strings.Join(notes, "; ")), ExtractErr: xerr}
	l.Events.Emit("web4.lip.evidence", clipN(uri, 512), map[string]any{
		"uri": clipN(res.FinalURI, 512), "sha256": res.SHA256, "claims": len(claims), "tier": prov.Tier.String(),
		"confidence": out.Evidence.Confidence,
	})
	batch := make([]Claim, 0, len(claims))
	for _, xc := range claims {
		c, err := NewClaim(xc, prov, "")
		if err != nil {
			out.ExtractErr = errors.Join(out.ExtractErr, err)
			continue
		}
		batch = append(batch, c)
	}
	entries, err := l.Queue.SubmitAll(ctx, batch)
	for _, e := range entries {
		if e.ID != "" {
			out.Entries = append(out.Entries, e)
		}
	}
	if err != nil {
		return out, err
	}
	return out, nil
}

// Evidence takes a verified LIP_EVIDENCE envelope from a peer (the router
// has run the envelope checks), turns its claims into queue claims with the
// sender as origin (EvidenceClaims) and submits them: each one corroborates
// the queued claims for the same statement and verdict. A payload that
// fails its checks is refused as a whole with an error wrapping
// ErrInvalidPayload and a web4.lip.evidence_refused event.
func (l *Learner) Evidence(ctx context.Context, env *envelope.Envelope) ([]Entry, error) {
	es, _, err := l.SubmitEvidence(ctx, env)
	return es, err
}

// SubmitEvidence is Evidence that also returns the decoded payload (nil
// when it was refused), so the caller decodes it once.
func (l *Learner) SubmitEvidence(ctx context.Context, env *envelope.Envelope) ([]Entry, *EvidencePayload, error) {
	p, claims, err := DecodeEvidence(env)
	if err != nil {
		subject, sender := "", ""
		if env != nil {
			subject, sender = env.MsgID, env.Sender.Fingerprint
		}
		l.Events.Emit("web4.lip.evidence_refused", subject, map[string]any{"sender": sender, "detail": clipN(err.Error(), 1024)})
		return nil, nil, err
	}
	if l.Recheck && len(claims) > 0 {
		claims = append(claims, l.recheck(ctx, env, claims)...)
	}
	entries, err := l.Queue.SubmitAll(ctx, claims)
	out := entries[:0]
	for _, e := range entries {
		if e.ID != "" {
			out = append(out, e)
		}
	}
	return out, p, err
}

// recheck re-fetches the page of a peer's evidence and returns this node's
// own copies of the claims when the content hash matches (nil otherwise).
func (l *Learner) recheck(ctx context.Context, env *envelope.Envelope, claims []Claim) []Claim {
	want := claims[0].Provenance.ContentSHA256
	res, err := l.Fetcher.Fetch(ctx, env.Source.URI)
	if err != nil {
		return nil // refused or failed: already reported as web4.lip.fetch_refused
	}
	if res.SHA256 != want {
		l.Events.Emit("web4.lip.recheck_mismatch", env.MsgID, map[string]any{
			"uri": clipN(env.Source.URI, 512), "sender": env.Sender.Fingerprint, "claimed_sha256": want, "sha256": res.SHA256,
		})
		return nil
	}
	prov := Provenance{URI: res.FinalURI, RetrievedAt: res.RetrievedAt, ContentSHA256: res.SHA256, ContentType: res.ContentType, Tier: envelope.TierUnknown}
	if l.Tiers != nil {
		prov.Tier = l.Tiers.TierOf(res.FinalURI)
	}
	out := make([]Claim, 0, len(claims))
	for _, c := range claims {
		own, err := NewClaim(c.Claim, prov, "")
		if err == nil {
			out = append(out, own)
		}
	}
	return out
}
