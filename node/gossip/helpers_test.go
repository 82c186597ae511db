package gossip

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/web4p2p/web4p2p/internal/events"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// go-log's mirror writer is a package-level goroutine of go-libp2p's
		// logging, started on first use; not ours.
		goleak.IgnoreAnyFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		// The QUIC reuse layer keeps a package-level garbage collector.
		goleak.IgnoreTopFunction("github.com/libp2p/go-libp2p/p2p/transport/quicreuse.(*reuse).gc"),
	)
}

const testTopic = "/web4/test/1.0"

// newTCPHost builds a loopback host: Ed25519, Noise, yamux, TCP only.
func newTCPHost(t testing.TB) host.Host {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h, err := libp2p.New(
		libp2p.Identity(k),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.NoTransports,
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// newQUICHost builds a loopback host on QUIC v1 only.
func newQUICHost(t testing.TB) host.Host {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h, err := libp2p.New(
		libp2p.Identity(k),
		libp2p.NoTransports,
		libp2p.Transport(quic.NewTransport),
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/udp/0/quic-v1"),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// newMocknet returns n linked (not connected) in-memory hosts.
func newMocknet(t testing.TB, n int) (mocknet.Mocknet, []host.Host) {
	t.Helper()
	mn := mocknet.New()
	t.Cleanup(func() { _ = mn.Close() })
	hs := make([]host.Host, n)
	for i := range hs {
		h, err := mn.GenPeer()
		if err != nil {
			t.Fatal(err)
		}
		hs[i] = h
	}
	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	return mn, hs
}

func connect(t testing.TB, a, b host.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatalf("connect %s → %s: %v", a.ID(), b.ID(), err)
	}
}

// recorder collects delivered messages and lets tests wait on them.
type recorder struct {
	mu      sync.Mutex
	got     map[string]int     // message → deliveries
	from    map[string]peer.ID // message → delivering peer
	data    map[string]any     // message → the data deliver got with it
	changed chan struct{}
	block   chan struct{} // if non-nil, deliver waits on it
}

func newRecorder() *recorder {
	return &recorder{got: map[string]int{}, from: map[string]peer.ID{}, data: map[string]any{}, changed: make(chan struct{})}
}

func (r *recorder) deliver(from peer.ID, raw []byte, data any) {
	if r.block != nil {
		<-r.block
	}
	r.mu.Lock()
	r.got[string(raw)]++
	r.from[string(raw)] = from
	r.data[string(raw)] = data
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

func (r *recorder) dataOf(msg string) any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.data[msg]
}

func (r *recorder) count(msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[msg]
}

func (r *recorder) fromOf(msg string) peer.ID {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.from[msg]
}

func (r *recorder) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// waitFor blocks until pred holds on the deliveries or the timeout ends.
func (r *recorder) waitFor(timeout time.Duration, pred func(got map[string]int) bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ok := pred(r.got)
		ch := r.changed
		r.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return false
		}
	}
}

// waitUntil polls cond with a ticker until it holds or the timeout ends.
func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// validator is a Validate hook that records who delivered what and rejects
// messages starting with "bad:" (unless acceptAll).
type validator struct {
	acceptAll bool
	mu        sync.Mutex
	seen      map[string][]peer.ID
}

var errBadPrefix = errors.New(`data: starts with "bad:"`)

func newValidator(acceptAll bool) *validator {
	return &validator{acceptAll: acceptAll, seen: map[string][]peer.ID{}}
}

// validate accepts, ignores or rejects by prefix; what it accepts it hands
// to deliver as data: the message as a string, tagged, so the recorder can
// check that deliver gets exactly the value its validation produced.
func (v *validator) validate(_ context.Context, _ string, from peer.ID, raw []byte) (any, error) {
	v.mu.Lock()
	v.seen[string(raw)] = append(v.seen[string(raw)], from)
	v.mu.Unlock()
	switch {
	case v.acceptAll:
	case bytes.HasPrefix(raw, []byte("bad:")):
		return nil, errBadPrefix
	case bytes.HasPrefix(raw, []byte("ignore:")):
		return nil, fmt.Errorf("not for us: %w", ErrIgnore)
	}
	return validated(raw), nil
}

// validated is what the test validator hands deliver for raw.
type validated string

// errOnly adapts a validation function without data to Config.Validate.
func errOnly(f func(context.Context, string, peer.ID, []byte) error) func(context.Context, string, peer.ID, []byte) (any, error) {
	return func(ctx context.Context, topic string, from peer.ID, raw []byte) (any, error) {
		return nil, f(ctx, topic, from, raw)
	}
}

func (v *validator) sawFrom(msg string) []peer.ID {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]peer.ID(nil), v.seen[msg]...)
}

