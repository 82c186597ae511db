package negentropy

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchSets returns two sets of 100,000 items that differ in 1%: 99,500 in
// both, 500 only in each, so 1,000 ids differ.
func benchSets() (client, server set, differing int) {
	r := rand.New(rand.NewPCG(42, 42))
	both, _ := genSets(r, 99_500, 0, 0, 1677970534, 100_000)
	onlyC, _ := genSets(r, 500, 0, 0, 1677970534, 100_000)
	onlyS, _ := genSets(r, 500, 0, 0, 1677970534, 100_000)
	client = append(append(set{}, both...), onlyC...)
	server = append(append(set{}, both...), onlyS...)
	return client, server, len(onlyC) + len(onlyS)
}

// BenchmarkReconcile measures a whole reconciliation of two 100,000-item
// sets differing in 1%, and beside it the baseline of the server sending
// every id (the client then computes have/need itself). bytes/diff-byte is
// the bytes exchanged in both directions ÷ (32 × differing ids): the
// overhead over sending exactly the differing ids.
func BenchmarkReconcile(b *testing.B) {
	client, server, differing := benchSets()
	cv, sv := client.vector(b), server.vector(b)
	optimal := float64(IDSize * differing)

	for _, limit := range []int{0, 60_000, MinFrameSizeLimit} {
		b.Run(fmt.Sprintf("negentropy/limit=%d", limit), func(b *testing.B) {
			var tr transcript
			for b.Loop() {
				tr = reconcileGo(b, cv, sv, limit, limit)
			}
			if len(tr.have) < differing/2 || len(tr.need) < differing/2 {
				b.Fatalf("learnt %d/%d ids, want %d/%d", len(tr.have), len(tr.need), differing/2, differing/2)
			}
			b.ReportMetric(float64(tr.bytes)/optimal, "bytes/diff-byte")
			b.ReportMetric(float64(tr.rounds), "round-trips")
			b.ReportMetric(float64(tr.bytes), "wire-bytes")
		})
	}

	b.Run("full-transfer", func(b *testing.B) {
		var bytes, have, need int
		for b.Loop() {
			// The client asks (1 byte); the server sends a count and all
			// its ids; the client diffs them against its own.
			msg := appendVarint(make([]byte, 0, maxVarintLen+IDSize*sv.Size()), uint64(sv.Size()))
			_ = sv.Iterate(0, sv.Size(), func(_ int, it Item) bool { msg = append(msg, it.ID[:]...); return true })
			bytes = 1 + len(msg)

			theirs := make(map[[IDSize]byte]bool, sv.Size())
			for i := len(msg) - IDSize*sv.Size(); i < len(msg); i += IDSize {
				theirs[[IDSize]byte(msg[i:])] = true
			}
			have, need = 0, len(theirs)
			_ = cv.Iterate(0, cv.Size(), func(_ int, it Item) bool {
				if theirs[it.ID] {
					need--
				} else {
					have++
				}
				return true
			})
		}
		if have != differing/2 || need != differing/2 {
			b.Fatalf("learnt %d/%d ids, want %d/%d", have, need, differing/2, differing/2)
		}
		b.ReportMetric(float64(bytes)/optimal, "bytes/diff-byte")
		b.ReportMetric(1, "round-trips")
		b.ReportMetric(float64(bytes), "wire-bytes")
	})
}
