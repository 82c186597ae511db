package node

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	relayclient "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/node/api"
	"github.com/web4p2p/web4p2p/node/publicnet"
	"github.com/web4p2p/web4p2p/node/rtt"
)

func TestMain(m *testing.M) {
	_ = SetLogLevel("fatal")
	goleak.VerifyTestMain(m,
		// go-libp2p's connection manager and the QUIC reuse layer keep
		// package-level goroutines; they are not ours and end with the process.
		goleak.IgnoreAnyFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		goleak.IgnoreTopFunction("github.com/libp2p/go-libp2p/p2p/transport/quicreuse.(*reuse).gc"),
	)
}

func TestIdentityCreatedOnceWith0600(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	k1, created, err := LoadOrCreateIdentity(dir, nil)
	if err != nil || !created {
		t.Fatalf("first load: created=%v err=%v", created, err)
	}
	st, err := os.Stat(filepath.Join(dir, IdentityFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v err %v", st.Mode().Perm(), err)
	}
	k2, created, err := LoadOrCreateIdentity(dir, nil)
	if err != nil || created || !k1.Equals(k2) {
		t.Fatalf("second load: created=%v err=%v same=%v", created, err, k1.Equals(k2))
	}
}

func TestIdentityRefusesLooseMode(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := LoadOrCreateIdentity(dir, nil); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, IdentityFile)
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadOrCreateIdentity(dir, nil)
	if !errors.Is(err, ErrIdentity) || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("want refusal with fix hint, got %v", err)
	}
}

func TestIdentityCorruptNotOverwritten(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, IdentityFile)
	if err := os.WriteFile(p, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateIdentity(dir, nil); !errors.Is(err, ErrIdentity) || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("want corrupt error, got %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "garbage" {
		t.Fatal("corrupt key overwritten")
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	cases := map[string]Config{
		"listen[0]":       {DataDir: t.TempDir(), ListenAddrs: []string{"not-a-multiaddr"}},
		"bootstrap[0]":    {DataDir: t.TempDir(), Bootstrap: []string{"/ip4/127.0.0.1/tcp/1"}},
		"trust_anchor[0]": {DataDir: t.TempDir(), TrustAnchors: []string{"nope"}},
	}
	for field, cfg := range cases {
		_, err := New(cfg)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: got %v", field, err)
		}
	}
}

func startNode(t *testing.T, cfg Config) (*Node, *events.Ring) {
	t.Helper()
	ring := events.NewRing(512)
	chk := &events.CheckingSink{Next: ring}
	cfg.Sinks = append(cfg.Sinks, chk)
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if f := chk.Failures(); len(f) > 0 {
			t.Errorf("events failing the schema: %v", f)
		}
	})
	return n, ring
}

func TestTwoNodesBootstrapOverTCPAndQUIC(t *testing.T) {
	for _, tc := range []struct{ name, listen, transport string }{
		{"tcp", "/ip4/127.0.0.1/tcp/0", "tcp"},
		{"quic", "/ip4/127.0.0.1/udp/0/quic-v1", "quic-v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := startNode(t, Config{ListenAddrs: []string{tc.listen}})
			b, ring := startNode(t, Config{ListenAddrs: []string{tc.listen}, Bootstrap: []string{a.Addrs()[0].String()}})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, ok := ring.WaitFor(ctx.Done(), events.OfType("web4.discovery.bootstrap_connected")); !ok {
				t.Fatalf("no bootstrap connection; events: %v", ring.Events())
			}
			if b.Host().Network().Connectedness(a.ID()) != network.Connected {
				t.Fatal("not connected")
			}
			if b.Host().ID() == a.Host().ID() {
				t.Fatal("same identity")
			}
			conns := apiNode{n: b}.connsOf(a.ID())
			if len(conns) == 0 || conns[0].Transport != tc.transport || conns[0].Relayed || conns[0].Direction != "outbound" {
				t.Fatalf("conns to a = %+v, want one direct outbound %s", conns, tc.transport)
			}
		})
	}
}

