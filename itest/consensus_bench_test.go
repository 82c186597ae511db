package itest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/protocols/cip"
)

// BenchmarkConsensus measures, on a formed mesh of N real nodes (three
// trust anchors), the time from a FACT_PROPOSE to "accepted on every node"
// — the proposal, then two anchors' confirmations sent as soon as each sees
// it — against the time one plain gossip message (a proposal) takes to
// reach every node of the same mesh in the same run:
// ratio = consensus / one-message propagation.
func BenchmarkConsensus(b *testing.B) {
	for _, n := range []int{5, 20} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) { benchConsensus(b, n) })
	}
}

func benchConsensus(b *testing.B, n int) {
	// Larger meshes: every node links to the three anchors and to its
	// predecessor, and the last one also to n3, closing the ring. The
	// anchors end up with every node as a peer and prune most of them from
	// their GossipSub meshes; the ring leaves every other node two
	// neighbours that are not oversubscribed, so its mesh grafts at least
	// two peers (what waitMeshFormed waits for). As an open chain, the last
	// node had one such neighbour, and whenever all three anchors pruned it
	// the mesh never counted as formed: the benchmark hung (often at
	// N=20's second round).
	nodes := meshAgents(b, n, 3, func(i int) []int {
		if n <= 8 {
			return all(i)
		}
		l := []int{0, 1, 2}[:min(i, 3)]
		if i > 3 {
			l = append(l, i-1)
		}
		if i == n-1 && n > 5 {
			l = append(l, 3)
		}
		return l
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	waitMeshFormed(ctx, b, nodes)
	seen := func(a *agent, typ, id string) bool {
		_, ok := a.ring.WaitFor(ctx.Done(), func(e events.Event) bool { return e.Type == typ && e.Data["fact_id"] == id })
		return ok
	}
	// The anchors n1 and n2 confirm every fact as soon as they hear of it.
	voter := func(a *agent, ids <-chan string, done chan<- error) {
		for id := range ids {
			if !seen(a, "web4.knowledge.fact_proposed", id) {
				done <- fmt.Errorf("%s never saw %s", a.cfg.AgentID, id)
				return
			}
			done <- a.n.Mesh().VoteFact(ctx, id, true, 0.9, "bench")
		}
	}
	var base, cons time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Baseline: one gossip message to every node.
		t0 := time.Now()
		id, err := nodes[0].n.Mesh().ProposeFact(ctx, cip.Fact{Statement: fmt.Sprintf("baseline %d %d", n, i), Domain: "bench", Confidence: 0.5}, cip.DMPTrace{})
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range nodes[1:] {
			if !seen(a, "web4.knowledge.fact_proposed", id) {
				b.Fatalf("%s never saw the baseline message", a.cfg.AgentID)
			}
		}
		base += time.Since(t0)

		// Consensus: propose, two trusted confirmations, accepted everywhere.
		ids1, ids2 := make(chan string, 1), make(chan string, 1)
		done := make(chan error, 2)
		go voter(nodes[1], ids1, done)
		go voter(nodes[2], ids2, done)
		t1 := time.Now()
		id, err = nodes[0].n.Mesh().ProposeFact(ctx, cip.Fact{Statement: fmt.Sprintf("consensus %d %d", n, i), Domain: "bench", Confidence: 0.9}, cip.DMPTrace{})
		if err != nil {
			b.Fatal(err)
		}
		ids1 <- id
		ids2 <- id
		close(ids1)
		close(ids2)
		for _, a := range nodes {
			if !seen(a, "web4.knowledge.fact_accepted", id) {
				b.Fatalf("%s never accepted", a.cfg.AgentID)
			}
		}
		cons += time.Since(t1)
		for k := 0; k < 2; k++ {
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(base.Microseconds())/float64(b.N)/1000, "gossip-ms/op")
	b.ReportMetric(float64(cons.Microseconds())/float64(b.N)/1000, "consensus-ms/op")
	b.ReportMetric(float64(cons)/float64(base), "ratio")
}
