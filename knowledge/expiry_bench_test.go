package knowledge

import (
	"context"
	"testing"
	"time"
)

// expiryFacts is how many facts the store holds in BenchmarkExpireDue;
// their expiries are spread evenly over expirySpread minutes after t0.
const (
	expiryFacts  = 10000
	expirySpread = 100
)

// BenchmarkExpireDue measures one ticker tick (Store.ExpireDue) over
// expiryFacts stored facts against a full Reevaluate of the same store at
// the same instant (what a node without ExpireDue would run on its
// ticker), the two taking turns in every iteration: ratio = tick time /
// Reevaluate time. The store's clock is injected (t0 while the facts are
// ingested, so every one is pending), never the wall clock.
//
// "due": each tick finds expiryFacts/expirySpread facts newly due and
// rejects them, the work ExpireDue exists for. Between iterations, with
// the timer stopped, those facts are put back as they were before the tick
// (test-only: a store never un-rejects a fact), so every iteration expires
// the same facts; the baseline rejects them too.
//
// "idle": half the facts expired at an earlier tick and none is newly due,
// the steady state between expiries.
func BenchmarkExpireDue(b *testing.B) {
	b.Run("due", func(b *testing.B) {
		tick := t0.Add(time.Minute)
		s := expiryStore(b, tick)
		due := expiryFacts / expirySpread
		before := s.pending(tick)
		if len(before) != due {
			b.Fatalf("%d facts due at the tick, want %d", len(before), due)
		}
		benchTicks(b, s, tick, due, func() { s.restore(before) })
	})
	b.Run("idle", func(b *testing.B) {
		tick := t0.Add(expirySpread / 2 * time.Minute)
		s := expiryStore(b, tick)
		if c := s.ExpireDue(tick); len(c) != expiryFacts/2 {
			b.Fatalf("first tick expired %d facts, want %d", len(c), expiryFacts/2)
		}
		benchTicks(b, s, tick, 0, func() {})
	})
}

// expiryStore is a store of expiryFacts pending facts whose clock reads
// t0 while they are ingested and tick from then on.
func expiryStore(b *testing.B, tick time.Time) *Store {
	b.Helper()
	now := t0
	s := benchStore(b, func() time.Time { return now })
	batch := make([]Fact, 0, expiryFacts)
	for i := range expiryFacts {
		f := benchFact(i)
		f.Expires = t0.Add(time.Duration(1+i%expirySpread) * time.Minute)
		batch = append(batch, f)
	}
	res, _, err := s.Ingest(context.Background(), batch, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i, r := range res {
		if r.Status != Proposed {
			b.Fatalf("fact %d is %s at ingest, want proposed", i, r.Status)
		}
	}
	now = tick
	return s
}

// benchTicks times ExpireDue(tick), which must reject exactly want facts,
// against Reevaluate at the same instant, calling reset (timer stopped)
// before each of them.
func benchTicks(b *testing.B, s *Store, tick time.Time, want int, reset func()) {
	var base, took time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		reset()
		start := time.Now()
		c, err := s.Reevaluate(context.Background())
		base += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if len(c) != want {
			b.Fatalf("Reevaluate changed %d facts, want %d", len(c), want)
		}
		reset()
		b.StartTimer()
		start = time.Now()
		c = s.ExpireDue(tick)
		took += time.Since(start)
		if len(c) != want {
			b.Fatalf("ExpireDue changed %d facts, want %d", len(c), want)
		}
		for _, ch := range c {
			if ch.Result.Status != Rejected || ch.Result.Reason != ReasonExpired {
				b.Fatalf("fact %s went to %s (%s), want rejected by expiry", ch.Fact.ID, ch.Result.Status, ch.Result.Reason)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(took)/float64(base), "ratio")
}

// pending returns the results of the facts not yet rejected whose expiry
// has passed at now.
func (s *Store) pending(now time.Time) map[string]Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]Result{}
	for id, e := range s.entries {
		if e.fact != nil && !now.Before(e.fact.Expires) && e.res.Status != Rejected {
			out[id] = cloneResult(e.res)
		}
	}
	return out
}

// restore sets the given facts' results back (undoing their expiry).
func (s *Store) restore(res map[string]Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, r := range res {
		s.entries[id].res = cloneResult(r)
	}
}
