package rtt

import (
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	relayclient "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	relay "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/web4p2p/web4p2p/internal/events"
)

// relayClientHost is a loopback TCP host with go-libp2p's Circuit Relay v2
// client (no hole punching, no AutoRelay); listen false gives it no
// address of its own, so it can be reached only through a relay.
func relayClientHost(t testing.TB, listen bool) host.Host {
	t.Helper()
	listenOpt := libp2p.NoListenAddrs
	if listen {
		listenOpt = libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0")
	}
	return buildHost(t, libp2p.EnableRelay(), libp2p.NoTransports, libp2p.Transport(tcp.NewTCPTransport), listenOpt)
}

// relayLab: a Circuit Relay v2 host r with the given per-connection
// limits, node a (listening on loopback) and node b (no address: it holds a
// reservation on r). a knows b only by b's circuit address through r.
func relayLab(t *testing.T, limit *relay.RelayLimit) (a, b *node) {
	t.Helper()
	rh := newHost(t, false)
	rs, err := relay.New(rh, relay.WithLimit(limit), relay.WithReservationAddressFilter(func(ma.Multiaddr) bool { return true }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	a = newNode(t, relayClientHost(t, true), testConfig())
	b = newNode(t, relayClientHost(t, false), testConfig())
	ctx := ctxT(t, 10*time.Second)
	rInfo := peer.AddrInfo{ID: rh.ID(), Addrs: rh.Addrs()}
	if err := b.h.Connect(ctx, rInfo); err != nil {
		t.Fatal(err)
	}
	if _, err := relayclient.Reserve(ctx, b.h, rInfo); err != nil {
		t.Fatalf("reserve on the relay: %v", err)
	}
	circuit, err := ma.NewMultiaddr(fmt.Sprintf("%s/p2p/%s/p2p-circuit", rh.Addrs()[0], rh.ID()))
	if err != nil {
		t.Fatal(err)
	}
	a.h.Peerstore().AddAddrs(b.h.ID(), []ma.Multiaddr{circuit}, peerstore.PermanentAddrTTL)
	return a, b
}

// onlyRelayed reports whether every open connection of h to p is limited.
func onlyRelayed(h host.Host, p peer.ID) bool {
	cs := h.Network().ConnsToPeer(p)
	for _, c := range cs {
		if !c.Stat().Limited {
			return false
		}
	}
	return len(cs) > 0
}

func relayedIs(want bool) func(events.Event) bool {
	return func(e events.Event) bool { return e.Data["relayed"] == want }
}

// Two hosts that reach each other only through a relay (a limited
// connection) get an RTT session over it. Then b opens a direct connection
// to a — the responder's side sees it first — and the dialer moves the
// session onto it: same session, web4.rtt.migrated on both sides, and
// messages sent before, during and after the move all arrive once, in
// order.
func TestSessionOverRelayMigratesToDirect(t *testing.T) {
	a, b := relayLab(t, &relay.RelayLimit{Duration: time.Minute, Data: 64 << 20})
	ta, tb := dialPair(t, a, b)
	if !onlyRelayed(a.h, b.h.ID()) {
		t.Fatalf("a's connections to b: %v, want only a relayed one", a.h.Network().ConnsToPeer(b.h.ID()))
	}
	if !ta.Telemetry().Relayed || !tb.Telemetry().Relayed {
		t.Fatal("session over the relay not reported as relayed")
	}
	waitEvent(t, a, time.Second, "web4.rtt.session_up", relayedIs(true))
	waitEvent(t, b, time.Second, "web4.rtt.session_up", relayedIs(true))

	ctx := ctxT(t, 30*time.Second)
	progress := make(chan uint64, 1)
	migrated := make(chan struct{})
	go func() {
		defer close(migrated)
		for n := uint64(0); n < 250; {
			select {
			case n = <-progress:
			case <-ctx.Done():
				t.Errorf("the receiver never got 250 messages on knowledge")
				return
			}
		}
		// As DCUtR does: a limited connection does not count as one.
		if err := b.h.Connect(network.WithForceDirectDial(ctx, "test"), peer.AddrInfo{ID: a.h.ID(), Addrs: a.h.Addrs()}); err != nil {
			t.Errorf("direct connect: %v", err)
			return
		}
		for _, n := range []*node{a, b} {
			if _, ok := n.ring.WaitFor(ctx.Done(), func(e events.Event) bool {
				return e.Type == "web4.rtt.migrated" && e.Data["session"] == ta.sid()
			}); !ok {
				t.Errorf("%s: no web4.rtt.migrated", n.h.ID())
			}
		}
	}()
	// The second half is sent only once the session has moved.
	if err := sendNumbered(ctx, ta, tb, 2000, 64, func() { <-migrated }, progress); err != nil {
		t.Fatal(err)
	}
	expectNoMore(t, ctx, tb)

	if a.s.Session(b.h.ID()) != ta || b.s.Session(a.h.ID()) != tb || ta.SessionID() != tb.SessionID() {
		t.Fatal("the session was replaced, not moved")
	}
	if ta.Telemetry().Relayed || tb.Telemetry().Relayed {
		t.Fatal("session still reported relayed after the move")
	}
	waitEvent(t, a, time.Second, "web4.rtt.resumed", relayedIs(false))
	if n := countType(a.ring, "web4.rtt.migrated") + countType(b.ring, "web4.rtt.migrated"); n != 2 {
		t.Fatalf("migrated events: %d, want one per side", n)
	}
	if n := countType(a.ring, "web4.rtt.handshake_failed") + countType(b.ring, "web4.rtt.handshake_failed"); n != 0 {
		t.Fatalf("%d failed handshakes during the move", n)
	}
}

// A relay that cuts the connection when its data limit is reached (16 KiB
// each way here; go-libp2p's default is 128 KiB) does not end the session:
// each cut is resumed over a new relayed connection, and 200 KiB per
// channel arrive once, in order.
func TestRelayCutsAreResumed(t *testing.T) {
	a, b := relayLab(t, &relay.RelayLimit{Duration: time.Minute, Data: 16 << 10})
	ta, tb := dialPair(t, a, b)
	ctx := ctxT(t, 20*time.Second)
	if err := sendNumbered(ctx, ta, tb, 400, 512, nil, nil); err != nil {
		t.Fatal(err)
	}
	expectNoMore(t, ctx, tb)
	resumes := ta.Telemetry().Reconnects
	t.Logf("resumes over the relay: %d, frames re-sent %d", resumes, ta.Telemetry().Resent)
	if resumes < 2 {
		t.Fatalf("resumes = %d: the relay's limit never cut the connection", resumes)
	}
	for _, e := range a.ring.Events() {
		if e.Type == "web4.rtt.resumed" && e.Data["relayed"] != true {
			t.Fatalf("a resume went over a direct connection: %v", e.Data)
		}
	}
	if countType(a.ring, "web4.rtt.migrated") != 0 {
		t.Fatal("migrated without a direct connection")
	}
}
