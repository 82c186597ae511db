package trust

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testPeerID = "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf"
	fpB        = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	fpAnchor   = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

// clock is a manually advanced test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type harness struct {
	path  string
	db    *store.DB
	clk   *clock
	ring  *events.Ring
	check *events.CheckingSink
	l     *Ledger
}

func openHarness(t *testing.T, path string, clk *clock, anchors ...string) *harness {
	t.Helper()
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ring := events.NewRing(256)
	chk := &events.CheckingSink{Next: ring}
	em := events.NewEmitter(testPeerID, chk, clk.Now)
	l, err := OpenLedger(db, LedgerConfig{Anchors: anchors, Now: clk.Now, Events: em})
	if err != nil {
		_ = db.Close()
		t.Fatal(err)
	}
	h := &harness{path: path, db: db, clk: clk, ring: ring, check: chk, l: l}
	t.Cleanup(func() {
		_ = db.Close()
		if f := chk.Failures(); len(f) != 0 {
			t.Errorf("schema failures: %v", f)
		}
	})
	return h
}

func mustApply(t *testing.T, l *Ledger, fp string, ev Event, cause string) *Transition {
	t.Helper()
	tr, err := l.Apply(fp, ev, cause)
	if err != nil {
		t.Fatalf("Apply(%s): %v", ev, err)
	}
	return tr
}

func TestLedgerPersistsAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), store.FileName)
	clk := &clock{t: t0}
	h := openHarness(t, path, clk, fpAnchor)

	if got := h.l.State(fpAnchor); got != Trusted {
		t.Fatalf("anchor starts %s, want trusted", got)
	}
	if got := h.l.State(fpA); got != Unknown {
		t.Fatalf("stranger is %s", got)
	}
	if err := h.l.BindPeerID(fpA, testPeerID); err != nil {
		t.Fatal(err)
	}
	if tr := mustApply(t, h.l, fpA, ValidHandshake, "m1"); tr == nil || tr.To != Probing || tr.PeerID != testPeerID {
		t.Fatalf("handshake transition %+v", tr)
	}
	clk.Advance(time.Second)
	if tr := mustApply(t, h.l, fpA, InvalidMessage, "m2"); tr != nil {
		t.Fatalf("one invalid message moved the peer: %+v", tr)
	}
	clk.Advance(time.Second)
	mustApply(t, h.l, fpB, BadSignature, "m3")
	clk.Advance(time.Second)
	mustApply(t, h.l, fpB, ProvenMalice, "m4")
	// Demote the anchor: the restart must not undo it.
	mustApply(t, h.l, fpAnchor, TemporaryAnomaly, "m5")

	// Transitions were emitted with the schema-valid shape and the data named.
	ev, ok := h.ring.WaitFor(nil, func(e events.Event) bool {
		return e.Type == EventTransition && e.Subject == fpB && e.Data["to"] == "blacklisted"
	})
	if !ok || ev.Data["event"] != "proven_malice" || ev.Data["cause"] != "m4" || ev.Data["from"] != "untrusted" {
		t.Fatalf("blacklist event: %+v", ev)
	}
	if n := h.ring.Count(EventTransition); n != 5 { // anchor, A probing, B untrusted, B blacklisted, anchor probing
		t.Fatalf("%d transition events, want 5", n)
	}

	view := h.l.View()
	histA, err := h.l.History(fpA)
	if err != nil {
		t.Fatal(err)
	}
	if len(histA) != 1 || histA[0].Cause != "m1" || histA[0].Seq != 1 {
		t.Fatalf("history A: %+v", histA)
	}
	histB, _ := h.l.History(fpB)
	if len(histB) != 2 || histB[1].From != Untrusted || histB[1].To != Blacklisted {
		t.Fatalf("history B: %+v", histB)
	}
	if err := h.db.Close(); err != nil {
		t.Fatal(err)
	}

	h2 := openHarness(t, path, clk, fpAnchor)
	view2 := h2.l.View()
	if len(view2) != len(view) {
		t.Fatalf("view after restart has %d peers, want %d", len(view2), len(view))
	}
	for i := range view {
		if !equalState(view[i], view2[i]) {
			t.Fatalf("peer %s differs after restart:\n%+v\n%+v", view[i].Peer, view[i], view2[i])
		}
	}
	if got := h2.l.State(fpAnchor); got != Probing {
		t.Fatalf("demoted anchor is %s after restart, want probing", got)
	}
	if h2.ring.Count(EventTransition) != 0 {
		t.Fatal("restart re-emitted transitions")
	}
	histB2, _ := h2.l.History(fpB)
	if len(histB2) != 2 || !histB2[1].Time.Equal(histB[1].Time) || histB2[1] != histB[1] {
		t.Fatalf("history after restart: %+v vs %+v", histB2, histB)
	}
	// The counters survived: two more invalid messages within the window → untrusted.
	clk.Advance(time.Second)
	mustApply(t, h2.l, fpA, InvalidMessage, "m6")
	if tr := mustApply(t, h2.l, fpA, InvalidMessage, "m7"); tr == nil || tr.To != Untrusted || tr.Counters.InvalidInWindow != 3 {
		t.Fatalf("third invalid after restart: %+v", tr)
	}
}

