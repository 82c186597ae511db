// Package discover is the node's wide-area discovery runtime (SPEC §2.2):
// a Kademlia DHT under the private protocol prefix /web4 (so it never joins
// the IPFS DHT), seeded by the bootstrap peers, used to find a peer's
// addresses by PeerID and, with a mesh name, to find the other members of
// the mesh through a DHT rendezvous namespace.
package discover

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/discovery"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"
)

// ProtocolPrefix is the DHT's protocol prefix: its protocol is
// /web4/kad/1.0.0.
const ProtocolPrefix = "/web4"

// NamespacePrefix prefixes the mesh name in the rendezvous namespace.
const NamespacePrefix = "web4/mesh/"

// Modes of the DHT.
const (
	ModeAuto   = "auto"   // server once AutoNAT finds the node reachable
	ModeServer = "server" // always answer DHT queries
	ModeClient = "client" // only query
)

// Config configures the runtime.
type Config struct {
	// Mode is auto, server or client (default auto).
	Mode string
	// Mesh, if set, is advertised and searched in the rendezvous
	// namespace web4/mesh/<Mesh>.
	Mesh string
	// FindInterval is how often mesh members are looked up (default 10 s).
	FindInterval time.Duration
	// Namespaces are advertised too (provider records re-advertised
	// before their TTL), e.g. web4/capability/<name> for each capability
	// the node declares (node/card).
	Namespaces []string
}

// Deps is what the runtime needs from the node.
type Deps interface {
	// Connect dials a found peer (the node's gated, evented connect).
	Connect(ctx context.Context, ai peer.AddrInfo) error
	// Emit reports an event about subject.
	Emit(typ, subject string, data map[string]any)
}

// ErrMode marks an unknown DHT mode.
var ErrMode = errors.New("discover: mode must be auto, server or client")

// Runtime is the running DHT and mesh rendezvous.
type Runtime struct {
	h      host.Host
	d      *dht.IpfsDHT
	disc   *drouting.RoutingDiscovery
	cfg    Config
	deps   Deps
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	mu      sync.Mutex
	members map[peer.ID]bool
}

// Members are the peers found in the mesh namespace so far.
func (r *Runtime) Members() []peer.ID {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]peer.ID, 0, len(r.members))
	for p := range r.members {
		out = append(out, p)
	}
	return out
}

func modeOpt(m string) (dht.ModeOpt, error) {
	switch m {
	case "", ModeAuto:
		return dht.ModeAuto, nil
	case ModeServer:
		return dht.ModeServer, nil
	case ModeClient:
		return dht.ModeClient, nil
	}
	return 0, fmt.Errorf("%w (got %q)", ErrMode, m)
}

// New creates the DHT on h, seeded by bootstrap; Start runs it.
func New(h host.Host, bootstrap []peer.AddrInfo, cfg Config, deps Deps) (*Runtime, error) {
	mode, err := modeOpt(cfg.Mode)
	if err != nil {
		return nil, err
	}
	if cfg.FindInterval == 0 {
		cfg.FindInterval = 10 * time.Second
	}
	d, err := dht.New(h, dht.ProtocolPrefix(ProtocolPrefix), dht.Mode(mode), dht.BootstrapPeers(bootstrap...))
	if err != nil {
		return nil, fmt.Errorf("dht: %w", err)
	}
	return &Runtime{h: h, d: d, disc: drouting.NewRoutingDiscovery(d), cfg: cfg, deps: deps, cancel: func() {}, members: map[peer.ID]bool{}}, nil
}

// DHT is the underlying DHT (content routing for capability discovery).
func (r *Runtime) DHT() *dht.IpfsDHT { return r.d }

// Start bootstraps the DHT and, with a mesh name, advertises this node in
// the mesh namespace and connects to the members it finds, until Close.
func (r *Runtime) Start() error {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	if err := r.d.Bootstrap(ctx); err != nil {
		return fmt.Errorf("dht bootstrap: %w", err)
	}
	for _, ns := range r.cfg.Namespaces {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.advertise(ctx, ns)
		}()
	}
	if r.cfg.Mesh == "" {
		return nil
	}
	ns := NamespacePrefix + r.cfg.Mesh
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		r.advertise(ctx, ns)
	}()
	go func() {
		defer r.wg.Done()
		r.findLoop(ctx, ns)
	}()
	return nil
}

