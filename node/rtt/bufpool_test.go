package rtt

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"
)

// Every size rounds up to a class that putBuf recognises, wasting at most
// a quarter of the size; sizes outside the pooled range are left exact.
func TestPoolClasses(t *testing.T) {
	for n := 1; n < 1<<20; n += 1 + n/97 {
		size := classSize(n)
		if size < n {
			t.Fatalf("classSize(%d) = %d < n", n, size)
		}
		if n < 1<<(minPooledClass-1)+1 {
			if size != n {
				t.Fatalf("classSize(%d) = %d, want n (not pooled)", n, size)
			}
			continue
		}
		if _, _, ok := classOf(size); !ok {
			t.Fatalf("classSize(%d) = %d is not a class", n, size)
		}
		if waste := size - n; waste*4 > n {
			t.Fatalf("classSize(%d) = %d wastes %d bytes", n, size, waste)
		}
		if classSize(size) != size {
			t.Fatalf("classSize not idempotent at %d", size)
		}
	}
	for _, c := range []int{0, 1, 511, 513, 1000, 65537, 1<<26 + 8} {
		if _, _, ok := classOf(c); ok {
			t.Errorf("classOf(%d): a class, want none", c)
		}
	}
	putBuf(nil)                   // ignored
	putBuf(make([]byte, 10, 999)) // not a class: ignored
	b := getSized(5000)
	if len(b) != 5000 || cap(b) != classSize(5000) {
		t.Fatalf("getSized(5000): len %d cap %d", len(b), cap(b))
	}
}

// A payload far larger than the read buffer is read whole, in order with
// the frames around it, and a stream cut inside it is ErrUnexpectedEOF.
func TestReadFrameLargePayload(t *testing.T) {
	big := make([]byte, 200<<10)
	for i := range big {
		big[i] = byte(i * 7)
	}
	frames := []Frame{
		{Kind: KindData, Channel: State, Seq: 1, Payload: []byte("small")},
		{Kind: KindData, Channel: State, Seq: 2, Ack: 1 << 50, WinBytes: 1 << 30, Payload: big},
		{Kind: KindAck, Channel: State, Ack: 3},
		{Kind: KindData, Channel: State, Seq: 3, Payload: big[:readBufferSize+1]},
	}
	var stream []byte
	first := 0 // where the big frame starts
	for i, f := range frames {
		if i == 1 {
			first = len(stream)
		}
		b, err := EncodeFrame(&f, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		stream = append(stream, b...)
	}
	r := bufio.NewReaderSize(bytes.NewReader(stream), readBufferSize)
	for i, f := range frames {
		got, err := ReadFrame(r, 1<<20)
		if err != nil || !framesEqual(got, f) {
			t.Fatalf("frame %d: %v (payload %d bytes, want %d)", i, err, len(got.Payload), len(f.Payload))
		}
	}
	for _, cut := range []int{1, 5, 30, 70, 100 << 10} {
		r := bufio.NewReaderSize(bytes.NewReader(stream[:first+cut]), readBufferSize)
		if _, err := ReadFrame(r, 1<<20); err != nil {
			t.Fatalf("cut %d: first frame: %v", cut, err)
		}
		if _, err := ReadFrame(r, 1<<20); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut %d bytes into the big frame: %v, want ErrUnexpectedEOF", cut, err)
		}
	}
}

// Recycling received payloads while both sides reuse pooled buffers never
// lets one message's bytes show up in another: every payload arrives with
// its own content, in order, across sizes on both sides of the pooled
// range, of the read buffer and of the write chunk (frames cut to fit one
// Noise message, see noiseYamuxChunk).
func TestRecycleKeepsPayloadsIntact(t *testing.T) {
	a, b := pair(t, false, testConfig(), testConfig())
	ta, tb := dialPair(t, a, b)
	ctx := ctxT(t, 20*time.Second)
	c := noiseYamuxChunk
	sizes := []int{1, 300, 600, 4 << 10, 5000, 64 << 10, 100 << 10,
		c - MaxHeaderSize, c - 1, c, c + 1, 2*c + 7, 512 << 10}
	const n = 600
	msg := func(i int) []byte {
		p := make([]byte, sizes[i%len(sizes)])
		for j := range p {
			p[j] = byte(i + j*31)
		}
		return p
	}
	errc := make(chan error, 1)
	go func() {
		for i := range n {
			p, err := tb.Receive(ctx, Knowledge)
			if err != nil {
				errc <- err
				return
			}
			if !bytes.Equal(p, msg(i)) {
				errc <- fmt.Errorf("message %d: %d bytes, not what was sent", i, len(p))
				return
			}
			tb.Recycle(p)
		}
		errc <- nil
	}()
	for i := range n {
		if err := ta.Send(ctx, Knowledge, msg(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	tb.Recycle(nil) // harmless
}

// A buffer going round the pool costs no allocation once the pool is warm:
// neither the buffer nor the box sync.Pool keeps it in.
func TestPoolRoundTripDoesNotAllocate(t *testing.T) {
	putBuf(getSized(1024))
	if n := testing.AllocsPerRun(1000, func() { putBuf(getSized(1024)) }); n > 0.01 {
		t.Fatalf("%.2f allocations per get/put", n)
	}
}
