package rtt

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/web4p2p/web4p2p/internal/events"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newHost builds a loopback libp2p host: Ed25519, Noise, yamux, TCP (or
// QUIC), explicit listen address, nothing else.
func newHost(t testing.TB, useQUIC bool) host.Host {
	t.Helper()
	if useQUIC {
		return buildHost(t, libp2p.DisableRelay(), libp2p.NoTransports, libp2p.Transport(quic.NewTransport), libp2p.ListenAddrStrings("/ip4/127.0.0.1/udp/0/quic-v1"))
	}
	return buildHost(t, libp2p.DisableRelay(), libp2p.NoTransports, libp2p.Transport(tcp.NewTCPTransport), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
}

// buildHost builds a host with a fresh Ed25519 key, Noise, yamux, no
// metrics, and opts; it is closed when the test ends.
func buildHost(t testing.TB, opts ...libp2p.Option) host.Host {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	base := []libp2p.Option{
		libp2p.Identity(k),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.DisableMetrics(),
	}
	h, err := libp2p.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// sendNumbered sends total numbered messages of size bytes ta → tb on
// every channel and checks that tb receives each exactly once, in order.
// hold, if set, runs (once) before message total/2 is sent and may block;
// progress, if set (buffered), holds the latest count received on
// knowledge, never blocking the receiver.
func sendNumbered(ctx context.Context, ta, tb *Transport, total uint64, size int, hold func(), progress chan uint64) error {
	var wg sync.WaitGroup
	var holdOnce sync.Once
	errs := make(chan error, 2*numChannels)
	for _, ch := range Channels {
		wg.Add(2)
		go func() {
			defer wg.Done()
			buf := make([]byte, size)
			for n := uint64(1); n <= total; n++ {
				if n == total/2 && hold != nil {
					holdOnce.Do(hold)
				}
				binary.BigEndian.PutUint64(buf, n)
				if err := ta.Send(ctx, ch, buf); err != nil {
					errs <- fmt.Errorf("%s: send %d: %w", ch, n, err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for want := uint64(1); want <= total; want++ {
				got, err := tb.Receive(ctx, ch)
				if err != nil {
					errs <- fmt.Errorf("%s: receive %d: %w", ch, want, err)
					return
				}
				if n := binary.BigEndian.Uint64(got); n != want {
					errs <- fmt.Errorf("%s: got message %d, want %d (lost, duplicate or reordered)", ch, n, want)
					return
				}
				if ch == Knowledge && progress != nil {
					// Keep the latest count in the buffer: a reader that
					// falls behind must still see the count grow.
					select {
					case progress <- want:
					default:
						select {
						case <-progress:
						default:
						}
						select {
						case progress <- want:
						default:
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// expectNoMore checks that nothing more arrives at tb (no duplicate after
// the last message) and that tb dropped no replays.
func expectNoMore(t testing.TB, ctx context.Context, tb *Transport) {
	t.Helper()
	for _, ch := range Channels {
		qctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		got, err := tb.Receive(qctx, ch)
		cancel()
		if err == nil {
			t.Fatalf("%s: extra message %x", ch, got)
		}
	}
	if d := tb.Telemetry().ReplayDrops; d != 0 {
		t.Fatalf("%d duplicates had to be dropped", d)
	}
}

// know makes a able to dial b.
func know(a, b host.Host) {
	a.Peerstore().AddAddrs(b.ID(), b.Addrs(), peerstore.PermanentAddrTTL)
}

// node is a host with an RTT service and its event ring.
type node struct {
	h     host.Host
	s     *Service
	ring  *events.Ring
	check *events.CheckingSink
	reg   *prometheus.Registry
}

func testConfig() Config {
	c := DefaultConfig()
	c.HandshakeTimeout = 3 * time.Second
	c.BackoffMin = 20 * time.Millisecond
	c.BackoffMax = 200 * time.Millisecond
	c.ResumeWindow = 10 * time.Second
	return c
}

func newNode(t testing.TB, h host.Host, cfg Config) *node {
	t.Helper()
	n := &node{h: h, ring: events.NewRing(4096), reg: prometheus.NewRegistry()}
	n.check = &events.CheckingSink{Next: n.ring}
	cfg.Events = events.NewEmitter(h.ID().String(), n.check, nil)
	cfg.Registerer = n.reg
	s, err := NewService(h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.s = s
	t.Cleanup(func() {
		_ = s.Close()
		if f := n.check.Failures(); len(f) > 0 {
			t.Errorf("events failing the contract schema: %v", f)
		}
	})
	return n
}

// pair returns two connected nodes (a knows b's address) on TCP or QUIC.
func pair(t testing.TB, useQUIC bool, cfgA, cfgB Config) (*node, *node) {
	t.Helper()
	a := newNode(t, newHost(t, useQUIC), cfgA)
	b := newNode(t, newHost(t, useQUIC), cfgB)
	know(a.h, b.h)
	know(b.h, a.h)
	return a, b
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitEvent waits for an event of typ about subject p (any if p == "").
func waitEvent(t testing.TB, n *node, d time.Duration, typ string, match func(events.Event) bool) events.Event {
	t.Helper()
	ctx := ctxT(t, d)
	e, ok := n.ring.WaitFor(ctx.Done(), func(e events.Event) bool {
		return e.Type == typ && (match == nil || match(e))
	})
	if !ok {
		t.Fatalf("no %s event within %v; have %d events", typ, d, n.ring.Total())
	}
	return e
}

// dialPair dials a → b and waits until both sides are up.
func dialPair(t testing.TB, a, b *node) (*Transport, *Transport) {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	ta, err := a.s.Dial(ctx, b.h.ID())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	tb, err := b.s.Listen(ctx)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	waitUp(t, tb, 5*time.Second)
	return ta, tb
}

func waitUp(t testing.TB, tr *Transport, d time.Duration) {
	t.Helper()
	waitCond(t, d, "session up", tr.Up)
}

// waitCond polls cond with a ticker until it holds or d passes.
func waitCond(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", d, what)
		case <-tick.C:
		}
	}
}

var _ = peer.ID("")