func TestBootstrapRetriesUntilPeerAppears(t *testing.T) {
	// Reserve a port by starting a node, note its address, stop it, then
	// start the bootstrapping node first and the target afterwards on the
	// same identity and port.
	dirA := t.TempDir()
	a1, _ := startNode(t, Config{DataDir: dirA, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	addr := a1.Addrs()[0].String()
	if err := a1.Close(); err != nil {
		t.Fatal(err)
	}
	_, ring := startNode(t, Config{Bootstrap: []string{addr}, BootstrapRetryMin: 20 * time.Millisecond, BootstrapRetryMax: 100 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, ok := ring.WaitFor(ctx.Done(), events.OfType("web4.discovery.bootstrap_failed")); !ok {
		t.Fatal("no failed attempt reported")
	}
	listen := strings.Split(addr, "/p2p/")[0]
	startNode(t, Config{DataDir: dirA, ListenAddrs: []string{listen}})
	if _, ok := ring.WaitFor(ctx.Done(), events.OfType("web4.discovery.bootstrap_connected")); !ok {
		t.Fatal("bootstrap never connected after the peer appeared")
	}
}

func TestPortInUseIsOneClearError(t *testing.T) {
	for _, l := range []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"} {
		a, _ := startNode(t, Config{ListenAddrs: []string{l}})
		listen := strings.Split(a.Addrs()[0].String(), "/p2p/")[0]
		n, err := New(Config{DataDir: t.TempDir(), ListenAddrs: []string{listen}})
		if err != nil {
			t.Fatal(err)
		}
		err = n.Start(context.Background())
		n.Close()
		if err == nil || !strings.Contains(err.Error(), "in use") || strings.Count(err.Error(), "\n") > 0 {
			t.Fatalf("%s: want one-line port-in-use error, got %v", l, err)
		}
	}
}

func TestCloseIdempotentAndStoreLocked(t *testing.T) {
	dir := t.TempDir()
	a, _ := startNode(t, Config{DataDir: dir})
	// A second node on the same data dir must refuse (store locked), not
	// corrupt it.
	b, err := New(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("want locked store error, got %v", err)
	}
	b.Close()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal("second close:", err)
	}
	if err := a.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("start after close: %v", err)
	}
}

func TestMDNSOffByDefaultAndUniqueServiceWhenOn(t *testing.T) {
	_, ring := startNode(t, Config{MDNS: true, MDNSService: "web4p2p-test-" + t.Name()})
	// In a sandbox without multicast mDNS may be unavailable; either way
	// the node must report which and keep running.
	if ring.Count("web4.discovery.mdns_started")+ring.Count("web4.discovery.mdns_unavailable") != 1 {
		t.Fatalf("mDNS outcome not reported: %v", ring.Events())
	}
}

// A peer reached only through a Circuit Relay v2 hop (the relay node offers
// --relay-service, the target holds a reservation on it) shows as relayed in
// the API's connection list, and the two agents hold an RTT session and
// complete the CIP handshake over that limited connection, before any hole
// punching (there is none on loopback). When a direct connection comes up
// the session moves onto it (web4.rtt.migrated): the same session, still
// CIP-ready, and application messages sent across the move all arrive
// once, in order.
func TestRelayedConnectionCarriesCIPThenMovesToDirect(t *testing.T) {
	lo := []string{"/ip4/127.0.0.1/tcp/0"}
	r, _ := startNode(t, Config{ListenAddrs: lo, RelayService: true})
	b, rb := startNode(t, Config{ListenAddrs: lo, NATTraversal: true})
	a, ra := startNode(t, Config{ListenAddrs: lo, NATTraversal: true})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rInfo := peer.AddrInfo{ID: r.ID(), Addrs: r.Host().Addrs()}
	if err := b.Host().Connect(ctx, rInfo); err != nil {
		t.Fatal(err)
	}
	if _, err := relayclient.Reserve(ctx, b.Host(), rInfo); err != nil {
		t.Fatalf("reserve on relay: %v", err)
	}
	circuit, err := ma.NewMultiaddr(r.Host().Addrs()[0].String() + "/p2p/" + r.ID().String() + "/p2p-circuit")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Host().Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: []ma.Multiaddr{circuit}}); err != nil {
		t.Fatalf("connect through relay: %v", err)
	}
	conns := apiNode{n: a}.connsOf(b.ID())
	var relayed bool
	for _, c := range conns {
		relayed = relayed || (c.Relayed && c.Transport == "tcp")
	}
	if !relayed {
		t.Fatalf("conns to b = %+v, want a relayed one over tcp", conns)
	}

	// CIP over the relay.
	for _, x := range []struct{ n, p *Node }{{a, b}, {b, a}} {
		if err := x.n.Peers().OpenChannel(ctx, x.p.ID(), rtt.State); err != nil {
			t.Fatalf("CIP session over the relay: %v", err)
		}
	}
	view := func(n, p *Node) api.Peer { return apiNode{n: n, rt: n.runtimes()}.peer(p.ID()) }
	before := view(a, b)
	if !before.Ready || before.Telemetry["relayed"] != true {
		t.Fatalf("a's view of b over the relay: ready %v, telemetry %v", before.Ready, before.Telemetry)
	}
	for _, c := range before.Conns {
		if !c.Relayed {
			t.Fatalf("a direct connection before any was made: %+v", before.Conns)
		}
	}
	sid := a.Peers().RTT().Session(b.ID()).SessionID()

	// The move: messages before and after a direct connection comes up.
	const n = 100
	send := func(from, to int) {
		for i := from; i < to; i++ {
			if err := a.Peers().SendApp(ctx, b.ID(), rtt.State, []byte(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(0, n/2)
	if err := a.Host().Connect(network.WithForceDirectDial(ctx, "test"), peer.AddrInfo{ID: b.ID(), Addrs: b.Host().Addrs()}); err != nil {
		t.Fatalf("direct connect: %v", err)
	}
	send(n/2, n)
	for i := 0; i < n; i++ {
		got, err := b.Peers().ReceiveApp(ctx, a.ID(), rtt.State)
		if err != nil || string(got) != fmt.Sprint(i) {
			t.Fatalf("message %d: got %q, %v", i, got, err)
		}
	}
	for _, ring := range []*events.Ring{ra, rb} {
		if _, ok := ring.WaitFor(ctx.Done(), events.OfType("web4.rtt.migrated")); !ok {
			t.Fatal("no web4.rtt.migrated")
		}
	}
	after := view(a, b)
	if !after.Ready || after.Telemetry["relayed"] != false {
		t.Fatalf("after the move: ready %v, telemetry %v", after.Ready, after.Telemetry)
	}
	if got := a.Peers().RTT().Session(b.ID()).SessionID(); got != sid {
		t.Fatal("the session was replaced, not moved")
	}
	if ra.Count("web4.node.session_restarted")+rb.Count("web4.node.session_restarted") != 0 {
		t.Fatal("a session was restarted")
	}
	qctx, qcancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer qcancel()
	if got, err := b.Peers().ReceiveApp(qctx, a.ID(), rtt.State); err == nil {
		t.Fatalf("extra message %q", got)
	}
}

// With declared public ranges (here loopback, so the test stays on
// 127.0.0.1) a node that states itself private reserves a slot on its
// bootstrap relay at once, although its other bootstrap peer offers no
// relay, and advertises the circuit address through it — which
// go-libp2p's AutoRelay leaves out for a relay without public addresses.
// The connection AutoRelay opens carries an RTT session like any other.
func TestDeclaredPublicRangeAdvertisesCircuitAddrs(t *testing.T) {
	lo := []string{"/ip4/127.0.0.1/udp/0/quic-v1"}
	lab := publicnet.Ranges{netip.MustParsePrefix("127.0.0.0/8")}
	r, _ := startNode(t, Config{ListenAddrs: lo, RelayService: true, PublicCIDRs: lab})
	other, _ := startNode(t, Config{ListenAddrs: lo})
	boot := func(n *Node) string { return n.Host().Addrs()[0].String() + "/p2p/" + n.ID().String() }
	b, _ := startNode(t, Config{ListenAddrs: lo, NATTraversal: true, Reachability: ReachabilityPrivate, PublicCIDRs: lab,
		Bootstrap: []string{boot(other), boot(r)}})
	want := r.Host().Addrs()[0].String() + "/p2p/" + r.ID().String() + "/p2p-circuit"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for circuit, session := false, false; !circuit || !session; {
		for _, a := range b.Host().Addrs() {
			circuit = circuit || a.String() == want
		}
		// AutoRelay dialled r before the node's runtimes were up; the
		// node opens its RTT session to r all the same.
		session = slices.Contains(b.Peers().Sessions(), r.ID())
		select {
		case <-ctx.Done():
			t.Fatalf("circuit address %s advertised: %v (addrs %v); RTT session with the relay: %v", want, circuit, b.Host().Addrs(), session)
		case <-tick.C:
		}
	}
}

// Reachability accepts public, private or nothing, and a relay service
// cannot state itself private.
func TestReachabilityConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want bool
	}{
		{Config{Reachability: "public"}, true},
		{Config{Reachability: "private"}, true},
		{Config{Reachability: "hidden"}, false},
		{Config{Reachability: "private", RelayService: true}, false},
	} {
		tc.cfg.DataDir = t.TempDir()
		_, err := New(tc.cfg)
		if (err == nil) != tc.want {
			t.Errorf("%+v: err %v", tc.cfg.Reachability, err)
		}
		if err != nil && !errors.Is(err, ErrConfig) {
			t.Errorf("%q: %v is not ErrConfig", tc.cfg.Reachability, err)
		}
	}
}
