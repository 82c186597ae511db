package itest

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/security/noise"

	"github.com/web4p2p/web4p2p/node/rtt"
)

const bareProto protocol.ID = "/web4/itest/bare/1.0"

// BenchmarkRTTThroughput: 64 KiB messages one way on one channel, against
// a bare libp2p stream between the same two hosts in the same run.
// Reports MB/s of each and ratio = rtt/bare (target ≥ 0.9), the median of
// the per-block ratios (see interleave and blockTimes.ratio).
//
// One operation is a burst of 16 messages (1 MiB), timed from the first
// Write or Send until the receiving side has read the last byte; bursts of
// the paths take turns in a random order, as in BenchmarkRTTEcho, and the
// bare stream is measured a second time as the control (bare/bare, the
// instrument's own error). Both sides keep their streams and receivers for
// the whole run, so a burst costs every path the same one-way hand-back
// at its end and nothing else.
//
// The bare stream written in pieces that each fit one Noise message
// (alignedChunk) is measured too: aligned-MB/s, and aligned-ratio = rtt
// against it. Written whole, as both RTT and the plain bare path write, a
// 64 KiB message costs one Noise message more; ratio over aligned-ratio
// (the bare stream in pieces against whole) is what RTT would gain by
// cutting its writes the same way.
func BenchmarkRTTThroughput(b *testing.B) {
	const (
		size  = 64 << 10
		burst = 16
	)
	ha, hb, ta, tb, check := rttPair(b)
	defer check()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The bare receiver reports every burst it has read in full.
	bareGot := make(chan error, 1)
	hb.SetStreamHandler(bareProto, func(s network.Stream) {
		buf := make([]byte, size)
		for {
			for range burst {
				if _, err := io.ReadFull(s, buf); err != nil {
					_ = s.Reset()
					bareGot <- err
					return
				}
			}
			bareGot <- nil
		}
	})
	s, err := ha.NewStream(ctx, hb.ID(), bareProto)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Reset()
	msg := make([]byte, size)
	bare := func() {
		for range burst {
			if _, err := s.Write(msg); err != nil {
				b.Fatal(err)
			}
		}
		if err := <-bareGot; err != nil {
			b.Fatal(err)
		}
	}

	// The same messages in pieces of alignedChunk bytes.
	bareAligned := func() {
		for range burst {
			for p := msg; len(p) > 0; {
				k := min(len(p), alignedChunk)
				if _, err := s.Write(p[:k]); err != nil {
					b.Fatal(err)
				}
				p = p[k:]
			}
		}
		if err := <-bareGot; err != nil {
			b.Fatal(err)
		}
	}

	// The RTT receiver is told when a burst starts and reports when it has
	// it all.
	burstNext, rttGot := make(chan struct{}, 1), make(chan error, 1)
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		for {
			select {
			case <-burstNext:
			case <-ctx.Done():
				return
			}
			var err error
			for range burst {
				var p []byte
				if p, err = tb.Receive(ctx, rtt.Knowledge); err != nil || len(p) != size {
					err = fmt.Errorf("received %d bytes, %v", len(p), err)
					break
				}
			}
			rttGot <- err
			if err != nil {
				return
			}
		}
	}()
	defer func() { cancel(); <-recvDone }()
	overRTT := func() {
		burstNext <- struct{}{}
		for range burst {
			if err := ta.Send(ctx, rtt.Knowledge, msg); err != nil {
				b.Fatal(err)
			}
		}
		if err := <-rttGot; err != nil {
			b.Fatal(err)
		}
	}
	// Path 2 is the bare stream again: the control.
	paths := []func(){bare, overRTT, bare, bareAligned}
	for range 4 {
		for _, p := range paths {
			p() // warm up every path
		}
	}
	rounds := (b.N + burst - 1) / burst
	b.SetBytes(size)
	b.ResetTimer()
	t := interleave(rounds, paths...)
	b.StopTimer()
	mb := float64(rounds*burst*size) / 1e6
	b.ReportMetric(mb/t.total(1).Seconds(), "rtt-MB/s")
	b.ReportMetric(mb/t.total(0).Seconds(), "bare-MB/s")
	b.ReportMetric(mb/t.total(3).Seconds(), "aligned-MB/s")
	b.ReportMetric(t.ratio(0, 1), "ratio") // throughput: bare time / rtt time
	b.ReportMetric(t.ratio(3, 1), "aligned-ratio")
	b.ReportMetric(t.ratio(0, 2), "control")
}

