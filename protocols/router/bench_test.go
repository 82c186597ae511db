package router

import (
	"context"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/trust"
)

// BenchmarkRoute measures the router's cost per verified message (matrix
// lookup, handler lookup, routed event into a ring) and reports it as a
// ratio against calling the handler directly, measured in the same run.
func BenchmarkRoute(b *testing.B) {
	ctx := context.Background()
	var n int
	h := HandlerFunc(func(context.Context, *Message) error { n++; return nil })
	msg := &Message{Env: verified(b, envelope.FactPropose, peerKey), Peer: fpPeer, Channel: "knowledge"}

	var hi Handler = h // through the interface, as the router calls it
	const baseN = 200000
	start := time.Now()
	for i := 0; i < baseN; i++ {
		_ = hi.Handle(ctx, msg)
	}
	direct := float64(time.Since(start).Nanoseconds()) / baseN

	r := New(Config{
		Trust:  fixedTrust{states: map[string]trust.State{fpPeer: trust.Probing}},
		Events: events.NewEmitter(testPeerID, events.NewRing(1024), nil),
	})
	if _, err := r.Register(Knowledge, h); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := r.Route(ctx, msg); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(direct, "direct_ns/op")
	b.ReportMetric(per/direct, "ratio")
}
