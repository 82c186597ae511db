package rtt

import (
	"encoding/binary"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Status is the verdict carried in a HelloAck. The zero value is invalid.
type Status uint8

// Handshake statuses.
const (
	StatusOK              Status = 1 // accepted
	StatusVersionMismatch Status = 2 // the sides speak different versions
	StatusWrongPeer       Status = 3 // from/to do not match the authenticated peers
	StatusUnknownSession  Status = 4 // resume of a session the responder does not hold
	StatusConflict        Status = 5 // simultaneous dial lost the tie-break; use the peer's session
	StatusUnavailable     Status = 6 // the responder is closing
	statusMax                    = StatusUnavailable
)

// String names the status.
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusVersionMismatch:
		return "version_mismatch"
	case StatusWrongPeer:
		return "wrong_peer"
	case StatusUnknownSession:
		return "unknown_session"
	case StatusConflict:
		return "conflict"
	case StatusUnavailable:
		return "unavailable"
	default:
		return fmt.Sprintf("invalid(%d)", uint8(s))
	}
}

// ChannelResume is one channel's receive state exchanged in the handshake:
// the last sequence number delivered into the receive queue (the resume
// point) and the free room of that queue (the initial credit).
type ChannelResume struct {
	Delivered uint64
	WinFrames uint64
	WinBytes  uint64
}

// Hello is the payload of KindHello and KindHelloAck frames. The session
// ID travels in the frame header.
type Hello struct {
	Version  uint64
	Status   Status
	Resume   bool // the dialer resumes an existing session
	From, To peer.ID
	Epoch    uint64 // set by the responder: the attach generation
	MaxFrame uint64
	// The sender's own queue limits, so the peer can size its ack batching.
	SendQueueFrames, SendQueueBytes uint64
	RecvQueueFrames, RecvQueueBytes uint64
	Channels                        [numChannels]ChannelResume
	// Early is a dialer's first control payload, carried in a fresh
	// session's Hello (never in a resume or a HelloAck): the responder
	// delivers it as control frame 1 if it is within its MaxFrameSize and
	// says so with its control resume point (1); otherwise the resume
	// point stays 0 and the dialer fails the dial. At most MaxEarlySize
	// bytes.
	Early []byte
}

const (
	helloFlagResume = 1
	helloFlagEarly  = 2
)

// AppendHello appends the encoding of h.
func AppendHello(dst []byte, h *Hello) []byte {
	dst = binary.AppendUvarint(dst, h.Version)
	flags := byte(0)
	if h.Resume {
		flags |= helloFlagResume
	}
	if len(h.Early) > 0 {
		flags |= helloFlagEarly
	}
	dst = append(dst, byte(h.Status), flags)
	for _, id := range []peer.ID{h.From, h.To} {
		dst = binary.AppendUvarint(dst, uint64(len(id)))
		dst = append(dst, id...)
	}
	for _, v := range []uint64{h.Epoch, h.MaxFrame, h.SendQueueFrames, h.SendQueueBytes, h.RecvQueueFrames, h.RecvQueueBytes} {
		dst = binary.AppendUvarint(dst, v)
	}
	for _, c := range h.Channels {
		dst = binary.AppendUvarint(dst, c.Delivered)
		dst = binary.AppendUvarint(dst, c.WinFrames)
		dst = binary.AppendUvarint(dst, c.WinBytes)
	}
	if len(h.Early) > 0 {
		dst = binary.AppendUvarint(dst, uint64(len(h.Early)))
		dst = append(dst, h.Early...)
	}
	return dst
}

// DecodeHello parses a hello payload. Peer IDs are checked only for length
// here; the handshake compares them with the authenticated peers.
func DecodeHello(b []byte) (Hello, error) {
	var h Hello
	if len(b) > maxHelloSize {
		return h, fmt.Errorf("%w: hello %d bytes > %d", ErrMalformedFrame, len(b), maxHelloSize)
	}
	r := b
	uv := func(field string) (uint64, error) {
		v, k := binary.Uvarint(r)
		if k <= 0 {
			return 0, fmt.Errorf("%w: hello.%s not a uvarint", ErrMalformedFrame, field)
		}
		r = r[k:]
		return v, nil
	}
	var err error
	if h.Version, err = uv("version"); err != nil {
		return h, err
	}
	if len(r) < 2 {
		return h, fmt.Errorf("%w: hello truncated at status", ErrMalformedFrame)
	}
	h.Status, h.Resume = Status(r[0]), r[1]&helloFlagResume != 0
	early := r[1]&helloFlagEarly != 0
	if h.Status < StatusOK || h.Status > statusMax {
		return h, fmt.Errorf("%w: hello.status %d", ErrMalformedFrame, r[0])
	}
	if r[1]&^(helloFlagResume|helloFlagEarly) != 0 {
		return h, fmt.Errorf("%w: hello.flags %#x", ErrMalformedFrame, r[1])
	}
	if early && h.Resume {
		return h, fmt.Errorf("%w: hello carries early data in a resume", ErrMalformedFrame)
	}
	r = r[2:]
	for _, dst := range []*peer.ID{&h.From, &h.To} {
		n, err := uv("peer_len")
		if err != nil {
			return h, err
		}
		if n > maxPeerIDLen || n > uint64(len(r)) {
			return h, fmt.Errorf("%w: hello peer id length %d", ErrMalformedFrame, n)
		}
		*dst = peer.ID(r[:n])
		r = r[n:]
	}
	names := []string{"epoch", "max_frame", "send_queue_frames", "send_queue_bytes", "recv_queue_frames", "recv_queue_bytes"}
	for i, dst := range []*uint64{&h.Epoch, &h.MaxFrame, &h.SendQueueFrames, &h.SendQueueBytes, &h.RecvQueueFrames, &h.RecvQueueBytes} {
		if *dst, err = uv(names[i]); err != nil {
			return h, err
		}
	}
	for i := range h.Channels {
		c := &h.Channels[i]
		for _, dst := range []*uint64{&c.Delivered, &c.WinFrames, &c.WinBytes} {
			if *dst, err = uv("channels"); err != nil {
				return h, err
			}
		}
	}
	if early {
		n, err := uv("early_len")
		if err != nil {
			return h, err
		}
		if n == 0 || n > MaxEarlySize || n > uint64(len(r)) {
			return h, fmt.Errorf("%w: hello early data length %d (1..%d)", ErrMalformedFrame, n, MaxEarlySize)
		}
		h.Early, r = r[:n], r[n:]
	}
	if len(r) != 0 {
		return h, fmt.Errorf("%w: hello has %d trailing bytes", ErrMalformedFrame, len(r))
	}
	return h, nil
}
