package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/urfave/cli/v2"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/node"
	"github.com/web4p2p/web4p2p/node/gossip"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/trust"
)

func meshCommand() *cli.Command {
	return &cli.Command{
		Name:  "mesh",
		Usage: "a local mesh of N real nodes: trust anchors, knowledge consensus, a probing node earning trust, an equivocator blacklisted mesh-wide",
		Flags: []cli.Flag{
			jsonFlag, logLevelFlag,
			&cli.IntFlag{Name: "n", Value: 5, Usage: "number of nodes (4..64)"},
			&cli.BoolFlag{Name: "events", Usage: "print every event of every node"},
			&cli.DurationFlag{Name: "timeout", Value: 120 * time.Second, Usage: "give up after this long"},
		},
		Action: runMesh,
	}
}

type meshNode struct {
	name    string
	n       *node.Node
	dir     string
	key     crypto.PrivKey
	anchors []string
	events  bool
}

type meshRun struct {
	out   io.Writer
	nodes []*meshNode
	eve   *meshNode
}

func (m *meshRun) progress(format string, args ...any) {
	fmt.Fprintf(m.out, "%s  %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func runMesh(c *cli.Context) error {
	if err := applyLogLevel(c); err != nil {
		return err
	}
	n := c.Int("n")
	if n < 4 || n > 64 {
		return fmt.Errorf("--n %d: must be within [4,64] (two anchors, a proposer and an equivocator at least)", n)
	}
	ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
	defer cancel()
	m := &meshRun{out: &lockedWriter{w: c.App.Writer}}
	if c.Bool("json") {
		m.out = io.Discard
	}
	defer m.close()
	summary, err := m.run(ctx, n, c.Bool("events") && !c.Bool("json"))
	if err != nil {
		return fmt.Errorf("mesh failed: %w", err)
	}
	if c.Bool("json") {
		printJSON(c, summary)
		return nil
	}
	m.printSummary(c.App.Writer, summary)
	return nil
}

func (m *meshRun) close() {
	for _, x := range append(m.nodes, m.eve) {
		if x == nil {
			continue
		}
		x.n.Close()
		os.RemoveAll(x.dir)
	}
}

func (m *meshRun) start(ctx context.Context, name string, key crypto.PrivKey, anchors []string, printEvents bool) (*meshNode, error) {
	dir, err := os.MkdirTemp("", "web4p2p-mesh-"+name+"-")
	if err != nil {
		return nil, err
	}
	x := &meshNode{name: name, dir: dir, key: key, anchors: anchors, events: printEvents}
	if x.n, err = m.open(ctx, x); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return x, nil
}

// open starts x's node on its data dir (kept across a restart).
func (m *meshRun) open(ctx context.Context, x *meshNode) (*node.Node, error) {
	name, dir, key, anchors, printEvents := x.name, x.dir, x.key, x.anchors, x.events
	cfg := node.DefaultConfig()
	cfg.DataDir, cfg.AgentID, cfg.Identity, cfg.TrustAnchors = dir, name, key, anchors
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	if printEvents {
		cfg.Sinks = []events.Sink{events.NewHuman(m.out, name)}
	}
	nd, err := node.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := nd.Start(ctx); err != nil {
		nd.Close()
		return nil, err
	}
	return nd, nil
}

// restart stops x and starts it again on the same data dir and key, then
// checks that what it learned survived: the proposer it trusts, the
// blacklisted equivocator and the accepted facts. It reports what it found.
func (m *meshRun) restart(ctx context.Context, x, trusted *meshNode, accepted []string) error {
	m.progress("restarting %s from its data dir (%s)", x.name, x.dir)
	if err := x.n.Close(); err != nil {
		return fmt.Errorf("stop %s: %w", x.name, err)
	}
	nd, err := m.open(ctx, x)
	if err != nil {
		return fmt.Errorf("restart %s: %w", x.name, err)
	}
	x.n = nd
	if st := nd.Trust().State(trusted.n.Fingerprint()); st != trust.Trusted {
		return fmt.Errorf("after the restart %s sees %s as %s, want trusted", x.name, trusted.name, st)
	}
	if st := nd.Trust().State(m.eve.n.Fingerprint()); st != trust.Blacklisted {
		return fmt.Errorf("after the restart %s sees eve as %s, want blacklisted", x.name, st)
	}
	for _, id := range accepted {
		if _, r, ok := nd.Knowledge().Fact(id); !ok || r.Status != knowledge.Accepted {
			return fmt.Errorf("after the restart %s lost accepted fact %.12s", x.name, id)
		}
	}
	m.progress("  %s kept its state: %s still trusted, eve still blacklisted, %d facts still accepted", x.name, trusted.name, len(accepted))
	return nil
}

// links: a full mesh up to 8 nodes, else each node to the first anchor,
// the proposer (n2) and up to three random earlier nodes (fixed seed: the
// same topology each run). SPEC §4.3 admits gossip only from signers a node
// knows — anchors, or peers it completed a handshake with — so every node
// meets the proposer; everything else travels by relay.
func links(i, n int, rng *mrand.Rand) []int {
	if i == 0 {
		return nil
	}
	if n <= 8 {
		l := make([]int, i)
		for j := range l {
			l[j] = j
		}
		return l
	}
	if i <= 2 {
		return []int{0, 1}[:i]
	}
	seen := map[int]bool{0: true, 2: true}
	l := []int{0, 2}
	for k := 0; k < 3 && len(seen) < i; k++ {
		if j := rng.IntN(i); !seen[j] {
			seen[j] = true
			l = append(l, j)
		}
	}
	return l
}

// until polls cond every few milliseconds until it holds or ctx ends.
func until(ctx context.Context, what string, cond func() bool) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for %s", what)
		case <-t.C:
		}
	}
	return nil
}

