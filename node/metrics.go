package node

import (
	"github.com/web4p2p/web4p2p/internal/metrics"
	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/trust"
)

// registerStateGauges adds web4_peers{trust} and web4_facts{status} (SPEC
// §11) to the node's registry. Both are counted at scrape time from the
// trust ledger and the knowledge store, so they cannot drift from them;
// before Start has built those (or after a failed Start) every value is 0.
func (n *Node) registerStateGauges() {
	var states []string
	for s := trust.Unknown; s <= trust.Blacklisted; s++ {
		states = append(states, s.String())
	}
	var statuses []string
	for s := knowledge.Proposed; s <= knowledge.Rejected; s++ {
		statuses = append(statuses, s.String())
	}
	n.reg.MustRegister(
		metrics.NewCounts("web4_peers", "Peers in this node's trust ledger, by trust state.", "trust", states, func() map[string]int {
			rt := n.rt.Load()
			if rt == nil {
				return nil
			}
			out := map[string]int{}
			for _, ps := range rt.trust.View() {
				st := ps.State
				if st == 0 { // a record without a state reads as Unknown (trust.PeerState)
					st = trust.Unknown
				}
				out[st.String()]++
			}
			return out
		}),
		metrics.NewCounts("web4_facts", "Facts in this node's knowledge store, by status.", "status", statuses, func() map[string]int {
			rt := n.rt.Load()
			if rt == nil {
				return nil
			}
			out := map[string]int{}
			for _, f := range rt.knowledge.Facts() {
				out[f.Status.String()]++
			}
			return out
		}),
	)
}
