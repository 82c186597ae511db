package itest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/node/rtt"
)

// rttHost is a real loopback libp2p host: Ed25519, Noise, yamux, TCP only,
// closed when the test ends.
func rttHost(tb testing.TB) host.Host {
	tb.Helper()
	h := bareHost(tb)
	tb.Cleanup(func() { _ = h.Close() })
	return h
}

// bareHost is rttHost that the caller closes. A benchmark making one per
// iteration uses it: a test cleanup would keep every closed host reachable
// until the benchmark ends (~120 KB each, 37 MB of live heap after 300
// iterations, which the GC marks on every cycle of the measured loop).
func bareHost(tb testing.TB) host.Host {
	tb.Helper()
	h, err := newBareHost()
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

func newBareHost() (host.Host, error) {
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	return libp2p.New(
		libp2p.Identity(k),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.NoTransports, libp2p.Transport(tcp.NewTCPTransport),
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.DisableRelay(), libp2p.DisableMetrics(),
	)
}

// rttPair starts two hosts with RTT services (events checked against the
// contract) and returns both ends of one session.
func rttPair(tb testing.TB) (a, b host.Host, ta, tbr *rtt.Transport, check func()) {
	tb.Helper()
	a, b = rttHost(tb), rttHost(tb)
	a.Peerstore().AddAddrs(b.ID(), b.Addrs(), peerstore.PermanentAddrTTL)
	var sinks []*events.CheckingSink
	svc := func(h host.Host) *rtt.Service {
		cs := &events.CheckingSink{Next: events.NewRing(1024)}
		sinks = append(sinks, cs)
		cfg := rtt.DefaultConfig()
		cfg.Events = events.NewEmitter(h.ID().String(), cs, nil)
		s, err := rtt.NewService(h, cfg)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = s.Close() })
		return s
	}
	sa, sb := svc(a), svc(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ta, err := sa.Dial(ctx, b.ID())
	if err != nil {
		tb.Fatal(err)
	}
	tbr, err = sb.Listen(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	check = func() {
		for _, s := range sinks {
			if f := s.Failures(); len(f) > 0 {
				tb.Errorf("events failing the contract: %v", f)
			}
		}
	}
	return a, b, ta, tbr, check
}

// TestRTTThreeChannels runs all three channels at once in both directions
// between two real hosts: every message arrives once, in order, on its
// own channel.
func TestRTTThreeChannels(t *testing.T) {
	_, _, ta, tb, check := rttPair(t)
	defer check()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 500
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for _, ch := range []rtt.Channel{rtt.Control, rtt.State, rtt.Knowledge} {
		for _, dir := range [][2]*rtt.Transport{{ta, tb}, {tb, ta}} {
			from, to := dir[0], dir[1]
			if _, err := from.OpenChannel(ctx, ch); err != nil {
				t.Fatal(err)
			}
			wg.Add(2)
			go func() {
				defer wg.Done()
				for i := range n {
					if err := from.Send(ctx, ch, fmt.Appendf(nil, "%s-%d", ch, i)); err != nil {
						errs <- err
						return
					}
				}
			}()
			go func() {
				defer wg.Done()
				for i := range n {
					got, err := to.Receive(ctx, ch)
					if err != nil {
						errs <- err
						return
					}
					if want := fmt.Appendf(nil, "%s-%d", ch, i); !bytes.Equal(got, want) {
						errs <- fmt.Errorf("%s: got %q, want %q", ch, got, want)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	tel := ta.Telemetry()
	for _, c := range tel.Channels {
		if c.FramesOut != n || c.FramesIn != n {
			t.Fatalf("telemetry %s: %+v", c.Channel, c)
		}
	}
	if err := ta.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-tb.Done():
	case <-ctx.Done():
		t.Fatal("peer did not see the shutdown")
	}
}
