package itest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/node"
	"github.com/web4p2p/web4p2p/node/learn"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/lip"
	"github.com/web4p2p/web4p2p/protocols/lip/fetch"
)

// The web of the LIP itests: one HTTP server on 127.0.0.1 reached under
// several *.test names (a map resolver), so that sources get different
// tiers while no DNS query or packet leaves the machine.
const (
	itBlogPage   = `<html><body><p>Everyone knows: <em>the Moon is made of cheese.</em></p><p>Water boils at 100 degrees at sea level.</p></body></html>`
	itReviewPage = `<html><head><script type="application/ld+json">
{"@context":"https://schema.org","@type":"ClaimReview","claimReviewed":"The Moon is made of cheese.",
 "author":{"@type":"Organization","name":"FC"},"reviewRating":{"@type":"Rating","ratingValue":1,"bestRating":5,"alternateName":"False"}}
</script></head><body><h1>Fact check</h1></body></html>`
	itWater = "Water boils at 100 degrees at sea level."
	itMoon  = "The Moon is made of cheese."
)

func itWeb(t *testing.T) (url func(host, path string) string) {
	t.Helper()
	mux := http.NewServeMux()
	serve := func(path, body string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, body)
		})
	}
	serve("/blog.html", itBlogPage)
	serve("/review.html", itReviewPage)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	return func(host, path string) string { return fmt.Sprintf("http://%s:%s%s", host, port, path) }
}

type testResolver struct{}

