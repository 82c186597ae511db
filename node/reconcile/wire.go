package reconcile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Frame kinds (package doc).
const (
	kindNeg   = 'N'
	kindWant  = 'W'
	kindEnv   = 'E'
	kindDone  = 'D'
	maxIDsPer = 1024 // ids per 'W' frame
)

// ErrProtocol: the peer broke the sync protocol (a frame out of place, too
// large, malformed).
var ErrProtocol = errors.New("reconcile: protocol violation")

// ErrBudget: the session used up a budget (bytes, envelopes, rounds).
var ErrBudget = errors.New("reconcile: session budget exhausted")

// frameIO reads and writes frames, counting bytes against the session's
// budget in each direction.
type frameIO struct {
	r        *bufio.Reader
	w        io.Writer
	maxFrame int
	in, out  int64 // bytes so far
	maxBytes int64
}

func (f *frameIO) write(kind byte, body []byte) error {
	n := 1 + len(body)
	if n > f.maxFrame {
		return fmt.Errorf("%w: frame of %d bytes, limit %d", ErrBudget, n, f.maxFrame)
	}
	f.out += int64(n)
	if f.out > f.maxBytes {
		return fmt.Errorf("%w: %d bytes sent, limit %d", ErrBudget, f.out, f.maxBytes)
	}
	buf := make([]byte, 0, binary.MaxVarintLen64+n)
	buf = binary.AppendUvarint(buf, uint64(n))
	buf = append(buf, kind)
	buf = append(buf, body...)
	_, err := f.w.Write(buf)
	return err
}

func (f *frameIO) read() (byte, []byte, error) {
	n, err := binary.ReadUvarint(f.r)
	if err != nil {
		return 0, nil, err
	}
	if n == 0 || n > uint64(f.maxFrame) {
		return 0, nil, fmt.Errorf("%w: frame of %d bytes, limit %d", ErrProtocol, n, f.maxFrame)
	}
	f.in += int64(n)
	if f.in > f.maxBytes {
		return 0, nil, fmt.Errorf("%w: %d bytes received, limit %d", ErrBudget, f.in, f.maxBytes)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(f.r, b); err != nil {
		return 0, nil, err
	}
	return b[0], b[1:], nil
}

// expect reads a frame of one of the kinds.
func (f *frameIO) expect(kinds ...byte) (byte, []byte, error) {
	k, b, err := f.read()
	if err != nil {
		return 0, nil, err
	}
	for _, want := range kinds {
		if k == want {
			return k, b, nil
		}
	}
	return 0, nil, fmt.Errorf("%w: frame %q, want one of %q", ErrProtocol, k, kinds)
}

// idsOf splits a 'W' body into ids.
func idsOf(body []byte) ([]ID, error) {
	if len(body)%len(ID{}) != 0 || len(body)/len(ID{}) > maxIDsPer {
		return nil, fmt.Errorf("%w: want frame of %d bytes", ErrProtocol, len(body))
	}
	out := make([]ID, len(body)/len(ID{}))
	for i := range out {
		copy(out[i][:], body[i*len(ID{}):])
	}
	return out, nil
}
