package gossip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/internal/events"
)

// FuzzValidate drives the validator adapter (size bound, panic recovery,
// error → verdict mapping, own-publish error capture) with arbitrary data
// and an arbitrary Validate behaviour chosen by the first byte.
func FuzzValidate(f *testing.F) {
	f.Add([]byte{0}, false)
	f.Add([]byte("\x01ignored"), false)
	f.Add([]byte("\x02rejected"), true)
	f.Add([]byte("\x03panics"), false)
	f.Add(bytes.Repeat([]byte{0}, 200), true)
	f.Add([]byte{}, false)

	_, hs := newMocknet(f, 1)
	ring := events.NewRing(16)
	check := &events.CheckingSink{Next: ring}
	cfg := testConfig()
	cfg.MaxMessageSize = 128
	cfg.Events = events.NewEmitter(hs[0].ID().String(), check, nil)
	cfg.Validate = errOnly(func(_ context.Context, _ string, _ peer.ID, raw []byte) error {
		if len(raw) == 0 {
			return nil
		}
		switch raw[0] % 4 {
		case 1:
			return fmt.Errorf("fuzz: %w", ErrIgnore)
		case 2:
			return errors.New("fuzz: invalid")
		case 3:
			panic("fuzz: validator panic")
		}
		return nil
	})
	g, err := New(context.Background(), hs[0], cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = g.Close() })
	remote := peer.ID("remote-peer")

	f.Fuzz(func(t *testing.T, data []byte, local bool) {
		topic := testTopic
		msg := &pubsub.Message{Message: &pb.Message{Data: data, Topic: &topic}}
		var lp *localPublish
		from := remote
		if local {
			lp = &localPublish{}
			msg.ValidatorData = lp
			from = hs[0].ID()
		}
		got := g.validator(topic)(context.Background(), from, msg)

		want := pubsub.ValidationAccept
		switch {
		case len(data) > cfg.MaxMessageSize:
			want = pubsub.ValidationReject
		case len(data) == 0:
		case data[0]%4 == 1:
			want = pubsub.ValidationIgnore
		case data[0]%4 >= 2:
			want = pubsub.ValidationReject
		}
		if got != want {
			t.Fatalf("verdict %v, want %v for %q", got, want, data)
		}
		if lp != nil && (!lp.called || (lp.err == nil) != (want == pubsub.ValidationAccept)) {
			t.Fatalf("own-publish capture = %+v for verdict %v", lp, got)
		}
		if id := MsgID(data); len(id) != 32 || id != MsgID(bytes.Clone(data)) {
			t.Fatalf("MsgID not a stable 32-byte digest")
		}
		if fl := check.Failures(); len(fl) > 0 {
			t.Fatalf("schema failures: %v", fl)
		}
	})
}

// FuzzPublish feeds arbitrary topics and payloads to Publish on a live
// node: it must never panic, and every refusal must be one of the package's
// sentinels.
func FuzzPublish(f *testing.F) {
	f.Add(testTopic, []byte("hello"))
	f.Add(testTopic, []byte("bad:x"))
	f.Add(testTopic, []byte("ignore:x"))
	f.Add(testTopic, []byte{})
	f.Add("", []byte("x"))
	f.Add("/web4/other/1.0", bytes.Repeat([]byte("z"), 300))

	_, hs := newMocknet(f, 1)
	n := startNode(f, hs[0], func(c *Config) { c.MaxMessageSize = 256 })
	sentinels := []error{ErrBadMessage, ErrNotJoined, ErrRejected, ErrIgnore, ErrDuplicate}

	f.Fuzz(func(t *testing.T, topic string, data []byte) {
		err := n.g.Publish(context.Background(), topic, data)
		if err == nil {
			if topic != testTopic || len(data) == 0 || len(data) > 256 || bytes.HasPrefix(data, []byte("bad:")) {
				t.Fatalf("Publish(%q, %q) accepted", topic, data)
			}
			return
		}
		for _, s := range sentinels {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("Publish(%q, %q) = %v: not a gossip sentinel", topic, data, err)
	})
}
