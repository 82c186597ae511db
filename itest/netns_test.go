package itest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/netlab"
)

// These tests run web4p2p processes in network namespaces the test builds
// itself (internal/netlab): public nodes on a bridge and nodes behind NAT
// routers, every address in 198.18.0.0/15. They need root, ip and nft;
// in CI they fail without them, elsewhere they skip, saying so.

// labNode is one `web4p2p start` inside a lab namespace.
type labNode struct {
	h      *netlab.Host
	dir    string
	events string // its --events-file
	id     string // PeerID
	p      *proc
}

// labMesh is a set of lab nodes that all trust each other.
type labMesh struct {
	t     testing.TB
	lab   *netlab.Lab
	nodes map[string]*labNode
	boot  []string // the public nodes' multiaddrs, relay first
}

const labMeshName = "netns"

// newLabNode creates h's data dir and identity (the node is not started).
func (m *labMesh) newLabNode(h *netlab.Host) *labNode {
	m.t.Helper()
	dir := m.t.TempDir()
	var id struct {
		PeerID string `json:"peer_id"`
	}
	if err := cli(m.t, &id, "id", "--data-dir", dir); err != nil {
		m.t.Fatal(err)
	}
	n := &labNode{h: h, dir: dir, events: filepath.Join(dir, "events-file.jsonl"), id: id.PeerID}
	m.nodes[h.Name] = n
	return n
}

// start runs n with the lab's common flags: QUIC and TCP on port 4001,
// the lab range declared public, the mesh rendezvous, every node of the
// mesh a trust anchor.
func (m *labMesh) start(n *labNode, args ...string) {
	m.t.Helper()
	full := []string{"start", "--data-dir", n.dir, "--agent-id", n.h.Name, "--quiet",
		"--listen", "/ip4/0.0.0.0/udp/4001/quic-v1", "--listen", "/ip4/0.0.0.0/tcp/4001",
		"--events-file", n.events, "--public-cidr", netlab.PublicNet, "--mesh", labMeshName}
	for _, o := range m.nodes {
		full = append(full, "--trust-anchor", o.id)
	}
	n.p = launchCmd(m.t, n.dir, n.h.Command(context.Background(), binary(m.t), append(full, args...)...))
	m.t.Cleanup(n.p.stop)
}

