package rtt

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

func sampleFrames() []Frame {
	sid := [16]byte{0xde, 0xad, 0xbe, 0xef}
	return []Frame{
		{Kind: KindData, Channel: State, Session: sid, Seq: 1, Ack: 7, WinFrames: 1024, WinBytes: 8 << 20, Payload: []byte("payload")},
		{Kind: KindData, Channel: Knowledge, Flags: FlagFin, Session: sid, Seq: 1 << 40},
		{Kind: KindAck, Channel: Control, Session: sid, Ack: 99, WinFrames: 3, WinBytes: 300},
		{Kind: KindPing, Channel: Control, Session: sid, Seq: 5},
		{Kind: KindPong, Channel: Control, Session: sid, Seq: 5},
		{Kind: KindAttach, Channel: Knowledge, Session: sid, Seq: 2},
		{Kind: KindClose, Channel: Control, Session: sid},
		{Kind: KindHello, Channel: Control, Session: sid, Payload: AppendHello(nil, &Hello{Version: 1, Status: StatusOK, From: peer.ID("a"), To: peer.ID("b"), MaxFrame: 1 << 20})},
	}
}

func TestFrameRoundTrip(t *testing.T) {
	var stream []byte
	for _, f := range sampleFrames() {
		b, err := EncodeFrame(&f, 1<<20)
		if err != nil {
			t.Fatalf("%s: %v", f.Kind, err)
		}
		got, n, err := DecodeFrame(b, 1<<20)
		if err != nil || n != len(b) {
			t.Fatalf("%s: decode %v (n=%d of %d)", f.Kind, err, n, len(b))
		}
		if !framesEqual(got, f) {
			t.Fatalf("%s: round trip %+v != %+v", f.Kind, got, f)
		}
		stream = append(stream, b...)
	}
	r := bufio.NewReader(bytes.NewReader(stream))
	for _, f := range sampleFrames() {
		got, err := ReadFrame(r, 1<<20)
		if err != nil || !framesEqual(got, f) {
			t.Fatalf("ReadFrame %s: %+v %v", f.Kind, got, err)
		}
	}
	if _, err := ReadFrame(r, 1<<20); !errors.Is(err, io.EOF) {
		t.Fatalf("end of stream: %v", err)
	}
}

func framesEqual(a, b Frame) bool {
	return a.Kind == b.Kind && a.Channel == b.Channel && a.Flags == b.Flags && a.Session == b.Session &&
		a.Seq == b.Seq && a.Ack == b.Ack && a.WinFrames == b.WinFrames && a.WinBytes == b.WinBytes &&
		bytes.Equal(a.Payload, b.Payload)
}

func TestFrameRejects(t *testing.T) {
	sid := [16]byte{1}
	bad := []struct {
		name string
		f    Frame
		want error
	}{
		{"kind 0", Frame{Channel: Control, Session: sid}, ErrMalformedFrame},
		{"kind 9", Frame{Kind: 9, Channel: Control}, ErrMalformedFrame},
		{"channel 0", Frame{Kind: KindAck}, ErrMalformedFrame},
		{"channel 4", Frame{Kind: KindAck, Channel: 4}, ErrMalformedFrame},
		{"data seq 0", Frame{Kind: KindData, Channel: State}, ErrMalformedFrame},
		{"fin with payload", Frame{Kind: KindData, Channel: State, Seq: 1, Flags: FlagFin, Payload: []byte("x")}, ErrMalformedFrame},
		{"unknown flag", Frame{Kind: KindData, Channel: State, Seq: 1, Flags: 2}, ErrMalformedFrame},
		{"fin on ack", Frame{Kind: KindAck, Channel: State, Flags: FlagFin}, ErrMalformedFrame},
		{"ping on state", Frame{Kind: KindPing, Channel: State}, ErrMalformedFrame},
		{"hello on knowledge", Frame{Kind: KindHello, Channel: Knowledge}, ErrMalformedFrame},
		{"ack with payload", Frame{Kind: KindAck, Channel: State, Payload: []byte("x")}, ErrMalformedFrame},
		{"too large", Frame{Kind: KindData, Channel: State, Seq: 1, Payload: make([]byte, 11)}, ErrFrameTooLarge},
	}
	for _, tc := range bad {
		if _, err := EncodeFrame(&tc.f, 10); !errors.Is(err, tc.want) {
			t.Errorf("%s: encode: %v, want %v", tc.name, err, tc.want)
		}
	}
	// Decoder-side checks on raw bytes.
	good, _ := EncodeFrame(&Frame{Kind: KindData, Channel: State, Seq: 1, Payload: []byte("0123456789")}, 10)
	raw := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, io.ErrUnexpectedEOF},
		{"truncated body", good[:len(good)-1], io.ErrUnexpectedEOF},
		{"overlong prefix", bytes.Repeat([]byte{0xff}, 11), ErrMalformedFrame},
		{"huge length", []byte{0x80, 0x80, 0x80, 0x80, 0x04}, ErrFrameTooLarge},
		{"short body", []byte{3, 1, 1, 0}, ErrMalformedFrame},
		{"payload over limit", good, ErrFrameTooLarge},
	}
	for _, tc := range raw {
		limit := 10
		if tc.name == "payload over limit" {
			limit = 9
		}
		if _, _, err := DecodeFrame(tc.b, limit); !errors.Is(err, tc.want) {
			t.Errorf("%s: decode: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := ReadFrame(bufio.NewReader(bytes.NewReader(bytes.Repeat([]byte{0xff}, 11))), 10); !errors.Is(err, ErrMalformedFrame) {
		t.Errorf("ReadFrame overlong prefix: %v", err)
	}
	if _, err := ReadFrame(bufio.NewReader(bytes.NewReader([]byte{0x80, 0x80, 0x80, 0x80, 0x04})), 10); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("ReadFrame huge: %v", err)
	}
}

