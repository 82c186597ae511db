package discover

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		goleak.IgnoreTopFunction("github.com/libp2p/go-libp2p/p2p/transport/quicreuse.(*reuse).gc"),
		// kad-dht's and go-libp2p's package-level caches.
		goleak.IgnoreAnyFunction("go.opencensus.io/stats/view.(*worker).start"),
		goleak.IgnoreAnyFunction("github.com/ipfs/go-log/writer.(*MirrorWriter).logRoutine"),
	)
}

// hostDeps connects with the plain host and counts connections made.
type hostDeps struct {
	h     host.Host
	found chan peer.ID
}

func (d hostDeps) Connect(ctx context.Context, ai peer.AddrInfo) error {
	if err := d.h.Connect(ctx, ai); err != nil {
		return err
	}
	select {
	case d.found <- ai.ID:
	default:
	}
	return nil
}

func (hostDeps) Emit(string, string, map[string]any) {}

func newHost(t *testing.T) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay(), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func start(t *testing.T, h host.Host, seed host.Host, mesh string) (*Runtime, chan peer.ID) {
	t.Helper()
	var boot []peer.AddrInfo
	if seed != nil {
		boot = []peer.AddrInfo{{ID: seed.ID(), Addrs: seed.Addrs()}}
	}
	found := make(chan peer.ID, 16)
	r, err := New(h, boot, Config{Mode: ModeServer, Mesh: mesh, FindInterval: time.Second}, hostDeps{h, found})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	if seed != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.Connect(ctx, boot[0]); err != nil {
			t.Fatal(err)
		}
	}
	return r, found
}

// Two members of a mesh that only know a seed find each other through the
// rendezvous namespace and connect; a third node finds a member's
// addresses by PeerID.
func TestMeshMembersFindEachOtherThroughTheDHT(t *testing.T) {
	seed, a, b, c := newHost(t), newHost(t), newHost(t), newHost(t)
	start(t, seed, nil, "")
	ra, _ := start(t, a, seed, "m1")
	rb, _ := start(t, b, seed, "m1")
	rc, _ := start(t, c, seed, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !slices.Contains(ra.Members(), b.ID()) || !slices.Contains(rb.Members(), a.ID()) {
		select {
		case <-ctx.Done():
			t.Fatalf("a and b never found each other in the mesh namespace: %v %v", ra.Members(), rb.Members())
		case <-tick.C:
		}
	}
	if a.Network().Connectedness(b.ID()) != network.Connected {
		t.Fatal("mesh members found but not connected")
	}
	if slices.Contains(ra.Members(), c.ID()) {
		t.Fatal("c is not in the mesh but was found in it")
	}
	ai, err := rc.FindPeer(ctx, b.ID())
	if err != nil || len(ai.Addrs) == 0 {
		t.Fatalf("find b: %v %v", ai, err)
	}
	if err := rc.Close(); err != nil || rc.Close() != nil {
		t.Fatalf("close: %v", err)
	}
}

func TestUnknownModeIsRefused(t *testing.T) {
	if _, err := New(newHost(t), nil, Config{Mode: "bogus"}, nil); !errors.Is(err, ErrMode) {
		t.Fatalf("err = %v, want ErrMode", err)
	}
}