// findLoop looks up the mesh namespace every FindInterval (at once first,
// then faster while nothing is found) and connects to members not yet
// connected.
func (r *Runtime) findLoop(ctx context.Context, ns string) {
	interval := time.Second
	for {
		found := r.findOnce(ctx, ns)
		if found > 0 {
			interval = r.cfg.FindInterval
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

func (r *Runtime) findOnce(ctx context.Context, ns string) int {
	fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	ch, err := r.disc.FindPeers(fctx, ns)
	if err != nil {
		return 0
	}
	n := 0
	for ai := range ch {
		if ai.ID == r.h.ID() {
			continue
		}
		n++
		r.mu.Lock()
		first := !r.members[ai.ID]
		r.members[ai.ID] = true
		r.mu.Unlock()
		if first {
			r.deps.Emit("web4.discovery.mesh_member", ai.ID.String(), map[string]any{"mesh": r.cfg.Mesh})
		}
		if r.h.Network().Connectedness(ai.ID) == network.Connected {
			continue
		}
		r.deps.Emit("web4.discovery.peer_found", ai.ID.String(), map[string]any{"via": "dht", "mesh": r.cfg.Mesh})
		cctx, ccancel := context.WithTimeout(ctx, 15*time.Second)
		if err := r.deps.Connect(cctx, ai); err != nil && ctx.Err() == nil {
			r.deps.Emit("web4.discovery.dial_failed", ai.ID.String(), map[string]any{"via": "dht", "detail": err.Error()})
		}
		ccancel()
	}
	return n
}

// advertise advertises this node under ns until ctx ends: at once
// (retried with backoff while the routing table is empty or the DHT
// refuses), then again before the record's TTL runs out. Unlike
// go-libp2p's discovery/util.Advertise it runs on the caller's goroutine,
// so Close waits for it. The first success is the event
// web4.discovery.advertised {namespace, ttl}.
func (r *Runtime) advertise(ctx context.Context, ns string) {
	retry := advertiseRetryMin
	first := true
	for {
		wait := retry
		ttl, err := r.disc.Advertise(ctx, ns)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			retry = min(retry*2, advertiseRetryMax)
		default:
			retry = advertiseRetryMin
			wait = 7 * ttl / 8
			if first {
				first = false
				r.deps.Emit("web4.discovery.advertised", r.h.ID().String(), map[string]any{"namespace": ns, "ttl": ttl.String()})
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Bounds of the advertise retry backoff.
const (
	advertiseRetryMin = 250 * time.Millisecond
	advertiseRetryMax = 30 * time.Second
)

// FindProviders streams the peers advertising ns (at most limit), waiting
// first (until ctx ends) for the routing table to have a peer when the
// node has just started. The channel is closed when the lookup ends.
func (r *Runtime) FindProviders(ctx context.Context, ns string, limit int) (<-chan peer.AddrInfo, error) {
	if err := r.waitRoutable(ctx); err != nil {
		return nil, fmt.Errorf("dht: find %s: no DHT peer reachable yet (bootstrap peers down?): %w", ns, err)
	}
	ch, err := r.disc.FindPeers(ctx, ns, discovery.Limit(limit))
	if err != nil {
		return nil, fmt.Errorf("dht: find %s: %w", ns, err)
	}
	return ch, nil
}

// FindPeer looks up id's addresses in the DHT, waiting (until ctx ends)
// for the routing table to have a peer when the node has just started.
func (r *Runtime) FindPeer(ctx context.Context, id peer.ID) (peer.AddrInfo, error) {
	if err := r.waitRoutable(ctx); err != nil {
		return peer.AddrInfo{}, fmt.Errorf("dht: find peer %s: no DHT peer reachable yet (bootstrap peers down?): %w", id, err)
	}
	ai, err := r.d.FindPeer(ctx, id)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("dht: find peer %s: %w", id, err)
	}
	return ai, nil
}

// waitRoutable waits until the routing table holds a peer.
func (r *Runtime) waitRoutable(ctx context.Context) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for r.d.RoutingTable().Size() == 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Close stops the loops and the DHT; idempotent.
func (r *Runtime) Close() error {
	var err error
	r.once.Do(func() {
		r.cancel()
		r.wg.Wait()
		err = r.d.Close()
	})
	return err
}
