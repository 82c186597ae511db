package lip

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

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
	// corroboration. The fetcher's SSRF rules apply, and RecheckLimits
	// bound what peers can make this node fetch.
	Recheck bool
	// RecheckLimits bound re-fetches (zero fields: DefaultRecheckLimits).
	RecheckLimits RecheckLimits
	// Now is the clock of the limits (nil: time.Now).
	Now func() time.Time
	// Events receives web4.lip.evidence, web4.lip.extract_failed,
	// web4.lip.evidence_refused, web4.lip.recheck_mismatch and
	// web4.lip.recheck_limited.
	Events *events.Emitter

	rl recheckLimiter
}

// RecheckLimits bound the re-fetches peers' evidence can trigger, so one
// peer cannot make this node (and, through it, a mesh) fetch a URL again and
// again: each peer gets a token bucket, and a URI re-fetched within Window
// is answered from that fetch's content hash, whoever asks.
type RecheckLimits struct {
	// PerPeer is the sustained re-fetch rate one peer may cause (per
	// second) and Burst its bucket.
	PerPeer float64
	Burst   int
	// Window is how long a re-fetch's result stands for its URI.
	Window time.Duration
	// MaxTracked bounds the peers and URIs remembered (oldest forgotten).
	MaxTracked int
}

// DefaultRecheckLimits: a peer may cause 4 re-fetches at once and one every
// 15 s after that; a URI is fetched again at most every 10 minutes.
func DefaultRecheckLimits() RecheckLimits {
	return RecheckLimits{PerPeer: 1.0 / 15, Burst: 4, Window: 10 * time.Minute, MaxTracked: 4096}
}

// recheckLimiter is the state of RecheckLimits.
type recheckLimiter struct {
	mu    sync.Mutex
	peers map[string]*rate.Limiter
	uris  map[string]recheckResult
	order []string // insertion order of peers and uris ("p"/"u" + key), for the bound
}

// recheckResult is the last re-fetch of a URI.
type recheckResult struct {
	at   time.Time
	prov Provenance
}

func (l *Learner) limits() RecheckLimits {
	d, c := DefaultRecheckLimits(), l.RecheckLimits
	if c.PerPeer <= 0 {
		c.PerPeer = d.PerPeer
	}
	if c.Burst <= 0 {
		c.Burst = d.Burst
	}
	if c.Window <= 0 {
		c.Window = d.Window
	}
	if c.MaxTracked <= 0 {
		c.MaxTracked = d.MaxTracked
	}
	return c
}

func (l *Learner) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// recheckAllowed reports whether sender may cause a re-fetch of uri now,
// and a recent result for uri if one stands (then no fetch is needed and
// no token is taken).
func (l *Learner) recheckAllowed(sender, uri string) (recent *Provenance, ok bool) {
	lim, now := l.limits(), l.now()
	rl := &l.rl
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if rl.peers == nil {
		rl.peers, rl.uris = map[string]*rate.Limiter{}, map[string]recheckResult{}
	}
	if r, hit := rl.uris[uri]; hit && now.Sub(r.at) < lim.Window {
		p := r.prov
		return &p, true
	}
	b := rl.peers[sender]
	if b == nil {
		b = rate.NewLimiter(rate.Limit(lim.PerPeer), lim.Burst)
		rl.peers[sender] = b
		rl.remember("p"+sender, lim.MaxTracked)
	}
	return nil, b.AllowN(now, 1)
}

// recheckDone records the result of a re-fetch of uri.
func (l *Learner) recheckDone(uri string, prov Provenance) {
	lim := l.limits()
	rl := &l.rl
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if _, known := rl.uris[uri]; !known {
		rl.remember("u"+uri, lim.MaxTracked)
	}
	rl.uris[uri] = recheckResult{at: l.now(), prov: prov}
}

// remember appends key to the insertion order, forgetting the oldest
// entries beyond max.
func (rl *recheckLimiter) remember(key string, max int) {
	rl.order = append(rl.order, key)
	for len(rl.order) > max {
		old := rl.order[0]
		rl.order = rl.order[1:]
		if old[0] == 'p' {
			delete(rl.peers, old[1:])
		} else {
			delete(rl.uris, old[1:])
		}
	}
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
	uri := env.Source.URI
	recent, ok := l.recheckAllowed(env.Sender.Fingerprint, uri)
	if !ok {
		l.Events.Emit("web4.lip.recheck_limited", env.MsgID, map[string]any{
			"uri": clipN(uri, 512), "sender": env.Sender.Fingerprint})
		return nil
	}
	var prov Provenance
	if recent != nil {
		prov = *recent
	} else {
		res, err := l.Fetcher.Fetch(ctx, uri)
		if err != nil {
			return nil // refused or failed: already reported as web4.lip.fetch_refused
		}
		prov = Provenance{URI: res.FinalURI, RetrievedAt: res.RetrievedAt, ContentSHA256: res.SHA256, ContentType: res.ContentType, Tier: envelope.TierUnknown}
		l.recheckDone(uri, prov)
	}
	if prov.ContentSHA256 != want {
		l.Events.Emit("web4.lip.recheck_mismatch", env.MsgID, map[string]any{
			"uri": clipN(uri, 512), "sender": env.Sender.Fingerprint, "claimed_sha256": want, "sha256": prov.ContentSHA256,
		})
		return nil
	}
	if l.Tiers != nil {
		prov.Tier = l.Tiers.TierOf(prov.URI)
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
