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

// Pooled buffers on both sides never let one message's bytes show up in
// another: every payload arrives with its own content, in order, across
// sizes on both sides of the read buffer, the write buffer and a Noise
// message, while the sender's buffers go round the pool.
func TestPooledPayloadsIntact(t *testing.T) {
	a, b := pair(t, false, testConfig(), testConfig())
	ta, tb := dialPair(t, a, b)
	ctx := ctxT(t, 20*time.Second)
	sizes := []int{1, 300, 600, readBufferSize, readBufferSize + 1, writeBufferSize + 1,
		64 << 10, 65519, 65520, 100 << 10, 512 << 10}
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
}

// FuzzFrameBuffers holds the pooled frame buffers to what fresh buffers
// from make would deliver: whatever payloads are sent, in whatever sizes,
// on two channels at once, every payload arrives with exactly the bytes
// that were sent, and still has them once everything has arrived. Send
// reuses a buffer once the peer acknowledged its frame, and received
// payloads come from the same pool, so a buffer reused too early would
// show up here as another payload's bytes.
//
// The input is a plan, two bytes per message (at most 64): a size in
// units of 3 bytes (so up to 192 KiB, across the read buffer, the write
// buffer and a Noise message) whose lowest bit also picks the channel.
func FuzzFrameBuffers(f *testing.F) {
	a, b := pair(f, false, testConfig(), testConfig())
	ta, tb := dialPair(f, a, b)
	f.Add([]byte{0, 0, 0, 1, 0x55, 0x55, 0xff, 0xff, 0x05, 0x56})
	f.Add(bytes.Repeat([]byte{0x55, 0x55, 0, 10, 0x01, 0x57}, 20))
	var salt byte
	f.Fuzz(func(t *testing.T, plan []byte) {
		salt++
		var msgs [2][][]byte
		for i := 0; i+2 <= len(plan) && i < 2*64; i += 2 {
			n := int(plan[i])<<8 | int(plan[i+1])
			p := make([]byte, 3*n)
			for j := range p {
				p[j] = byte(j*31) ^ byte(i) ^ salt
			}
			msgs[n&1] = append(msgs[n&1], p)
		}
		ctx := ctxT(t, 20*time.Second)
		chans := [2]Channel{State, Knowledge}
		errc := make(chan error, 4)
		var got [2][][]byte
		for k := range msgs {
			go func() {
				for _, p := range msgs[k] {
					if err := ta.Send(ctx, chans[k], p); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			go func() {
				for i, sent := range msgs[k] {
					p, err := tb.Receive(ctx, chans[k])
					if err != nil {
						errc <- err
						return
					}
					if !bytes.Equal(p, sent) {
						errc <- fmt.Errorf("%s message %d: %d bytes, not the %d sent", chans[k], i, len(p), len(sent))
						return
					}
					got[k] = append(got[k], p)
				}
				errc <- nil
			}()
		}
		for range 4 {
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}
		for k := range got {
			for i, p := range got[k] {
				if !bytes.Equal(p, msgs[k][i]) {
					t.Fatalf("%s message %d changed after it arrived", chans[k], i)
				}
			}
		}
	})
}
