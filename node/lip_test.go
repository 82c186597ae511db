package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/node/api"
	"github.com/web4p2p/web4p2p/node/gossip"
	"github.com/web4p2p/web4p2p/node/learn"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/lip"
	"github.com/web4p2p/web4p2p/protocols/router"
)

// The web of these tests: one httptest server on 127.0.0.1 reached under
// several names (a map resolver sends them all to 127.0.0.1), so sources
// get different tiers and no DNS query or packet leaves the machine.
const (
	lipReviewPage = `<html><head><script type="application/ld+json">
{"@context":"https://schema.org","@type":"ClaimReview","claimReviewed":"The Moon is made of cheese.",
 "author":{"@type":"Organization","name":"FC"},"reviewRating":{"@type":"Rating","ratingValue":1,"bestRating":5,"alternateName":"False"}}
</script></head><body><h1>Fact check</h1></body></html>`
	lipBlogPage   = `<html><body><p>Everyone knows: <em>the Moon is made of cheese.</em></p><p>Water boils at 100 degrees at sea level.</p></body></html>`
	lipClaimsJSON = `{"claims":[{"statement":"Paris is the capital of France.","domain":"geo","subject":"France","predicate":"capital","object":"Paris"}]}`
)

type lipWeb struct {
	srv  *httptest.Server
	port string
	hits atomic.Int64
}

func newLipWeb(t testing.TB) *lipWeb {
	t.Helper()
	w := &lipWeb{}
	mux := http.NewServeMux()
	serve := func(path, ct, body string) {
		mux.HandleFunc(path, func(rw http.ResponseWriter, r *http.Request) {
			w.hits.Add(1)
			rw.Header().Set("Content-Type", ct)
			_, _ = io.WriteString(rw, body)
		})
	}
	serve("/review.html", "text/html; charset=utf-8", lipReviewPage)
	serve("/blog.html", "text/html; charset=utf-8", lipBlogPage)
	serve("/claims.json", "application/json", lipClaimsJSON)
	w.srv = httptest.NewServer(mux)
	t.Cleanup(w.srv.Close)
	_, w.port, _ = net.SplitHostPort(w.srv.Listener.Addr().String())
	return w
}

func (w *lipWeb) url(host, path string) string {
	return fmt.Sprintf("http://%s:%s%s", host, w.port, path)
}

// mapResolver answers every name with 127.0.0.1.
type mapResolver struct{}