func TestLedgerOverrideAndErrors(t *testing.T) {
	clk := &clock{t: t0}
	h := openHarness(t, filepath.Join(t.TempDir(), "db"), clk)

	if _, err := h.l.Override(fpA, "not needed"); !errors.Is(err, ErrNotBlacklisted) {
		t.Fatalf("override of unknown: %v", err)
	}
	mustApply(t, h.l, fpA, FingerprintMismatch, "m1")
	if tr := mustApply(t, h.l, fpA, ValidHandshake, "m2"); tr != nil || h.l.State(fpA) != Blacklisted {
		t.Fatal("blacklisted peer moved")
	}
	tr, err := h.l.Override(fpA, "operator: key rotation explained")
	if err != nil || tr.To != Probing || tr.Event != ManualOverride || tr.Cause != "operator: key rotation explained" {
		t.Fatalf("override: %+v %v", tr, err)
	}
	hist, _ := h.l.History(fpA)
	if len(hist) != 2 || hist[1].Cause != "operator: key rotation explained" {
		t.Fatalf("history %+v", hist)
	}

	bad := []struct {
		fp    string
		ev    Event
		cause string
		want  error
	}{
		{"nothex", ValidHandshake, "", ErrInvalidFingerprint},
		{strings.ToUpper(fpA), ValidHandshake, "", ErrInvalidFingerprint},
		{fpA, Event(0), "", ErrInvalidEvent},
		{fpA, Event(99), "", ErrInvalidEvent},
		{fpA, InvalidMessage, "\xff", ErrInvalidCause},
		{fpA, InvalidMessage, strings.Repeat("x", maxCauseLen+1), ErrInvalidCause},
	}
	before := h.ring.Count("web4.error")
	for _, b := range bad {
		if _, err := h.l.Apply(b.fp, b.ev, b.cause); !errors.Is(err, b.want) {
			t.Fatalf("Apply(%q,%d): %v, want %v", b.fp, b.ev, err, b.want)
		}
	}
	if got := h.ring.Count("web4.error") - before; got != len(bad) {
		t.Fatalf("%d error events for %d bad inputs", got, len(bad))
	}
	if _, err := h.l.History("x"); !errors.Is(err, ErrInvalidFingerprint) {
		t.Fatal("History accepted a bad fingerprint")
	}
	if _, err := OpenLedger(h.db, LedgerConfig{Anchors: []string{"short"}}); !errors.Is(err, ErrInvalidFingerprint) {
		t.Fatalf("bad anchor: %v", err)
	}
}

