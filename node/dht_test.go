package node

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/internal/events"
)

// Two nodes of mesh "m" that only know a seed find each other through the
// DHT rendezvous namespace and connect; a node outside the mesh connects
// to one of them by bare PeerID (addresses from the DHT when it has none).
func TestMeshNodesFindEachOtherThroughTheDHT(t *testing.T) {
	lo := []string{"/ip4/127.0.0.1/tcp/0"}
	seed, _ := startNode(t, Config{ListenAddrs: lo, DHT: "server"})
	boot := []string{seed.Addrs()[0].String()}
	b, ringB := startNode(t, Config{ListenAddrs: lo, DHT: "server", Mesh: "m", Bootstrap: boot})
	c, _ := startNode(t, Config{ListenAddrs: lo, DHT: "server", Mesh: "m", Bootstrap: boot})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, ok := ringB.WaitFor(ctx.Done(), func(e events.Event) bool {
		return e.Type == "web4.discovery.mesh_member" && e.Subject == c.ID().String()
	}); !ok {
		t.Fatalf("b never found c in the mesh; events: %v", ringB.Events())
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for b.Host().Network().Connectedness(c.ID()) != network.Connected {
		select {
		case <-ctx.Done():
			t.Fatal("b found c but never connected")
		case <-tick.C:
		}
	}
	d, _ := startNode(t, Config{ListenAddrs: lo, DHT: "client", Bootstrap: boot})
	if err := d.Connect(ctx, peer.AddrInfo{ID: c.ID()}); err != nil {
		t.Fatalf("connect by PeerID through the DHT: %v", err)
	}
}

func TestConnectByPeerIDWithoutDHTSaysSo(t *testing.T) {
	lo := []string{"/ip4/127.0.0.1/tcp/0"}
	a, _ := startNode(t, Config{ListenAddrs: lo})
	b, _ := startNode(t, Config{ListenAddrs: lo})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := a.Connect(ctx, peer.AddrInfo{ID: b.ID()})
	if err == nil || !strings.Contains(err.Error(), "DHT is off") {
		t.Fatalf("err = %v, want the DHT-off explanation", err)
	}
}

func TestBadDHTConfigNamesTheField(t *testing.T) {
	for _, cfg := range []Config{{DHT: "bogus"}, {Mesh: "m"}} {
		cfg.DataDir = t.TempDir()
		if _, err := New(cfg); err == nil || (!strings.Contains(err.Error(), "dht") && !strings.Contains(err.Error(), "mesh")) {
			t.Fatalf("%+v: err = %v", cfg, err)
		}
	}
}
