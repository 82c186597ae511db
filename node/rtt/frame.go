package rtt

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	pool "github.com/libp2p/go-buffer-pool"
)

// Kind is the type of a frame. The zero value is invalid.
type Kind uint8

// Frame kinds.
const (
	KindData     Kind = 1 // sequenced payload (or FIN), carries a piggybacked ack
	KindAck      Kind = 2 // cumulative ack + receive window, no payload
	KindPing     Kind = 3 // heartbeat request on control; Seq = ping id
	KindPong     Kind = 4 // heartbeat answer on control; Seq = echoed id
	KindHello    Kind = 5 // session handshake request on control; payload = hello
	KindHelloAck Kind = 6 // session handshake answer on control; payload = hello
	KindAttach   Kind = 7 // first frame of a state/knowledge stream; Seq = epoch
	KindClose    Kind = 8 // orderly end of the session (Shutdown) on control
	kindMax           = KindClose
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindData:
		return "data"
	case KindAck:
		return "ack"
	case KindPing:
		return "ping"
	case KindPong:
		return "pong"
	case KindHello:
		return "hello"
	case KindHelloAck:
		return "hello_ack"
	case KindAttach:
		return "attach"
	case KindClose:
		return "close"
	default:
		return fmt.Sprintf("invalid(%d)", uint8(k))
	}
}

// FlagFin on a data frame marks the end of the sender's side of a channel
// (CloseChannel). It has no payload but a sequence number, so it is
// delivered reliably and in order after the data before it.
const FlagFin uint8 = 1

// fixedHeaderSize: kind(1) channel(1) flags(1) session(16).
const fixedHeaderSize = 3 + 16

// Frame is one RTT frame. On the wire:
//
//	uvarint(len(body)) body
//	body = kind:1 channel:1 flags:1 session:16
//	       uvarint seq, uvarint ack, uvarint winFrames, uvarint winBytes,
//	       payload (rest of body)
//
// Ack is the cumulative sequence number delivered on this channel in the
// other direction; WinFrames/WinBytes are the free room in the receiver's
// queue at that ack (credit for frames with seq > Ack).
type Frame struct {
	Kind      Kind
	Channel   Channel
	Flags     uint8
	Session   [16]byte
	Seq       uint64
	Ack       uint64
	WinFrames uint64
	WinBytes  uint64
	Payload   []byte
}

// Validate checks the structural rules of a frame against a payload limit.
func (f *Frame) Validate(maxPayload int) error {
	if f.Kind < KindData || f.Kind > kindMax {
		return fmt.Errorf("%w: kind %d", ErrMalformedFrame, f.Kind)
	}
	if !f.Channel.Valid() {
		return fmt.Errorf("%w: channel %d", ErrMalformedFrame, f.Channel)
	}
	if f.Flags&^FlagFin != 0 || (f.Flags&FlagFin != 0 && f.Kind != KindData) {
		return fmt.Errorf("%w: flags %#x on %s", ErrMalformedFrame, f.Flags, f.Kind)
	}
	switch f.Kind {
	case KindData:
		if f.Seq == 0 {
			return fmt.Errorf("%w: data seq 0", ErrMalformedFrame)
		}
		if f.Flags&FlagFin != 0 && len(f.Payload) > 0 {
			return fmt.Errorf("%w: fin with payload", ErrMalformedFrame)
		}
		if len(f.Payload) > maxPayload {
			return fmt.Errorf("%w: payload %d > %d", ErrFrameTooLarge, len(f.Payload), maxPayload)
		}
	case KindHello, KindHelloAck:
		if f.Channel != Control {
			return fmt.Errorf("%w: %s on %s", ErrMalformedFrame, f.Kind, f.Channel)
		}
		if len(f.Payload) > maxHelloSize {
			return fmt.Errorf("%w: hello payload %d > %d", ErrMalformedFrame, len(f.Payload), maxHelloSize)
		}
	case KindPing, KindPong, KindClose:
		if f.Channel != Control {
			return fmt.Errorf("%w: %s on %s", ErrMalformedFrame, f.Kind, f.Channel)
		}
		fallthrough
	default:
		if len(f.Payload) != 0 {
			return fmt.Errorf("%w: %s with payload", ErrMalformedFrame, f.Kind)
		}
	}
	return nil
}

// appendHeader appends the header part of the body (everything but the
// payload) to dst.
func appendHeader(dst []byte, f *Frame) []byte {
	dst = append(dst, byte(f.Kind), byte(f.Channel), f.Flags)
	dst = append(dst, f.Session[:]...)
	dst = binary.AppendUvarint(dst, f.Seq)
	dst = binary.AppendUvarint(dst, f.Ack)
	dst = binary.AppendUvarint(dst, f.WinFrames)
	return binary.AppendUvarint(dst, f.WinBytes)
}

// AppendFrame validates f and appends its length-prefixed encoding to dst.
func AppendFrame(dst []byte, f *Frame, maxPayload int) ([]byte, error) {
	if err := f.Validate(maxPayload); err != nil {
		return dst, err
	}
	var hb [MaxHeaderSize]byte
	h := appendHeader(hb[:0], f)
	dst = binary.AppendUvarint(dst, uint64(len(h)+len(f.Payload)))
	dst = append(dst, h...)
	return append(dst, f.Payload...), nil
}

