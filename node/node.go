package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/lifecycle"
	"github.com/web4p2p/web4p2p/internal/metrics"
	"github.com/web4p2p/web4p2p/internal/store"
	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/node/a2a"
	"github.com/web4p2p/web4p2p/node/card"
	"github.com/web4p2p/web4p2p/node/discover"
	"github.com/web4p2p/web4p2p/node/human"
	"github.com/web4p2p/web4p2p/node/learn"
	"github.com/web4p2p/web4p2p/node/mesh"
	"github.com/web4p2p/web4p2p/node/peers"
	"github.com/web4p2p/web4p2p/node/reconcile"
	"github.com/web4p2p/web4p2p/protocols/router"
	"github.com/web4p2p/web4p2p/trust"
)

// ErrClosed is returned by operations on a closed node.
var ErrClosed = errors.New("node closed")

// Node is one running agent node.
type Node struct {
	cfg    Config
	parsed parsed
	key    crypto.PrivKey
	edKey  ed25519.PrivateKey
	id     peer.ID
	fp     string
	reg    *prometheus.Registry
	em     *events.Emitter
	jsonl  *events.RotatingFile
	broker *events.Broker

	// mu guards the lifecycle flags and the fields Start sets for
	// accessors (host, db, apiAddr, startAt). It is a leaf: never held
	// while building, starting or closing anything.
	mu        sync.Mutex
	starting  bool
	started   bool
	closed    bool
	startDone chan struct{} // closed when Start returns
	closeDone chan struct{} // closed when Close has finished
	host      host.Host
	dht       *discover.Runtime // nil unless Config.DHT is set
	db        *store.DB
	apiAddr   string
	startAt   time.Time

	// group runs every goroutine of the node and its runtimes; closers
	// run in reverse order after it has stopped. Both belong to the
	// goroutine running Start, then to the one running Close.
	group   *lifecycle.Group
	closers []func() error

	// rt holds the runtimes, published once all are built.
	rt atomic.Pointer[runtimes]
}

// runtimes are the node's components, built by Start.
type runtimes struct {
	trust     *trust.Ledger
	router    *router.Router
	knowledge *knowledge.Store
	peers     *peers.Runtime
	mesh      *mesh.Runtime
	human     *human.Runtime
	learn     *learn.Runtime
	reconcile *reconcile.Runtime
	a2a       *a2a.Gateway
	a2aLink   *a2a.Binding
	cards     *card.Service
}

// New validates cfg and loads (or creates) the identity. It opens no socket.
func New(cfg Config) (*Node, error) {
	cfg.fill()
	p, err := cfg.parse()
	if err != nil {
		return nil, err
	}
	key := cfg.Identity
	if key == nil {
		key, _, err = LoadOrCreateIdentity(cfg.DataDir, nil)
		if err != nil {
			return nil, err
		}
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIdentity, err)
	}
	rawKey, err := key.Raw()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIdentity, err)
	}
	edKey, err := edKeyOf(rawKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIdentity, err)
	}
	if cfg.AgentID == "" {
		s := id.String()
		cfg.AgentID = "agent-" + s[len(s)-8:]
	}
	n := &Node{cfg: cfg, parsed: p, key: key, edKey: edKey, id: id, reg: metrics.NewRegistry(), closeDone: make(chan struct{})}
	if n.fp, err = FingerprintOf(id); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIdentity, err)
	}
	n.registerStateGauges()
	// The broker keeps recent events for the control API (recent list,
	// SSE resume).
	n.broker = events.NewBroker(eventsRetained)
	sinks := events.Fanout(append([]events.Sink{n.broker}, cfg.Sinks...))
	if cfg.EventsFile != "" {
		// A failed rotation is an event (which the file then gets too)
		// and the node goes on writing to the file it has open.
		jl, err := events.OpenRotatingFile(cfg.EventsFile, cfg.EventsFileMaxBytes, cfg.EventsFileKeep, func(err error) {
			n.em.Error("events", "rotate_failed", cfg.EventsFile, err, nil)
		})
		if err != nil {
			return nil, err
		}
		n.jsonl = jl
		sinks = append(sinks, jl)
	}
	n.em = events.NewEmitter(id.String(), metrics.NewCounted(n.reg, sinks), cfg.Now)
	return n, nil
}