func (mapResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if strings.HasSuffix(host, ".test") {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// testLIPConfig allows loopback, maps *.test to it and tiers the sources.
func testLIPConfig() LIPConfig {
	return LIPConfig{
		Allow:    []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Resolver: mapResolver{},
		Tiers: &lip.TierConfig{Default: envelope.TierUnknown, Sources: []lip.TierRule{
			{Pattern: "news.test", Tier: envelope.TierHigh},
			{Pattern: "factcheck.test", Tier: envelope.TierHigh},
			{Pattern: "blog.test", Tier: envelope.TierLow},
		}},
		Tick: 20 * time.Millisecond,
	}
}

// lipNode is a node with the control API and a given LIP config.
type lipNode struct {
	t     testing.TB
	dir   string
	cfg   LIPConfig
	n     *Node
	ring  *events.Ring
	chk   *events.CheckingSink
	token string
}

func startLIPNode(t testing.TB, dir string, cfg LIPConfig) *lipNode {
	t.Helper()
	l := &lipNode{t: t, dir: dir, cfg: cfg}
	l.start()
	t.Cleanup(l.stop)
	return l
}

func (l *lipNode) start() {
	l.t.Helper()
	l.ring = events.NewRing(4096)
	l.chk = &events.CheckingSink{Next: l.ring}
	n, err := New(Config{DataDir: l.dir, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, APIAddr: "127.0.0.1:0",
		Sinks: []events.Sink{l.chk}, LIP: l.cfg})
	if err != nil {
		l.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		l.t.Fatal(err)
	}
	l.n = n
	if l.token, err = api.ReadToken(filepath.Join(l.dir, api.TokenFile)); err != nil {
		l.t.Fatal(err)
	}
}

func (l *lipNode) stop() {
	if l.n == nil {
		return
	}
	if err := l.n.Close(); err != nil {
		l.t.Errorf("close: %v", err)
	}
	if f := l.chk.Failures(); len(f) > 0 {
		l.t.Errorf("events failing the schema: %v", f)
	}
	l.n = nil
}

func (l *lipNode) call(method, path, body string, out any) (int, string) {
	l.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+l.n.APIAddr()+path, rd)
	if err != nil {
		l.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+l.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, out); err != nil {
			l.t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, string(raw)
}

func (l *lipNode) waitEvent(ctx context.Context, typ string, pred func(events.Event) bool) events.Event {
	l.t.Helper()
	ev, ok := l.ring.WaitFor(ctx.Done(), func(e events.Event) bool { return e.Type == typ && (pred == nil || pred(e)) })
	if !ok {
		l.t.Fatalf("no %s event", typ)
	}
	return ev
}

func lipCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func learnBody(uri string, statements ...string) string {
	raw, _ := json.Marshal(map[string]any{"uri": uri, "statements": statements})
	return string(raw)
}

// A high-tier page is accepted and proposed as a fact with its provenance;
// a low-tier one waits; a ClaimReview rating the blog's claim false is a
// LIP_CONFLICT the blog loses; all of it is visible through the API.
func TestLIPLearnThroughAPI(t *testing.T) {
	ctx := lipCtx(t)
	w := newLipWeb(t)
	l := startLIPNode(t, t.TempDir(), testLIPConfig())

	var res learn.Result
	if code, raw := l.call("POST", "/v1/lip/learn", learnBody(w.url("news.test", "/claims.json")), &res); code != 200 {
		t.Fatalf("learn: %d %s", code, raw)
	}
	if len(res.Claims) != 1 || res.Claims[0].State != lip.Accepted || res.Claims[0].Reason != lip.ReasonTier || res.Tier != envelope.TierHigh {
		t.Fatalf("news claim: %+v", res)
	}
	if res.Shared == "" {
		t.Fatal("no LIP_EVIDENCE shared")
	}
	factID := envelope.MustFactID("geo", "Paris is the capital of France.")
	l.waitEvent(ctx, "web4.lip.fact_proposed", func(e events.Event) bool { return e.Data["fact_id"] == factID })
	f, _, ok := l.n.Knowledge().Fact(factID)
	if !ok || f.Proposer != l.n.Fingerprint() {
		t.Fatalf("fact %s not proposed by us: %+v %v", factID, f, ok)
	}

	var blog learn.Result
	if code, raw := l.call("POST", "/v1/lip/learn", learnBody(w.url("blog.test", "/blog.html"), "The Moon is made of cheese."), &blog); code != 200 {
		t.Fatalf("learn blog: %d %s", code, raw)
	}
	if len(blog.Claims) != 1 || blog.Claims[0].State != lip.Pending || blog.Claims[0].Reason != lip.ReasonInsufficient {
		t.Fatalf("blog claim: %+v", blog.Claims)
	}
	if code, raw := l.call("POST", "/v1/lip/learn", learnBody(w.url("factcheck.test", "/review.html")), nil); code != 200 {
		t.Fatalf("learn review: %d %s", code, raw)
	}
	ev := l.waitEvent(ctx, "web4.lip.conflict_issued", nil)
	if ev.Data["kind"] != lip.VerdictClash.String() {
		t.Fatalf("conflict: %v", ev.Data)
	}
	var list struct {
		Claims []lip.Entry `json:"claims"`
	}
	if code, raw := l.call("GET", "/v1/lip/claims", "", &list); code != 200 || len(list.Claims) != 3 {
		t.Fatalf("claims: %d %s", code, raw)
	}
	states := map[string]lip.Entry{}
	for _, e := range list.Claims {
		states[lip.HostOf(e.Claim.Provenance.URI)] = e
	}
	if e := states["blog.test"]; e.State != lip.Rejected || e.Reason != lip.ReasonConflictLost {
		t.Fatalf("blog after review: %v/%v", e.State, e.Reason)
	}
	if e := states["factcheck.test"]; e.State != lip.Accepted {
		t.Fatalf("review: %v/%v", e.State, e.Reason)
	}
	if code, raw := l.call("GET", "/v1/lip/claims?state=pending", "", &list); code != 200 || len(list.Claims) != 0 {
		t.Fatalf("pending claims: %d %s", code, raw)
	}
	// The blog's claim was never accepted, so it never became knowledge.
	if _, _, ok := l.n.Knowledge().Fact(envelope.MustFactID(lip.DefaultDomain, "The Moon is made of cheese.")); ok {
		t.Fatal("a rejected claim reached the knowledge base")
	}
}

// Refusals: a private address is refused before any connection, with the
// typed reason, and nothing is queued or known; bad bodies are 400.
func TestLIPAPIRefusesForbiddenURI(t *testing.T) {
	cfg := testLIPConfig()
	var dials atomic.Int64
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	l := startLIPNode(t, t.TempDir(), cfg)
	for _, uri := range []string{"http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://internal.test.invalid/"} {
		code, raw := l.call("POST", "/v1/lip/learn", learnBody(uri, "x"), nil)
		var e struct{ Error, Reason, Detail string }
		_ = json.Unmarshal([]byte(raw), &e)
		if code != http.StatusUnprocessableEntity || e.Error != "fetch_refused" || e.Detail == "" {
			t.Fatalf("%s: %d %s", uri, code, raw)
		}
		if uri != "http://internal.test.invalid/" && e.Reason != "forbidden_address" {
			t.Fatalf("%s: reason %q", uri, e.Reason)
		}
	}
	if code, raw := l.call("POST", "/v1/lip/learn", learnBody("file:///etc/passwd"), nil); code != http.StatusUnprocessableEntity || !strings.Contains(raw, "forbidden_scheme") {
		t.Fatalf("file uri: %d %s", code, raw)
	}
	if code, raw := l.call("POST", "/v1/lip/learn", `{"uri":"http://10.0.0.1/","extra":1}`, nil); code != http.StatusBadRequest {
		t.Fatalf("unknown field: %d %s", code, raw)
	}
	if code, raw := l.call("POST", "/v1/lip/learn", `{"statements":["x"]}`, nil); code != http.StatusBadRequest || !strings.Contains(raw, "uri") {
		t.Fatalf("no uri: %d %s", code, raw)
	}
	if code, raw := l.call("GET", "/v1/lip/claims?state=maybe", "", nil); code != http.StatusBadRequest {
		t.Fatalf("bad state: %d %s", code, raw)
	}
	if dials.Load() != 0 {
		t.Fatalf("%d connections attempted for refused URIs", dials.Load())
	}
	if cs, _ := l.n.LIP().Claims(0); len(cs) != 0 {
		t.Fatalf("claims queued: %+v", cs)
	}
	if fs := l.n.Knowledge().Facts(); len(fs) != 0 {
		t.Fatalf("facts known: %+v", fs)
	}
}

// A low-tier claim nobody corroborates expires: rejected with reason
// expired and a signed LIP_REJECT; the queue survives a restart.
func TestLIPExpiryAndRestartKeepsQueue(t *testing.T) {
	ctx := lipCtx(t)
	w := newLipWeb(t)
	dir := t.TempDir()
	cfg := testLIPConfig()
	l := startLIPNode(t, dir, cfg)
	res, err := l.n.LIP().Learn(ctx, learn.Request{URI: w.url("blog.test", "/blog.html"), Statements: []string{"Water boils at 100 degrees at sea level."}})
	if err != nil || len(res.Claims) != 1 || res.Claims[0].State != lip.Pending {
		t.Fatalf("learn: %+v %v", res, err)
	}
	id := res.Claims[0].ID
	l.stop()
	l.start()
	cs, err := l.n.LIP().Claims(lip.Pending)
	if err != nil || len(cs) != 1 || cs[0].ID != id {
		t.Fatalf("after restart: %+v %v", cs, err)
	}
	l.stop()

	cfg.TTL = 200 * time.Millisecond
	short := startLIPNode(t, t.TempDir(), cfg)
	res, err = short.n.LIP().Learn(ctx, learn.Request{URI: w.url("blog.test", "/blog.html"), Statements: []string{"Water boils at 100 degrees at sea level."}})
	if err != nil || len(res.Claims) != 1 {
		t.Fatalf("learn: %+v %v", res, err)
	}
	ev := short.waitEvent(ctx, "web4.lip.reject_issued", func(e events.Event) bool { return e.Data["claim_id"] == res.Claims[0].ID })
	if ev.Data["reason"] != lip.ReasonExpired.String() {
		t.Fatalf("reject: %v", ev.Data)
	}
	if e, _ := short.n.LIP().Queue().Get(res.Claims[0].ID); e.State != lip.Rejected || e.Reason != lip.ReasonExpired {
		t.Fatalf("entry: %v/%v", e.State, e.Reason)
	}
}

// Peer evidence goes through lipHandler: the node re-fetches the page, and
// a matching hash makes it share its own evidence; a forged payload is
// refused with an event.
func TestLIPHandlerRechecksPeerEvidence(t *testing.T) {
	ctx := lipCtx(t)
	w := newLipWeb(t)
	a := startLIPNode(t, t.TempDir(), testLIPConfig())
	b := startLIPNode(t, t.TempDir(), testLIPConfig())
	res, err := a.n.LIP().Learn(ctx, learn.Request{URI: w.url("blog.test", "/blog.html"), Statements: []string{"Water boils at 100 degrees at sea level."}})
	if err != nil || res.Shared == "" {
		t.Fatalf("learn: %+v %v", res, err)
	}
	// The envelope a peer would have received from a's gossip.
	learned, err := a.n.LIP().Learner().Learn(ctx, lip.FetchPayload{URI: res.URI, Constraints: []string{"Water boils at 100 degrees at sea level."}})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := a.n.lipBuilder(a.n.Peers()).Evidence(lip.Broadcast, learned.Provenance, learned.Evidence)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.n.LIP().Handler().Handle(ctx, lipMsg(msg.Env)); err != nil {
		t.Fatal(err)
	}
	b.waitEvent(ctx, "web4.lip.evidence_shared", nil)
	cs, _ := b.n.LIP().Claims(0)
	if len(cs) != 1 || cs[0].Claim.Origin != "" || len(cs[0].Corroborations) != 1 || cs[0].Corroborations[0].Peer != a.n.Fingerprint() {
		t.Fatalf("b's queue: %+v", cs)
	}
	// a is not trusted by b: its corroboration does not count.
	if cs[0].State != lip.Pending {
		t.Fatalf("accepted on an untrusted peer's word: %v", cs[0].State)
	}
	forged := *msg.Env
	forged.Payload = json.RawMessage(`{"claims":[{"fact_id":"00","statement":"x","domain":"web","verdict":"true","confidence":1}],"evidence":[],"confidence":1,"extraction_notes":"","content_sha256":"` + strings.Repeat("0", 64) + `"}`)
	if err := b.n.LIP().Handler().Handle(ctx, lipMsg(&forged)); err != nil {
		t.Fatal(err)
	}
	b.waitEvent(ctx, "web4.lip.evidence_refused", nil)
	// The signer is charged an invalid message (after the refusal event,
	// on the same worker job).
	charged := func() bool { ps, ok := b.n.Trust().Peer(a.n.Fingerprint()); return ok && len(ps.Invalid) == 1 }
	if !pollUntil(ctx, charged) {
		ps, _ := b.n.Trust().Peer(a.n.Fingerprint())
		t.Fatalf("forging peer not charged: %+v", ps)
	}
}

// pollUntil polls cond every few milliseconds until it holds or ctx ends.
func pollUntil(ctx context.Context, cond func() bool) bool {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return cond()
		case <-tick.C:
		}
	}
	return true
}

