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

// Outgoing frame buffers are pooled by power-of-two size class: Send must
// copy the caller's payload, and at tens of thousands of 64 KiB messages a
// second fresh allocations cost more (page faults, zeroing, GC) than the
// copy. A buffer returns to its pool only once the peer acknowledged the
// frame AND the writer recorded that it finished writing it (writtenUpTo,
// under the channel lock), so no goroutine can still be reading it.
var bufPools [40]sync.Pool

const minPooledClass = 9 // 512 bytes; smaller buffers are not worth pooling

func sizeClass(n int) int {
	c := bits.Len(uint(n - 1))
	return max(c, minPooledClass)
}

// getBuf returns a slice of length headroom+n.
func getBuf(n int) []byte {
	c := sizeClass(headroom + n)
	if c < len(bufPools) {
		if b, ok := bufPools[c].Get().(*[]byte); ok {
			return (*b)[:headroom+n]
		}
	}
	return make([]byte, headroom+n, 1<<c)
}

// putBuf returns b (from getBuf) to its pool.
func putBuf(b []byte) {
	c := bits.Len(uint(cap(b) - 1))
	if cap(b) != 1<<c || c < minPooledClass || c >= len(bufPools) {
		return
	}
	b = b[:0]
	bufPools[c].Put(&b)
}