func TestLedgerStandingCooldown(t *testing.T) {
	clk := &clock{t: t0}
	h := openHarness(t, filepath.Join(t.TempDir(), "db"), clk)
	if st, ok := h.l.Standing(fpA); st != Unknown || !ok {
		t.Fatalf("stranger standing %s %v", st, ok)
	}
	mustApply(t, h.l, fpA, BadSignature, "m1")
	if st, ok := h.l.Standing(fpA); st != Untrusted || ok {
		t.Fatalf("fresh untrusted standing %s %v", st, ok)
	}
	clk.Advance(DefaultCooldown)
	if _, ok := h.l.Standing(fpA); !ok {
		t.Fatal("cooldown not over after 60s")
	}
	if tr := mustApply(t, h.l, fpA, ValidHandshake, "m2"); tr == nil || tr.To != Probing {
		t.Fatal("handshake after cooldown did not probe")
	}
}

func TestLedgerOnChangeOrderAndConcurrency(t *testing.T) {
	clk := &clock{t: t0}
	h := openHarness(t, filepath.Join(t.TempDir(), "db"), clk)
	var mu sync.Mutex
	seen := map[string][]uint64{}
	cancel := h.l.OnChange(func(tr Transition) {
		_ = h.l.State(tr.Peer) // reading from a subscriber is allowed
		mu.Lock()
		seen[tr.Peer] = append(seen[tr.Peer], tr.Seq)
		mu.Unlock()
	})
	fps := []string{fpA, fpB, fpAnchor}
	var wg sync.WaitGroup
	for _, fp := range fps {
		wg.Add(1)
		go func(fp string) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				// unknown → probing → blacklisted → probing → ... : 1 + 2*10 transitions
				if i == 0 {
					if _, err := h.l.Apply(fp, ValidHandshake, "h"); err != nil {
						t.Error(err)
					}
				}
				if _, err := h.l.Apply(fp, ProvenMalice, "x"); err != nil {
					t.Error(err)
				}
				if _, err := h.l.Override(fp, "ok"); err != nil {
					t.Error(err)
				}
			}
		}(fp)
	}
	wg.Wait()
	cancel()
	cancel()
	mustApply(t, h.l, fpA, ProvenMalice, "after-cancel")
	mu.Lock()
	defer mu.Unlock()
	for _, fp := range fps {
		s := seen[fp]
		if len(s) != 21 {
			t.Fatalf("%s: %d notifications, want 21", fp, len(s))
		}
		for i, q := range s {
			if q != uint64(i+1) {
				t.Fatalf("%s: notifications out of order: %v", fp, s)
			}
		}
		want := 21
		if fp == fpA {
			want = 22 // plus the transition applied after cancel, not notified
		}
		hist, err := h.l.History(fp)
		if err != nil || len(hist) != want {
			t.Fatalf("%s history %d %v", fp, len(hist), err)
		}
	}
}

func TestLedgerSubscriberMayApply(t *testing.T) {
	clk := &clock{t: t0}
	h := openHarness(t, filepath.Join(t.TempDir(), "db"), clk)
	var seen []string
	cancel := h.l.OnChange(func(tr Transition) {
		seen = append(seen, tr.From.String()+">"+tr.To.String())
		if tr.To == Probing {
			// e.g. a propagation rule reacting to a transition
			if _, err := h.l.Apply(tr.Peer, ProvenMalice, "reentrant"); err != nil {
				t.Error(err)
			}
		}
	})
	defer cancel()
	if tr := mustApply(t, h.l, fpA, ValidHandshake, "m1"); tr == nil || tr.To != Probing {
		t.Fatalf("%+v", tr)
	}
	if st := h.l.State(fpA); st != Blacklisted {
		t.Fatalf("state %s", st)
	}
	if strings.Join(seen, ",") != "unknown>probing,probing>blacklisted" {
		t.Fatalf("notifications %v", seen)
	}
}