// eventsRetained is how many recent events the node keeps for the control
// API's recent list and SSE resume.
const eventsRetained = 4096

// edKeyOf converts the libp2p identity to a crypto/ed25519 key.
func edKeyOf(raw []byte) (ed25519.PrivateKey, error) {
	if len(raw) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("identity: want a %d-byte Ed25519 key, got %d bytes", ed25519.PrivateKeySize, len(raw))
	}
	return ed25519.PrivateKey(raw), nil
}

// Start builds everything — store, trust ledger, host, router, validators,
// knowledge store and the runtimes — then opens the doors: connection
// notifications, the RTT stream handlers, the GossipSub topics, the control
// API and discovery, in that order, so nothing from outside reaches a
// component that is not built. ctx bounds only the start-up; the node runs
// until Close. A failed Start leaves nothing running.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	switch {
	case n.closed:
		n.mu.Unlock()
		return ErrClosed
	case n.starting || n.started:
		n.mu.Unlock()
		return errors.New("node already started")
	}
	n.starting = true
	n.startDone = make(chan struct{})
	n.mu.Unlock()
	defer close(n.startDone)

	err := n.start(ctx)
	n.mu.Lock()
	if err == nil && n.closed {
		err = ErrClosed // Close came while starting; it waits for us
	}
	if err == nil {
		n.started, n.startAt = true, n.cfg.Now()
	}
	n.mu.Unlock()
	if err != nil {
		_ = n.teardown()
		return err
	}
	addrs := make([]string, 0)
	for _, a := range n.Addrs() {
		addrs = append(addrs, a.String())
	}
	n.em.Emit("web4.node.started", n.id.String(), map[string]any{"agent_id": n.cfg.AgentID, "addrs": addrs})
	return nil
}

func (n *Node) start(ctx context.Context) error {
	n.group = lifecycle.New(context.Background())
	db, err := n.openStore()
	if err != nil {
		return err
	}
	ledger, err := n.openTrust(db)
	if err != nil {
		return err
	}
	h, err := buildHost(n.key, n.parsed.listen, n.parsed.bootstrap, &n.cfg, n.reg, gater{trust: ledger, em: n.em, deny: n.cfg.Deny})
	if err != nil {
		return err
	}
	n.closers = append(n.closers, h.Close)
	n.mu.Lock()
	n.host, n.db = h, db
	n.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	rt, err := n.build(h, db, ledger)
	if err != nil {
		return err
	}
	n.rt.Store(rt)
	if err := ctx.Err(); err != nil {
		return err
	}
	return n.open(ctx, h, rt)
}

// openStore opens the embedded store in the data directory (a throw-away
// directory for a node without one, as in tests with an injected identity).
func (n *Node) openStore() (*store.DB, error) {
	dbPath := filepath.Join(n.cfg.DataDir, store.FileName)
	if n.cfg.DataDir == "" {
		tmp, err := os.MkdirTemp("", "web4p2p-node-")
		if err != nil {
			return nil, err
		}
		n.closers = append(n.closers, func() error { return os.RemoveAll(tmp) })
		dbPath = filepath.Join(tmp, store.FileName)
	}
	db, err := store.Open(dbPath)
	if err != nil {
		return nil, err
	}
	n.closers = append(n.closers, db.Close)
	return db, nil
}

