package itest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
)

// BenchmarkNetnsNATedSession: two nodes behind separate NAT routers start
// (fresh identities each iteration) into a lab of three public nodes, pub1
// a relay. Measured from the launch of the later one's process: its first
// relayed connection to the other NATed node, the CIP handshake between
// them (over that relayed connection: RTT does not wait for the hole
// punch), the direct connection DCUtR makes, and the move of their RTT
// session onto it (web4.rtt.migrated). Baseline of the same iteration: the
// same node's CIP handshake with a public node (direct from the start).
// Metrics are ratios to that baseline, and means in ms.
func BenchmarkNetnsNATedSession(b *testing.B) {
	m := newNATMesh(b, 3, 0)
	b.ResetTimer()
	var relayed, direct, cip, migrated, base time.Duration
	for i := 0; i < b.N; i++ {
		n1, n2 := m.newLabNode(m.lab.NATed(fmt.Sprintf("n%da", i))), m.newLabNode(m.lab.NATed(fmt.Sprintf("n%db", i)))
		m.startNATed(n1)
		started := time.Now() // n2's process is launched next
		m.startNATed(n2)
		conn := func(circuit bool) func(events.Event) bool {
			return func(e events.Event) bool { return isCircuit(e.Data["addr"]) == circuit }
		}
		agent := func(name string) func(events.Event) bool {
			return func(e events.Event) bool { return e.Data["peer_agent_id"] == name }
		}
		r := n2.waitFirst(b, 60*time.Second, "web4.node.peer_connected", n1.id, conn(true)).Time
		c := n2.waitFirst(b, 60*time.Second, "web4.cip.handshake_completed", "", agent(n1.h.Name)).Time
		d := n2.waitFirst(b, 60*time.Second, "web4.node.peer_connected", n1.id, conn(false)).Time
		g := n2.waitFirst(b, 60*time.Second, "web4.rtt.migrated", n1.id, nil).Time
		p := n2.waitFirst(b, 60*time.Second, "web4.cip.handshake_completed", "", agent("pub2")).Time
		relayed += r.Sub(started)
		cip += c.Sub(started)
		direct += d.Sub(started)
		migrated += g.Sub(started)
		base += p.Sub(started)
		b.StopTimer()
		n1.p.stop()
		n2.p.stop()
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(relayed.Seconds()/base.Seconds(), "relayed/public-cip")
	b.ReportMetric(cip.Seconds()/base.Seconds(), "nated-cip/public-cip")
	b.ReportMetric(direct.Seconds()/base.Seconds(), "direct/public-cip")
	b.ReportMetric(migrated.Seconds()/base.Seconds(), "migrated/public-cip")
	b.ReportMetric(float64(cip.Milliseconds())/n, "nated-cip-ms")
	b.ReportMetric(float64(migrated.Milliseconds())/n, "migrated-ms")
	b.ReportMetric(float64(base.Milliseconds())/n, "public-cip-ms")
	// Discovery (the DHT rendezvous) dominates the times from the start;
	// these are from the first relayed connection on.
	b.ReportMetric(float64((cip-relayed).Microseconds())/n/1000, "cip-after-relayed-ms")
	b.ReportMetric(float64((migrated-relayed).Microseconds())/n/1000, "migrated-after-relayed-ms")
}

// BenchmarkNetnsMesh20Accepted: 20 web4p2p processes across namespaces
// (16 on the public network, pub1 a relay, and 4 each behind a NAT router
// of its own), all each other's trust anchors. Each iteration pub2
// proposes a fact, pub3 and nat1 confirm it, and every one of the 20
// accepts it. Metric: the time from the first node accepting it to the
// last (the accepted set the same everywhere), in ratio to one gossip
// propagation — the proposal's first hop, from pub2's store to the first
// other node's — measured in the same iteration. Times are the nodes'
// own event timestamps (one machine, one clock).
func BenchmarkNetnsMesh20Accepted(b *testing.B) {
	m := newNATMesh(b, 16, 4)
	var all []*labNode
	for _, n := range m.nodes {
		all = append(all, n)
	}
	origin, voters := m.nodes["pub2"], []*labNode{m.nodes["pub3"], m.nodes["nat1"]}
	var hop, converge time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fact := proposeIn(b, origin, fmt.Sprintf("twenty processes agree, round %d", i))
		for _, v := range voters {
			v.waitFirst(b, 90*time.Second, "web4.knowledge.fact_proposed", fact, nil)
			if err := v.cli(b, nil, "facts", "vote", fact, "confirm"); err != nil {
				b.Fatal(err)
			}
		}
		var first, last, firstHop time.Time
		var pending []string
		if !eventually(ctxFor(b, 120*time.Second), func() bool {
			pending = pending[:0]
			for _, n := range all {
				if _, ok := n.first("web4.knowledge.fact_accepted", fact, nil); !ok {
					pending = append(pending, n.h.Name)
				}
			}
			return len(pending) == 0
		}) {
			b.Fatalf("fact %s not accepted on %s", fact, strings.Join(pending, ", "))
		}
		proposed, _ := origin.first("web4.knowledge.fact_proposed", fact, nil)
		for _, n := range all {
			a, _ := n.first("web4.knowledge.fact_accepted", fact, nil)
			if first.IsZero() || a.Time.Before(first) {
				first = a.Time
			}
			if a.Time.After(last) {
				last = a.Time
			}
			if n == origin {
				continue
			}
			if p, ok := n.first("web4.knowledge.fact_proposed", fact, nil); ok && (firstHop.IsZero() || p.Time.Before(firstHop)) {
				firstHop = p.Time
			}
		}
		hop += firstHop.Sub(proposed.Time)
		converge += last.Sub(first)
	}
	n := float64(b.N)
	b.ReportMetric(converge.Seconds()/hop.Seconds(), "accepted-everywhere/one-gossip-hop")
	b.ReportMetric(float64(converge.Milliseconds())/n, "accepted-everywhere-ms")
	b.ReportMetric(float64(hop.Microseconds())/n/1000, "one-gossip-hop-ms")
}
