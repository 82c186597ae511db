package rtt

import (
	"testing"
	"time"

	pool "github.com/libp2p/go-buffer-pool"
)

// BenchmarkFrameBuffer: what a pooled frame buffer saves against a fresh
// one from make, for a 64 KiB payload copied into it as Send copies one:
// pool-ratio = pooled time ÷ make time, measured interleaved in the same
// run. (End to end, itest's BenchmarkRTTThroughput is what the pool is
// for.)
func BenchmarkFrameBuffer(b *testing.B) {
	payload := make([]byte, 64<<10)
	var pooled, made time.Duration
	sink := 0
	for range b.N {
		t1 := time.Now()
		buf := pool.Get(headroom + len(payload))
		copy(buf[headroom:], payload)
		sink += int(buf[len(buf)-1])
		pool.Put(buf)
		t2 := time.Now()
		buf = make([]byte, headroom+len(payload))
		copy(buf[headroom:], payload)
		sink += int(buf[len(buf)-1])
		t3 := time.Now()
		pooled += t2.Sub(t1)
		made += t3.Sub(t2)
	}
	if sink != 0 {
		b.Fatal("payload not zero")
	}
	b.ReportMetric(float64(pooled)/float64(made), "pool-ratio")
}
