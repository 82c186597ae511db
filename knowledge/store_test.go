package knowledge

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/store"
	"github.com/web4p2p/web4p2p/trust"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testPeerID = "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf"

// trustView is a mutable trust view for tests.
type trustView struct {
	mu sync.Mutex
	m  map[string]trust.State
}

func (v *trustView) State(fp string) trust.State {
	v.mu.Lock()
	defer v.mu.Unlock()
	if st, ok := v.m[fp]; ok {
		return st
	}
	return view(fp)
}

func (v *trustView) Set(fp string, st trust.State) {
	v.mu.Lock()
	v.m[fp] = st
	v.mu.Unlock()
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

type harness struct {
	db   *store.DB
	s    *Store
	ring *events.Ring
	chk  *events.CheckingSink
	tv   *trustView
	clk  *fakeClock
}

func openHarness(t *testing.T, path string, tv *trustView, clk *fakeClock, opts ...func(*StoreConfig)) *harness {
	t.Helper()
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{db: db, ring: events.NewRing(1024), tv: tv, clk: clk}
	h.chk = &events.CheckingSink{Next: h.ring}
	cfg := StoreConfig{
		View:   tv.State,
		Now:    clk.Now,
		Events: events.NewEmitter(testPeerID, h.chk, clk.Now),
	}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := OpenStore(db, cfg)
	if err != nil {
		_ = db.Close()
		t.Fatal(err)
	}
	h.s = s
	t.Cleanup(func() {
		_ = db.Close()
		if f := h.chk.Failures(); len(f) != 0 {
			t.Errorf("schema failures: %v", f)
		}
	})
	return h
}

func (h *harness) statusEvents(typ, factID string) int {
	n := 0
	for _, e := range h.ring.Events() {
		if e.Type == typ && e.Subject == factID {
			n++
		}
	}
	return n
}

// holdUnknown configures a Store that keeps votes arriving before their fact.
func holdUnknown(c *StoreConfig) { c.HoldUnknown = true }

func TestStoreLifecycleAndRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), store.FileName)
	tv := &trustView{m: map[string]trust.State{}}
	clk := &fakeClock{t: t0}
	h := openHarness(t, path, tv, clk, holdUnknown)

	f := testFact(t)
	f.ID = "" // the store computes it
	res, _, err := h.s.Propose(ctx, f)
	if err != nil || res.Status != Proposed {
		t.Fatalf("propose: %+v %v", res, err)
	}
	id := mustID(t, f.Domain, f.Statement)
	if h.statusEvents(EventFactProposed, id) != 1 {
		t.Fatal("no fact_proposed event")
	}
	// A probing vote is recorded, not counted.
	if res, _, _ = h.s.Vote(ctx, vote(testFact(t), "p1", Confirm, time.Minute, "v0")); res.Status != Proposed || res.Uncounted != 1 {
		t.Fatalf("probing vote: %+v", res)
	}
	if res, _, _ = h.s.Vote(ctx, vote(testFact(t), "t1", Confirm, time.Minute, "v1")); res.Status != Pending {
		t.Fatalf("one confirm: %+v", res)
	}
	if h.statusEvents(EventFactConfirmed, id) != 1 {
		t.Fatal("no fact_confirmed event")
	}
	res, changes, _ := h.s.Vote(ctx, vote(testFact(t), "t2", Confirm, 2*time.Minute, "v2"))
	if res.Status != Accepted {
		t.Fatalf("two confirms: %+v", res)
	}
	ev, ok := h.ring.WaitFor(nil, func(e events.Event) bool { return e.Type == EventFactAccepted && e.Subject == id })
	if !ok || ev.Data["confirmers"] != 2 || ev.Data["from"] != "pending" || ev.Data["proposer"] != "prop" {
		t.Fatalf("fact_accepted event %+v", ev)
	}
	if len(changes) != 1 {
		t.Fatalf("changes %+v", changes)
	}
	if last := changes[0]; last.Result.Status != Accepted || last.From != Pending || last.Fact.ID != id || len(last.Result.Confirmers) != 2 {
		t.Fatalf("returned change %+v", last)
	}
	// Duplicate delivery changes nothing and emits nothing.
	before := h.ring.Total()
	if res, _, _ = h.s.Vote(ctx, vote(testFact(t), "t2", Confirm, 2*time.Minute, "v2")); res.Status != Accepted || h.ring.Total() != before {
		t.Fatalf("duplicate vote: %+v, %d new events", res, h.ring.Total()-before)
	}
	// An older vote arriving late does not replace the newer one.
	if res, _, _ = h.s.Vote(ctx, vote(testFact(t), "t2", Challenge, time.Second, "v-old")); res.Status != Accepted {
		t.Fatalf("stale challenge counted: %+v", res)
	}

	// A second fact: challenged → disputed.
	g := Fact{Statement: "the moon is cheese", Domain: "astro", Confidence: 0.1, Proposer: "p7", MsgID: "p-2", ProposedAt: t0}
	gid := mustID(t, g.Domain, g.Statement)
	if _, _, err := h.s.Propose(ctx, g); err != nil {
		t.Fatal(err)
	}
	if res, _, _ = h.s.Vote(ctx, Vote{Voter: "t1", FactID: gid, Kind: Challenge, MsgID: "c1", Time: t0.Add(time.Minute)}); res.Status != Disputed {
		t.Fatalf("challenge: %+v", res)
	}
	if h.statusEvents(EventFactDisputed, gid) != 1 {
		t.Fatal("no fact_disputed event")
	}
	// Votes before the fact: kept and counted when it arrives.
	k := Fact{Statement: "late fact", Domain: "d", Proposer: "t9", ProposedAt: t0}
	kid := mustID(t, k.Domain, k.Statement)
	if res, _, err = h.s.Vote(ctx, Vote{Voter: "t1", FactID: kid, Kind: Confirm, MsgID: "k1", Time: t0}); err != nil || res.Status != 0 {
		t.Fatalf("orphan vote: %+v %v", res, err)
	}
	if _, _, ok := h.s.Fact(kid); ok {
		t.Fatal("orphan vote created a fact")
	}
	if _, _, err := h.s.Vote(ctx, Vote{Voter: "t2", FactID: kid, Kind: Confirm, MsgID: "k2", Time: t0}); err != nil {
		t.Fatal(err)
	}
	if res, _, _ = h.s.Propose(ctx, k); res.Status != Accepted {
		t.Fatalf("fact after its votes: %+v", res)
	}

	facts := h.s.Facts()
	if len(facts) != 3 {
		t.Fatalf("%d facts", len(facts))
	}
	votes := h.s.Votes(id)
	if err := h.db.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart: same facts, votes and statuses, nothing re-announced.
	h2 := openHarness(t, path, tv, clk, holdUnknown)
	facts2 := h2.s.Facts()
	if fmt.Sprint(facts2) != fmt.Sprint(facts) {
		t.Fatalf("facts after restart:\n%v\n%v", facts2, facts)
	}
	if fmt.Sprint(h2.s.Votes(id)) != fmt.Sprint(votes) {
		t.Fatal("votes differ after restart")
	}
	if h2.ring.Total() != 0 {
		t.Fatal("restart emitted events")
	}
	fr, r2, ok := h2.s.Fact(id)
	if !ok || r2.Status != Accepted || !fr.Expires.Equal(t0.Add(time.Hour)) {
		t.Fatalf("fact after restart %+v %+v", fr, r2)
	}

	// Trust change: t1 becomes untrusted → the accepted fact drops to pending.
	tv.Set("t1", trust.Untrusted)
	ch, err := h2.s.TrustChanged(ctx, "t1")
	if err != nil || len(ch) != 3 {
		t.Fatalf("TrustChanged: %d %v", len(ch), err)
	}
	if _, r, _ := h2.s.Fact(id); r.Status != Pending {
		t.Fatalf("after trust change: %+v", r)
	}
	if _, r, _ := h2.s.Fact(gid); r.Status != Proposed {
		t.Fatalf("challenge by untrusted still counts: %+v", r)
	}
	// Proposer becomes untrusted → rejected.
	tv.Set("prop", trust.Untrusted)
	if ch, _ := h2.s.TrustChanged(ctx, "prop"); len(ch) != 1 || h2.statusEvents(EventFactRejected, id) != 1 {
		t.Fatalf("proposer untrusted: %d changes", len(ch))
	}
	// Expiry through Reevaluate.
	clk.Set(t0.Add(2 * time.Hour))
	// Both facts without quorum expire: the once-disputed one and the late
	// fact that lost t1's confirmation.
	if ch, _ := h2.s.Reevaluate(ctx); len(ch) != 2 {
		t.Fatalf("expiry changed %d facts, want 2", len(ch))
	}
	if _, r, _ := h2.s.Fact(gid); r.Status != Rejected || r.Reason != ReasonExpired {
		t.Fatalf("expired fact %+v", r)
	}
}

func TestStoreRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	h := openHarness(t, filepath.Join(t.TempDir(), "db"), &trustView{m: map[string]trust.State{}}, &fakeClock{t: t0})
	f := testFact(t)
	badFacts := []Fact{{}, {Statement: "x", Domain: "d", Proposer: "p", ProposedAt: t0, Confidence: 2}, {Statement: "\xff", Domain: "d", Proposer: "p", ProposedAt: t0}}
	for i, bf := range badFacts {
		if _, _, err := h.s.Propose(ctx, bf); !errors.Is(err, ErrInvalidFact) {
			t.Fatalf("bad fact %d: %v", i, err)
		}
	}
	badVotes := []Vote{{}, {Voter: "t1", FactID: f.ID, Kind: 0, MsgID: "m", Time: t0}, {Voter: "t1", FactID: "xyz", Kind: Confirm, MsgID: "m", Time: t0},
		{Voter: "t1", FactID: f.ID, Kind: Confirm, MsgID: "m", Time: t0, Confidence: -0.1}}
	for i, bv := range badVotes {
		if _, _, err := h.s.Vote(ctx, bv); !errors.Is(err, ErrInvalidVote) {
			t.Fatalf("bad vote %d: %v", i, err)
		}
	}
	if n := h.ring.Count("web4.error"); n != len(badFacts)+len(badVotes) {
		t.Fatalf("%d error events", n)
	}
	// One bad item in a batch: nothing is recorded.
	if _, _, err := h.s.Ingest(ctx, []Fact{f}, []Vote{badVotes[1]}); err == nil || len(h.s.Facts()) != 0 {
		t.Fatal("partial batch recorded")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := h.s.Propose(cctx, f); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestStoreVoterLimit(t *testing.T) {
	ctx := context.Background()
	h := openHarness(t, filepath.Join(t.TempDir(), "db"), &trustView{m: map[string]trust.State{}}, &fakeClock{t: t0})
	f := testFact(t)
	if _, _, err := h.s.Propose(ctx, f); err != nil {
		t.Fatal(err)
	}
	vs := make([]Vote, MaxVotersPerFact)
	for i := range vs {
		vs[i] = Vote{Voter: fmt.Sprintf("x%d", i), FactID: f.ID, Kind: Confirm, MsgID: "m", Time: t0}
	}
	if _, _, err := h.s.Ingest(ctx, nil, vs); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.s.Vote(ctx, Vote{Voter: "one-too-many", FactID: f.ID, Kind: Confirm, MsgID: "m", Time: t0}); !errors.Is(err, ErrLimit) {
		t.Fatalf("limit: %v", err)
	}
	// An existing voter may still change its vote.
	if _, _, err := h.s.Vote(ctx, Vote{Voter: "x1", FactID: f.ID, Kind: Reject, MsgID: "n", Time: t0.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
}

// TestStoreConcurrentIngestConverges: votes for one fact ingested from many
// goroutines in random order end in the same state, in memory and on disk,
// as a sequential tally of the same votes.
func TestStoreConcurrentIngestConverges(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	tv := &trustView{m: map[string]trust.State{}}
	clk := &fakeClock{t: t0}
	h := openHarness(t, path, tv, clk)
	f := testFact(t)
	if _, _, err := h.s.Propose(ctx, f); err != nil {
		t.Fatal(err)
	}
	voters := []string{"t1", "t2", "t3", "p1", "t4"}
	var all []Vote
	for i := 0; i < 200; i++ {
		all = append(all, Vote{Voter: voters[i%len(voters)], FactID: f.ID, Kind: VoteKind(1 + (i*7)%3),
			MsgID: fmt.Sprintf("m%03d", i), Time: t0.Add(time.Duration(i%17) * time.Second)})
	}
	want := DefaultRules().Tally(f, all, tv.State, clk.Now())
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < len(all); i += 8 {
				if _, _, err := h.s.Vote(ctx, all[i]); err != nil {
					t.Error(err)
				}
			}
		}(g)
	}
	wg.Wait()
	if _, got, _ := h.s.Fact(f.ID); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("memory: %+v, want %+v", got, want)
	}
	if err := h.db.Close(); err != nil {
		t.Fatal(err)
	}
	h2 := openHarness(t, path, tv, clk)
	if _, got, _ := h2.s.Fact(f.ID); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("disk: %+v, want %+v", got, want)
	}
}

