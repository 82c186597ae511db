package knowledge

import (
	"context"
	"testing"
	"time"
)

// BenchmarkExpireDue measures one ticker tick over 10 000 stored facts, of
// which none is newly due (the steady state: each due fact is rejected by
// the first tick after its expiry). ratio = tick time / a full Reevaluate
// of the same store (what a node without ExpireDue would run on its
// ticker), measured in this run.
func BenchmarkExpireDue(b *testing.B) {
	s := benchStore(b)
	const n = 10000
	batch := make([]Fact, 0, n)
	for i := 0; i < n; i++ {
		f := benchFact(i)
		f.ProposedAt = t0
		f.Expires = t0.Add(time.Duration(1+i%100) * time.Minute)
		batch = append(batch, f)
	}
	if _, _, err := s.Ingest(context.Background(), batch, nil); err != nil {
		b.Fatal(err)
	}
	tick := t0.Add(50 * time.Minute)
	if len(s.ExpireDue(tick)) == 0 {
		b.Fatal("nothing expired")
	}
	s.now = func() time.Time { return tick }
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := s.Reevaluate(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	base := time.Since(start)
	b.ResetTimer()
	start = time.Now()
	for i := 0; i < b.N; i++ {
		if c := s.ExpireDue(tick); len(c) != 0 {
			b.Fatal("a fact expired twice")
		}
	}
	took := time.Since(start)
	b.ReportMetric(float64(took)/float64(base), "ratio")
}