// lipMsg is the router message of a gossiped LIP envelope, as Route hands
// it to the Knowledge route's handler.
func lipMsg(env *envelope.Envelope) *router.Message {
	return &router.Message{Env: env, Peer: env.Sender.Fingerprint, Channel: gossip.TopicKnowledge}
}

// FuzzLIPPeerMessage feeds arbitrary payloads and source blocks as a
// peer's LIP_EVIDENCE (through the worker's path, synchronously) and as
// LIP_CONFLICT/ACCEPT/REJECT (through lipHandler): nothing panics, and
// nothing a peer sends is accepted on its word alone.
func FuzzLIPPeerMessage(f *testing.F) {
	w := newLipWeb(f)
	cfg := testLIPConfig()
	// A fuzzed URI may name a public address: no packet may leave the
	// machine, so the dialer connects to loopback only.
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if h, _, _ := net.SplitHostPort(addr); h != "127.0.0.1" {
			return nil, fmt.Errorf("fuzz: refusing to dial %s", addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	cfg.FetchTimeout = time.Second
	l := startLIPNode(f, f.TempDir(), cfg)
	good, err := l.n.LIP().Learner().Learn(context.Background(), lip.FetchPayload{URI: w.url("blog.test", "/blog.html"), Constraints: []string{"Water boils at 100 degrees at sea level."}})
	if err != nil {
		f.Fatal(err)
	}
	msg, err := l.n.lipBuilder(l.n.Peers()).Evidence(lip.Broadcast, good.Provenance, good.Evidence)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(0), []byte(msg.Env.Payload), good.Provenance.URI)
	f.Add(uint8(0), []byte(`{"claims":[],"evidence":[],"confidence":0,"extraction_notes":"","content_sha256":""}`), "")
	f.Add(uint8(1), []byte(`{"claim_id":"x"}`), "http://10.0.0.1/")
	f.Add(uint8(2), []byte(`null`), "file:///etc/passwd")
	f.Add(uint8(3), []byte(`{"claims":[{"fact_id":"00","statement":"x"}]}`), "http://blog.test/")
	types := []envelope.Type{envelope.LIPEvidence, envelope.LIPConflict, envelope.LIPAccept, envelope.LIPReject}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, typ uint8, payload []byte, uri string) {
		env := *msg.Env
		env.Type = types[int(typ)%len(types)]
		env.Payload = json.RawMessage(payload)
		if uri == "" {
			env.Source = nil
		} else {
			src := *msg.Env.Source
			src.URI = uri
			env.Source = &src
		}
		if env.Type == envelope.LIPEvidence {
			l.n.LIP().Evidence(ctx, &env)
		} else {
			_ = l.n.LIP().Handler().Handle(ctx, lipMsg(&env))
		}
		for _, e := range l.n.LIP().Queue().List(lip.Accepted) {
			if e.Claim.Origin != "" && len(e.Support) < 2 {
				t.Fatalf("accepted a peer's claim on its word: %+v", e)
			}
		}
	})
}

