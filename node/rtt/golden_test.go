package rtt

import (
	"encoding/hex"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestWireGolden pins the wire format: a handshake transcript (Hello,
// HelloAck, two Attach frames) and a data frame with a piggybacked ack,
// each as hex with a comment line. A change to the encoding shows up here
// and must come with a protocol version bump.
func TestWireGolden(t *testing.T) {
	sid := [16]byte{0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0}
	dialer, responder := peer.ID("dialer-peer-id"), peer.ID("responder-peer-id")
	hello := Hello{Version: Version, Status: StatusOK, From: dialer, To: responder, MaxFrame: 1 << 20,
		SendQueueFrames: 1024, SendQueueBytes: 8 << 20, RecvQueueFrames: 1024, RecvQueueBytes: 8 << 20}
	for i := range hello.Channels {
		hello.Channels[i] = ChannelResume{Delivered: 0, WinFrames: 1024, WinBytes: 8 << 20}
	}
	ack := hello
	ack.From, ack.To, ack.Epoch = responder, dialer, 1
	resume := hello
	resume.Resume = true
	resume.Channels[1].Delivered = 41
	early := hello
	early.Early = []byte("CIP HELLO")
	steps := []struct {
		what string
		f    Frame
	}{
		{"dialer → responder, control: hello", Frame{Kind: KindHello, Channel: Control, Session: sid, Payload: AppendHello(nil, &hello)}},
		{"responder → dialer, control: hello_ack epoch 1", Frame{Kind: KindHelloAck, Channel: Control, Session: sid, Payload: AppendHello(nil, &ack)}},
		{"dialer → responder, state: attach epoch 1", Frame{Kind: KindAttach, Channel: State, Session: sid, Seq: 1}},
		{"dialer → responder, knowledge: attach epoch 1", Frame{Kind: KindAttach, Channel: Knowledge, Session: sid, Seq: 1}},
		{"dialer → responder, state: data seq 1 ack 0 window 1024/8MiB", Frame{Kind: KindData, Channel: State, Session: sid, Seq: 1, WinFrames: 1024, WinBytes: 8 << 20, Payload: []byte("STATE_UPDATE")}},
		{"responder → dialer, control: ping 7", Frame{Kind: KindPing, Channel: Control, Session: sid, Seq: 7}},
		{"dialer → responder, control: resume hello (state delivered 41)", Frame{Kind: KindHello, Channel: Control, Session: sid, Payload: AppendHello(nil, &resume)}},
		{"dialer → responder, control: hello with early data (DialEarly)", Frame{Kind: KindHello, Channel: Control, Session: sid, Payload: AppendHello(nil, &early)}},
	}
	var b strings.Builder
	for _, s := range steps {
		enc, err := EncodeFrame(&s.f, 1<<20)
		if err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		b.WriteString("# " + s.what + "\n" + hex.EncodeToString(enc) + "\n")
	}
	const path = "testdata/handshake.golden"
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if got := b.String(); got != string(want) {
		t.Fatalf("wire format changed:\n got:\n%s\nwant:\n%s", got, want)
	}
}
