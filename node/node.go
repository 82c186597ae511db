package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/metrics"
	"github.com/web4p2p/web4p2p/internal/store"
	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/node/gossip"
	"github.com/web4p2p/web4p2p/node/rtt"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/envelope"
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
	reg    *prometheus.Registry
	em     *events.Emitter
	jsonl  *events.JSONLines

	mu      sync.Mutex
	started bool
	closed  bool
	host    host.Host
	db      *store.DB
	mdns    interface{ Close() error }
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closers []func() error // run in reverse order by Close
	startAt time.Time

	rttCfg rtt.Config
	rtt    *rtt.Service
	sess   sessions
	trust  *trust.Ledger
	fp     string
	broker *events.Broker
	peers  peerTable

	replay          *envelope.ReplayCache
	router          *router.Router
	validator       *envelope.Validator
	gossipValidator *envelope.Validator
	knowledge       *knowledge.Store
	gossip          *gossip.Gossip
	attestBook      *trust.AttestationBook
	detector        *trust.Detector

	intentWaiters sync.Map // msg_id of a sent INTENT → chan cip.IntentReply
	// intentHook, if set, decides INTENT requests when not overloaded
	// (the AgentLoop plugs in here).
	intentHook func(ctx context.Context, from string, req cip.IntentRequest) (cip.Decision, string)

	// lip is the LIP runtime (fetcher, extractors, tiers, liminal queue);
	// see lip.go.
	lip *lipRuntime
	// human is the HCP runtime (consent gate, pacing, human key) and the
	// AgentLoop; see human.go.
	human *humanRuntime

	apiRoutes []apiRoute
	apiAddr   string
	// loadOverride, when set (tests, the demo), replaces the measured LRI.
	loadOverride func() int
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
	n := &Node{cfg: cfg, parsed: p, key: key, edKey: edKey, id: id, reg: metrics.NewRegistry(), rttCfg: cfg.RTT}
	if n.rttCfg.HandshakeTimeout == 0 {
		n.rttCfg = rtt.DefaultConfig()
	}
	if n.fp, err = FingerprintOf(id); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIdentity, err)
	}
	// The broker keeps recent events for the control API (recent list,
	// SSE resume).
	n.broker = events.NewBroker(eventsRetained)
	sinks := events.Fanout(append([]events.Sink{n.broker}, cfg.Sinks...))
	if cfg.EventsFile != "" {
		jl, err := events.OpenJSONLinesFile(cfg.EventsFile)
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

// Store returns the embedded store (nil before Start, or for a node without
// a data directory).
func (n *Node) Store() *store.DB {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.db
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

// Start opens the store, builds the host and starts discovery. ctx bounds
// only the start-up itself; the node runs until Close.
func (n *Node) Start(ctx context.Context) (err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	if n.started {
		return errors.New("node already started")
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			n.cancel()
			n.runClosersLocked()
		}
	}()
	dbPath := filepath.Join(n.cfg.DataDir, store.FileName)
	if n.cfg.DataDir == "" {
		// A node without a data dir (tests with an injected identity)
		// still persists, in a throw-away directory.
		tmp, err := os.MkdirTemp("", "web4p2p-node-")
		if err != nil {
			return err
		}
		n.closers = append(n.closers, func() error { return os.RemoveAll(tmp) })
		dbPath = filepath.Join(tmp, store.FileName)
	}
	db, err := store.Open(dbPath)
	if err != nil {
		return err
	}
	n.db = db
	n.closers = append(n.closers, db.Close)
	if err := n.openTrust(); err != nil {
		return err
	}
	h, err := buildHost(n.key, n.parsed.listen, &n.cfg, n.reg, gater{n})
	if err != nil {
		return err
	}
	n.host = h
	n.closers = append(n.closers, h.Close)
	h.Network().Notify(&network.NotifyBundle{
		ConnectedF: func(_ network.Network, c network.Conn) {
			n.em.Emit("web4.node.peer_connected", c.RemotePeer().String(), map[string]any{
				"addr": c.RemoteMultiaddr().String(), "direction": c.Stat().Direction.String()})
		},
		DisconnectedF: func(_ network.Network, c network.Conn) {
			n.em.Emit("web4.node.peer_disconnected", c.RemotePeer().String(), map[string]any{
				"addr": c.RemoteMultiaddr().String()})
		},
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := n.startProtocols(); err != nil {
		return err
	}
	// The human runtime sets the intent hook and presence source that the
	// session and LIP goroutines started below read.
	if err := n.startHuman(); err != nil {
		return err
	}
	if err := n.startRTT(); err != nil {
		return err
	}
	if err := n.startMesh(ctx); err != nil {
		return err
	}
	if err := n.startLIP(); err != nil {
		return err
	}
	if err := n.startAPI(); err != nil {
		return err
	}
	n.startDiscoveryLocked()
	n.started = true
	n.startAt = n.cfg.Now()
	addrs := make([]string, 0)
	for _, a := range n.addrsLocked() {
		addrs = append(addrs, a.String())
	}
	n.em.Emit("web4.node.started", n.id.String(), map[string]any{"agent_id": n.cfg.AgentID, "addrs": addrs})
	return nil
}

func (n *Node) addrsLocked() []ma.Multiaddr {
	out, _ := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()})
	return out
}

// Go runs fn on a goroutine tracked by the node: Close cancels ctx and waits
// for it.
func (n *Node) Go(fn func(ctx context.Context)) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		fn(n.ctx)
	}()
}

// Context is cancelled when the node closes.
func (n *Node) Context() context.Context {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ctx == nil {
		return context.Background()
	}
	return n.ctx
}

// Connect dials a peer by AddrInfo.
func (n *Node) Connect(ctx context.Context, ai peer.AddrInfo) error {
	h := n.Host()
	if h == nil {
		return errors.New("node not started")
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

// Close stops discovery and the runtimes, closes the host and the store, and
// waits for every goroutine the node started. Idempotent.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	started := n.started
	cancel := n.cancel
	n.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	n.wg.Wait()
	if started {
		n.em.Emit("web4.node.stopped", n.id.String(), nil)
	}
	n.mu.Lock()
	err := n.runClosersLocked()
	n.mu.Unlock()
	n.broker.Close()
	if n.jsonl != nil {
		if cerr := n.jsonl.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

func (n *Node) runClosersLocked() error {
	var errs []error
	for i := len(n.closers) - 1; i >= 0; i-- {
		if err := n.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	n.closers = nil
	return errors.Join(errs...)
}