// BenchmarkLIPLearn measures Node.Learn (fetch → extract → queue → sign and
// publish LIP_EVIDENCE) against the bare lip.Learner.Learn of the same node
// (fetch → extract → queue) on a page whose bytes change every request, so
// every node-level Learn shares new evidence. ratio = node / learner.
func BenchmarkLIPLearn(b *testing.B) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "%s<!-- %d -->", lipBlogPage, hits.Add(1))
	}))
	b.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	uri := "http://blog.test:" + port + "/page.html"
	l := startLIPNode(b, b.TempDir(), testLIPConfig())
	ctx := context.Background()
	stmts := []string{"Water boils at 100 degrees at sea level."}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := l.n.LIP().Learner().Learn(ctx, lip.FetchPayload{URI: uri, Constraints: stmts}); err != nil {
			b.Fatal(err)
		}
	}
	base := time.Since(start)
	start = time.Now()
	for i := 0; i < b.N; i++ {
		res, err := l.n.LIP().Learn(ctx, learn.Request{URI: uri, Statements: stmts})
		if err != nil || res.Shared == "" {
			b.Fatalf("learn: %+v %v", res, err)
		}
	}
	node := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(node.Nanoseconds())/float64(b.N), "node-ns/op")
	b.ReportMetric(float64(base.Nanoseconds())/float64(b.N), "learner-ns/op")
	b.ReportMetric(float64(node)/float64(base), "ratio")
}

