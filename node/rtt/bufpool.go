package rtt

import (
	"math/bits"
	"sync"
)

// headroom is reserved in front of every outgoing payload so the writer
// can put the length prefix and header right before it and hand the frame
// to the stream in one contiguous Write (no copy into the bufio buffer for
// large frames).
const headroom = MaxHeaderSize + 10

// Frame buffers are pooled by size class, for both directions: Send must
// copy the caller's payload, and the reader needs a buffer per received
// payload; at tens of thousands of 64 KiB messages a second fresh
// allocations cost more (zeroing, GC) than the copy. Classes are four per
// power of two (5/8, 6/8, 7/8 and 8/8 of it), so rounding a size up to its
// class wastes at most a fifth of it; the receive queue's byte limit counts
// lengths, so its real footprint stays within that margin.
//
// An outgoing buffer returns to its pool only once the peer acknowledged
// the frame AND the writer recorded that it finished writing it
// (writtenUpTo, under the channel lock), so no goroutine can still be
// reading it. A received payload returns only through Transport.Recycle.
var bufPools [maxPooledClass + 1][4]sync.Pool

const (
	minPooledClass = 9  // 512 bytes; smaller buffers are not worth pooling
	maxPooledClass = 25 // 32 MiB, above any frame limit
)

// classOf returns the pool of a buffer of exactly cap bytes and whether cap
// is a class size at all.
func classOf(capacity int) (c, sub int, ok bool) {
	if capacity <= 0 {
		return 0, 0, false
	}
	c = bits.Len(uint(capacity - 1))
	if c < minPooledClass || c > maxPooledClass {
		return 0, 0, false
	}
	step := 1 << (c - 3)
	if capacity%step != 0 {
		return 0, 0, false
	}
	return c, capacity/step - 5, true
}

// classSize rounds n up to its class size (n itself when it is not pooled).
func classSize(n int) int {
	if n <= 0 {
		return n
	}
	c := bits.Len(uint(n - 1))
	if c < minPooledClass || c > maxPooledClass {
		return n
	}
	step := 1 << (c - 3)
	return (n + step - 1) / step * step
}

// getBuf returns a slice of length headroom+n for an outgoing frame.
func getBuf(n int) []byte { return getSized(headroom + n) }

// getSized returns a slice of length n, pooled when n is large enough.
func getSized(n int) []byte {
	size := classSize(n)
	if c, sub, ok := classOf(size); ok {
		if h, ok := bufPools[c][sub].Get().(*[]byte); ok {
			b := *h
			*h = nil
			headers.Put(h)
			return b[:n]
		}
	}
	return make([]byte, n, size)
}

// putBuf returns b (from getBuf or getSized) to its pool; other slices
// are left to the garbage collector.
func putBuf(b []byte) {
	c, sub, ok := classOf(cap(b))
	if !ok {
		return
	}
	h, _ := headers.Get().(*[]byte)
	if h == nil {
		h = new([]byte)
	}
	*h = b[:0]
	bufPools[c][sub].Put(h)
}

// headers recycles the *[]byte boxes the buffer pools hold, so that a
// put does not allocate one per buffer (a sync.Pool stores interfaces,
// and a slice header is not pointer-shaped).
var headers sync.Pool