func TestLedgerNoRecordForNoOps(t *testing.T) {
	h := openHarness(t, filepath.Join(t.TempDir(), "db"), &clock{t: t0})
	for _, ev := range []Event{FactAccepted, ManualOverride} {
		if tr := mustApply(t, h.l, fpA, ev, "x"); tr != nil {
			t.Fatalf("%s moved a stranger: %+v", ev, tr)
		}
	}
	if _, known := h.l.Peer(fpA); known || len(h.l.View()) != 0 {
		t.Fatalf("no-op events created a record: %+v", h.l.View())
	}
}

// Stage puts the new state in effect at once (state, event) and in the
// store once committed; binding the PeerID rides in the same write.
func TestLedgerStageCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), store.FileName)
	clk := &clock{t: t0}
	h := openHarness(t, path, clk)
	var txs, records int
	h.l.inTx = func(n int) error { txs++; records += n; return nil }

	tr, commit, err := h.l.Stage(fpA, testPeerID, Input{Event: ValidHandshake, Cause: "hs"})
	if err != nil || tr == nil || tr.To != Probing || tr.PeerID != testPeerID {
		t.Fatalf("Stage: %+v %v", tr, err)
	}
	if got := h.l.State(fpA); got != Probing {
		t.Fatalf("staged state %s, want probing at once", got)
	}
	if h.ring.Count(EventTransition) != 1 {
		t.Fatal("transition not emitted when staged")
	}
	if txs != 0 {
		t.Fatalf("Stage wrote %d transactions before commit", txs)
	}
	if err := commit(); err != nil {
		t.Fatal(err)
	}
	if err := commit(); err != nil || txs != 1 || records != 1 {
		t.Fatalf("commit twice: %v; %d transactions, %d records, want 1 and 1 (bind + transition in one write)", err, txs, records)
	}
	// Nothing changes: no write queued, commit is a no-op.
	if tr, commit, err := h.l.Stage(fpA, testPeerID, Input{Event: ValidHandshake, Cause: "again"}); err != nil || tr != nil || commit() != nil || txs != 1 {
		t.Fatalf("no-op Stage: %+v %v (%d transactions)", tr, err, txs)
	}
	if err := h.db.Close(); err != nil {
		t.Fatal(err)
	}
	h2 := openHarness(t, path, clk)
	ps, ok := h2.l.Peer(fpA)
	if !ok || ps.State != Probing || ps.PeerID != testPeerID {
		t.Fatalf("after restart: %+v", ps)
	}
	if hist, err := h2.l.History(fpA); err != nil || len(hist) != 1 || hist[0].PeerID != testPeerID {
		t.Fatalf("history after restart: %+v %v", hist, err)
	}
}

// Writes staged by concurrent appliers reach the store in one transaction
// when one of them commits (group commit), and every commit then returns.
func TestLedgerGroupCommit(t *testing.T) {
	h := openHarness(t, filepath.Join(t.TempDir(), store.FileName), &clock{t: t0})
	var mu sync.Mutex
	var txs, records int
	h.l.inTx = func(n int) error { mu.Lock(); txs++; records += n; mu.Unlock(); return nil }
	const n = 40
	commits := make([]func() error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fp := fmt.Sprintf("%064x", i+1)
			_, c, err := h.l.Stage(fp, "", Input{Event: ValidHandshake, Cause: "hs"})
			if err != nil {
				t.Error(err)
			}
			commits[i] = c
		}()
	}
	wg.Wait()
	if err := commits[n/2](); err != nil {
		t.Fatal(err)
	}
	for _, c := range commits {
		if err := c(); err != nil {
			t.Fatal(err)
		}
	}
	if txs != 1 || records != n {
		t.Fatalf("%d transactions for %d records, want 1 for %d", txs, records, n)
	}
}