func TestHelloRoundTrip(t *testing.T) {
	h := Hello{
		Version: 1, Status: StatusConflict, Resume: true, From: peer.ID("from-peer"), To: peer.ID("to"), Epoch: 3,
		MaxFrame: 1 << 20, SendQueueFrames: 1, SendQueueBytes: 2, RecvQueueFrames: 3, RecvQueueBytes: 4,
		Channels: [3]ChannelResume{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}},
	}
	got, err := DecodeHello(AppendHello(nil, &h))
	if err != nil || !reflect.DeepEqual(got, h) {
		t.Fatalf("%+v %v", got, err)
	}
	b := AppendHello(nil, &h)
	for i := range b {
		if _, err := DecodeHello(b[:i]); err == nil {
			t.Fatalf("truncated hello (%d of %d bytes) accepted", i, len(b))
		}
	}
	if _, err := DecodeHello(append(b, 0)); !errors.Is(err, ErrMalformedFrame) {
		t.Fatalf("trailing byte: %v", err)
	}

	// Early data: round trip, and every way of getting it wrong.
	e := h
	e.Resume, e.Status = false, StatusOK
	e.Early = []byte("first control payload")
	eb := AppendHello(nil, &e)
	if got, err := DecodeHello(eb); err != nil || !reflect.DeepEqual(got, e) {
		t.Fatalf("early: %+v %v", got, err)
	}
	for i := range eb {
		if _, err := DecodeHello(eb[:i]); err == nil {
			t.Fatalf("truncated early hello (%d of %d bytes) accepted", i, len(eb))
		}
	}
	resumeEarly := bytes.Clone(eb)
	resumeEarly[2] |= helloFlagResume // flags byte follows the 1-byte version and the status
	if _, err := DecodeHello(resumeEarly); !errors.Is(err, ErrMalformedFrame) {
		t.Fatalf("early data in a resume: %v", err)
	}
	big := e
	big.Early = make([]byte, MaxEarlySize+1)
	if _, err := DecodeHello(AppendHello(nil, &big)); !errors.Is(err, ErrMalformedFrame) {
		t.Fatalf("early data over MaxEarlySize: %v", err)
	}
	empty := AppendHello(nil, &h) // no early data, then the flag set by hand with length 0
	empty[2] = helloFlagEarly
	if _, err := DecodeHello(append(empty, 0)); !errors.Is(err, ErrMalformedFrame) {
		t.Fatalf("empty early data: %v", err)
	}
}

// FuzzFrameDecode: no input makes the decoder panic, and whatever it
// accepts re-encodes to the same bytes and passes Validate.
func FuzzFrameDecode(f *testing.F) {
	for _, fr := range sampleFrames() {
		b, _ := EncodeFrame(&fr, 1<<20)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 12))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, n, err := DecodeFrame(b, 1<<16)
		if err != nil {
			return
		}
		if err := fr.Validate(1 << 16); err != nil {
			t.Fatalf("decoded frame fails Validate: %v", err)
		}
		again, err := EncodeFrame(&fr, 1<<16)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, m, err := DecodeFrame(again, 1<<16)
		if err != nil || m != len(again) || !framesEqual(back, fr) {
			t.Fatalf("re-decode mismatch: %v", err)
		}
		_ = n
		// The streaming reader agrees with the slice decoder.
		rf, err := ReadFrame(bufio.NewReader(bytes.NewReader(b)), 1<<16)
		if err != nil || !framesEqual(rf, fr) {
			t.Fatalf("ReadFrame disagrees: %v", err)
		}
	})
}

// FuzzHelloDecode: no input makes the hello decoder panic; accepted input
// round-trips.
func FuzzHelloDecode(f *testing.F) {
	f.Add(AppendHello(nil, &Hello{Version: 1, Status: StatusOK, From: "a", To: "b"}))
	f.Add(AppendHello(nil, &Hello{Version: 1, Status: StatusOK, From: "a", To: "b", Early: []byte("hi")}))
	f.Add([]byte{1, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHello(b)
		if err != nil {
			return
		}
		h2, err := DecodeHello(AppendHello(nil, &h))
		if err != nil || !reflect.DeepEqual(h2, h) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
