package lip

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/store"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/lip/extract"
	"github.com/web4p2p/web4p2p/trust"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	q        *Queue
	tiers    *Tiers
	db       *store.DB
	ring     *events.Ring
	clock    *clock
	view     view
	over     atomic.Bool
	mu       sync.Mutex
	accepted []Entry
	rejected []Entry
	conflict []Conflict
}

const fixtureTiers = `{"sources":[
 {"pattern":"*.factcheck.example","tier":"high"},{"pattern":"factcheck.example","tier":"high"},
 {"pattern":"news.example","tier":"medium"},
 {"pattern":"blog.example","tier":"low"},
 {"pattern":"spam.example","tier":"blocked"}]}`

func newFixture(t *testing.T, db *store.DB, clk *clock) *fixture {
	t.Helper()
	if clk == nil {
		clk = &clock{t: t0}
	}
	f := &fixture{db: db, clock: clk, view: view{fp("alice"): trust.Trusted, fp("bob"): trust.Trusted, fp("carol"): trust.Probing}}
	em, ring := testEmitter(t)
	f.ring = ring
	cfg, err := ParseTierConfig([]byte(fixtureTiers))
	if err != nil {
		t.Fatal(err)
	}
	f.tiers, err = OpenTiers(db, cfg, em, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	f.q, err = OpenQueue(db, QueueConfig{
		Now: clk.Now, View: f.view.State, Tiers: f.tiers, Overloaded: f.over.Load, Events: em,
		OnAccept:   func(e Entry) { f.mu.Lock(); f.accepted = append(f.accepted, e); f.mu.Unlock() },
		OnReject:   func(e Entry) { f.mu.Lock(); f.rejected = append(f.rejected, e); f.mu.Unlock() },
		OnConflict: func(c Conflict) { f.mu.Lock(); f.conflict = append(f.conflict, c); f.mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) counts() (acc, rej, conf int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.accepted), len(f.rejected), len(f.conflict)
}

func mustSubmit(t *testing.T, q *Queue, c Claim) Entry {
	t.Helper()
	e, err := q.Submit(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestLowTierWaitsForTwoTrustedPeers(t *testing.T) {
	f := newFixture(t, nil, nil)
	ctx := context.Background()
	c := mkClaim("The Eiffel Tower is in Paris.", "https://blog.example/post", extract.True)
	e := mustSubmit(t, f.q, c)
	if e.State != Pending || e.Reason != ReasonInsufficient || e.Tier != envelope.TierLow {
		t.Fatalf("low tier: %v/%v tier %v", e.State, e.Reason, e.Tier)
	}
	// A probing peer and an unrelated hash do not count.
	f.q.Corroborate(ctx, sameContent(fp("carol"), c))
	bad := sameContent(fp("alice"), c)
	bad.ContentSHA256 = sum("tampered")
	if got, _ := f.q.Corroborate(ctx, bad); len(got) != 0 {
		t.Fatal("a different hash corroborated")
	}
	got, err := f.q.Corroborate(ctx, sameContent(fp("alice"), c))
	if err != nil || len(got) != 1 || got[0].State != Pending {
		t.Fatalf("after one trusted peer: %+v %v", got, err)
	}
	if acc, _, _ := f.counts(); acc != 0 {
		t.Fatal("accepted with one trusted peer")
	}
	got, _ = f.q.Corroborate(ctx, ownEvidence(fp("bob"), c))
	if len(got) != 1 || got[0].State != Accepted || got[0].Reason != ReasonCorroborated || len(got[0].Support) != 2 {
		t.Fatalf("after two trusted peers: %+v", got)
	}
	if acc, _, _ := f.counts(); acc != 1 {
		t.Fatalf("OnAccept calls = %d", acc)
	}
	if f.ring.Count("web4.lip.claim_accepted") != 1 || f.ring.Count("web4.lip.claim_pending") != 1 {
		t.Fatalf("events: %v", f.ring.Events())
	}
	fact, err := FactFor(got[0], fp("me"), t0)
	if err != nil || fact.Statement != c.Statement || fact.ID != c.FactID {
		t.Fatalf("fact: %+v %v", fact, err)
	}
	if src := FactSources(got[0]); len(src) != 7 || src[0] != c.Provenance.URI {
		t.Fatalf("sources %v", src)
	}
}

func TestPeerEvidenceCorroborates(t *testing.T) {
	f := newFixture(t, nil, nil)
	local := mkClaim("Water is wet.", "https://blog.example/w", extract.True)
	mustSubmit(t, f.q, local)
	// Alice and Bob send their own evidence for the same statement, from
	// other pages (LIP_EVIDENCE turned into claims with an origin).
	for _, peer := range []string{"alice", "bob"} {
		pc := mkClaim("Water is wet.", "https://"+peer+"-source.example/", extract.True)
		pc.Origin = fp(peer)
		mustSubmit(t, f.q, pc)
	}
	e, _ := f.q.Get(local.ID())
	if e.State != Accepted || e.Reason != ReasonCorroborated {
		t.Fatalf("local claim: %v/%v support %v", e.State, e.Reason, e.Support)
	}
	// Each peer claim is corroborated by the other peer and... not by itself.
	pc := mkClaim("Water is wet.", "https://alice-source.example/", extract.True)
	pe, _ := f.q.Get(pc.ID())
	for _, s := range pe.Support {
		if s == fp("alice") {
			t.Fatal("a peer corroborated its own evidence")
		}
	}
}

func TestTierRules(t *testing.T) {
	f := newFixture(t, nil, nil)
	med := mustSubmit(t, f.q, mkClaim("A.", "https://news.example/a", extract.True))
	blocked := mustSubmit(t, f.q, mkClaim("B.", "https://spam.example/b", extract.True))
	unknown := mustSubmit(t, f.q, mkClaim("C.", "https://nowhere.example/c", extract.True))
	if med.State != Accepted || med.Reason != ReasonTier {
		t.Fatalf("medium: %v/%v", med.State, med.Reason)
	}
	if blocked.State != Rejected || blocked.Reason != ReasonBlocked {
		t.Fatalf("blocked: %v/%v", blocked.State, blocked.Reason)
	}
	if unknown.State != Pending {
		t.Fatalf("unknown: %v", unknown.State)
	}
	noProv := mkClaim("D.", "https://news.example/d", extract.True)
	noProv.Provenance.ContentSHA256 = ""
	if e := mustSubmit(t, f.q, noProv); e.State != Rejected || e.Reason != ReasonNoProvenance {
		t.Fatalf("no provenance: %v/%v", e.State, e.Reason)
	}
}

func TestOverloadedWaits(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.over.Store(true)
	e := mustSubmit(t, f.q, mkClaim("A.", "https://news.example/a", extract.True))
	if e.State != Pending || e.Reason != ReasonOverloaded {
		t.Fatalf("overloaded: %v/%v", e.State, e.Reason)
	}
	f.q.Tick(context.Background())
	if e, _ = f.q.Get(e.ID); e.State != Pending {
		t.Fatal("accepted while overloaded")
	}
	f.over.Store(false)
	if err := f.q.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e, _ = f.q.Get(e.ID); e.State != Accepted {
		t.Fatalf("after overload: %v/%v", e.State, e.Reason)
	}
}

func TestExpiryRejects(t *testing.T) {
	f := newFixture(t, nil, nil)
	e := mustSubmit(t, f.q, mkClaim("Slow.", "https://blog.example/s", extract.True))
	if !e.Expires.Equal(t0.Add(DefaultTTL)) {
		t.Fatalf("expires %v", e.Expires)
	}
	f.clock.Add(DefaultTTL - time.Second)
	f.q.Tick(context.Background())
	if e, _ = f.q.Get(e.ID); e.State != Pending {
		t.Fatal("expired early")
	}
	f.clock.Add(time.Second)
	f.q.Tick(context.Background())
	if e, _ = f.q.Get(e.ID); e.State != Rejected || e.Reason != ReasonExpired {
		t.Fatalf("after TTL: %v/%v", e.State, e.Reason)
	}
	if _, rej, _ := f.counts(); rej != 1 {
		t.Fatal("OnReject not called")
	}
	// The node answers with LIP_REJECT carrying the reason.
	m, err := testBuilder(9).Reject(Broadcast, f.rejected[0])
	if err != nil {
		t.Fatal(err)
	}
	env, err := validator().Validate(m.Wire)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := Decode(env); err != nil || p.(*RejectPayload).Reason != ReasonExpired {
		t.Fatalf("LIP_REJECT: %+v %v", p, err)
	}
	// Terminal claims are pruned after the retention period.
	f.clock.Add(DefaultRetention + time.Second)
	f.q.Tick(context.Background())
	if _, ok := f.q.Get(e.ID); ok {
		t.Fatal("not pruned")
	}
}

func TestClaimReviewFalseConflicts(t *testing.T) {
	f := newFixture(t, nil, nil)
	blog := mustSubmit(t, f.q, mkClaim("The Moon is made of cheese.", "https://blog.example/moon", extract.True))
	review := mustSubmit(t, f.q, mkClaim("The Moon is made of cheese.", "https://www.factcheck.example/moon", extract.False))
	blog, _ = f.q.Get(blog.ID)
	if blog.State != Rejected || blog.Reason != ReasonConflictLost {
		t.Fatalf("blog claim: %v/%v", blog.State, blog.Reason)
	}
	if review.State != Accepted || review.Reason != ReasonTier {
		t.Fatalf("review: %v/%v", review.State, review.Reason)
	}
	_, _, nconf := f.counts()
	if nconf != 1 {
		t.Fatalf("conflicts = %d", nconf)
	}
	c := f.conflict[0]
	if c.Kind != VerdictClash || c.Severity != SeverityMedium || c.Winner != review.ID {
		t.Fatalf("conflict %+v", c)
	}
	ev, ok := f.ring.WaitFor(nil, events.OfType("web4.lip.conflict"))
	if !ok || ev.Data["severity"] != "medium" {
		t.Fatalf("conflict event %+v", ev)
	}
	fact, err := FactFor(review, fp("me"), t0)
	if err != nil || fact.Statement != "It is false that The Moon is made of cheese." {
		t.Fatalf("fact for a false rating: %+v %v", fact, err)
	}
}

func TestDisputedThenResolved(t *testing.T) {
	f := newFixture(t, nil, nil)
	ctx := context.Background()
	a := mkTriple("geo", "Eiffel Tower", "height_m", "330", "https://blog.example/a")
	b := mkTriple("geo", "Eiffel Tower", "height_m", "300", "https://other.blog.example/b")
	mustSubmit(t, f.q, a)
	eb := mustSubmit(t, f.q, b)
	if eb.State != Disputed {
		t.Fatalf("close conflict: %v/%v", eb.State, eb.Reason)
	}
	ea, _ := f.q.Get(a.ID())
	if ea.State != Disputed {
		t.Fatalf("first side: %v", ea.State)
	}
	// Two trusted peers back a: it wins on weight and is accepted; b loses.
	f.q.Corroborate(ctx, sameContent(fp("alice"), a))
	f.q.Corroborate(ctx, sameContent(fp("bob"), a))
	ea, _ = f.q.Get(a.ID())
	eb, _ = f.q.Get(b.ID())
	if ea.State != Accepted || eb.State != Rejected || eb.Reason != ReasonConflictLost {
		t.Fatalf("after corroboration: a %v/%v, b %v/%v", ea.State, ea.Reason, eb.State, eb.Reason)
	}
	if f.ring.Count("web4.lip.claim_disputed") != 2 {
		t.Fatalf("disputed events %d", f.ring.Count("web4.lip.claim_disputed"))
	}
}

func TestAcceptedClaimLaterRejectedDemotesSource(t *testing.T) {
	f := newFixture(t, nil, nil)
	ctx := context.Background()
	news := mustSubmit(t, f.q, mkTriple("geo", "Mount X", "height_m", "1000", "https://news.example/x"))
	if news.State != Accepted {
		t.Fatal(news.State)
	}
	// A high-tier source with two trusted corroborators contradicts it.
	fc := mkTriple("geo", "Mount X", "height_m", "1200", "https://factcheck.example/x")
	mustSubmit(t, f.q, fc)
	e, _ := f.q.Get(fc.ID())
	if e.State != Disputed {
		t.Fatalf("high vs accepted medium within margin must be disputed, got %v", e.State)
	}
	f.q.Corroborate(ctx, sameContent(fp("alice"), fc))
	news, _ = f.q.Get(news.ID)
	e, _ = f.q.Get(fc.ID())
	if news.State != Rejected || news.Reason != ReasonConflictLost || e.State != Accepted {
		t.Fatalf("news %v/%v, factcheck %v/%v", news.State, news.Reason, e.State, e.Reason)
	}
	if got := f.tiers.Tier("news.example"); got != envelope.TierLow {
		t.Fatalf("news.example tier %v, want low", got)
	}
	if f.ring.Count("web4.lip.tier_changed") != 1 {
		t.Fatal("no tier_changed event")
	}
	// Explicit retraction of an accepted claim also demotes.
	other := mustSubmit(t, f.q, mkClaim("Q.", "https://www.factcheck.example/q", extract.True))
	if _, err := f.q.Retract(ctx, other.ID, "human said no"); err != nil {
		t.Fatal(err)
	}
	if f.tiers.Tier("www.factcheck.example") != envelope.TierMedium {
		t.Fatal("retract did not demote")
	}
	if _, err := f.q.Retract(ctx, other.ID, "again"); !errors.Is(err, ErrInvalidClaim) {
		t.Fatalf("retract twice: %v", err)
	}
	if _, err := f.q.Retract(ctx, "nope", ""); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

func TestRestartKeepsQueue(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: t0}
	db := openDB(t, dir)
	f := newFixture(t, db, clk)
	c := mkClaim("Persistent.", "https://blog.example/p", extract.True)
	mustSubmit(t, f.q, c)
	f.q.Corroborate(context.Background(), sameContent(fp("alice"), c))
	acc := mustSubmit(t, f.q, mkClaim("Done.", "https://news.example/d", extract.True))
	f.q.Close()
	if _, err := f.q.Submit(context.Background(), c); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	f.q.Close()
	db.Close()

	db = openDB(t, dir)
	defer db.Close()
	g := newFixture(t, db, clk)
	e, ok := g.q.Get(c.ID())
	if !ok || e.State != Pending || len(e.Corroborations) != 1 || !e.Expires.Equal(t0.Add(DefaultTTL)) {
		t.Fatalf("after restart: %+v", e)
	}
	if a, _ := g.q.Get(acc.ID); a.State != Accepted {
		t.Fatal("accepted claim lost")
	}
	if total, open := g.q.Len(); total != 2 || open != 1 {
		t.Fatalf("len %d/%d", total, open)
	}
	got, _ := g.q.Corroborate(context.Background(), ownEvidence(fp("bob"), c))
	if len(got) != 1 || got[0].State != Accepted {
		t.Fatalf("second corroboration after restart: %+v", got)
	}
	// Expiry survives restarts too.
	h := mustSubmit(t, g.q, mkClaim("Expiring.", "https://blog.example/e", extract.True))
	g.q.Close()
	db.Close()
	clk.Add(DefaultTTL)
	db2 := openDB(t, dir)
	defer db2.Close()
	k := newFixture(t, db2, clk)
	k.q.Tick(context.Background())
	if e, _ := k.q.Get(h.ID); e.State != Rejected || e.Reason != ReasonExpired {
		t.Fatalf("expiry after restart: %v/%v", e.State, e.Reason)
	}
}

func TestSubmitRefusesBadInput(t *testing.T) {
	f := newFixture(t, nil, nil)
	bad := mkClaim("X.", "https://news.example/x", extract.True)
	bad.FactID = sum("forged")
	if _, err := f.q.Submit(context.Background(), bad); !errors.Is(err, ErrInvalidClaim) {
		t.Fatal(err)
	}
	bad = mkClaim("X.", "https://news.example/x", extract.True)
	bad.Confidence = 3
	if _, err := f.q.Submit(context.Background(), bad); !errors.Is(err, ErrInvalidClaim) {
		t.Fatal(err)
	}
	if _, err := f.q.Corroborate(context.Background(), Corroboration{Peer: "nobody", Kind: SameContent}); !errors.Is(err, ErrInvalidClaim) {
		t.Fatal(err)
	}
	if n := f.ring.Count("web4.lip.claim_refused"); n != 3 {
		t.Fatalf("claim_refused events = %d", n)
	}
	if total, _ := f.q.Len(); total != 0 {
		t.Fatal("invalid claim stored")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.q.Submit(ctx, mkClaim("Y.", "https://news.example/y", extract.True)); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

func TestQueueFull(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.q.cfg.MaxOpen = 50
	for i := 0; i < 50; i++ {
		c := mkClaim("Filler claim number "+itoa(i)+".", "https://blog.example/f", extract.True)
		if _, err := f.q.Submit(context.Background(), c); err != nil {
			t.Fatal(i, err)
		}
	}
	_, err := f.q.Submit(context.Background(), mkClaim("One too many.", "https://blog.example/f", extract.True))
	if !errors.Is(err, ErrQueueFull) {
		t.Fatal(err)
	}
	// A terminal claim frees its slot.
	mustSubmit(t, f.q, mkClaim("Filler claim number 0.", "https://blog.example/f", extract.True))
	f.clock.Add(DefaultTTL)
	f.q.Tick(context.Background())
	if _, err := f.q.Submit(context.Background(), mkClaim("Now it fits.", "https://blog.example/f", extract.True)); err != nil {
		t.Fatal(err)
	}
}

func TestRunTicksUntilCancelled(t *testing.T) {
	f := newFixture(t, nil, nil)
	e := mustSubmit(t, f.q, mkClaim("Ticked.", "https://blog.example/t", extract.True))
	f.clock.Add(DefaultTTL)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.q.Run(ctx, time.Millisecond) }()
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if _, ok := f.ring.WaitFor(wctx.Done(), events.OfType("web4.lip.claim_rejected")); !ok {
		t.Fatal("Run did not tick")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if got, _ := f.q.Get(e.ID); got.Reason != ReasonExpired {
		t.Fatal(got.Reason)
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{digits[i%10]}, b...)
	}
	return string(b)
}

func TestRefetchWithNewContentResetsSameContentSupport(t *testing.T) {
	f := newFixture(t, nil, nil)
	ctx := context.Background()
	c := mkClaim("Changing page.", "https://blog.example/c", extract.True)
	mustSubmit(t, f.q, c)
	f.q.Corroborate(ctx, sameContent(fp("alice"), c))
	newer := c
	newer.Provenance.ContentSHA256 = sum("edited page")
	newer.Provenance.RetrievedAt = t0.Add(time.Minute)
	e := mustSubmit(t, f.q, newer)
	if e.Claim.Provenance.ContentSHA256 != newer.Provenance.ContentSHA256 || len(e.Support) != 0 {
		t.Fatalf("after re-fetch: hash %s support %v", e.Claim.Provenance.ContentSHA256, e.Support)
	}
	// Bob confirms the old bytes: no longer support. Bob and Alice on the new bytes: accepted.
	f.q.Corroborate(ctx, sameContent(fp("bob"), c))
	if e, _ = f.q.Get(c.ID()); e.State != Pending {
		t.Fatal("old bytes still corroborate")
	}
	f.q.Corroborate(ctx, sameContent(fp("bob"), newer))
	f.q.Corroborate(ctx, sameContent(fp("alice"), newer))
	if e, _ = f.q.Get(c.ID()); e.State != Accepted {
		t.Fatalf("new bytes: %v/%v", e.State, e.Reason)
	}
	if f.ring.Count("web4.lip.claim_refetched") != 1 {
		t.Fatal("no refetched event")
	}
}

func TestOwnReadingTakesOverAPeersEntry(t *testing.T) {
	f := newFixture(t, nil, nil)
	c := mkClaim("Reported by a peer.", "https://news.example/r", extract.True)
	pc := c
	pc.Origin = fp("mallory")
	if e := mustSubmit(t, f.q, pc); e.State != Pending {
		t.Fatalf("peer claim on a medium source: %v", e.State)
	}
	e := mustSubmit(t, f.q, c)
	if e.Claim.Origin != "" || e.State != Accepted || e.Reason != ReasonTier || len(e.Corroborations) != 1 {
		t.Fatalf("own reading: %+v", e)
	}
}

func TestOnePeerCannotFloodTheQueue(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.q.cfg.MaxOpenPerPeer = 5
	for i := 0; i < 5; i++ {
		c := mkClaim("Flood "+itoa(i)+".", "https://blog.example/f", extract.True)
		c.Origin = fp("mallory")
		mustSubmit(t, f.q, c)
	}
	c := mkClaim("Flood 5.", "https://blog.example/f", extract.True)
	c.Origin = fp("mallory")
	if _, err := f.q.Submit(context.Background(), c); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("sixth claim from one peer: %v", err)
	}
	// Others are unaffected.
	d := mkClaim("Flood 5.", "https://blog.example/f", extract.True)
	d.Origin = fp("alice")
	mustSubmit(t, f.q, d)
	mustSubmit(t, f.q, mkClaim("Mine.", "https://blog.example/m", extract.True))
}

func TestUntrustedCorroborationsCannotCrowdOutTrustedOnes(t *testing.T) {
	f := newFixture(t, nil, nil)
	ctx := context.Background()
	c := mkClaim("Crowded.", "https://blog.example/c", extract.True)
	mustSubmit(t, f.q, c)
	for i := 0; i < MaxCorroborations; i++ {
		f.q.Corroborate(ctx, sameContent(fp("sybil"+itoa(i)), c))
	}
	f.q.Corroborate(ctx, sameContent(fp("alice"), c))
	f.q.Corroborate(ctx, sameContent(fp("bob"), c))
	e, _ := f.q.Get(c.ID())
	if len(e.Corroborations) != MaxCorroborations || e.State != Accepted {
		t.Fatalf("%d corroborations, state %v", len(e.Corroborations), e.State)
	}
}

// A peer that withdraws what it said about a fact (its LIP_REJECT) loses
// its own claim in our queue and its support of ours; the source's tier is
// untouched.
func TestWithdrawTakesBackAPeersWord(t *testing.T) {
	f := newFixture(t, nil, nil)
	ctx := context.Background()
	peerClaim := func(c Claim) Claim {
		pc, err := NewClaim(c.Claim, c.Provenance, fp("alice"))
		if err != nil {
			t.Fatal(err)
		}
		return pc
	}
	// A claim only alice read: hers, in our queue.
	only := mkClaim("The Louvre is in Paris.", "https://blog.example/louvre", extract.True)
	hers := mustSubmit(t, f.q, peerClaim(only))
	// A claim we read too: alice's reading corroborates ours.
	ours := mkClaim("The Eiffel Tower is in Paris.", "https://blog.example/post", extract.True)
	mine := mustSubmit(t, f.q, ours)
	mustSubmit(t, f.q, peerClaim(ours))
	if e, _ := f.q.Get(mine.ID); len(e.Corroborations) != 1 || e.Corroborations[0].Peer != fp("alice") {
		t.Fatalf("ours with alice's reading: %+v", e.Corroborations)
	}
	tier := f.tiers.Tier("blog.example")
	if changed, err := f.q.Withdraw(ctx, fp("alice"), only.FactID, "retracted"); err != nil || len(changed) != 1 {
		t.Fatalf("withdraw hers: %d changed, %v", len(changed), err)
	}
	if e, _ := f.q.Get(hers.ID); e.State != Rejected || e.Reason != ReasonWithdrawn {
		t.Fatalf("alice's own claim: %v/%v", e.State, e.Reason)
	}
	if changed, err := f.q.Withdraw(ctx, fp("alice"), ours.FactID, "retracted"); err != nil || len(changed) != 1 {
		t.Fatalf("withdraw her support: %d changed, %v", len(changed), err)
	}
	if e, _ := f.q.Get(mine.ID); e.State != Pending || len(e.Corroborations) != 0 {
		t.Fatalf("ours after alice withdrew: %v/%v %+v", e.State, e.Reason, e.Corroborations)
	}
	if f.tiers.Tier("blog.example") != tier {
		t.Fatal("a peer's withdrawal changed the source's tier")
	}
	if _, err := f.q.Withdraw(ctx, "not-a-fingerprint", ours.FactID, ""); !errors.Is(err, ErrInvalidClaim) {
		t.Fatalf("bad origin: %v", err)
	}
}