// An accepted claim later retracted withdraws the node's confirmation of
// its fact: our latest vote becomes FACT_REJECT; the source drops a tier.
func TestLIPRetractWithdrawsConfirmation(t *testing.T) {
	ctx := lipCtx(t)
	w := newLipWeb(t)
	l := startLIPNode(t, t.TempDir(), testLIPConfig())
	res, err := l.n.LIP().Learn(ctx, learn.Request{URI: w.url("news.test", "/claims.json")})
	if err != nil || len(res.Claims) != 1 || res.Claims[0].State != lip.Accepted {
		t.Fatalf("learn: %+v %v", res, err)
	}
	factID := envelope.MustFactID("geo", "Paris is the capital of France.")
	l.waitEvent(ctx, "web4.lip.fact_confirmed", func(e events.Event) bool { return e.Data["fact_id"] == factID })
	if !confirmedBy(l.n, factID) {
		t.Fatal("no confirmation recorded")
	}
	if _, err := l.n.LIP().Queue().Retract(ctx, res.Claims[0].ID, "found false"); err != nil {
		t.Fatal(err)
	}
	l.waitEvent(ctx, "web4.lip.reject_issued", func(e events.Event) bool { return e.Data["claim_id"] == res.Claims[0].ID })
	var ours []knowledge.Vote
	for _, v := range l.n.Knowledge().Votes(factID) {
		if v.Voter == l.n.Fingerprint() {
			ours = append(ours, v)
		}
	}
	if len(ours) != 1 || ours[0].Kind != knowledge.Reject {
		t.Fatalf("our votes after the retraction: %+v", ours)
	}
	if tier, _ := l.n.LIP().Tier("news.test"); tier != envelope.TierMedium {
		t.Fatalf("news.test tier %v after a retraction, want medium", tier)
	}
}

