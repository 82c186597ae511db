package itest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/node"
	"github.com/web4p2p/web4p2p/protocols/cip"
)

// syncMesh makes n nodes that are each other's trust anchors and sync
// often; none is started. deny(i) is node i's connection filter.
func syncMesh(t testing.TB, n int, deny func(i int) func(peer.ID) bool) []*agent {
	t.Helper()
	keys, anchors := anchorKeys(t, n)
	out := make([]*agent, n)
	for i := range out {
		cfg := node.DefaultConfig()
		cfg.DataDir = t.TempDir()
		cfg.AgentID = fmt.Sprintf("s%d", i)
		cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
		cfg.Identity = keys[i]
		cfg.TrustAnchors = anchors
		cfg.Sync.Interval = 200 * time.Millisecond
		if deny != nil {
			cfg.Deny = deny(i)
		}
		out[i] = &agent{t: t, cfg: cfg}
		t.Cleanup(out[i].stop)
	}
	return out
}

// proposeAccepted has proposer propose a fact and two voters confirm it,
// and waits until it is accepted on every node of group.
func proposeAccepted(ctx context.Context, t testing.TB, statement string, proposer *agent, voters []*agent, group []*agent) string {
	t.Helper()
	id, err := proposer.n.Mesh().ProposeFact(ctx, cip.Fact{Statement: statement, Domain: "sync", Confidence: 0.9}, cip.DMPTrace{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range voters {
		waitFact(ctx, t, v, id, "proposed", func(knowledge.Result, []knowledge.Vote) bool { return true })
		if err := v.n.Mesh().VoteFact(ctx, id, true, 0.9, "ok"); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range group {
		waitFact(ctx, t, a, id, "accepted", status(knowledge.Accepted))
	}
	return id
}

// sameAccepted fails unless every node accepted exactly want.
func sameAccepted(ctx context.Context, t testing.TB, nodes []*agent, want ...string) {
	t.Helper()
	for _, a := range nodes {
		for _, id := range want {
			waitFact(ctx, t, a, id, "accepted", status(knowledge.Accepted))
		}
	}
	ref := fmt.Sprint(acceptedSet(nodes[0]))
	for _, a := range nodes[1:] {
		if got := fmt.Sprint(acceptedSet(a)); got != ref {
			t.Fatalf("%s accepted %s, %s accepted %s", a.cfg.AgentID, got, nodes[0].cfg.AgentID, ref)
		}
	}
}

// A node that joins after facts were gossiped and accepted learns them
// (proposals and votes) from the one peer it connects to, by anti-entropy.
func TestLateJoinerConverges(t *testing.T) {
	ctx := ctxFor(t, 60*time.Second)
	nodes := syncMesh(t, 4, nil)
	early, late := nodes[:3], nodes[3]
	for i, a := range early {
		a.start()
		for _, b := range early[:i] {
			a.connect(ctx, b)
		}
	}
	waitMeshFormed(ctx, t, early)
	f1 := proposeAccepted(ctx, t, "gossiped before the late joiner came", early[0], early[1:], early)
	f2 := proposeAccepted(ctx, t, "and a second one", early[1], []*agent{early[0], early[2]}, early)
	late.start()
	late.connect(ctx, early[0])
	sameAccepted(ctx, t, nodes, f1, f2)
}

// A node that was down while facts were decided catches up after its
// restart.
func TestRestartedNodeCatchesUp(t *testing.T) {
	ctx := ctxFor(t, 60*time.Second)
	nodes := syncMesh(t, 4, nil)
	for i, a := range nodes {
		a.start()
		for _, b := range nodes[:i] {
			a.connect(ctx, b)
		}
	}
	waitMeshFormed(ctx, t, nodes)
	before := proposeAccepted(ctx, t, "known to all", nodes[0], nodes[1:3], nodes)
	down := nodes[3]
	down.stop()
	during := proposeAccepted(ctx, t, "decided while one was down", nodes[0], nodes[1:3], nodes[:3])
	down.start()
	down.connect(ctx, nodes[1])
	sameAccepted(ctx, t, nodes, before, during)
}

// Two halves of a partitioned mesh each decide facts; once the links are
// restored every node holds the same accepted set.
func TestPartitionedHalvesConverge(t *testing.T) {
	ctx := ctxFor(t, 90*time.Second)
	var cut atomic.Bool
	var ids []peer.ID
	half := func(p peer.ID) int {
		for i, id := range ids {
			if id == p {
				return i / 3
			}
		}
		return -1
	}
	nodes := syncMesh(t, 6, func(i int) func(peer.ID) bool {
		return func(p peer.ID) bool { return cut.Load() && half(p) != i/3 }
	})
	for _, a := range nodes {
		id, _ := peer.IDFromPrivateKey(a.cfg.Identity)
		ids = append(ids, id)
	}
	for i, a := range nodes {
		a.start()
		for _, b := range nodes[:i] {
			a.connect(ctx, b)
		}
	}
	waitMeshFormed(ctx, t, nodes)
	// Cut: no connection between the halves, and none can be made.
	cut.Store(true)
	for _, a := range nodes[:3] {
		for _, b := range nodes[3:] {
			_ = a.n.Host().Network().ClosePeer(b.n.ID())
			_ = b.n.Host().Network().ClosePeer(a.n.ID())
		}
	}
	left, right := nodes[:3], nodes[3:]
	a := proposeAccepted(ctx, t, "decided on the left", left[0], left[1:], left)
	b := proposeAccepted(ctx, t, "decided on the right", right[0], right[1:], right)
	for _, x := range right {
		if _, _, ok := x.n.Knowledge().Fact(a); ok {
			t.Fatalf("%s heard the left half's fact through the cut", x.cfg.AgentID)
		}
	}
	// Restore the links.
	cut.Store(false)
	for i := range left {
		left[i].connect(ctx, right[i])
	}
	sameAccepted(ctx, t, nodes, a, b)
}

// BenchmarkLateJoinerConverge: three nodes decide 20 facts; a fourth joins
// through one of them. Reported: the time until the joiner has accepted all
// of them ÷ the time one fact takes to cross one gossip hop, both measured
// in the same run.
func BenchmarkLateJoinerConverge(b *testing.B) {
	const facts = 20
	var ratio float64
	for range b.N {
		b.StopTimer()
		ctx := ctxFor(b, 120*time.Second)
		nodes := syncMesh(b, 4, nil)
		early, late := nodes[:3], nodes[3]
		for i, a := range early {
			a.start()
			for _, x := range early[:i] {
				a.connect(ctx, x)
			}
		}
		waitMeshFormed(ctx, b, early)
		var ids []string
		var hop time.Duration
		for i := range facts {
			id := proposeAccepted(ctx, b, fmt.Sprintf("fact %d", i), early[0], early[1:], early[:2])
			if i == 0 {
				// The baseline: a fresh proposal, one hop.
				p := time.Now()
				id0, err := early[0].n.Mesh().ProposeFact(ctx, cip.Fact{Statement: "one hop", Domain: "sync", Confidence: 0.5}, cip.DMPTrace{})
				if err != nil {
					b.Fatal(err)
				}
				waitFact(ctx, b, early[1], id0, "proposed", func(knowledge.Result, []knowledge.Vote) bool { return true })
				hop = time.Since(p)
			}
			ids = append(ids, id)
		}
		late.start()
		b.StartTimer()
		t0 := time.Now()
		late.connect(ctx, early[0])
		for _, id := range ids {
			waitFact(ctx, b, late, id, "accepted", status(knowledge.Accepted))
		}
		conv := time.Since(t0)
		b.StopTimer()
		ratio += float64(conv) / float64(hop)
		for _, a := range nodes {
			a.stop()
		}
	}
	b.ReportMetric(ratio/float64(b.N), "converge/one_hop")
}
