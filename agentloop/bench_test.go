package agentloop

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"
)

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// BenchmarkCycle: one full cycle processing one peer intent (orient,
// policy, Actor call, three causal-memory nodes in one store transaction)
// against the persistence floor — Memory.Record of three nodes — measured
// interleaved in the same run. ratio = floor time / cycle time, so 1 means
// the loop adds nothing beyond the write it must do.
func BenchmarkCycle(b *testing.B) {
	mem, db := openMemory(b, b.TempDir())
	defer db.Close()
	l, err := New(Config{InboxSize: 4}, Deps{Actor: ActorFunc(func(context.Context, Action) error { return nil }), Memory: mem, Sampler: &load{}})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	var base, full []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprint("m", i)
		t1 := time.Now()
		if err := mem.Record(Node{ID: "b1" + id, Kind: NodeMessage}, Node{ID: "b2" + id, Kind: NodeDecision, Causes: []string{"b1" + id}},
			Node{ID: "b3" + id, Kind: NodeAction, Causes: []string{"b2" + id}}); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if err := l.TrySubmit(Item{Kind: ItemPeerIntent, ID: id, From: "p", Topic: "work"}); err != nil {
			b.Fatal(err)
		}
		if r := l.Cycle(ctx); r.Recorded != 3 {
			b.Fatalf("reflection %+v", r)
		}
		t3 := time.Now()
		base, full = append(base, t2.Sub(t1)), append(full, t3.Sub(t2))
	}
	b.StopTimer()
	b.ReportMetric(median(base).Seconds()/median(full).Seconds(), "ratio")
	b.ReportMetric(1/median(full).Seconds(), "cycles/s")
}

// BenchmarkWhy: explaining a node 32 causes deep against reading the node
// alone (ratio = Get time / Why time).
func BenchmarkWhy(b *testing.B) {
	mem, db := openMemory(b, b.TempDir())
	defer db.Close()
	var nodes []Node
	for i := 0; i < 33; i++ {
		n := Node{ID: fmt.Sprint("n", i), Kind: NodeDecision, Trace: &Trace{Decision: "d", Reasons: []string{"r"}}}
		if i > 0 {
			n.Causes = []string{fmt.Sprint("n", i-1)}
		}
		nodes = append(nodes, n)
	}
	if err := mem.Record(nodes...); err != nil {
		b.Fatal(err)
	}
	var base, full []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t1 := time.Now()
		if _, err := mem.Get("n32"); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		chain, err := mem.Why("n32", 32)
		if err != nil || len(chain) != 33 {
			b.Fatalf("why: %d nodes, %v", len(chain), err)
		}
		t3 := time.Now()
		base, full = append(base, t2.Sub(t1)), append(full, t3.Sub(t2))
	}
	b.StopTimer()
	b.ReportMetric(median(base).Seconds()/median(full).Seconds(), "ratio")
	b.ReportMetric(float64(median(full).Microseconds()), "us/why")
}
