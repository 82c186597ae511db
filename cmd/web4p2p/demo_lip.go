package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/node"
	"github.com/web4p2p/web4p2p/node/learn"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/lip"
)

// The demo's web: one HTTP server on 127.0.0.1 that plays three sites,
// reached under *.localhost names (RFC 6761: they are loopback), so the
// tier file can rank them differently while nothing leaves the machine.
const (
	demoNewsJSON = `{"claims":[{"statement":"Paris is the capital of France.","domain":"geo",` +
		`"subject":"France","predicate":"capital","object":"Paris"}]}`
	demoBlogPage = `<html><body><p>Everyone knows: <em>the Moon is made of cheese.</em></p>` +
		`<p>Water boils at 100 degrees at sea level.</p></body></html>`
	demoReviewPage = `<html><head><script type="application/ld+json">
{"@context":"https://schema.org","@type":"ClaimReview","claimReviewed":"The Moon is made of cheese.",
 "author":{"@type":"Organization","name":"Demo Fact Check"},
 "reviewRating":{"@type":"Rating","ratingValue":1,"bestRating":5,"alternateName":"False"}}
</script></head><body><h1>Fact check: the Moon is not made of cheese</h1></body></html>`
)

// demoLIPConfig is the LIP configuration of the demo agents: loopback is
// allowed (the demo's web server), *.localhost resolves to it, and the
// tier file ranks the three demo sites.
func demoLIPConfig() node.LIPConfig {
	return node.LIPConfig{
		Allow:    []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Resolver: localhostResolver{},
		Tiers: &lip.TierConfig{Default: envelope.TierUnknown, Sources: []lip.TierRule{
			{Pattern: "news.localhost", Tier: envelope.TierHigh},
			{Pattern: "factcheck.localhost", Tier: envelope.TierHigh},
			{Pattern: "blog.localhost", Tier: envelope.TierLow},
		}},
	}
}

// localhostResolver resolves "localhost" and "*.localhost" to 127.0.0.1
// (RFC 6761) and nothing else, so no DNS query leaves the machine.
type localhostResolver struct{}

func (localhostResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	return nil, &net.DNSError{Err: "the demo resolves only *.localhost", Name: host, IsNotFound: true}
}

// lipSteps shows LIP (SPEC §7): alice learns from a local web server; a
// high-tier claim is accepted and proposed as a fact, a low-tier one waits
// for corroboration, and a ClaimReview rating the blog's claim false is a
// LIP_CONFLICT the blog loses. A private address is refused before any
// connection.
func (d *demo) lipSteps(ctx context.Context) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("lip demo web server: %w", err)
	}
	mux := http.NewServeMux()
	serve := func(path, ct, body string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ct)
			_, _ = io.WriteString(w, body)
		})
	}
	serve("/world.json", "application/json", demoNewsJSON)
	serve("/moon.html", "text/html; charset=utf-8", demoBlogPage)
	serve("/review.html", "text/html; charset=utf-8", demoReviewPage)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-served
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	url := func(host, path string) string { return fmt.Sprintf("http://%s:%d%s", host, port, path) }

	d.say("LIP: alice learns from a high-tier source (news.localhost, tier high)")
	news, err := d.learn(ctx, learn.Request{URI: url("news.localhost", "/world.json")})
	if err != nil {
		return err
	}
	factID := envelope.MustFactID("geo", "Paris is the capital of France.")
	if _, ok := d.ra.WaitFor(ctx.Done(), func(e events.Event) bool {
		return e.Type == "web4.lip.fact_proposed" && e.Data["fact_id"] == factID
	}); !ok {
		return fmt.Errorf("lip: the accepted claim was not proposed as fact %.12s…", factID)
	}
	fmt.Fprintf(d.out, "accepted on tier → proposed to the mesh as fact %.12s… with its URI, hash and retrieval time as sources\n", factID)

	d.say("LIP: alice reads a low-tier blog (blog.localhost, tier low): its claims wait for two trusted corroborators")
	blog, err := d.learn(ctx, learn.Request{URI: url("blog.localhost", "/moon.html"),
		Statements: []string{"The Moon is made of cheese.", "Water boils at 100 degrees at sea level."}})
	if err != nil {
		return err
	}

	d.say("LIP: a fact-check (ClaimReview, factcheck.localhost) rates the blog's Moon claim false")
	if _, err := d.learn(ctx, learn.Request{URI: url("factcheck.localhost", "/review.html")}); err != nil {
		return err
	}
	conflict, ok := d.ra.WaitFor(ctx.Done(), func(e events.Event) bool { return e.Type == "web4.lip.conflict_issued" })
	if !ok {
		return errors.New("lip: the ClaimReview raised no LIP_CONFLICT")
	}
	fmt.Fprintf(d.out, "LIP_CONFLICT %v (severity %v): the fact-check outweighs the blog\n", conflict.Data["kind"], conflict.Data["severity"])

	d.say("LIP: a fetch of a private address (http://10.0.0.1/) is refused before any connection")
	_, ferr := d.alice.LIP().Learn(ctx, learn.Request{URI: "http://10.0.0.1/", Statements: []string{"x"}})
	if ferr == nil {
		return errors.New("lip: a private address was fetched")
	}
	fmt.Fprintf(d.out, "refused: %v\n", ferr)

	d.say("LIP: alice's liminal queue")
	all, err := d.alice.LIP().Claims(0)
	if err != nil {
		return err
	}
	writeClaims(d.out, all)
	count := map[lip.State]int{}
	for _, e := range all {
		count[e.State]++
	}
	if count[lip.Accepted] < 1 || count[lip.Pending] < 1 || count[lip.Rejected] < 1 {
		return fmt.Errorf("lip: expected an accepted, a pending and a rejected claim, got %v", count)
	}
	d.summary["lip_claims"] = len(all)
	d.summary["lip_accepted"] = count[lip.Accepted]
	d.summary["lip_pending"] = count[lip.Pending]
	d.summary["lip_rejected"] = count[lip.Rejected]
	d.summary["lip_disputed"] = count[lip.Disputed]
	d.summary["lip_conflicts"] = d.ra.Count("web4.lip.conflict_issued")
	d.summary["lip_news_sha256"] = news.ContentSHA256
	d.summary["lip_blog_sha256"] = blog.ContentSHA256
	return nil
}

// learn runs one Learn on alice and prints what became of each claim.
func (d *demo) learn(ctx context.Context, req learn.Request) (*learn.Result, error) {
	res, err := d.alice.LIP().Learn(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("lip: learn %s: %w", req.URI, err)
	}
	fmt.Fprintf(d.out, "read %s (tier %s, sha256 %.12s…, %d claims)\n", res.URI, res.Tier, res.ContentSHA256, len(res.Claims))
	for _, e := range res.Claims {
		fmt.Fprintf(d.out, "  %-8s %-20s %s\n", e.State, e.Reason, e.Claim.Assertion())
	}
	return res, nil
}