// tnode is one gossip node under test.
type tnode struct {
	h     host.Host
	g     *Gossip
	ring  *events.Ring
	check *events.CheckingSink
	reg   *prometheus.Registry
	rec   *recorder
	val   *validator
}

// testConfig shortens the heartbeat so meshes form and scores are
// snapshotted quickly.
func testConfig() Config {
	c := DefaultConfig()
	c.Heartbeat = 50 * time.Millisecond
	return c
}

// startNode runs a Gossip on h joined to testTopic. mod may adjust cfg.
func startNode(t testing.TB, h host.Host, mod func(*Config)) *tnode {
	t.Helper()
	n := &tnode{h: h, ring: events.NewRing(8192), reg: prometheus.NewRegistry(), rec: newRecorder(), val: newValidator(false)}
	n.check = &events.CheckingSink{Next: n.ring}
	cfg := testConfig()
	cfg.Validate = n.val.validate
	cfg.Events = events.NewEmitter(h.ID().String(), n.check, nil)
	cfg.Registerer = n.reg
	if mod != nil {
		mod(&cfg)
	}
	g, err := New(context.Background(), h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.g = g
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if f := n.check.Failures(); len(f) > 0 {
			t.Errorf("events failing the schema: %v", f)
		}
	})
	if err := g.Join(testTopic, n.rec.deliver); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitMesh waits until every node has exactly the wanted mesh peers.
func waitMesh(t testing.TB, want map[*tnode][]*tnode) {
	t.Helper()
	waitUntil(t, 15*time.Second, "mesh to form", func() bool {
		for n, peers := range want {
			if !n.g.Ready(testTopic) {
				return false
			}
			mesh := map[peer.ID]bool{}
			for _, p := range n.g.MeshPeers(testTopic) {
				mesh[p] = true
			}
			if len(mesh) != len(peers) {
				return false
			}
			for _, p := range peers {
				if !mesh[p.h.ID()] {
					return false
				}
			}
		}
		return true
	})
}

// line connects a–b–c and waits for that mesh.
func line(t testing.TB, a, b, c *tnode) {
	t.Helper()
	connect(t, a.h, b.h)
	connect(t, b.h, c.h)
	waitMesh(t, map[*tnode][]*tnode{a: {b}, b: {a, c}, c: {b}})
}

func publish(t testing.TB, n *tnode, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.g.Publish(ctx, testTopic, []byte(msg)); err != nil {
		t.Fatalf("publish %q: %v", msg, err)
	}
}

func hasEvent(r *events.Ring, typ string, match func(events.Event) bool) bool {
	for _, e := range r.Events() {
		if e.Type == typ && match(e) {
			return true
		}
	}
	return false
}

// randomGraph makes each node dial k random others (rng seeded with seed)
// and fails if the resulting graph is not connected, since a test over a
// partitioned graph would prove nothing.
func randomGraph(t testing.TB, ns []*tnode, k int, seed int64) {
	t.Helper()
	rng := mrand.New(mrand.NewSource(seed))
	adj := make([]map[int]bool, len(ns))
	for i := range adj {
		adj[i] = map[int]bool{}
	}
	for i := range ns {
		for added := 0; added < k; {
			j := rng.Intn(len(ns))
			if j == i || adj[i][j] {
				continue
			}
			adj[i][j], adj[j][i] = true, true
			connect(t, ns[i].h, ns[j].h)
			added++
		}
	}
	seen := map[int]bool{0: true}
	for queue := []int{0}; len(queue) > 0; queue = queue[1:] {
		for j := range adj[queue[0]] {
			if !seen[j] {
				seen[j] = true
				queue = append(queue, j)
			}
		}
	}
	if len(seen) != len(ns) {
		t.Fatalf("seeded graph is not connected (%d of %d reachable); change the seed", len(seen), len(ns))
	}
}
