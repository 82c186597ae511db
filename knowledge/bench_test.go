package knowledge

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/web4p2p/web4p2p/trust"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/web4p2p/web4p2p/internal/store"
)

// ingestBatch is the size of one "bulk" Ingest call, and so of one
// transaction on both sides of BenchmarkIngest/bulk.
const ingestBatch = 100

// ingestParallelism is how many goroutines per GOMAXPROCS propose facts at
// once in BenchmarkIngest/parallel, as gossip handlers do.
const ingestParallelism = 32

// ingestBlocks is how many blocks BenchmarkIngest splits its operations
// into, the store and the baseline taking turns block by block so that
// whatever else the machine does falls on both alike.
const ingestBlocks = 10

func benchFact(i int) Fact {
	return Fact{Statement: fmt.Sprintf("benchmark statement number %d", i), Domain: "bench", Confidence: 0.5,
		Proposer: "prop", MsgID: fmt.Sprintf("m%d", i), ProposedAt: t0}
}

// rawPut writes facts from..to-1 in tx as the baseline does: each as its
// id and its JSON, the least any store of facts computes before writing.
func rawPut(tx *bolt.Tx, from, to int) error {
	bk, err := tx.CreateBucketIfNotExists([]byte(BucketFacts))
	if err != nil {
		return err
	}
	for i := from; i < to; i++ {
		f := benchFact(i)
		if f.ID, err = factID(f.Domain, f.Statement); err != nil {
			return err
		}
		raw, err := json.Marshal(f)
		if err != nil {
			return err
		}
		if err := bk.Put([]byte(f.ID), raw); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkIngest measures facts/s into a persistent Store against the
// same facts written straight to bbolt with the same batching, in the same
// run: ratio = store rate / raw rate (1 = the Store's validation, merge
// and tallying cost nothing next to the disk). Both sides sync to disk once
// per transaction and take turns in blocks (see ingestBlocks).
//
// "parallel": one operation is one Propose of one fact, from
// ingestParallelism goroutines per CPU; bbolt's Batch coalesces them into
// few transactions. The baseline is one raw db.Batch put per fact from as
// many goroutines, which bbolt coalesces by the same rules (MaxBatchSize,
// MaxBatchDelay), so its transactions are as large as the store's.
//
// "bulk": one operation is one Ingest of ingestBatch facts, which the
// store commits in one transaction of its own (at least bulkThreshold
// items); the baseline commits the same number of raw puts in one
// db.Update.
func BenchmarkIngest(b *testing.B) {
	b.Run("parallel", func(b *testing.B) {
		s := benchStore(b, func() time.Time { return t0 })
		raw := benchDB(b, "baseline.db")
		g := ingestParallelism * runtime.GOMAXPROCS(0)
		var next atomic.Int64 // distinct facts on both sides
		store := func() error {
			_, _, err := s.Propose(context.Background(), benchFact(int(next.Add(1))))
			return err
		}
		base := func() error {
			i := int(next.Add(1))
			return raw.Batch(func(tx *bolt.Tx) error { return rawPut(tx, i, i+1) })
		}
		took, baseTook := blocks(b, b.N,
			func(k int) { parallel(b, k, g, store) },
			func(k int) { parallel(b, k, g, base) })
		reportIngest(b, b.N, took, baseTook)
	})
	b.Run(fmt.Sprintf("bulk%d", ingestBatch), func(b *testing.B) {
		s := benchStore(b, func() time.Time { return t0 })
		raw := benchDB(b, "baseline.db")
		batch := make([]Fact, 0, ingestBatch)
		next := 0
		store := func(k int) {
			for range k {
				batch = batch[:0]
				for range ingestBatch {
					batch = append(batch, benchFact(next))
					next++
				}
				if _, _, err := s.Ingest(context.Background(), batch, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
		base := func(k int) {
			for range k {
				from := next
				next += ingestBatch
				if err := raw.Update(func(tx *bolt.Tx) error { return rawPut(tx, from, from+ingestBatch) }); err != nil {
					b.Fatal(err)
				}
			}
		}
		took, baseTook := blocks(b, b.N, store, base)
		reportIngest(b, b.N*ingestBatch, took, baseTook)
	})
}

// blocks runs n operations of the store and n of the baseline in up to
// ingestBlocks blocks of k each, the two taking turns at going first, and
// returns their total times. The benchmark timer runs only while the
// store does, so ns/op is the store's.
func blocks(b *testing.B, n int, store, base func(k int)) (storeTook, baseTook time.Duration) {
	b.ResetTimer()
	b.StopTimer()
	timed := func(f func(int), k int, timer bool) time.Duration {
		if timer {
			b.StartTimer()
			defer b.StopTimer()
		}
		start := time.Now()
		f(k)
		return time.Since(start)
	}
	for i := range ingestBlocks {
		k := n / ingestBlocks
		if i < n%ingestBlocks {
			k++
		}
		if k == 0 {
			continue
		}
		if i%2 == 0 {
			storeTook += timed(store, k, true)
			baseTook += timed(base, k, false)
		} else {
			baseTook += timed(base, k, false)
			storeTook += timed(store, k, true)
		}
	}
	return storeTook, baseTook
}

// parallel runs op n times from g goroutines.
func parallel(b *testing.B, n, g int, op func() error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Bool
	for range min(g, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if int(next.Add(1)) > n || failed.Load() {
					return
				}
				if err := op(); err != nil {
					b.Error(err)
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() {
		b.FailNow()
	}
}

func reportIngest(b *testing.B, facts int, took, base time.Duration) {
	b.ReportMetric(float64(facts)/took.Seconds(), "facts/s")
	b.ReportMetric(float64(facts)/base.Seconds(), "baseline_facts/s")
	b.ReportMetric(float64(base)/float64(took), "ratio")
}

// benchDB opens a fresh bbolt store (syncing every commit, as the node's
// does) that closes when the benchmark ends.
func benchDB(b *testing.B, name string) *store.DB {
	b.Helper()
	db, err := store.Open(filepath.Join(b.TempDir(), name))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	return db
}

// benchStore opens a Store on a fresh benchDB with the clock now, so what
// is due, expired or pending does not depend on the day the benchmark runs.
func benchStore(b *testing.B, now func() time.Time) *Store {
	b.Helper()
	s, err := OpenStore(benchDB(b, "ingest.db"), StoreConfig{Now: now, View: trustedView})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// trustedView: the benchmarks' proposers are trusted, so their facts are
// not held to the quotas of unproven identities (quota.go).
func trustedView(string) trust.State { return trust.Trusted }
