package node

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"

	"github.com/web4p2p/web4p2p/node/discover"
)

// startDiscovery starts mDNS (if on), the bootstrap dialers and the DHT
// (if Config.DHT names a mode).
// mDNS failing to start (no multicast-capable interface, as in a sandbox)
// is reported as an event and the node continues without it.
func (n *Node) startDiscovery() error {
	if n.cfg.DHT != "" {
		d, err := discover.New(n.host, n.parsed.bootstrap, discover.Config{Mode: n.cfg.DHT, Mesh: n.cfg.Mesh, Namespaces: n.capabilityNamespaces()}, discoverDeps{n})
		if err != nil {
			return err
		}
		n.closers = append(n.closers, d.Close)
		if err := d.Start(); err != nil {
			return err
		}
		n.mu.Lock()
		n.dht = d
		n.mu.Unlock()
		n.em.Emit("web4.discovery.dht_started", n.id.String(), map[string]any{"mode": n.cfg.DHT, "mesh": n.cfg.Mesh, "protocol": discover.ProtocolPrefix + "/kad/1.0.0"})
	}
	if n.cfg.MDNS {
		svc := mdns.NewMdnsService(n.host, n.cfg.MDNSService, mdnsNotifee{n})
		if err := svc.Start(); err != nil {
			n.em.Emit("web4.discovery.mdns_unavailable", n.id.String(), map[string]any{
				"detail": err.Error(), "hint": "continuing without mDNS; use --bootstrap"})
		} else {
			n.closers = append(n.closers, svc.Close)
			n.em.Emit("web4.discovery.mdns_started", n.id.String(), map[string]any{"service": n.cfg.MDNSService})
		}
	}
	for _, ai := range n.parsed.bootstrap {
		if ai.ID == n.id {
			continue
		}
		n.group.Go(func(ctx context.Context) { n.keepBootstrap(ctx, ai) })
	}
	return nil
}

// discoverDeps is node/discover's view of the node.
type discoverDeps struct{ n *Node }

func (d discoverDeps) Connect(ctx context.Context, ai peer.AddrInfo) error {
	return d.n.Connect(ctx, ai)
}

func (d discoverDeps) Emit(typ, subject string, data map[string]any) {
	d.n.em.Emit(typ, subject, data)
}

// findAddrs fills in a peer's addresses from the DHT when neither the
// caller nor the peerstore knows any.
func (n *Node) findAddrs(ctx context.Context, ai peer.AddrInfo) (peer.AddrInfo, error) {
	if len(ai.Addrs) > 0 || len(n.host.Peerstore().Addrs(ai.ID)) > 0 {
		return ai, nil
	}
	n.mu.Lock()
	d := n.dht
	n.mu.Unlock()
	if d == nil {
		return ai, fmt.Errorf("connect %s: no known addresses and the DHT is off (give a multiaddr ending in /p2p/<PeerID>, or start with --dht)", ai.ID)
	}
	found, err := d.FindPeer(ctx, ai.ID)
	if err != nil {
		return ai, err
	}
	n.em.Emit("web4.discovery.peer_found", ai.ID.String(), map[string]any{"via": "dht", "addrs": len(found.Addrs)})
	return found, nil
}

type mdnsNotifee struct{ n *Node }

// HandlePeerFound is called by the mDNS service for each discovered peer.
func (m mdnsNotifee) HandlePeerFound(ai peer.AddrInfo) {
	n := m.n
	if ai.ID == n.id {
		return
	}
	n.em.Emit("web4.discovery.peer_found", ai.ID.String(), map[string]any{"via": "mdns"})
	n.group.Go(func(ctx context.Context) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := n.Connect(cctx, ai); err != nil && ctx.Err() == nil {
			n.em.Emit("web4.discovery.dial_failed", ai.ID.String(), map[string]any{"via": "mdns", "detail": err.Error()})
		}
	})
}

// keepBootstrap dials a bootstrap peer until connected, with exponential
// backoff and jitter, and redials when the connection is lost.
func (n *Node) keepBootstrap(ctx context.Context, ai peer.AddrInfo) {
	backoff := n.cfg.BootstrapRetryMin
	attempt := 0
	for {
		if n.host.Network().Connectedness(ai.ID) != network.Connected {
			attempt++
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := n.Connect(cctx, ai)
			cancel()
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				n.em.Emit("web4.discovery.bootstrap_failed", ai.ID.String(), map[string]any{
					"attempt": attempt, "retry_in": backoff.String(), "detail": err.Error()})
				jitter := time.Duration(rand.Int64N(int64(backoff)/2 + 1))
				if !waitCtx(ctx, backoff/2+jitter) {
					return
				}
				backoff = min(backoff*2, n.cfg.BootstrapRetryMax)
				continue
			}
			n.em.Emit("web4.discovery.bootstrap_connected", ai.ID.String(), map[string]any{"attempt": attempt})
			attempt = 0
			backoff = n.cfg.BootstrapRetryMin
		}
		if !waitCtx(ctx, n.cfg.BootstrapRetryMax/6+time.Second) {
			return
		}
	}
}

func waitCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
