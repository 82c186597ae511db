package rtt

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

// recorder is an io.Writer that keeps every Write and can fail the k-th.
type recorder struct {
	writes [][]byte
	failAt int // 1-based index of the Write that fails after half; 0 never
}

var errWrite = errors.New("write refused")

func (r *recorder) Write(p []byte) (int, error) {
	if len(r.writes)+1 == r.failAt {
		r.writes = append(r.writes, bytes.Clone(p[:len(p)/2]))
		return len(p) / 2, errWrite
	}
	r.writes = append(r.writes, bytes.Clone(p))
	return len(p), nil
}

// A chunkWriter hands on every byte once, in order, in pieces of exactly
// max bytes but the last.
func TestChunkWriterSplits(t *testing.T) {
	const size = 100
	for _, n := range []int{0, 1, size - 1, size, size + 1, 3*size + 5, 4 * size} {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i * 13)
		}
		r := &recorder{}
		got, err := chunkWriter{w: r, max: size}.Write(p)
		if err != nil || got != n {
			t.Fatalf("%d bytes: wrote %d, %v", n, got, err)
		}
		want := max(1, (n+size-1)/size)
		if len(r.writes) != want {
			t.Fatalf("%d bytes: %d writes, want %d", n, len(r.writes), want)
		}
		for i, w := range r.writes[:len(r.writes)-1] {
			if len(w) != size {
				t.Fatalf("%d bytes: write %d has %d bytes, want %d", n, i, len(w), size)
			}
		}
		if joined := bytes.Join(r.writes, nil); !bytes.Equal(joined, p) {
			t.Fatalf("%d bytes: the pieces do not add up to the input", n)
		}
	}
}

// A failing piece stops the write: the count covers what went through and
// the error is the underlying one.
func TestChunkWriterStopsAtError(t *testing.T) {
	for _, failAt := range []int{1, 2, 3} {
		r := &recorder{failAt: failAt}
		n, err := chunkWriter{w: r, max: 10}.Write(make([]byte, 25))
		pieces := []int{10, 10, 5}
		want := 0
		for _, k := range pieces[:failAt-1] {
			want += k
		}
		want += pieces[failAt-1] / 2
		if !errors.Is(err, errWrite) || n != want || len(r.writes) != failAt {
			t.Fatalf("fail at write %d: n=%d err=%v writes=%d, want n=%d", failAt, n, err, len(r.writes), want)
		}
	}
}

// Over TCP the hosts speak Noise and yamux, so large writes are cut to fit
// one Noise message; over QUIC they are written whole.
func TestWriteChunkFollowsTheConnection(t *testing.T) {
	for _, tc := range []struct {
		name    string
		quic    bool
		want    int
		chunked bool
	}{
		{"tcp-noise-yamux", false, noiseYamuxChunk, true},
		{"quic", true, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newHost(t, tc.quic), newHost(t, tc.quic)
			know(a, b)
			b.SetStreamHandler("/web4/test/chunk", func(s network.Stream) { _ = s.Reset() })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := a.NewStream(ctx, b.ID(), "/web4/test/chunk")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Reset()
			if got := writeChunk(s); got != tc.want {
				t.Fatalf("writeChunk = %d, want %d (conn state %+v)", got, tc.want, s.Conn().ConnState())
			}
			_, isChunked := streamWriter(s).(chunkWriter)
			if isChunked != tc.chunked {
				t.Fatalf("streamWriter chunked = %v, want %v", isChunked, tc.chunked)
			}
		})
	}
}
