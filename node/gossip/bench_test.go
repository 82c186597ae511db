package gossip

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// counter counts deliveries across all nodes and wakes waiters.
type counter struct {
	mu   sync.Mutex
	n    int
	wake chan struct{}
}

func newCounter() *counter { return &counter{wake: make(chan struct{})} }

func (c *counter) inc() {
	c.mu.Lock()
	c.n++
	close(c.wake)
	c.wake = make(chan struct{})
	c.mu.Unlock()
}

// waitAtLeast blocks until n ≥ want or the timeout ends.
func (c *counter) waitAtLeast(want int, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		n, ch := c.n, c.wake
		c.mu.Unlock()
		if n >= want {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return false
		}
	}
}

const benchTopic = "/web4/bench/1.0"
const unicastProto = protocol.ID("/web4/bench/unicast/1.0")

// BenchmarkGossipFanout measures, on mocknet, the time for one gossip
// message to reach all N nodes (ns/op), the sustained rate of a 500-message
// burst (msgs/s, until all nodes have every message), and the ratio of the
// per-message time to a baseline measured in the same run, interleaved
// message by message: the publisher writing the same message on a direct,
// already open libp2p stream to each of the N−1 other nodes
// (ratio = gossip / unicast, also reported as unicast-ns/op). N=5 is fully connected; N=20 has
// each node dial 3 random others (fixed seed).
func BenchmarkGossipFanout(b *testing.B) {
	for _, n := range []int{5, 20} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) { benchFanout(b, n) })
	}
}

func benchFanout(b *testing.B, n int) {
	_, hs := newMocknet(b, n)
	ns := make([]*tnode, n)
	cnt := newCounter()
	accept := func(context.Context, string, peer.ID, []byte) (any, error) { return nil, nil }
	for i := range ns {
		ns[i] = startNode(b, hs[i], func(c *Config) { c.Validate = accept })
		if err := ns[i].g.Join(benchTopic, func(peer.ID, []byte, any) { cnt.inc() }); err != nil {
			b.Fatal(err)
		}
	}
	if n <= 5 {
		for i := range ns {
			for j := i + 1; j < n; j++ {
				connect(b, ns[i].h, ns[j].h)
			}
		}
	} else {
		randomGraph(b, ns, 3, 7)
	}
	waitUntil(b, 20*time.Second, "every node to be ready and have a mesh", func() bool {
		for _, x := range ns {
			if !x.g.Ready(benchTopic) || len(x.g.tr.meshPeers(benchTopic)) == 0 {
				return false
			}
		}
		return true
	})
	ctx := context.Background()
	pub := ns[0].g
	want := 0
	seq := 0
	send := func() {
		seq++
		if err := pub.Publish(ctx, benchTopic, []byte(fmt.Sprintf("bench-%d-%d", n, seq))); err != nil {
			b.Fatal(err)
		}
		want += n - 1
	}
	// Warm up: one message must reach everyone before timing starts.
	send()
	if !cnt.waitAtLeast(want, 20*time.Second) {
		b.Fatalf("warm-up message did not reach all %d nodes", n)
	}

	// Baseline: direct streams from the publisher, opened before timing.
	uni := newCounter()
	for _, x := range ns[1:] {
		x.h.SetStreamHandler(unicastProto, func(s network.Stream) {
			defer s.Close()
			var hdr [2]byte
			buf := make([]byte, 1<<16)
			for {
				if _, err := io.ReadFull(s, hdr[:]); err != nil {
					return
				}
				if _, err := io.ReadFull(s, buf[:binary.BigEndian.Uint16(hdr[:])]); err != nil {
					return
				}
				uni.inc()
			}
		})
	}
	var streams []network.Stream
	for _, x := range ns[1:] {
		s, err := ns[0].h.NewStream(ctx, x.h.ID(), unicastProto)
		if err != nil {
			b.Fatal(err)
		}
		streams = append(streams, s)
	}
	defer func() {
		for _, s := range streams {
			_ = s.Close()
		}
		for _, x := range ns[1:] {
			x.h.RemoveStreamHandler(unicastProto)
		}
	}()
	uwant := 0
	unicast := func(i int) {
		msg := []byte(fmt.Sprintf("bench-%d-%d", n, i))
		frame := binary.BigEndian.AppendUint16(nil, uint16(len(msg)))
		frame = append(frame, msg...)
		for _, s := range streams {
			if _, err := s.Write(frame); err != nil {
				b.Fatal(err)
			}
		}
		uwant += n - 1
		if !uni.waitAtLeast(uwant, 20*time.Second) {
			b.Fatal("unicast baseline stalled")
		}
	}
	unicast(-1) // warm-up

	// Gossip and baseline alternate message by message, so load changes
	// on the shared machine hit both sides of the ratio alike.
	var gossipTotal, unicastTotal time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		send()
		if !cnt.waitAtLeast(want, 20*time.Second) {
			b.Fatalf("message %d did not reach all nodes", i)
		}
		t1 := time.Now()
		unicast(i)
		gossipTotal += t1.Sub(t0)
		unicastTotal += time.Since(t1)
	}
	b.StopTimer()
	gossipPer := gossipTotal / time.Duration(b.N)
	unicastPer := unicastTotal / time.Duration(b.N)

	// Burst: publish as fast as possible, wait until all have all.
	const burst = 500
	start := time.Now()
	for i := 0; i < burst; i++ {
		send()
	}
	if !cnt.waitAtLeast(want, 60*time.Second) {
		b.Fatalf("burst did not reach all nodes")
	}
	b.ReportMetric(burst/time.Since(start).Seconds(), "msgs/s")
	// ns/op is the gossip time alone (the loop also ran the baseline).
	b.ReportMetric(float64(gossipPer.Nanoseconds()), "ns/op")
	b.ReportMetric(float64(unicastPer.Nanoseconds()), "unicast-ns/op")
	b.ReportMetric(float64(gossipPer)/float64(unicastPer), "ratio")
	// Drops under the burst are reported, not failed on: whether a
	// 500-message burst overflows a pubsub outbound queue depends on how
	// loaded the machine is (TestBurstNoLoss holds the no-loss property
	// at its configured queue sizes).
	var dropped uint64
	for _, x := range ns {
		dropped += x.g.Stats().TotalDropped()
	}
	b.ReportMetric(float64(dropped), "dropped")
}