// TestLIPQueryThroughSearchURL: a query (not a URI) is turned into a fetch
// of the configured search URL, then goes through the same fetcher limits,
// tiers and extractors; without a search URL a query is refused.
func TestLIPQueryThroughSearchURL(t *testing.T) {
	var got atomic.Value
	mux := http.NewServeMux()
	mux.HandleFunc("/search", func(rw http.ResponseWriter, r *http.Request) {
		got.Store(r.URL.Query().Get("q"))
		rw.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(rw, lipClaimsJSON)
	})
	search := httptest.NewServer(mux)
	t.Cleanup(search.Close)
	_, port, _ := net.SplitHostPort(search.Listener.Addr().String())
	cfg := testLIPConfig()
	cfg.SearchURL = "http://news.test:" + port + "/search?q={query}"
	l := startLIPNode(t, t.TempDir(), cfg)
	var res learn.Result
	if code, raw := l.call("POST", "/v1/lip/learn", `{"query":"capital of france"}`, &res); code != 200 {
		t.Fatalf("learn query: %d %s", code, raw)
	}
	if got.Load() != "capital of france" || len(res.Claims) != 1 || res.Claims[0].State != lip.Accepted {
		t.Fatalf("query fetch: q=%v res=%+v", got.Load(), res)
	}

	plain := startLIPNode(t, t.TempDir(), testLIPConfig())
	code, raw := plain.call("POST", "/v1/lip/learn", `{"query":"capital of france"}`, nil)
	if code == 200 || !strings.Contains(string(raw), "query") {
		t.Fatalf("query without a search URL: %d %s", code, raw)
	}
}

// confirmedBy reports whether n's latest vote on factID is a confirmation.
func confirmedBy(n *Node, factID string) bool {
	for _, v := range n.Knowledge().Votes(factID) {
		if v.Voter == n.Fingerprint() {
			return v.Kind == knowledge.Confirm
		}
	}
	return false
}
