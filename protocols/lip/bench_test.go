package lip

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/store"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/lip/extract"
	"github.com/web4p2p/web4p2p/trust"
)

// BenchmarkQueue measures claims/s through the liminal queue and reports
// the ratio to the pure acceptance rule (Decide) on the same claims,
// measured in the same run: what the queue's bookkeeping (indexing,
// conflict groups, persistence, events) costs on top of the decision.
func BenchmarkQueue(b *testing.B) {
	v := view{fp("alice"): trust.Trusted, fp("bob"): trust.Trusted}
	cfg, _ := ParseTierConfig([]byte(fixtureTiers))
	tiers, _ := OpenTiers(nil, cfg, nil, nil)

	claims := func(n int, uri string) []Claim {
		out := make([]Claim, n)
		for i := range out {
			out[i] = mkClaim("Benchmark claim number "+itoa(i)+".", uri+itoa(i/32), extract.True) // 32 claims a document
		}
		return out
	}
	run := func(b *testing.B, db func() *store.DB, uri string, corroborate bool, batch int) {
		cs := claims(b.N, uri)
		// Baseline: the pure rule alone.
		start := time.Now()
		for _, c := range cs {
			Decide(Input{Claim: c, View: v.State, Tier: tiers.TierOf(c.Provenance.URI), Now: t0, Expires: t0.Add(DefaultTTL), Conflict: NoConflict})
		}
		base := time.Since(start)

		var q *Queue
		open := func() {
			var d *store.DB
			if db != nil {
				d = db()
			}
			q, _ = OpenQueue(d, QueueConfig{Now: func() time.Time { return t0 }, View: v.State, Tiers: tiers})
		}
		ctx := context.Background()
		b.ResetTimer()
		open()
		for i := 0; i < len(cs); i += batch {
			if i > 0 && i%8000 == 0 { // stay under MaxOpen
				b.StopTimer()
				open()
				b.StartTimer()
			}
			end := min(i+batch, len(cs))
			if _, err := q.SubmitAll(ctx, cs[i:end]); err != nil {
				b.Fatal(err)
			}
			if corroborate {
				for _, c := range cs[i:end] {
					q.Corroborate(ctx, sameContent(fp("alice"), c))
					q.Corroborate(ctx, ownEvidence(fp("bob"), c))
				}
			}
		}
		b.StopTimer()
		if e := b.Elapsed(); e > 0 {
			b.ReportMetric(float64(b.N)/e.Seconds(), "claims/s")
			if base > 0 {
				b.ReportMetric(float64(e)/float64(base), "ratio")
			}
		}
	}
	b.Run("memory/tier", func(b *testing.B) { run(b, nil, "https://news.example/a", false, 1) })
	b.Run("memory/corroborated", func(b *testing.B) { run(b, nil, "https://blog.example/a", true, 1) })
	dir := b.TempDir()
	n := 0
	bolt := func() *store.DB {
		n++
		d, err := store.Open(filepath.Join(dir, itoa(n), store.FileName))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { d.Close() })
		return d
	}
	b.Run("bbolt/single", func(b *testing.B) { run(b, bolt, "https://news.example/a", false, 1) })
	b.Run("bbolt/document_of_32", func(b *testing.B) { run(b, bolt, "https://news.example/a", false, 32) })
}

var _ = envelope.TierLow