func (m *meshRun) run(ctx context.Context, n int, printEvents bool) (map[string]any, error) {
	keys := make([]crypto.PrivKey, n)
	var anchors []string
	for i := range keys {
		k, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			return nil, err
		}
		keys[i] = k
		if i < 2 {
			id, _ := peer.IDFromPrivateKey(k)
			anchors = append(anchors, id.String())
		}
	}
	honest := n - 1 // the last node is the equivocator
	m.progress("starting %d nodes on loopback (n0, n1 are trust anchors; n%d will equivocate)", n, n-1)
	rng := mrand.New(mrand.NewPCG(1, 2))
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("n%d", i)
		if i == n-1 {
			name = "eve"
		}
		x, err := m.start(ctx, name, keys[i], anchors, printEvents)
		if err != nil {
			return nil, err
		}
		if i == n-1 {
			m.eve = x
		} else {
			m.nodes = append(m.nodes, x)
		}
		targets := links(i, n, rng)
		if i == n-1 {
			targets = []int{honest - 1} // eve reaches the mesh through one node only
		}
		for _, j := range targets {
			if _, err := x.n.ConnectAddr(ctx, m.nodes[j].n.Addrs()[0].String()); err != nil {
				return nil, err
			}
		}
		m.progress("[%d/%d] %s up, connected to %d peer(s)", i+1, n, name, len(targets))
	}
	all := append(append([]*meshNode(nil), m.nodes...), m.eve)
	m.progress("waiting for RTT + CIP handshakes and the GossipSub mesh")
	for _, x := range all {
		if err := until(ctx, x.name+"'s handshakes and mesh", func() bool {
			peers := x.n.Host().Network().Peers()
			if len(peers) == 0 {
				return false
			}
			for _, p := range peers {
				fp, _ := node.FingerprintOf(p)
				if st := x.n.Trust().State(fp); st != trust.Probing && st != trust.Trusted {
					return false
				}
			}
			g := x.n.Mesh().Gossip()
			need := min(len(peers), 2) // a grafted mesh: relays have somewhere to forward
			return g.Ready(gossip.TopicKnowledge) && len(g.MeshPeers(gossip.TopicKnowledge)) >= need && len(g.MeshPeers(gossip.TopicTrust)) >= need
		}); err != nil {
			g := x.n.Mesh().Gossip()
			var bad []string
			for _, p := range x.n.Host().Network().Peers() {
				fp, _ := node.FingerprintOf(p)
				if st := x.n.Trust().State(fp); st != trust.Probing && st != trust.Trusted {
					bad = append(bad, events.Short(p.String())+"="+st.String())
				}
			}
			return nil, fmt.Errorf("%w (peers %d, not yet admitted %v, ready %v, mesh %d/%d)", err, len(x.n.Host().Network().Peers()), bad,
				g.Ready(gossip.TopicKnowledge), len(g.MeshPeers(gossip.TopicKnowledge)), len(g.MeshPeers(gossip.TopicTrust)))
		}
	}
	m.progress("mesh formed")

	proposer := m.nodes[2]
	var accepted []string
	for i, stmt := range []string{"water boils at 100 C at sea level", "the moon orbits the earth"} {
		id, err := proposer.n.Mesh().ProposeFact(ctx, cip.Fact{Statement: stmt, Domain: "science", Confidence: 0.9, Sources: []string{}}, cip.DMPTrace{})
		if err != nil {
			return nil, err
		}
		m.progress("%s proposed fact %d %.12s: %q", proposer.name, i+1, id, stmt)
		if err := m.everywhere(ctx, id, "known", func(knowledge.Result) bool { return true }); err != nil {
			return nil, err
		}
		if err := m.nodes[0].n.Mesh().VoteFact(ctx, id, true, 0.9, "checked"); err != nil {
			return nil, err
		}
		if err := m.everywhere(ctx, id, "holding n0's confirmation", func(r knowledge.Result) bool { return len(r.Confirmers) >= 1 }); err != nil {
			return nil, err
		}
		for _, x := range m.nodes {
			if _, r, _ := x.n.Knowledge().Fact(id); r.Status == knowledge.Accepted {
				return nil, fmt.Errorf("%s accepted with one trusted confirmation", x.name)
			}
		}
		m.progress("  one trusted confirmation (n0): pending on every node, as the quorum rule requires")
		if err := m.nodes[1].n.Mesh().VoteFact(ctx, id, true, 0.95, "checked"); err != nil {
			return nil, err
		}
		if err := m.everywhere(ctx, id, "accepted", func(r knowledge.Result) bool { return r.Status == knowledge.Accepted }); err != nil {
			return nil, err
		}
		m.progress("  second trusted confirmation (n1): accepted on all %d honest nodes", len(m.nodes))
		accepted = append(accepted, id)
	}
	for _, x := range m.nodes[3:] {
		if err := until(ctx, x.name+" trusting "+proposer.name, func() bool {
			return x.n.Trust().State(proposer.n.Fingerprint()) == trust.Trusted
		}); err != nil {
			return nil, err
		}
	}
	m.progress("%s earned trust from verified knowledge: probing → trusted on every node", proposer.name)

	relay := m.nodes[honest-1]
	f3, err := relay.n.Mesh().ProposeFact(ctx, cip.Fact{Statement: "paris is in france", Domain: "geo", Confidence: 1, Sources: []string{}}, cip.DMPTrace{})
	if err != nil {
		return nil, err
	}
	if err := until(ctx, "eve to see the fact", func() bool { _, _, ok := m.eve.n.Knowledge().Fact(f3); return ok }); err != nil {
		return nil, err
	}
	m.progress("eve confirms and rejects the same fact (equivocation)")
	if err := m.eve.n.Mesh().VoteFact(ctx, f3, true, 0.9, "yes"); err != nil {
		return nil, err
	}
	if err := m.eve.n.Mesh().VoteFact(ctx, f3, false, 0.9, "no"); err != nil {
		return nil, err
	}
	for _, x := range m.nodes {
		if err := until(ctx, x.name+" blacklisting eve", func() bool {
			return x.n.Trust().State(m.eve.n.Fingerprint()) == trust.Blacklisted
		}); err != nil {
			return nil, err
		}
	}
	m.progress("eve is blacklisted on all %d honest nodes (proof checked by each)", len(m.nodes))
	return m.summary(accepted), nil
}

