package knowledge

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/store"
)

// baselinePutsPerSec measures raw store puts (one bbolt transaction, one
// disk sync each) of n encoded facts: what ingest would cost without
// batching and without any of the Store's work.
func baselinePutsPerSec(b *testing.B, n int) float64 {
	b.Helper()
	db, err := store.Open(filepath.Join(b.TempDir(), "baseline.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	for i := 0; i < n; i++ {
		f := benchFact(i)
		f.ID, _ = factID(f.Domain, f.Statement)
		raw, _ := json.Marshal(f)
		if err := db.Put(BucketFacts, []byte(f.ID), raw); err != nil {
			b.Fatal(err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

func benchFact(i int) Fact {
	return Fact{Statement: fmt.Sprintf("benchmark statement number %d", i), Domain: "bench", Confidence: 0.5,
		Proposer: "prop", MsgID: fmt.Sprintf("m%d", i), ProposedAt: t0}
}

// BenchmarkIngest measures facts/s into a persistent Store. "parallel"
// proposes one fact per call from many goroutines, as gossip handlers do;
// bbolt's Batch coalesces them into few disk syncs. "bulk" hands 100 facts
// per Ingest call. ratio = ingest rate / raw store put rate, both measured
// in this run.
func BenchmarkIngest(b *testing.B) {
	base := baselinePutsPerSec(b, 300)
	b.Run("parallel", func(b *testing.B) {
		s := benchStore(b, func() time.Time { return t0 })
		var next atomic.Int64
		b.SetParallelism(32)
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, err := s.Propose(context.Background(), benchFact(int(next.Add(1)))); err != nil {
					b.Error(err)
					return
				}
			}
		})
		rate := float64(b.N) / time.Since(start).Seconds()
		b.ReportMetric(rate, "facts/s")
		b.ReportMetric(base, "baseline_puts/s")
		b.ReportMetric(rate/base, "ratio")
	})
	b.Run("bulk100", func(b *testing.B) {
		s := benchStore(b, func() time.Time { return t0 })
		b.ResetTimer()
		start := time.Now()
		batch := make([]Fact, 0, 100)
		for i := 0; i < b.N; i++ {
			batch = append(batch, benchFact(i))
			if len(batch) == cap(batch) || i == b.N-1 {
				if _, _, err := s.Ingest(context.Background(), batch, nil); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		rate := float64(b.N) / time.Since(start).Seconds()
		b.ReportMetric(rate, "facts/s")
		b.ReportMetric(base, "baseline_puts/s")
		b.ReportMetric(rate/base, "ratio")
	})
}

// benchStore opens a Store on a fresh bbolt file with the clock now, so
// what is due, expired or pending does not depend on the day the benchmark
// runs.
func benchStore(b *testing.B, now func() time.Time) *Store {
	b.Helper()
	db, err := store.Open(filepath.Join(b.TempDir(), "ingest.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	s, err := OpenStore(db, StoreConfig{Now: now})
	if err != nil {
		b.Fatal(err)
	}
	return s
}
