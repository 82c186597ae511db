package lip

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/lip/extract"
	"github.com/web4p2p/web4p2p/protocols/lip/fetch"
)

// The web as seen by the tests: one httptest server on 127.0.0.1, reached
// under several host names (a fake resolver maps them to 127.0.0.1), so
// that sources get different tiers without any packet leaving the machine.
const (
	reviewPage = `<html><head><script type="application/ld+json">
{"@context":"https://schema.org","@type":"ClaimReview","claimReviewed":"The Moon is made of cheese.",
 "author":{"@type":"Organization","name":"FC"},"reviewRating":{"@type":"Rating","ratingValue":1,"bestRating":5,"alternateName":"False"}}
</script></head><body><h1>Fact check</h1></body></html>`
	blogPage   = `<html><body><p>Everyone knows: <em>the Moon is made of cheese.</em></p><p>Water boils at 100 degrees at sea level.</p></body></html>`
	claimsJSON = `{"claims":[{"statement":"Paris is the capital of France.","domain":"geo","subject":"France","predicate":"capital","object":"Paris"}]}`
)

type web struct {
	srv  *httptest.Server
	port string
}

func newWeb(t *testing.T) *web {
	t.Helper()
	mux := http.NewServeMux()
	serve := func(path, ct, body string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ct)
			io.WriteString(w, body)
		})
	}
	serve("/review.html", "text/html; charset=utf-8", reviewPage)
	serve("/blog.html", "text/html; charset=utf-8", blogPage)
	serve("/claims.json", "application/json", claimsJSON)
	serve("/latin1.html", "text/html; charset=iso-8859-1", "<p>caf\xe9</p>")
	mux.HandleFunc("/to-metadata", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	return &web{srv: srv, port: port}
}

func (w *web) url(host, path string) string { return fmt.Sprintf("http://%s:%s%s", host, w.port, path) }

type nameMap map[string]string

func (m nameMap) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := m[host]; ok {
		return []netip.Addr{netip.MustParseAddr(a)}, nil
	}
	return nil, fmt.Errorf("unknown host %s", host)
}

var testNames = nameMap{
	"blog.example": "127.0.0.1", "www.factcheck.example": "127.0.0.1", "news.example": "127.0.0.1",
	"alice.example": "127.0.0.1", "internal.example": "10.0.0.7",
}

func newLearner(t *testing.T, f *fixture, em *events.Emitter) *Learner {
	t.Helper()
	fe := fetch.New(fetch.Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Resolver: testNames, Events: em})
	t.Cleanup(fe.Close)
	return &Learner{Fetcher: fe, Tiers: f.tiers, Queue: f.q, Events: em}
}