// Close stops discovery and the runtimes, closes the host and the store, and
// waits for every goroutine the node started. Idempotent: a second Close
// waits for the first.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		<-n.closeDone
		return nil
	}
	n.closed = true
	startDone := n.startDone
	n.mu.Unlock()
	defer close(n.closeDone)
	if startDone != nil {
		<-startDone // a Start in flight finishes first (and tears down)
	}
	n.mu.Lock()
	started := n.started
	n.mu.Unlock()
	var err error
	if started {
		n.group.Close()
		n.em.Emit("web4.node.stopped", n.id.String(), nil)
		err = n.teardown()
	}
	n.broker.Close()
	if n.jsonl != nil {
		if cerr := n.jsonl.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// teardown stops every goroutine, then runs the closers last-in first-out.
func (n *Node) teardown() error {
	if n.group != nil {
		n.group.Close()
	}
	var errs []error
	for i := len(n.closers) - 1; i >= 0; i-- {
		if err := n.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	n.closers = nil
	return errors.Join(errs...)
}

// Fingerprint returns the node's SPEC §1 fingerprint.
func (n *Node) Fingerprint() string { return n.fp }

// Broker returns the node's event broker (live subscribers, recent events).
func (n *Node) Broker() *events.Broker { return n.broker }

// ID returns the node's PeerID.
func (n *Node) ID() peer.ID { return n.id }

// Key returns the node's private key (the libp2p identity and the envelope
// signing key, SPEC §1).
func (n *Node) Key() crypto.PrivKey { return n.key }

// AgentID returns the operator-chosen agent name.
func (n *Node) AgentID() string { return n.cfg.AgentID }

// Config returns the effective configuration.
func (n *Node) Config() Config { return n.cfg }

// Events returns the node's event emitter.
func (n *Node) Events() *events.Emitter { return n.em }

// Registry returns the node's Prometheus registry (ours and go-libp2p's).
func (n *Node) Registry() *prometheus.Registry { return n.reg }

// Host returns the libp2p host (nil before Start).
func (n *Node) Host() host.Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.host
}

// Store returns the embedded store (nil before Start).
func (n *Node) Store() *store.DB {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.db
}

// APIAddr returns the bound control API address ("" if none).
func (n *Node) APIAddr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.apiAddr
}

// Uptime since Start.
func (n *Node) Uptime() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.started {
		return 0
	}
	return n.cfg.Now().Sub(n.startAt)
}

// Addrs returns the listen addresses with the /p2p/<id> suffix, the form
// another node passes as --bootstrap.
func (n *Node) Addrs() []ma.Multiaddr {
	h := n.Host()
	if h == nil {
		return nil
	}
	out, _ := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()})
	return out
}

// Connect dials a peer by AddrInfo.
func (n *Node) Connect(ctx context.Context, ai peer.AddrInfo) error {
	h := n.Host()
	if h == nil {
		return errors.New("node not started")
	}
	ai, err := n.findAddrs(ctx, ai)
	if err != nil {
		return err
	}
	if err := h.Connect(ctx, ai); err != nil {
		return fmt.Errorf("connect %s: %w", ai.ID, err)
	}
	return nil
}

// ConnectAddr dials a multiaddr ending in /p2p/<PeerID>.
func (n *Node) ConnectAddr(ctx context.Context, addr string) (peer.ID, error) {
	ai, err := peer.AddrInfoFromString(addr)
	if err != nil {
		return "", fmt.Errorf("%w: %q must be a multiaddr ending in /p2p/<PeerID>: %v", ErrConfig, addr, err)
	}
	return ai.ID, n.Connect(ctx, *ai)
}

// The runtimes. Each is nil before Start has built it.

func (n *Node) runtimes() *runtimes {
	if rt := n.rt.Load(); rt != nil {
		return rt
	}
	return &runtimes{}
}

// Trust returns the trust ledger (SPEC §5).
func (n *Node) Trust() *trust.Ledger { return n.runtimes().trust }

// Router returns the routing matrix (SPEC §9).
func (n *Node) Router() *router.Router { return n.runtimes().router }

// Knowledge returns the fact store (SPEC §8).
func (n *Node) Knowledge() *knowledge.Store { return n.runtimes().knowledge }

// Peers returns the direct-peer runtime: RTT sessions, CIP, INTENT, the
// application channels (SPEC §2, §4).
func (n *Node) Peers() *peers.Runtime { return n.runtimes().peers }

// Mesh returns the GossipSub runtime: fact consensus and trust propagation
// (SPEC §5, §8).
func (n *Node) Mesh() *mesh.Runtime { return n.runtimes().mesh }

// Human returns the HCP runtime and the AgentLoop (SPEC §6, §10).
func (n *Node) Human() *human.Runtime { return n.runtimes().human }

// Reconcile returns the anti-entropy runtime (/web4/sync/1.0).
func (n *Node) Reconcile() *reconcile.Runtime { return n.runtimes().reconcile }

// LIP returns the LIP runtime (SPEC §7).
func (n *Node) LIP() *learn.Runtime { return n.runtimes().learn }