func (testResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if strings.HasSuffix(host, ".test") {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func itLIPConfig() node.LIPConfig {
	return node.LIPConfig{
		Allow:    []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Resolver: testResolver{},
		Tiers: &lip.TierConfig{Default: envelope.TierUnknown, Sources: []lip.TierRule{
			{Pattern: "factcheck.test", Tier: envelope.TierHigh},
			{Pattern: "blog.test", Tier: envelope.TierLow},
		}},
		Tick: 20 * time.Millisecond,
	}
}

// startLIPAgent starts a node as newAgent does, with a LIP configuration
// (set between New and Start).
func startLIPAgent(t *testing.T, name string, key crypto.PrivKey, anchors []string, lc node.LIPConfig) *agent {
	t.Helper()
	cfg := node.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.AgentID = name
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.Identity = key
	cfg.TrustAnchors = anchors
	a := &agent{t: t, cfg: cfg}
	a.ring = events.NewRing(8192)
	a.chk = &events.CheckingSink{Next: a.ring}
	cfg.Sinks = []events.Sink{a.chk}
	cfg.LIP = lc
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	a.n = n
	t.Cleanup(a.stop)
	return a
}

// lipMesh starts n nodes that all anchor each other (trusted), fully
// connected, with a formed gossip mesh.
func lipMesh(t *testing.T, n int) []*agent {
	t.Helper()
	return lipMeshWith(t, n, func(int) node.LIPConfig { return itLIPConfig() })
}

// lipMeshWith is lipMesh with node i's LIP configuration from cfg(i).
func lipMeshWith(t *testing.T, n int, cfg func(i int) node.LIPConfig) []*agent {
	t.Helper()
	keys, anchors := anchorKeys(t, n)
	out := make([]*agent, n)
	for i := range out {
		out[i] = startLIPAgent(t, fmt.Sprintf("l%d", i), keys[i], anchors, cfg(i))
	}
	ctx := ctxFor(t, 30*time.Second)
	for i, a := range out {
		for j := 0; j < i; j++ {
			a.connect(ctx, out[j])
		}
	}
	waitMeshFormed(ctx, t, out)
	return out
}

// requireEvidenceRouted fails the test unless a peer's LIP_EVIDENCE reaches
// a's LIP queue: the node's Knowledge route must carry LIP messages to the
// LIP runtime (router.TypeMux), not only FACT_* to the knowledge store.
func requireEvidenceRouted(ctx context.Context, t *testing.T, a *agent, from *agent) {
	t.Helper()
	sender := from.n.Fingerprint()
	ev, ok := a.ring.WaitFor(ctx.Done(), func(e events.Event) bool {
		if strings.HasPrefix(e.Type, "web4.lip.claim_") && e.Data["origin"] == sender {
			return true // a claim of the sender's evidence reached the queue
		}
		return e.Type == "web4.error" && e.Data["area"] == "router" && e.Data["kind"] == "handler_failed" &&
			e.Data["type"] == "LIP_EVIDENCE"
	})
	if !ok {
		t.Fatalf("%s: peer evidence neither handled nor refused", a.cfg.AgentID)
	}
	if ev.Type == "web4.error" {
		t.Fatalf("%s: LIP_EVIDENCE did not reach the LIP runtime (the Knowledge route must carry it): %v", a.cfg.AgentID, ev.Data["detail"])
	}
}

// A low-tier claim stays pending on the node that read it until two trusted
// peers corroborate (each re-fetches the page, gets the same hash and
// shares its own evidence); then it is accepted on all three, and the
// nodes' confirmations make its fact accepted everywhere.
func TestLIPLowTierNeedsTwoTrustedCorroborators(t *testing.T) {
	ctx := ctxFor(t, 60*time.Second)
	url := itWeb(t)
	nodes := lipMesh(t, 3)
	a := nodes[0]
	res, err := a.n.LIP().Learn(ctx, learn.Request{URI: url("blog.test", "/blog.html"), Statements: []string{itWater}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Claims) != 1 || res.Claims[0].State != lip.Pending || res.Claims[0].Reason != lip.ReasonInsufficient || res.Shared == "" {
		t.Fatalf("first reading: %+v", res)
	}
	id := res.Claims[0].ID
	requireEvidenceRouted(ctx, t, nodes[1], a)
	for _, x := range nodes {
		ok := eventually(ctx, func() bool { e, _ := x.n.LIP().Claims(lip.Accepted); return hasClaim(e, id) })
		if !ok {
			cs, _ := x.n.LIP().Claims(0)
			t.Fatalf("%s: claim never accepted: %+v", x.cfg.AgentID, cs)
		}
	}
	es, _ := a.n.LIP().Claims(lip.Accepted)
	e := es[0]
	if e.Reason != lip.ReasonCorroborated || len(e.Support) < 2 {
		t.Fatalf("accepted on %v with support %v", e.Reason, e.Support)
	}
	for _, fp := range e.Support {
		if fp != nodes[1].n.Fingerprint() && fp != nodes[2].n.Fingerprint() {
			t.Fatalf("support from %s, not a peer that re-read the page", fp)
		}
	}
	factID := envelope.MustFactID(lip.DefaultDomain, itWater)
	for _, x := range nodes {
		waitFact(ctx, t, x, factID, "accepted", status(knowledge.Accepted))
	}
}

// A ClaimReview rating the blog's claim false, read by another node, is a
// LIP_CONFLICT there once the blog's evidence arrives; the blog's claim
// loses to the high-tier fact-check and never becomes knowledge.
func TestLIPClaimReviewFalseConflicts(t *testing.T) {
	ctx := ctxFor(t, 60*time.Second)
	url := itWeb(t)
	nodes := lipMesh(t, 2)
	a, b := nodes[0], nodes[1]
	if _, err := b.n.LIP().Learn(ctx, learn.Request{URI: url("factcheck.test", "/review.html")}); err != nil {
		t.Fatal(err)
	}
	res, err := a.n.LIP().Learn(ctx, learn.Request{URI: url("blog.test", "/blog.html"), Statements: []string{itMoon}})
	if err != nil || len(res.Claims) != 1 {
		t.Fatalf("blog: %+v %v", res, err)
	}
	requireEvidenceRouted(ctx, t, b, a)
	ev, ok := b.ring.WaitFor(ctx.Done(), func(e events.Event) bool { return e.Type == "web4.lip.conflict_issued" })
	if !ok {
		t.Fatal("no LIP_CONFLICT on the fact-checking node")
	}
	if ev.Data["kind"] != lip.VerdictClash.String() {
		t.Fatalf("conflict: %v", ev.Data)
	}
	if _, _, ok := b.n.Knowledge().Fact(envelope.MustFactID(lip.DefaultDomain, itMoon)); ok {
		t.Fatal("the refuted claim became a fact")
	}
	// The conflict leaves b: a receives b's signed LIP_CONFLICT.
	if _, ok := a.ring.WaitFor(ctx.Done(), func(e events.Event) bool {
		return e.Type == "web4.lip.peer_verdict" && e.Data["type"] == "LIP_CONFLICT" && e.Data["sender"] == b.n.Fingerprint()
	}); !ok {
		t.Fatal("a never received b's LIP_CONFLICT")
	}
}

// A claim that expires on the node that read it is rejected there and the
// LIP_REJECT is published: the peer that queued that node's reading takes
// it back (its entry for the claim is rejected, reason withdrawn).
func TestLIPRejectReachesPeersWhoWithdrawTheReading(t *testing.T) {
	ctx := ctxFor(t, 60*time.Second)
	url := itWeb(t)
	nodes := lipMeshWith(t, 2, func(i int) node.LIPConfig {
		c := itLIPConfig()
		if i == 0 {
			c.TTL = 1500 * time.Millisecond // a's reading expires without corroboration
		} else {
			c.NoRecheck = true // b only queues a's reading
		}
		return c
	})
	a, b := nodes[0], nodes[1]
	res, err := a.n.LIP().Learn(ctx, learn.Request{URI: url("blog.test", "/blog.html"), Statements: []string{itWater}})
	if err != nil || len(res.Claims) != 1 || res.Shared == "" {
		t.Fatalf("learn: %+v %v", res, err)
	}
	factID := envelope.MustFactID(lip.DefaultDomain, itWater)
	if !eventually(ctx, func() bool {
		cs, _ := b.n.LIP().Claims(lip.Pending)
		return len(cs) == 1 && cs[0].Claim.Origin == a.n.Fingerprint()
	}) {
		cs, _ := b.n.LIP().Claims(0)
		t.Fatalf("b never queued a's reading: %+v", cs)
	}
	if _, ok := b.ring.WaitFor(ctx.Done(), func(e events.Event) bool {
		return e.Type == "web4.lip.peer_withdrew" && e.Data["sender"] == a.n.Fingerprint() && e.Data["fact_id"] == factID
	}); !ok {
		t.Fatal("b never acted on a's LIP_REJECT")
	}
	cs, _ := b.n.LIP().Claims(lip.Rejected)
	if len(cs) != 1 || cs[0].Reason != lip.ReasonWithdrawn {
		t.Fatalf("b's entry for a's reading: %+v", cs)
	}
}

func hasClaim(es []lip.Entry, id string) bool {
	for _, e := range es {
		if e.ID == id {
			return true
		}
	}
	return false
}

// A real node refuses a private address before connecting (no claim, no
// fact), and its liminal queue survives a restart on the same data dir.
func TestLIPRefusalAndRestartKeepsQueue(t *testing.T) {
	ctx := ctxFor(t, 30*time.Second)
	url := itWeb(t)
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	a := startLIPAgent(t, "solo", k, nil, itLIPConfig())
	if _, err := a.n.LIP().Learn(ctx, learn.Request{URI: "http://10.0.0.1/", Statements: []string{itWater}}); !errors.Is(err, fetch.ErrForbiddenAddress) {
		t.Fatalf("private address: %v", err)
	}
	if cs, _ := a.n.LIP().Claims(0); len(cs) != 0 {
		t.Fatalf("refused fetch queued %+v", cs)
	}
	if fs := a.n.Knowledge().Facts(); len(fs) != 0 {
		t.Fatalf("refused fetch reached knowledge: %+v", fs)
	}
	res, err := a.n.LIP().Learn(ctx, learn.Request{URI: url("blog.test", "/blog.html"), Statements: []string{itWater}})
	if err != nil || len(res.Claims) != 1 || res.Claims[0].State != lip.Pending {
		t.Fatalf("learn: %+v %v", res, err)
	}
	a.restart() // default LIP config: the queue comes from the store
	cs, err := a.n.LIP().Claims(lip.Pending)
	if err != nil || len(cs) != 1 || cs[0].ID != res.Claims[0].ID || cs[0].Claim.Provenance.ContentSHA256 != res.ContentSHA256 {
		t.Fatalf("after restart: %+v %v", cs, err)
	}
}