// cli runs a CLI command against n (inside its namespace, where its
// control API listens on loopback) and decodes its --json output.
func (n *labNode) cli(t testing.TB, out any, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	b, err := n.h.Command(ctx, binary(t), append(append(args, "--data-dir", n.dir), "--json")...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = strings.TrimSpace(string(ee.Stderr))
		}
		return fmt.Errorf("%s: %v: %v %s", n.h.Name, args, err, stderr)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// eventsOf reads n's events file so far.
func (n *labNode) eventsOf() []events.Event {
	f, err := os.Open(n.events)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []events.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e events.Event
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

// about lists n's events about subject, one a line (failure reports).
func (n *labNode) about(subject string) string {
	var b strings.Builder
	for _, e := range n.eventsOf() {
		if e.Subject == subject {
			fmt.Fprintf(&b, "%s %s %v\n", e.Time.Format("15:04:05.000"), e.Type, e.Data)
		}
	}
	return b.String()
}

// first returns n's first event of typ about subject ("" = any) for
// which match (nil = any) holds.
func (n *labNode) first(typ, subject string, match func(events.Event) bool) (events.Event, bool) {
	for _, e := range n.eventsOf() {
		if e.Type == typ && (subject == "" || e.Subject == subject) && (match == nil || match(e)) {
			return e, true
		}
	}
	return events.Event{}, false
}

// waitFirst waits up to d for n's first such event.
func (n *labNode) waitFirst(t testing.TB, d time.Duration, typ, subject string, match func(events.Event) bool) events.Event {
	t.Helper()
	var e events.Event
	if !eventually(ctxFor(t, d), func() bool {
		var ok bool
		e, ok = n.first(typ, subject, match)
		return ok
	}) {
		t.Fatalf("%s: no %s event about %q within %v", n.h.Name, typ, subject, d)
	}
	return e
}

// labPeer is the part of `peers --json` the lab tests read.
type labPeer struct {
	PeerID string `json:"peer_id"`
	Ready  bool   `json:"cip_ready"`
	Conns  []struct {
		Remote  string `json:"remote"`
		Relayed bool   `json:"relayed"`
	} `json:"conns"`
}

func (n *labNode) peer(t testing.TB, id string) (labPeer, error) {
	var out struct {
		Peers []labPeer `json:"peers"`
	}
	if err := n.cli(t, &out, "peers"); err != nil {
		return labPeer{}, err
	}
	for _, p := range out.Peers {
		if p.PeerID == id {
			return p, nil
		}
	}
	return labPeer{}, nil
}

// newNATMesh builds three public nodes (pub1 a relay) and nNAT nodes each
// behind a NAT router of its own, and starts them all: public nodes as
// DHT servers bootstrapped from pub1, NATed nodes stating themselves
// private and bootstrapped from every public node.
func newNATMesh(t testing.TB, nPublic, nNAT int) *labMesh {
	t.Helper()
	lab := netlab.New(t)
	m := &labMesh{t: t, lab: lab, nodes: map[string]*labNode{}}
	var pubs, nats []*labNode
	for i := 1; i <= nPublic; i++ {
		pubs = append(pubs, m.newLabNode(lab.Public(fmt.Sprintf("pub%d", i))))
	}
	for i := 1; i <= nNAT; i++ {
		nats = append(nats, m.newLabNode(lab.NATed(fmt.Sprintf("nat%d", i))))
	}
	for _, p := range pubs {
		m.boot = append(m.boot, fmt.Sprintf("/ip4/%s/udp/4001/quic-v1/p2p/%s", p.h.IP, p.id))
	}
	m.start(pubs[0], "--dht", "server", "--relay-service")
	for _, p := range pubs[1:] {
		m.start(p, "--dht", "server", "--bootstrap", m.boot[0])
	}
	for _, n := range nats {
		m.startNATed(n)
	}
	return m
}

// startNATed starts a node behind its router.
func (m *labMesh) startNATed(n *labNode) {
	m.t.Helper()
	args := []string{"--reachability", "private"}
	for _, b := range m.boot {
		args = append(args, "--bootstrap", b)
	}
	m.start(n, args...)
}

func isCircuit(addr any) bool { s, _ := addr.(string); return strings.Contains(s, "/p2p-circuit") }

// TestNetnsNATTraversalQuorumAndLinkCut: three public nodes (pub1 offers
// Circuit Relay v2) and two nodes behind separate NAT routers. All five
// find each other through the DHT rendezvous; nat1 and nat2 first reach
// each other through the relay, DCUtR hole punching upgrades that to a
// direct connection, the CIP handshake completes over it, and a fact
// proposed on nat1 and confirmed by nat2 and pub2 is accepted on all five.
// Then nat2's cable is pulled: while it is out nat1 sends a message and
// proposes a fact; once it is back RTT resumes the same session, the
// message arrives and the fact too, and no session was restarted.
func TestNetnsNATTraversalQuorumAndLinkCut(t *testing.T) {
	m := newNATMesh(t, 3, 2)
	all := []*labNode{m.nodes["pub1"], m.nodes["pub2"], m.nodes["pub3"], m.nodes["nat1"], m.nodes["nat2"]}
	n1, n2 := m.nodes["nat1"], m.nodes["nat2"]

	// Discovery: every node learns every other one as a member of the mesh
	// namespace in the DHT.
	for _, a := range all {
		for _, b := range all {
			if a != b {
				a.waitFirst(t, 60*time.Second, "web4.discovery.mesh_member", b.id, nil)
			}
		}
	}

	// Relayed, then direct: peers --json on nat1 lists a relayed connection
	// to nat2 and, after the hole punch, a direct one.
	var sawRelayed, sawDirect bool
	var last labPeer
	if !eventually(ctxFor(t, 60*time.Second), func() bool {
		p, err := n1.peer(t, n2.id)
		if err != nil {
			return false
		}
		last = p
		for _, c := range p.Conns {
			if c.Relayed {
				sawRelayed = true
			} else if sawRelayed {
				sawDirect = true
			}
		}
		return sawDirect && p.Ready
	}) {
		t.Fatalf("nat1 never held a relayed then a direct CIP-ready connection to nat2 (relayed seen %v, direct %v); last: %+v\nnat1's events about nat2:\n%s", sawRelayed, sawDirect, last, n1.about(n2.id))
	}
	// The events agree: the first connection between them was relayed.
	c, _ := n1.first("web4.node.peer_connected", n2.id, nil)
	if c2, _ := n2.first("web4.node.peer_connected", n1.id, nil); !isCircuit(c.Data["addr"]) && !isCircuit(c2.Data["addr"]) {
		t.Fatalf("first connection nat1<->nat2 was not relayed: %v / %v", c.Data, c2.Data)
	}
	waitReadyIn(t, n2, n1.id)
	t.Logf("nat1 -> nat2: %s", connsLine(last))
	// RTT and CIP did not wait for the hole punch: the session between them
	// came up over the relay and then moved onto the direct connection.
	var up events.Event
	var overRelay bool
	for _, n := range []*labNode{n1, n2} {
		other := n2
		if n == n2 {
			other = n1
		}
		if e, ok := n.first("web4.rtt.session_up", other.id, nil); ok {
			up, overRelay = e, overRelay || e.Data["relayed"] == true
		}
	}
	if !overRelay {
		t.Fatalf("the first RTT session nat1<->nat2 did not come up over the relay: %v\nnat1's events about nat2:\n%s", up.Data, n1.about(n2.id))
	}
	sameSession := func(e events.Event) bool { return e.Data["session"] == up.Data["session"] }
	mig := n1.waitFirst(t, 30*time.Second, "web4.rtt.migrated", n2.id, sameSession)
	cipAt := n1.waitFirst(t, 30*time.Second, "web4.cip.handshake_completed", "", func(e events.Event) bool { return e.Data["peer_agent_id"] == n2.h.Name })
	t.Logf("session %v: CIP handshake %s, moved to direct %s (%v -> %v)", up.Data["session"],
		cipAt.Time.Sub(up.Time), mig.Time.Sub(up.Time), mig.Data["from"], mig.Data["to"])

	// Quorum across the NATs: proposed on nat1, confirmed by nat2 and pub2.
	fact := proposeIn(t, n1, "crosses two NATs")
	for _, voter := range []*labNode{n2, m.nodes["pub2"]} {
		voter.waitFirst(t, 30*time.Second, "web4.knowledge.fact_proposed", fact, nil)
		if err := voter.cli(t, nil, "facts", "vote", fact, "confirm"); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range all {
		n.waitFirst(t, 30*time.Second, "web4.knowledge.fact_accepted", fact, nil)
	}

	// The session RTT must keep: the one nat1 and nat2 hold now.
	up, ok := n1.first("web4.rtt.session_up", n2.id, nil)
	if !ok {
		t.Fatal("nat1 has no session_up with nat2")
	}
	session := up.Data["session"]

	// Pull nat2's cable until nat1 declares the session down (missed
	// heartbeats); send and propose meanwhile; plug it back in.
	cutAt := time.Now()
	afterCut := func(e events.Event) bool { return e.Time.After(cutAt) }
	if err := n2.h.SetLink(false); err != nil {
		t.Fatal(err)
	}
	n1.waitFirst(t, 45*time.Second, "web4.rtt.session_down", n2.id, afterCut)
	msg := "sent while the cable was out"
	if err := n1.cli(t, nil, "send", n2.id, "control", msg); err != nil {
		t.Fatal(err)
	}
	during := proposeIn(t, n1, "proposed while nat2 was cut off")
	if _, seen := n2.first("web4.knowledge.fact_proposed", during, nil); seen {
		t.Fatal("nat2 learnt the fact while its link was down: the cut did not cut")
	}
	if err := n2.h.SetLink(true); err != nil {
		t.Fatal(err)
	}
	resumed := func(e events.Event) bool { return e.Data["session"] == session && afterCut(e) }
	if !eventually(ctxFor(t, 60*time.Second), func() bool {
		_, a := n1.first("web4.rtt.resumed", n2.id, resumed)
		_, b := n2.first("web4.rtt.resumed", n1.id, resumed)
		if a || b {
			t.Logf("session %v resumed after the cut", session)
		}
		return a || b
	}) {
		t.Fatalf("session %v between nat1 and nat2 was not resumed after the link came back", session)
	}
	var got map[string]any
	if err := n2.cli(t, &got, "receive", n1.id, "--channel", "control", "--timeout", "30s"); err != nil {
		t.Fatal(err)
	}
	if got["text"] != msg {
		t.Fatalf("nat2 received %v, want %q", got, msg)
	}
	n2.waitFirst(t, 30*time.Second, "web4.knowledge.fact_proposed", during, nil)
	for _, n := range all {
		if e, restarted := n.first("web4.node.session_restarted", "", nil); restarted {
			t.Fatalf("%s restarted a session: %v", n.h.Name, e.Data)
		}
	}
}

func connsLine(p labPeer) string {
	var parts []string
	for _, c := range p.Conns {
		kind := "direct"
		if c.Relayed {
			kind = "relayed"
		}
		parts = append(parts, kind+" "+c.Remote)
	}
	return strings.Join(parts, ", ")
}

// waitReadyIn waits until n lists p past the CIP handshake.
func waitReadyIn(t testing.TB, n *labNode, p string) {
	t.Helper()
	if !eventually(ctxFor(t, 30*time.Second), func() bool {
		lp, err := n.peer(t, p)
		return err == nil && lp.Ready
	}) {
		t.Fatalf("%s never finished the CIP handshake with %s", n.h.Name, p)
	}
}

// proposeIn proposes a fact on n and returns its ID.
func proposeIn(t testing.TB, n *labNode, statement string) string {
	t.Helper()
	var f struct {
		ID string `json:"fact_id"`
	}
	if err := n.cli(t, &f, "facts", "propose", "--statement", statement, "--domain", "netns"); err != nil || f.ID == "" {
		t.Fatalf("propose on %s: %+v %v", n.h.Name, f, err)
	}
	return f.ID
}

// TestNetnsMeshScript runs the README's scripts/netns-mesh.sh: it exits 0
// only once n1 holds a CIP session with n2 over a direct connection, and
// it leaves no namespace behind.
func TestNetnsMeshScript(t *testing.T) {
	netlab.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "scripts/netns-mesh.sh")
	cmd.Dir = repoRoot()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("netns-mesh.sh: %v\n%s", err, out)
	}
	for _, want := range []string{"== peers of n1", "quic-v1 direct", "== tearing down"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	ls, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	// The script names its namespaces w4mesh<its pid>-.
	if strings.Contains(string(ls), fmt.Sprintf("w4mesh%d-", cmd.Process.Pid)) {
		t.Fatalf("namespaces left behind:\n%s", ls)
	}
}