// A failed write is reported, keeps the in-memory state, stays queued and
// lands with the next commit; nothing is lost.
func TestLedgerCommitFailureRetried(t *testing.T) {
	path := filepath.Join(t.TempDir(), store.FileName)
	clk := &clock{t: t0}
	h := openHarness(t, path, clk)
	fail := errors.New("disk full")
	h.l.inTx = func(int) error { return fail }
	if _, err := h.l.Apply(fpA, ValidHandshake, "hs"); !errors.Is(err, fail) {
		t.Fatalf("Apply with a failing store: %v", err)
	}
	if got := h.l.State(fpA); got != Probing {
		t.Fatalf("state after failed write: %s, want probing (kept in memory)", got)
	}
	if _, ok := h.ring.WaitFor(nil, func(e events.Event) bool {
		return e.Type == "web4.error" && e.Data["kind"] == "persist_failed"
	}); !ok {
		t.Fatal("no persist_failed event")
	}
	if _, err := h.l.History(fpA); !errors.Is(err, fail) {
		t.Fatalf("History with the write still failing: %v", err)
	}
	h.l.inTx = nil
	clk.Advance(time.Second)
	if _, err := h.l.Apply(fpB, BadSignature, "bad"); err != nil {
		t.Fatal(err)
	}
	if err := h.db.Close(); err != nil {
		t.Fatal(err)
	}
	h2 := openHarness(t, path, clk)
	if a, b := h2.l.State(fpA), h2.l.State(fpB); a != Probing || b != Untrusted {
		t.Fatalf("after restart: A %s (want probing, the retried write), B %s", a, b)
	}
}

// The operator can take trust back (demote, un-anchor, distrust,
// blacklist) with the reason recorded, but never grant it; what the FSM
// does not allow is ErrRefused naming the states.
func TestLedgerSetByOperator(t *testing.T) {
	clk := &clock{t: t0}
	path := filepath.Join(t.TempDir(), "db")
	h := openHarness(t, path, clk, fpAnchor)

	tr, err := h.l.Set(fpAnchor, Probing, "anchor key may be leaked")
	if err != nil || tr.From != Trusted || tr.To != Probing || tr.Event != ManualDemote || tr.Cause != "anchor key may be leaked" {
		t.Fatalf("un-anchor: %+v %v", tr, err)
	}
	if _, err := h.l.Set(fpAnchor, Trusted, "x"); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "earned") {
		t.Fatalf("promotion by hand: %v", err)
	}
	if _, err := h.l.Set(fpAnchor, Probing, "x"); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "already probing") {
		t.Fatalf("no-op set: %v", err)
	}
	if _, err := h.l.Set(fpAnchor, Unknown, "x"); !errors.Is(err, ErrRefused) {
		t.Fatalf("back to unknown: %v", err)
	}
	if tr, err := h.l.Set(fpAnchor, Untrusted, "spam"); err != nil || tr.To != Untrusted || tr.Event != ManualDistrust {
		t.Fatalf("distrust: %+v %v", tr, err)
	}
	if _, err := h.l.Set(fpAnchor, Probing, "x"); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "untrusted → probing") {
		t.Fatalf("untrusted → probing by hand: %v", err)
	}
	if tr, err := h.l.Set(fpB, Blacklisted, "known spammer"); err != nil || tr.From != Unknown || tr.To != Blacklisted || tr.Event != ManualBlacklist {
		t.Fatalf("blacklist a stranger: %+v %v", tr, err)
	}
	if tr, err := h.l.Set(fpB, Probing, "was a mistake"); err != nil || tr.Event != ManualOverride {
		t.Fatalf("lift: %+v %v", tr, err)
	}

	// A restart with the anchor still listed does not re-anchor it.
	if err := h.db.Close(); err != nil {
		t.Fatal(err)
	}
	h2 := openHarness(t, path, clk, fpAnchor)
	if got := h2.l.State(fpAnchor); got != Untrusted {
		t.Fatalf("demoted anchor is %s after restart, want untrusted", got)
	}
	hist, _ := h2.l.History(fpAnchor)
	if len(hist) != 3 || hist[1].Cause != "anchor key may be leaked" || hist[2].Cause != "spam" {
		t.Fatalf("history: %+v", hist)
	}
}
