package card

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/protocols/agentcard"
)

func newHost(t testing.TB, seed int64) host.Host {
	t.Helper()
	key, _ := testKey(t, seed)
	h, err := libp2p.New(libp2p.Identity(key), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay(), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func connect(t testing.TB, a, b host.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
}

// serving starts h's card service (its own key, its addresses).
func serving(t testing.TB, h host.Host, seed int64, caps ...string) *Service {
	t.Helper()
	key, _ := testKey(t, seed)
	pub, err := NewPublisher(key, Info{AgentID: "agent-" + h.ID().String()[len(h.ID().String())-4:], Version: "1", Capabilities: caps}, h.Addrs, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := NewService(h, pub, nil, nil)
	s.Open()
	t.Cleanup(func() { s.Close() })
	return s
}

func TestFetchReturnsTheVerifiedCard(t *testing.T) {
	a, b := newHost(t, 10), newHost(t, 11)
	serving(t, a, 10, "translate")
	fetcher := NewService(b, nil, nil, nil)
	connect(t, b, a)
	v, raw, err := fetcher.Fetch(context.Background(), a.ID())
	if err != nil {
		t.Fatal(err)
	}
	if !v.SignedBy(a.ID()) || v.Card.Skills[0].ID != "translate" || len(raw) == 0 {
		t.Fatalf("verified %+v", v)
	}
	if got := Addrs(v.Card); len(got) == 0 || !strings.HasSuffix(got[0], "/p2p/"+a.ID().String()) {
		t.Fatalf("addrs %v", got)
	}
}

// A peer whose card stream returns something other than its own, intact,
// signed card is refused with the specific error and a web4.error event
// of area "card" whose kind names the reason.
func TestFetchRefusesWhatIsNotThePeersSignedCard(t *testing.T) {
	keyA, _ := testKey(t, 20)
	keyOther, _ := testKey(t, 21)
	info := Info{AgentID: "a", Version: "1", Capabilities: []string{"translate"}}
	own, _ := NewPublisher(keyA, info, nil, nil)
	good, _, err := own.Signed()
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := NewPublisher(keyOther, info, nil, nil)
	foreignRaw, _, _ := foreign.Signed()
	var unsignedCard agentcard.Card
	_ = json.Unmarshal(good, &unsignedCard)
	unsignedCard.Signatures = nil
	unsigned, _ := json.Marshal(unsignedCard)

	for name, tc := range map[string]struct {
		body []byte
		want error
	}{
		"tampered":       {bytes.Replace(good, []byte(`"translate"`), []byte(`"transmute"`), 1), ErrBadSignature},
		"foreign signed": {foreignRaw, ErrForeignSigner},
		"unsigned":       {unsigned, ErrUnsigned},
		"not a card":     {[]byte(`{"hello":"world"}`), ErrInvalidCard},
		"empty":          {nil, ErrInvalidCard},
		"oversize":       {append(good, bytes.Repeat([]byte(" "), agentcard.MaxCardBytes)...), ErrTooLarge},
	} {
		t.Run(name, func(t *testing.T) {
			a := newHost(t, 20) // the host of keyA
			a.SetStreamHandler(ProtocolID, func(s network.Stream) {
				_ = s.SetDeadline(time.Now().Add(5 * time.Second))
				_, _ = s.Write(tc.body)
				_ = s.Close()
			})
			b := newHost(t, 22)
			ring := events.NewRing(16)
			fetcher := NewService(b, nil, nil, events.NewEmitter(b.ID().String(), ring, nil))
			connect(t, b, a)
			v, raw, err := fetcher.Fetch(context.Background(), a.ID())
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrRefused) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if raw != nil || v.Card.Name != "" {
				t.Fatal("a refused card's content was returned")
			}
			evs := ring.Events()
			if len(evs) != 1 || evs[0].Type != "web4.error" || evs[0].Data["area"] != "card" || evs[0].Data["kind"] != Reason(tc.want) ||
				evs[0].Subject != a.ID().String() {
				t.Fatalf("events %+v, want one web4.error kind %s", evs, Reason(tc.want))
			}
		})
	}
}

// A peer that never answers is given up on at the caller's deadline.
func TestFetchHonoursTheDeadline(t *testing.T) {
	a, b := newHost(t, 30), newHost(t, 31)
	release := make(chan struct{})
	defer close(release)
	a.SetStreamHandler(ProtocolID, func(s network.Stream) {
		<-release
		_ = s.Reset()
	})
	connect(t, b, a)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, _, err := NewService(b, nil, nil, nil).Fetch(ctx, a.ID()); err == nil || errors.Is(err, ErrRefused) {
		t.Fatalf("err = %v, want a read error", err)
	}
}

func TestCloseRemovesTheHandlerAndIsIdempotent(t *testing.T) {
	a, b := newHost(t, 40), newHost(t, 41)
	s := serving(t, a, 40)
	connect(t, b, a)
	if err := s.Close(); err != nil || s.Close() != nil {
		t.Fatal(err)
	}
	if _, _, err := NewService(b, nil, nil, nil).Fetch(context.Background(), a.ID()); err == nil {
		t.Fatal("fetched a card after Close")
	}
}

func FuzzReadCard(f *testing.F) {
	key, id := testKey(f, 50)
	pub, _ := NewPublisher(key, Info{AgentID: "a", Version: "1", Capabilities: []string{"x"}}, nil, nil)
	good, _, err := pub.Signed()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"name":"n","version":"1","url":"u","signatures":[{"protected":"e30","signature":"AA"}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		raw, err := ReadCard(bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("read error %v is not a refusal", err)
			}
			return
		}
		v, err := Check(raw, id)
		if err != nil {
			if Reason(err) == "" {
				t.Fatalf("refusal without a reason: %v", err)
			}
			return
		}
		if !v.SignedBy(id) {
			t.Fatalf("accepted a card not signed by %s", id)
		}
	})
}
