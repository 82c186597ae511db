package node

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/node/rtt"
)

// churn has n fresh identities connect to a, complete the CIP handshake and
// leave (leave does the leaving), and checks that a's goroutines come back
// to what one visit left, within a deadline.
func churn(t *testing.T, a *Node, n int, leave func(b *Node)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	visit := func() {
		b, err := New(Config{DataDir: t.TempDir(), ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := b.ConnectAddr(ctx, a.Addrs()[0].String()); err != nil {
			t.Fatal(err)
		}
		if err := b.Peers().WaitReady(ctx, a.ID()); err != nil {
			t.Fatal(err)
		}
		if err := a.Peers().WaitReady(ctx, b.ID()); err != nil {
			t.Fatal(err)
		}
		leave(b)
	}
	settled := func() int {
		// Wait until a has dropped every visitor's session.
		if !pollUntil(ctx, func() bool { return len(a.Peers().Sessions()) == 0 }) {
			t.Fatalf("sessions still open: %v", a.Peers().Sessions())
		}
		return runtime.NumGoroutine()
	}
	visit()
	base := settled()
	for range n {
		visit()
	}
	const slack = 10 // connection-manager and pubsub bookkeeping that is not per visitor
	settled()
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	pollUntil(wctx, func() bool { return runtime.NumGoroutine() <= base+slack })
	got := runtime.NumGoroutine()
	t.Logf("goroutines: %d after one visit, %d after %d more", base, got, n)
	if got > base+slack {
		t.Fatalf("%d goroutines after %d visitors left, %d after the first: the node keeps something per visitor", got, n, base)
	}
}

// Visitors that close in order are forgotten at once: each tells the node
// its session is over (peers.Runtime.Close).
func TestChurnOrderlyLeaveKeepsNothing(t *testing.T) {
	a, _ := startNode(t, Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	churn(t, a, 60, func(b *Node) {
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// Visitors that vanish (their host dies before they can say goodbye) are
// kept for the RTT resume window only.
func TestChurnVanishedPeersExpireAfterResumeWindow(t *testing.T) {
	rc := rtt.DefaultConfig()
	rc.ResumeWindow = 500 * time.Millisecond
	a, _ := startNode(t, Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, RTT: rc})
	churn(t, a, 20, func(b *Node) {
		_ = b.Host().Close()
		_ = b.Close()
	})
}
