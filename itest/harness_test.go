package itest

import (
	"context"
	"crypto/rand"
	"github.com/libp2p/go-libp2p/core/crypto"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/node"
	"github.com/web4p2p/web4p2p/trust"
)

// agent is one real node.Node on loopback with its events recorded and
// checked against the event contract.
type agent struct {
	t    testing.TB
	cfg  node.Config
	n    *node.Node
	ring *events.Ring
	chk  *events.CheckingSink
	// unchecked leaves the event-contract check out of the emit path, for
	// benchmarks: it validates every event against the JSON Schema
	// synchronously, which no production sink does.
	unchecked bool
}

// newAgent starts a node; mutate adjusts its config (data dir, anchors...).
func newAgent(t testing.TB, name string, mutate func(*node.Config)) *agent {
	t.Helper()
	return startAgent(t, name, mutate, false)
}

func startAgent(t testing.TB, name string, mutate func(*node.Config), unchecked bool) *agent {
	t.Helper()
	cfg := node.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.AgentID = name
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	if mutate != nil {
		mutate(&cfg)
	}
	a := &agent{t: t, cfg: cfg, unchecked: unchecked}
	a.start()
	t.Cleanup(a.stop)
	return a
}

// newBenchAgent is newAgent without the event-contract check (see
// agent.unchecked); events are still recorded.
func newBenchAgent(b *testing.B, name string) *agent {
	b.Helper()
	return startAgent(b, name, nil, true)
}

func (a *agent) start() {
	a.t.Helper()
	a.ring = events.NewRing(8192)
	a.chk = &events.CheckingSink{Next: a.ring}
	cfg := a.cfg
	var sink events.Sink = a.chk
	if a.unchecked {
		sink = a.ring
	}
	cfg.Sinks = append(append([]events.Sink(nil), cfg.Sinks...), sink)
	n, err := node.New(cfg)
	if err != nil {
		a.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		a.t.Fatal(err)
	}
	a.n = n
}

// stop closes the node (idempotent) and checks its events.
func (a *agent) stop() {
	if a.n == nil {
		return
	}
	if err := a.n.Close(); err != nil {
		a.t.Errorf("%s close: %v", a.cfg.AgentID, err)
	}
	if f := a.chk.Failures(); len(f) > 0 {
		a.t.Errorf("%s: events failing the contract: %v", a.cfg.AgentID, f)
	}
	a.n = nil
}

// restart closes and reopens the node on the same data dir.
func (a *agent) restart() {
	a.t.Helper()
	a.stop()
	a.start()
}

func (a *agent) addr() string { return a.n.Addrs()[0].String() }

func (a *agent) connect(ctx context.Context, b *agent) {
	a.t.Helper()
	if _, err := a.n.ConnectAddr(ctx, b.addr()); err != nil {
		a.t.Fatal(err)
	}
}

// waitTrust waits until a sees p in state want.
func (a *agent) waitTrust(ctx context.Context, p peer.ID, want trust.State) {
	a.t.Helper()
	fp, err := node.FingerprintOf(p)
	if err != nil {
		a.t.Fatal(err)
	}
	if !eventually(ctx, func() bool { return a.n.Trust().State(fp) == want }) {
		a.t.Fatalf("%s: %s never became %s (is %s)", a.cfg.AgentID, p, want, a.n.Trust().State(fp))
	}
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond (a store or ledger read) every few milliseconds
// until it holds or ctx ends. Used where the state change has no event of
// its own to wait on.
func eventually(ctx context.Context, cond func() bool) bool {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return cond()
		case <-tick.C:
		}
	}
	return true
}

// anchorKeys makes n identities and lists their PeerIDs, for nodes that are
// each other's trust anchors.
func anchorKeys(t testing.TB, n int) ([]crypto.PrivKey, []string) {
	t.Helper()
	keys := make([]crypto.PrivKey, n)
	anchors := make([]string, n)
	for i := range keys {
		k, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := peer.IDFromPrivateKey(k)
		keys[i], anchors[i] = k, id.String()
	}
	return keys, anchors
}