// TestStoreFeedsLedger wires the store to a real trust.Ledger the way the
// node does: accepted facts promote a probing proposer to trusted, and
// trust changes re-evaluate the facts.
func TestStoreFeedsLedger(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clk := &fakeClock{t: t0}
	anchors := []string{fp('1'), fp('2')}
	l, err := trust.OpenLedger(db, trust.LedgerConfig{Anchors: anchors, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	newcomer := fp('9')
	if _, err := l.Apply(newcomer, trust.ValidHandshake, "hello"); err != nil {
		t.Fatal(err)
	}
	ks, err := OpenStore(db, StoreConfig{View: l.State, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	// The wiring's loop: changes the store returns feed the ledger, and a
	// ledger transition re-tallies that peer's facts.
	feed := func(cs []Change) {
		for _, c := range cs {
			if c.Result.Status == Accepted {
				if _, err := l.ApplyInput(c.Fact.Proposer, trust.Input{Event: trust.FactAccepted, Cause: c.Fact.MsgID, Confirmations: len(c.Result.Confirmers)}); err != nil {
					t.Error(err)
				}
			}
		}
	}
	cancel := l.OnChange(func(tr trust.Transition) {
		cs, err := ks.TrustChanged(ctx, tr.Peer)
		if err != nil {
			t.Error(err)
		}
		feed(cs)
	})
	defer cancel()
	for i, st := range []string{"fact one", "fact two"} {
		fct := Fact{Statement: st, Domain: "d", Proposer: newcomer, MsgID: fmt.Sprint("p", i), ProposedAt: t0}
		id := mustID(t, "d", st)
		if _, _, err := ks.Propose(ctx, fct); err != nil {
			t.Fatal(err)
		}
		// The newcomer's own probing confirmation of another fact is not counted.
		for _, a := range anchors {
			_, cs, err := ks.Vote(ctx, Vote{Voter: a, FactID: id, Kind: Confirm, MsgID: a[:4] + st, Time: t0})
			if err != nil {
				t.Fatal(err)
			}
			feed(cs)
		}
	}
	if st := l.State(newcomer); st != trust.Trusted {
		t.Fatalf("newcomer with two accepted facts is %s", st)
	}
	// Its confirmations now count: a fact it confirms with one anchor is accepted.
	g := Fact{Statement: "fact three", Domain: "d", Proposer: anchors[0], ProposedAt: t0}
	gid := mustID(t, "d", "fact three")
	if _, _, err := ks.Ingest(ctx, []Fact{g}, []Vote{
		{Voter: newcomer, FactID: gid, Kind: Confirm, MsgID: "n3", Time: t0},
		{Voter: anchors[1], FactID: gid, Kind: Confirm, MsgID: "a3", Time: t0}}); err != nil {
		t.Fatal(err)
	}
	if _, r, _ := ks.Fact(gid); r.Status != Accepted {
		t.Fatalf("fact three %+v", r)
	}
	// Blacklisting the newcomer re-evaluates through OnChange: its facts are rejected.
	if _, err := l.Apply(newcomer, trust.ProvenMalice, "equivocation"); err != nil {
		t.Fatal(err)
	}
	if _, r, _ := ks.Fact(mustID(t, "d", "fact one")); r.Status != Rejected || r.Reason != ReasonProposerUntrusted {
		t.Fatalf("fact one after blacklisting %+v", r)
	}
	if _, r, _ := ks.Fact(gid); r.Status != Pending {
		t.Fatalf("fact three after blacklisting its confirmer %+v", r)
	}
}

func fp(c byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return string(b)
}

func TestStoreOrphanLimit(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	tv := &trustView{m: map[string]trust.State{}}
	clk := &fakeClock{t: t0}
	h := openHarness(t, path, tv, clk, holdUnknown)
	orphan := func(i int) Vote {
		id := mustID(t, "d", fmt.Sprint("never proposed ", i))
		return Vote{Voter: "t1", FactID: id, Kind: Confirm, MsgID: "m", Time: t0}
	}
	vs := make([]Vote, MaxOrphanFacts)
	for i := range vs {
		vs[i] = orphan(i)
	}
	if _, _, err := h.s.Ingest(ctx, nil, vs); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.s.Vote(ctx, orphan(-1)); !errors.Is(err, ErrLimit) {
		t.Fatalf("orphan limit: %v", err)
	}
	// A fact with its votes in the same batch is not an orphan.
	f := Fact{Statement: "with votes", Domain: "d", Proposer: "prop", ProposedAt: t0}
	fid := mustID(t, "d", "with votes")
	if _, _, err := h.s.Ingest(ctx, []Fact{f}, []Vote{{Voter: "t1", FactID: fid, Kind: Confirm, MsgID: "x", Time: t0}}); err != nil {
		t.Fatal(err)
	}
	// Proposing an orphaned fact frees a slot, also after a restart.
	if _, _, err := h.s.Propose(ctx, Fact{Statement: "never proposed 0", Domain: "d", Proposer: "prop", ProposedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := h.db.Close(); err != nil {
		t.Fatal(err)
	}
	h2 := openHarness(t, path, tv, clk, holdUnknown)
	if _, _, err := h2.s.Vote(ctx, orphan(-1)); err != nil {
		t.Fatalf("slot not freed: %v", err)
	}
	if _, _, err := h2.s.Vote(ctx, orphan(-2)); !errors.Is(err, ErrLimit) {
		t.Fatalf("limit after restart: %v", err)
	}
}