func TestLearnEachExtractorOverHTTP(t *testing.T) {
	w := newWeb(t)
	f := newFixture(t, nil, nil)
	em, ring := testEmitter(t)
	l := newLearner(t, f, em)
	ctx := context.Background()

	got, err := l.Learn(ctx, FetchPayload{URI: w.url("www.factcheck.example", "/review.html")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Entries) != 1 || got.Entries[0].Claim.Verdict != extract.False || got.Entries[0].Claim.Extractor != "claimreview" ||
		got.Provenance.Tier != envelope.TierHigh || got.Entries[0].State != Accepted {
		t.Fatalf("claimreview: %+v", got.Entries)
	}
	got, err = l.Learn(ctx, FetchPayload{URI: w.url("news.example", "/claims.json")})
	if err != nil || len(got.Entries) != 1 || got.Entries[0].Claim.Subject != "France" || got.Entries[0].State != Accepted {
		t.Fatalf("json claims: %+v %v", got, err)
	}
	got, err = l.Learn(ctx, FetchPayload{URI: w.url("blog.example", "/blog.html"), Constraints: []string{"Water boils at 100 degrees at sea level."}})
	if err != nil || len(got.Entries) != 1 || got.Entries[0].Claim.Extractor != "verbatim" || got.Entries[0].State != Pending {
		t.Fatalf("verbatim: %+v %v", got, err)
	}
	if got.Evidence.ContentSHA256 != got.Provenance.ContentSHA256 || len(got.Evidence.Claims) != 1 {
		t.Fatalf("evidence %+v", got.Evidence)
	}
	if n := ring.Count("web4.lip.evidence"); n != 3 {
		t.Fatalf("evidence events %d", n)
	}
}

func TestLowTierAcceptedAfterTwoTrustedPeersRefetch(t *testing.T) {
	w := newWeb(t)
	f := newFixture(t, nil, nil)
	em, _ := testEmitter(t)
	l := newLearner(t, f, em)
	ctx := context.Background()
	uri := w.url("blog.example", "/blog.html")
	req := FetchPayload{URI: uri, Constraints: []string{"Water boils at 100 degrees at sea level."}}
	mine, err := l.Learn(ctx, req)
	if err != nil || len(mine.Entries) != 1 || mine.Entries[0].State != Pending {
		t.Fatalf("own fetch: %+v %v", mine, err)
	}
	id := mine.Entries[0].ID

	// Two trusted peers (alice, bob) and one probing peer (carol) re-fetch
	// the same URI with their own fetchers and send LIP_EVIDENCE; we verify
	// the envelopes and submit what they carry.
	v := validator()
	seeds := map[string]byte{"alice": 11, "bob": 12, "carol": 13}
	for _, name := range []string{"carol", "alice", "bob"} {
		b := testBuilder(seeds[name])
		f.view[b.fingerprint()] = f.view.State(fp(name)) // trust as in the fixture
		pf := newFixture(t, nil, nil)
		pl := newLearner(t, pf, nil)
		theirs, err := pl.Learn(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if theirs.Provenance.ContentSHA256 != mine.Provenance.ContentSHA256 {
			t.Fatal("same page, different hash")
		}
		m, err := b.Evidence(Broadcast, theirs.Provenance, theirs.Evidence)
		if err != nil {
			t.Fatal(err)
		}
		env, err := v.Validate(m.Wire)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Evidence(ctx, env); err != nil {
			t.Fatal(err)
		}
		e, _ := f.q.Get(id)
		switch name {
		case "carol", "alice":
			if e.State != Pending {
				t.Fatalf("after %s: %v/%v", name, e.State, e.Reason)
			}
		case "bob":
			if e.State != Accepted || e.Reason != ReasonCorroborated || len(e.Support) != 2 {
				t.Fatalf("after bob: %v/%v %v", e.State, e.Reason, e.Support)
			}
		}
	}
	if acc, _, _ := f.counts(); acc < 1 {
		t.Fatal("OnAccept not called")
	}
}

func TestLearnClaimReviewFalseConflictsWithBlog(t *testing.T) {
	w := newWeb(t)
	f := newFixture(t, nil, nil)
	em, _ := testEmitter(t)
	l := newLearner(t, f, em)
	ctx := context.Background()
	blog, err := l.Learn(ctx, FetchPayload{URI: w.url("blog.example", "/blog.html"), Query: "The Moon is made of cheese."})
	if err != nil || len(blog.Entries) != 1 || blog.Entries[0].State != Pending {
		t.Fatalf("blog: %+v %v", blog, err)
	}
	if _, err := l.Learn(ctx, FetchPayload{URI: w.url("www.factcheck.example", "/review.html")}); err != nil {
		t.Fatal(err)
	}
	e, _ := f.q.Get(blog.Entries[0].ID)
	if e.State != Rejected || e.Reason != ReasonConflictLost {
		t.Fatalf("blog claim: %v/%v", e.State, e.Reason)
	}
	_, _, nconf := f.counts()
	if nconf != 1 || f.conflict[0].Kind != VerdictClash {
		t.Fatalf("conflicts: %+v", f.conflict)
	}
	m, err := testBuilder(5).Conflict(Broadcast, f.conflict[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := validator().Validate(m.Wire); err != nil {
		t.Fatal(err)
	}
	r, err := testBuilder(5).Reject(Broadcast, e)
	if err != nil || !strings.Contains(string(r.Wire), `"reason":"conflict_lost"`) {
		t.Fatalf("LIP_REJECT: %v", err)
	}
}

func TestLearnRefusalsReachNothing(t *testing.T) {
	w := newWeb(t)
	f := newFixture(t, nil, nil)
	em, ring := testEmitter(t)
	l := newLearner(t, f, em)
	cases := map[string]error{
		"file:///etc/passwd":                  fetch.ErrForbiddenScheme,
		"gopher://blog.example/1":             fetch.ErrForbiddenScheme,
		"http://internal.example/":            fetch.ErrForbiddenAddress,
		"http://[::1]/":                       fetch.ErrForbiddenAddress,
		w.url("blog.example", "/to-metadata"): fetch.ErrForbiddenAddress,
		w.url("blog.example", "/latin1.html"): fetch.ErrUnsupportedCharset,
		"http://192.168.1.1/router":           fetch.ErrForbiddenAddress,
	}
	for uri, want := range cases {
		if _, err := l.Learn(context.Background(), FetchPayload{URI: uri, Constraints: []string{"x"}}); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", uri, err, want)
		}
	}
	if total, _ := f.q.Len(); total != 0 {
		t.Fatalf("%d claims queued from refused fetches", total)
	}
	if n := ring.Count("web4.lip.fetch_refused"); n != len(cases) {
		t.Fatalf("fetch_refused events %d, want %d", n, len(cases))
	}
	if _, err := l.Learn(context.Background(), FetchPayload{Query: "capital of France"}); !errors.Is(err, ErrNoURI) {
		t.Fatal(err)
	}
}

func TestPeerEvidenceRefused(t *testing.T) {
	f := newFixture(t, nil, nil)
	em, ring := testEmitter(t)
	l := newLearner(t, f, em)
	b := testBuilder(21)
	p := EvidenceFor(&fetch.Result{SHA256: sum("x")}, []extract.Claim{{Statement: "S.", Verdict: extract.True, Confidence: 0.7, Extractor: "e"}}, "")
	p.Claims[0].FactID = sum("forged")
	m, err := b.Evidence(Broadcast, Provenance{URI: "https://x.example/", RetrievedAt: t0, ContentSHA256: sum("x")}, p)
	if err != nil {
		t.Fatal(err)
	}
	env, err := validator().Validate(m.Wire)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Evidence(context.Background(), env); !errors.Is(err, ErrInvalidPayload) {
		t.Fatal(err)
	}
	if ring.Count("web4.lip.evidence_refused") != 1 {
		t.Fatal("no evidence_refused event")
	}
	if total, _ := f.q.Len(); total != 0 {
		t.Fatal("forged evidence queued")
	}
	if _, err := l.Evidence(context.Background(), nil); !errors.Is(err, ErrInvalidPayload) {
		t.Fatal(err)
	}
}

func TestPeerClaimsNeedRecheckOrCorroboration(t *testing.T) {
	w := newWeb(t)
	ctx := context.Background()
	uri := w.url("news.example", "/claims.json") // a medium-tier source
	// What an honest peer read there.
	pf := newFixture(t, nil, nil)
	honest, err := newLearner(t, pf, nil).Learn(ctx, FetchPayload{URI: uri})
	if err != nil {
		t.Fatal(err)
	}
	peer := testBuilder(31)
	send := func(l *Learner, prov Provenance, p EvidencePayload) []Entry {
		t.Helper()
		m, err := peer.Evidence(Broadcast, prov, p)
		if err != nil {
			t.Fatal(err)
		}
		env, err := validator().Validate(m.Wire)
		if err != nil {
			t.Fatal(err)
		}
		es, err := l.Evidence(ctx, env)
		if err != nil {
			t.Fatal(err)
		}
		return es
	}

	// Without re-checking, the peer's word does not ride on the site's tier.
	f := newFixture(t, nil, nil)
	l := newLearner(t, f, nil)
	es := send(l, honest.Provenance, honest.Evidence)
	if len(es) != 1 || es[0].State != Pending || es[0].Claim.Origin != peer.fingerprint() {
		t.Fatalf("unchecked peer claim: %+v", es)
	}

	// Re-checking: same hash, so this node's own reading is queued and
	// accepted on the tier; the peer's evidence corroborates it.
	f = newFixture(t, nil, nil)
	em, ring := testEmitter(t)
	l = newLearner(t, f, em)
	l.Recheck = true
	es = send(l, honest.Provenance, honest.Evidence)
	if len(es) != 2 || es[1].ID != es[0].ID {
		t.Fatalf("rechecked: %+v", es)
	}
	if e := es[1]; e.Claim.Origin != "" || e.State != Accepted || e.Reason != ReasonTier ||
		len(e.Corroborations) != 1 || e.Corroborations[0].Peer != peer.fingerprint() {
		t.Fatalf("rechecked entry: %+v", e)
	}

	// A lying peer: claims the medium-tier page says something it does not,
	// with a made-up hash. The re-fetch does not match; nothing is accepted.
	lie := EvidenceFor(&fetch.Result{SHA256: sum("made up")}, []extract.Claim{{Statement: "The Eiffel Tower is in Rome.", Verdict: extract.True, Confidence: 0.9, Extractor: "json_claims"}}, "")
	prov := honest.Provenance
	prov.ContentSHA256 = sum("made up")
	es = send(l, prov, lie)
	if len(es) != 1 || es[0].State != Pending || es[0].Claim.Origin == "" {
		t.Fatalf("lie: %+v", es)
	}
	if ring.Count("web4.lip.recheck_mismatch") != 1 {
		t.Fatal("no recheck_mismatch event")
	}
}

func TestLearnQueryThroughResolver(t *testing.T) {
	w := newWeb(t)
	f := newFixture(t, nil, nil)
	l := newLearner(t, f, nil)
	l.Resolve = func(_ context.Context, q string) (string, error) {
		if q == "capital of France" {
			return w.url("news.example", "/claims.json"), nil
		}
		return "", errors.New("no idea")
	}
	got, err := l.Learn(context.Background(), FetchPayload{Query: "capital of France"})
	if err != nil || len(got.Entries) != 1 || got.Entries[0].State != Accepted {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := l.Learn(context.Background(), FetchPayload{Query: "meaning of life"}); err == nil {
		t.Fatal("unresolvable query")
	}
}

// Peers cannot make this node fetch a URL again and again: a URI re-fetched
// recently is answered from that fetch whoever asks, and each peer gets a
// small bucket of re-fetches.
func TestRecheckIsLimitedPerPeerAndDedupedPerURI(t *testing.T) {
	var hits atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/c/", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"claims":[{"statement":"Claim %s holds.","domain":"test"}]}`, r.URL.Path)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	uri := func(i int) string { return fmt.Sprintf("http://news.example:%s/c/%d.json", port, i) }
	ctx := context.Background()
	// What honest readers found at each URI (their fetches not counted).
	pf := newFixture(t, nil, nil)
	reader := newLearner(t, pf, nil)
	read := map[int]*Learned{}
	for i := range 8 {
		got, err := reader.Learn(ctx, FetchPayload{URI: uri(i)})
		if err != nil {
			t.Fatal(err)
		}
		read[i] = got
	}
	hits.Store(0)
	clk := &clock{t: t0}
	f := newFixture(t, nil, clk)
	em, ring := testEmitter(t)
	l := newLearner(t, f, em)
	l.Recheck, l.Now = true, clk.Now
	send := func(from *Builder, i int) {
		t.Helper()
		m, err := from.Evidence(Broadcast, read[i].Provenance, read[i].Evidence)
		if err != nil {
			t.Fatal(err)
		}
		env, err := validator().Validate(m.Wire)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Evidence(ctx, env); err != nil {
			t.Fatal(err)
		}
	}
	// Three peers name the same page: it is fetched once.
	for seed := byte(41); seed < 44; seed++ {
		send(testBuilder(seed), 0)
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("one page named by three peers fetched %d times", n)
	}
	// One peer names seven more pages: its bucket (4, one already used by
	// page 0) lets three through; the rest are refused with an event.
	loud := testBuilder(41)
	for i := 1; i < 8; i++ {
		send(loud, i)
	}
	if n := hits.Load(); n != 1+3 {
		t.Fatalf("fetches after the loud peer: %d, want 4", n)
	}
	if n := ring.Count("web4.lip.recheck_limited"); n != 4 {
		t.Fatalf("%d recheck_limited events, want 4", n)
	}
	// The bucket refills with time.
	clk.Add(16 * time.Second)
	send(loud, 7)
	if n := hits.Load(); n != 5 {
		t.Fatalf("after the refill: %d fetches, want 5", n)
	}
}