// alignedChunk is the most a yamux message can carry and still fit one
// Noise message (Noise's largest plaintext less yamux's 12-byte header).
const alignedChunk = noise.MaxPlaintextLength - 12

// BenchmarkRTTEcho: 1 KiB request/response round trips on control, against
// the same exchange on a bare libp2p stream between the same hosts.
// Reports the latency of each and ratio = rtt/bare (target ≤ 1.2), the
// median of the per-block ratios (see interleave and blockTimes.ratio).
//
// The paths take turns one round trip at a time, in a fresh (seeded) random
// order every round, so whatever the machine does — load from elsewhere,
// the scheduler settling goroutines on one core or spreading them over
// two — falls on every path alike; runs of one path at a time let that
// noise grow as large as what is measured. The bare stream against itself
// is reported as control (bare/bare), the instrument's own error. Taking
// turns also means no path runs with caches warmed by its own previous
// round trip, which costs RTT (more code and state per message) more than
// the bare stream: this measure is the stricter of the two.
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
			if err := tb.Send(ctx, rtt.Control, p); err != nil {
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
	bare := func() {
		if _, err := s.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(s, resp); err != nil {
			b.Fatal(err)
		}
	}
	overRTT := func() {
		if err := ta.Send(ctx, rtt.Control, req); err != nil {
			b.Fatal(err)
		}
		p, err := ta.Receive(ctx, rtt.Control)
		if err != nil || len(p) != size {
			b.Fatalf("received %d bytes, %v", len(p), err)
		}
	}
	// Path 2 is the bare stream again: the control.
	paths := []func(){bare, overRTT, bare}
	for range 100 {
		for _, p := range paths {
			p() // warm up every path
		}
	}
	b.ResetTimer()
	t := interleave(b.N, paths...)
	b.StopTimer()
	lat := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) / 1e3 }
	b.ReportMetric(lat(t.total(1)), "rtt-µs/op")
	b.ReportMetric(lat(t.total(0)), "bare-µs/op")
	b.ReportMetric(t.ratio(1, 0), "ratio") // latency: rtt time / bare time
	b.ReportMetric(t.ratio(2, 0), "control")
}

// interleave runs n operations of each path, one operation of each path
// per round, in a random order drawn anew every round (from a fixed seed,
// so every run draws the same orders); it returns each path's time in
// each of up to 20 blocks of consecutive rounds.
func interleave(n int, paths ...func()) blockTimes {
	const count = 20
	rng := rand.New(rand.NewPCG(1, 2))
	out := make(blockTimes, len(paths))
	for j := range out {
		out[j] = make([]time.Duration, 0, count)
	}
	order := make([]int, len(paths))
	for i := range count {
		k := n/count + btoi(i < n%count)
		if k == 0 {
			continue
		}
		for j := range out {
			out[j] = append(out[j], 0)
		}
		for range k {
			for j := range order {
				order[j] = j
			}
			rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
			for _, j := range order {
				start := time.Now()
				paths[j]()
				out[j][len(out[j])-1] += time.Since(start)
			}
		}
	}
	return out
}

// blockTimes holds each path's time per block ([path][block]); within a
// block every path ran the same number of operations.
type blockTimes [][]time.Duration

// total is path p's time over all blocks.
func (s blockTimes) total(p int) time.Duration {
	var t time.Duration
	for _, d := range s[p] {
		t += d
	}
	return t
}

// ratio is the median over blocks of path a's time ÷ path b's time in the
// same block. Compared block by block, a burst of load from elsewhere on
// the machine (it comes and goes within seconds here) skews one pair
// instead of the whole total; the median then ignores it, whichever path
// it hit.
func (s blockTimes) ratio(a, b int) float64 {
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
