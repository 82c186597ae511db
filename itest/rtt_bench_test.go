package itest

import (
	"context"
	"fmt"
	"io"
	"sort"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/web4p2p/web4p2p/node/rtt"
)

const bareProto protocol.ID = "/web4/itest/bare/1.0"

// BenchmarkRTTThroughput: 64 KiB messages one way on one channel, against
// a bare libp2p stream between the same two hosts in the same run.
// Reports MB/s of each and ratio = rtt/bare (target ≥ 0.9), the median of
// the per-slice ratios (see alternate and sliceTimes.ratio).
//
// The receiver hands each payload back with Transport.Recycle, as a
// throughput-minded application does (the bare side reads into one reused
// buffer too). The same transfer with plain Receive — every payload a fresh
// allocation left to the GC — is measured alongside and reported as
// alloc-MB/s and alloc-ratio.
func BenchmarkRTTThroughput(b *testing.B) {
	const size = 64 << 10
	ha, hb, ta, tb, check := rttPair(b)
	defer check()
	ctx := context.Background()

	recvBare := make(chan int64, 1)
	hb.SetStreamHandler(bareProto, func(s network.Stream) {
		n, _ := io.Copy(io.Discard, s)
		recvBare <- n
		_ = s.Close()
	})
	msg := make([]byte, size)

	bare := func(n int) time.Duration {
		s, err := ha.NewStream(ctx, hb.ID(), bareProto)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for range n {
			if _, err := s.Write(msg); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.CloseWrite(); err != nil {
			b.Fatal(err)
		}
		if got := <-recvBare; got != int64(n*size) {
			b.Fatalf("bare stream delivered %d bytes, want %d", got, n*size)
		}
		d := time.Since(start)
		_ = s.Close()
		return d
	}
	overRTT := func(recycle bool) func(n int) time.Duration {
		return func(n int) time.Duration {
			done := make(chan error, 1)
			start := time.Now()
			go func() {
				for range n {
					p, err := tb.Receive(ctx, rtt.Knowledge)
					if err != nil || len(p) != size {
						done <- fmt.Errorf("received %d bytes, %v", len(p), err)
						return
					}
					if recycle {
						tb.Recycle(p)
					}
				}
				done <- nil
			}()
			for range n {
				if err := ta.Send(ctx, rtt.Knowledge, msg); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			return time.Since(start)
		}
	}
	paths := []func(int) time.Duration{bare, overRTT(true), overRTT(false)}
	for _, p := range paths {
		p(64) // warm up every path
	}
	b.SetBytes(size)
	b.ResetTimer()
	t := alternate(b.N, paths...)
	b.StopTimer()
	mb := float64(b.N*size) / 1e6
	b.ReportMetric(mb/t.total(1).Seconds(), "rtt-MB/s")
	b.ReportMetric(mb/t.total(0).Seconds(), "bare-MB/s")
	b.ReportMetric(mb/t.total(2).Seconds(), "alloc-MB/s")
	b.ReportMetric(t.ratio(0, 1), "ratio") // throughput: bare time / rtt time
	b.ReportMetric(t.ratio(0, 2), "alloc-ratio")
}

// BenchmarkRTTEcho: 1 KiB request/response round trips on control, against
// the same exchange on a bare libp2p stream between the same hosts.
// Reports the latency of each and ratio = rtt/bare (target ≤ 1.2), the
// median of the per-slice ratios (see alternate and sliceTimes.ratio).
//
// As in BenchmarkRTTThroughput, the echo server and the client hand each
// received payload back with Transport.Recycle (the bare side reuses its
// buffers too); the same exchange with a client that does not recycle is
// reported alongside as alloc-µs/op and alloc-ratio.
func BenchmarkRTTEcho(b *testing.B) {
	const size = 1 << 10
	ha, hb, ta, tb, check := rttPair(b)
	defer check()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	hb.SetStreamHandler(bareProto, func(s network.Stream) {
		buf := make([]byte, size)
		for {
			if _, err := io.ReadFull(s, buf); err != nil {
				_ = s.Reset()
				return
			}
			if _, err := s.Write(buf); err != nil {
				_ = s.Reset()
				return
			}
		}
	})
	echoDone := make(chan struct{})
	go func() {
		defer close(echoDone)
		for {
			p, err := tb.Receive(ctx, rtt.Control)
			if err != nil {
				return
			}
			err = tb.Send(ctx, rtt.Control, p) // Send copies p
			tb.Recycle(p)
			if err != nil {
				return
			}
		}
	}()
	defer func() { cancel(); <-echoDone }()

	s, err := ha.NewStream(ctx, hb.ID(), bareProto)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Reset()
	req, resp := make([]byte, size), make([]byte, size)
	bare := func(n int) time.Duration {
		start := time.Now()
		for range n {
			if _, err := s.Write(req); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(s, resp); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	overRTT := func(recycle bool) func(n int) time.Duration {
		return func(n int) time.Duration {
			start := time.Now()
			for range n {
				if err := ta.Send(ctx, rtt.Control, req); err != nil {
					b.Fatal(err)
				}
				p, err := ta.Receive(ctx, rtt.Control)
				if err != nil || len(p) != size {
					b.Fatalf("received %d bytes, %v", len(p), err)
				}
				if recycle {
					ta.Recycle(p)
				}
			}
			return time.Since(start)
		}
	}
	paths := []func(int) time.Duration{bare, overRTT(true), overRTT(false)}
	for _, p := range paths {
		p(100) // warm up every path
	}
	b.ResetTimer()
	t := alternate(b.N, paths...)
	b.StopTimer()
	lat := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) / 1e3 }
	b.ReportMetric(lat(t.total(1)), "rtt-µs/op")
	b.ReportMetric(lat(t.total(0)), "bare-µs/op")
	b.ReportMetric(lat(t.total(2)), "alloc-µs/op")
	b.ReportMetric(t.ratio(1, 0), "ratio") // latency: rtt time / bare time
	b.ReportMetric(t.ratio(2, 0), "alloc-ratio")
}

// alternate runs n operations on each path in up to 20 alternating slices,
// so load changes on a shared machine hit every path alike, and returns the
// time of each path in each slice.
func alternate(n int, paths ...func(int) time.Duration) sliceTimes {
	const count = 20
	out := make(sliceTimes, len(paths))
	for i := range count {
		k := n/count + btoi(i < n%count)
		if k == 0 {
			continue
		}
		for j, p := range paths {
			out[j] = append(out[j], p(k))
		}
	}
	return out
}

// sliceTimes holds each path's time per slice ([path][slice]); within a slice
// every path ran the same number of operations.
type sliceTimes [][]time.Duration

// total is path p's time over all slices.
func (s sliceTimes) total(p int) time.Duration {
	var t time.Duration
	for _, d := range s[p] {
		t += d
	}
	return t
}

// ratio is the median over slices of path a's time ÷ path b's time in the
// same slice. Compared slice by slice, a burst of load from elsewhere on
// the machine (it comes and goes within seconds here) skews one pair
// instead of the whole total; the median then ignores it, whichever path
// it hit.
func (s sliceTimes) ratio(a, b int) float64 {
	r := make([]float64, len(s[a]))
	for i := range r {
		r[i] = float64(s[a][i]) / float64(s[b][i])
	}
	sort.Float64s(r)
	if len(r) == 0 {
		return 0
	}
	return r[len(r)/2]
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