// everywhere waits until every honest node holds fact id satisfying cond.
func (m *meshRun) everywhere(ctx context.Context, id, what string, cond func(knowledge.Result) bool) error {
	for _, x := range m.nodes {
		if err := until(ctx, x.name+": fact "+what, func() bool {
			_, r, ok := x.n.Knowledge().Fact(id)
			return ok && cond(r)
		}); err != nil {
			return err
		}
	}
	return nil
}

type nodeSummary struct {
	Name        string `json:"name"`
	PeerID      string `json:"peer_id"`
	Peers       int    `json:"peers"`
	Trusted     int    `json:"trusted"`
	Probing     int    `json:"probing"`
	Blacklisted int    `json:"blacklisted"`
	Accepted    int    `json:"accepted_facts"`
	Facts       int    `json:"facts"`
}

func (m *meshRun) summary(accepted []string) map[string]any {
	var rows []nodeSummary
	for _, x := range m.nodes {
		s := nodeSummary{Name: x.name, PeerID: x.n.ID().String(), Peers: len(x.n.Host().Network().Peers())}
		for _, ps := range x.n.Trust().View() {
			switch ps.State {
			case trust.Trusted:
				s.Trusted++
			case trust.Probing:
				s.Probing++
			case trust.Blacklisted:
				s.Blacklisted++
			}
		}
		for _, fs := range x.n.Knowledge().Facts() {
			s.Facts++
			if fs.Status == knowledge.Accepted {
				s.Accepted++
			}
		}
		rows = append(rows, s)
	}
	sort.Slice(rows, func(i, j int) bool {
		return len(rows[i].Name) < len(rows[j].Name) || rows[i].Name < rows[j].Name && len(rows[i].Name) == len(rows[j].Name)
	})
	return map[string]any{"nodes": rows, "accepted": accepted, "equivocator": m.eve.n.ID().String(), "ok": true}
}

func (m *meshRun) printSummary(w io.Writer, s map[string]any) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tPEER\tPEERS\tTRUSTED\tPROBING\tBLACKLISTED\tFACTS\tACCEPTED")
	for _, r := range s["nodes"].([]nodeSummary) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", r.Name, events.Short(r.PeerID), r.Peers, r.Trusted, r.Probing, r.Blacklisted, r.Facts, r.Accepted)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nmesh OK: %d facts accepted on every honest node; equivocator %s blacklisted everywhere\n",
		len(s["accepted"].([]string)), events.Short(s["equivocator"].(string)))
}
