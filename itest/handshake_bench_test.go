package itest

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/node/peers"
	"github.com/web4p2p/web4p2p/node/rtt"
	"github.com/web4p2p/web4p2p/protocols/cip"
)

// BenchmarkHandshake measures a complete RTT session handshake plus CIP
// handshake (HELLO, HELLO+response, VERIFY, STATE_UPDATEs, INTENT and its
// reply) from a fresh peer to a running node, against a bare libp2p
// connect (TCP + Noise + yamux) to the same node in the same run:
// ratio = (connect + RTT + CIP) / bare connect. Host creation is outside
// the timed region for both. The client side does what Node.Session does:
// it builds its HELLO and sends it as RTT early data (rtt-ms includes
// building it).
func BenchmarkHandshake(b *testing.B) {
	server := newBenchAgent(b, "server")
	ai := peer.AddrInfo{ID: server.n.ID(), Addrs: server.n.Host().Addrs()}
	pub, _ := server.n.ID().ExtractPublicKey()
	rawPub, _ := pub.Raw()
	ctx := context.Background()

	var bare, full, rttPart, cipPart time.Duration
	for i := 0; i < b.N; i++ {
		// Baseline: bare connect.
		b.StopTimer()
		h := rttHost(b)
		b.StartTimer()
		t0 := time.Now()
		if err := h.Connect(ctx, ai); err != nil {
			b.Fatal(err)
		}
		bare += time.Since(t0)
		b.StopTimer()
		h.Close()

		// Full: connect + RTT session + CIP handshake.
		h2 := rttHost(b)
		svc, err := rtt.NewService(h2, rtt.DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		k, _ := h2.Peerstore().PrivKey(h2.ID()).Raw()
		cfg := cip.Config{Builder: &cip.Builder{Key: ed25519.PrivateKey(k), AgentID: "bench"}, RemoteKey: ed25519.PublicKey(rawPub)}
		b.StartTimer()
		t1 := time.Now()
		if err := h2.Connect(ctx, ai); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		// As the node does (Node.Session): the HELLO is built first and
		// travels in the RTT handshake as early data.
		hello, err := cip.BuildHello(cfg.Builder, cfg.RemoteKey, cfg.Features)
		if err != nil {
			b.Fatal(err)
		}
		tr, err := svc.DialEarly(ctx, server.n.ID(), peers.EnvelopeFrame(hello))
		if err != nil {
			b.Fatal(err)
		}
		cfg.SentHello = hello
		t3 := time.Now()
		if _, err := cip.Initiate(ctx, conn{t: tr}, cfg); err != nil {
			b.Fatal(err)
		}
		full += time.Since(t1)
		rttPart += t3.Sub(t2)
		cipPart += time.Since(t3)
		b.StopTimer()
		// Let the server finish its side (it commits the trust verdict
		// once the messages are out) before the next timed connect, so
		// neither measurement pays for the other's leftovers.
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := server.n.Peers().WaitReady(wctx, h2.ID()); err != nil {
			b.Fatal(err)
		}
		cancel()
		svc.Close()
		h2.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(bare.Microseconds())/float64(b.N)/1000, "bare-ms/op")
	b.ReportMetric(float64(full.Microseconds())/float64(b.N)/1000, "handshake-ms/op")
	b.ReportMetric(float64(rttPart.Microseconds())/float64(b.N)/1000, "rtt-ms/op")
	b.ReportMetric(float64(cipPart.Microseconds())/float64(b.N)/1000, "cip-ms/op")
	b.ReportMetric(float64(full)/float64(bare), "ratio")
}
