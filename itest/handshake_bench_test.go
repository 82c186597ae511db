package itest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/internal/events"
)

// BenchmarkHandshake measures a new peer joining: a fresh node.Node
// connects to a running node.Node and both complete everything a node
// does before it talks to a peer — the libp2p connect (TCP, Noise, yamux,
// identify), the RTT session handshake carrying the CIP HELLO as early
// data, the CIP handshake (HELLO and its answer, VERIFY, STATE_UPDATEs,
// INTENT and its reply), and the trust policy's verdict, every step
// emitting its events into the node's sink. One operation ends when
// Peers().WaitReady has returned on both sides. The verdict is in effect
// when a session is ready; the session's goroutine writes it to the
// node's store with an fsync right after, before it dispatches any
// message of the peer's (peers.runControl), so that write falls inside
// the operation on the server, whose session is ready first, and may end
// just after it on the joining node.
//
// The baseline, in the same loop: a fresh bare libp2p host (TCP + Noise +
// yamux, see bareHost) connects to a bare listening host. ratio = handshake
// / bare connect (target ≤ 2). Creating, starting and closing the joining
// node (and the bare host) are outside the timed region.
//
// Where the time goes, each from the start of the operation and read off
// the joining node's clock and events: connect-ms, its Node.Connect
// returned (libp2p connect and identify); rtt-up-ms, its RTT session is up
// (the RTT handshake starts as soon as the connection is, alongside
// identify); cip-done-ms, its CIP handshake is over (handshake-ms less
// cip-done-ms: the session becoming ready, then the server's WaitReady).
//
// The nodes record their events without checking them against the event
// contract (see agent.unchecked), which no production sink does either.
// BenchmarkHandshakeProcesses is the same with the listening sides in
// processes of their own.
func BenchmarkHandshake(b *testing.B) {
	server := newBenchAgent(b, "server")
	sai := peer.AddrInfo{ID: server.n.ID(), Addrs: server.n.Host().Addrs()}
	listener := rttHost(b)
	lai := peer.AddrInfo{ID: listener.ID(), Addrs: listener.Addrs()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	var bare, full, connect, rttUp, cipDone time.Duration
	b.ResetTimer()
	for i := range b.N {
		bare += bareConnect(b, ctx, lai)

		// Full: a new node joins.
		client := newBenchAgent(b, fmt.Sprintf("client%d", i))
		cid := client.n.ID()
		b.StartTimer()
		t1 := time.Now()
		if err := client.n.Connect(ctx, sai); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if err := client.n.Peers().WaitReady(ctx, server.n.ID()); err != nil {
			b.Fatal(err)
		}
		// The client is ready only once the server has answered, so the
		// server has its session by now and WaitReady does not dial.
		if err := server.n.Peers().WaitReady(ctx, cid); err != nil {
			b.Fatal(err)
		}
		full += time.Since(t1)
		connect += t2.Sub(t1)
		b.StopTimer()
		rttUp += eventAt(b, client, "web4.rtt.handshake_completed").Sub(t1)
		cipDone += eventAt(b, client, "web4.cip.handshake_completed").Sub(t1)
		// The next iteration starts once the server is done with this
		// client, so no measurement pays for another's leftovers.
		since := server.ring.Total()
		goodbye(b, ctx, client, server.n.ID())
		csub := cid.String()
		if _, ok := server.ring.WaitForSince(ctx.Done(), since, func(e events.Event) bool {
			return e.Type == "web4.node.session_ended" && e.Subject == csub
		}); !ok {
			b.Fatalf("the server never ended its session with %s", cid)
		}
		b.StartTimer()
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) / 1000 }
	b.ReportMetric(ms(bare), "bare-ms/op")
	b.ReportMetric(ms(full), "handshake-ms/op")
	b.ReportMetric(ms(connect), "connect-ms/op")
	b.ReportMetric(ms(rttUp), "rtt-up-ms/op")
	b.ReportMetric(ms(cipDone), "cip-done-ms/op")
	b.ReportMetric(float64(full)/float64(bare), "ratio")
}

// bareConnect is one baseline operation: a fresh bare host (made and
// closed with the timer stopped) connects to lai. Called with b's timer
// running, it returns with it stopped.
func bareConnect(b *testing.B, ctx context.Context, lai peer.AddrInfo) time.Duration {
	b.Helper()
	b.StopTimer()
	h := bareHost(b)
	b.StartTimer()
	t0 := time.Now()
	err := h.Connect(ctx, lai)
	d := time.Since(t0)
	b.StopTimer()
	_ = h.Close()
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// goodbye ends client's session with p as a leaving node should — the RTT
// Shutdown lets p free it at once (node.Close does not say goodbye, and p
// would keep the session for rtt's ResumeWindow, 2 min) — and stops the
// client.
func goodbye(b *testing.B, ctx context.Context, client *agent, p peer.ID) {
	b.Helper()
	if tr := client.n.Peers().RTT().Session(p); tr != nil {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := tr.Shutdown(sctx); err != nil {
			b.Fatal(err)
		}
	}
	client.stop()
}

// eventAt is when a emitted its one event of type typ.
func eventAt(b *testing.B, a *agent, typ string) time.Time {
	b.Helper()
	var at []time.Time
	for _, e := range a.ring.Events() {
		if e.Type == typ {
			at = append(at, e.Time)
		}
	}
	if len(at) != 1 {
		b.Fatalf("%s emitted %d %s events, want 1", a.cfg.AgentID, len(at), typ)
	}
	return at[0]
}
