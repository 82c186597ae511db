package card

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// BenchmarkFetch is one /web4/card/1.0 exchange with verification, in
// ratio to the same card bytes over a bare libp2p stream on the same
// connection (fetch_vs_bare: what the card protocol and the signature
// check cost on top of the stream).
func BenchmarkFetch(b *testing.B) {
	a, c := newHost(b, 60), newHost(b, 61)
	s := serving(b, a, 60, "translate", "ocr")
	raw, err := s.Signed()
	if err != nil {
		b.Fatal(err)
	}
	const bare = protocol.ID("/bench/bare/1.0")
	a.SetStreamHandler(bare, func(st network.Stream) {
		_ = st.SetDeadline(time.Now().Add(StreamTimeout))
		_, _ = st.Write(raw)
		_ = st.Close()
	})
	connect(b, c, a)
	fetcher := NewService(c, nil, nil, nil)
	ctx := context.Background()
	run := func(n int, f func() error) time.Duration {
		start := time.Now()
		for range n {
			if err := f(); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	bareOnce := func() error {
		st, err := c.NewStream(ctx, a.ID(), bare)
		if err != nil {
			return err
		}
		defer st.Close()
		_ = st.CloseWrite()
		_, err = io.ReadAll(st)
		return err
	}
	fetchOnce := func() error { _, _, err := fetcher.Fetch(ctx, a.ID()); return err }
	n := max(b.N, 20)
	base := run(n, bareOnce)
	b.ResetTimer()
	took := run(b.N, fetchOnce)
	b.StopTimer()
	perFetch := float64(took.Nanoseconds()) / float64(b.N)
	b.ReportMetric(perFetch/(float64(base.Nanoseconds())/float64(n)), "fetch_vs_bare")
	b.ReportMetric(float64(len(raw)), "card_bytes")
}