// EncodeFrame returns the length-prefixed encoding of f.
func EncodeFrame(f *Frame, maxPayload int) ([]byte, error) {
	return AppendFrame(make([]byte, 0, MaxHeaderSize+10+len(f.Payload)), f, maxPayload)
}

// DecodeFrame decodes one length-prefixed frame from the front of b and
// returns it with the number of bytes consumed. The payload aliases b.
// io.ErrUnexpectedEOF means b holds only part of a frame.
func DecodeFrame(b []byte, maxPayload int) (Frame, int, error) {
	n, k := binary.Uvarint(b)
	if k == 0 {
		return Frame{}, 0, io.ErrUnexpectedEOF
	}
	if k < 0 {
		return Frame{}, 0, fmt.Errorf("%w: length prefix overflows", ErrMalformedFrame)
	}
	if err := checkBodyLen(n, maxPayload); err != nil {
		return Frame{}, 0, err
	}
	if uint64(len(b)-k) < n {
		return Frame{}, 0, io.ErrUnexpectedEOF
	}
	f, err := decodeBody(b[k:k+int(n)], maxPayload)
	if err != nil {
		return Frame{}, 0, err
	}
	return f, k + int(n), nil
}

func checkBodyLen(n uint64, maxPayload int) error {
	if n > uint64(maxPayload)+MaxHeaderSize {
		return fmt.Errorf("%w: body %d bytes > %d", ErrFrameTooLarge, n, maxPayload+MaxHeaderSize)
	}
	if n < fixedHeaderSize+4 {
		return fmt.Errorf("%w: body %d bytes < minimum %d", ErrMalformedFrame, n, fixedHeaderSize+4)
	}
	return nil
}

func decodeBody(body []byte, maxPayload int) (Frame, error) {
	f, h, err := decodeHeader(body)
	if err != nil {
		return Frame{}, err
	}
	if len(body) > h {
		f.Payload = body[h:]
	}
	if err := f.Validate(maxPayload); err != nil {
		return Frame{}, err
	}
	return f, nil
}

// decodeHeader decodes the header at the front of b (a body, or at least
// its first MaxHeaderSize bytes) and returns its length.
func decodeHeader(b []byte) (Frame, int, error) {
	var f Frame
	if len(b) < fixedHeaderSize {
		return Frame{}, 0, fmt.Errorf("%w: header %d bytes < %d", ErrMalformedFrame, len(b), fixedHeaderSize)
	}
	f.Kind = Kind(b[0])
	f.Channel = Channel(b[1])
	f.Flags = b[2]
	copy(f.Session[:], b[3:fixedHeaderSize])
	h := fixedHeaderSize
	for i, dst := range []*uint64{&f.Seq, &f.Ack, &f.WinFrames, &f.WinBytes} {
		v, k := binary.Uvarint(b[h:])
		if k <= 0 {
			return Frame{}, 0, fmt.Errorf("%w: header field %d not a uvarint", ErrMalformedFrame, i)
		}
		*dst = v
		h += k
	}
	return f, h, nil
}

// ReadFrame reads one frame from r. The header is decoded in r's buffer
// and the payload read into a buffer of its own from go-buffer-pool, which
// the caller owns from then on: apart from what r already held, a large
// payload goes from the stream straight into it, copied once. A body over
// the limit is rejected before anything is allocated. r's buffer must hold
// at least MaxHeaderSize bytes (bufio's default does).
func ReadFrame(r *bufio.Reader, maxPayload int) (Frame, error) {
	n, err := readUvarint(r)
	if err != nil {
		return Frame{}, err
	}
	if err := checkBodyLen(n, maxPayload); err != nil {
		return Frame{}, err
	}
	hdr, err := r.Peek(min(int(n), MaxHeaderSize))
	if err != nil {
		return Frame{}, unexpectedEOF(err)
	}
	f, h, err := decodeHeader(hdr)
	if err != nil {
		return Frame{}, err
	}
	if _, err := r.Discard(h); err != nil {
		return Frame{}, unexpectedEOF(err)
	}
	if pl := int(n) - h; pl > 0 {
		f.Payload = pool.Get(pl)
		if _, err := io.ReadFull(r, f.Payload); err != nil {
			pool.Put(f.Payload)
			return Frame{}, unexpectedEOF(err)
		}
	}
	if err := f.Validate(maxPayload); err != nil {
		pool.Put(f.Payload)
		return Frame{}, err
	}
	return f, nil
}

// unexpectedEOF: an EOF after a frame's length prefix cuts the frame.
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readUvarint is binary.ReadUvarint that tells a transport error (returned
// as is) from an overlong encoding (ErrMalformedFrame).
func readUvarint(r *bufio.Reader) (uint64, error) {
	var x uint64
	var s uint
	for i := range binary.MaxVarintLen64 {
		b, err := r.ReadByte()
		if err != nil {
			if i > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				break
			}
			return x | uint64(b)<<s, nil
		}
		x |= uint64(b&0x7f) << s
		s += 7
	}
	return 0, fmt.Errorf("%w: length prefix overflows 64 bits", ErrMalformedFrame)
}
