package card

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/protocols/agentcard"
)

// addrBox is a host's address list that a test changes.
type addrBox struct {
	mu sync.Mutex
	a  []ma.Multiaddr
}

func (b *addrBox) get() []ma.Multiaddr {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.a)
}

func (b *addrBox) set(s ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.a = nil
	for _, x := range s {
		b.a = append(b.a, ma.StringCast(x))
	}
}

// signedCard is pub's current card, which must verify as pub's PeerID.
func signedCard(t *testing.T, pub *Publisher) agentcard.Card {
	t.Helper()
	raw, _, err := pub.Signed()
	if err != nil {
		t.Fatal(err)
	}
	v, err := agentcard.VerifyFrom(raw, pub.ID())
	if err != nil {
		t.Fatalf("the served bytes do not verify as %s: %v", pub.ID(), err)
	}
	return v.Card
}

func TestCardDescribesTheNodeAndVerifiesAsItsPeerID(t *testing.T) {
	key, id := testKey(t, 1)
	box := &addrBox{}
	box.set("/ip4/127.0.0.1/tcp/4001", "/ip4/127.0.0.1/udp/4001/quic-v1")
	ring := events.NewRing(16)
	pub, err := NewPublisher(key, Info{AgentID: "alice", Mission: []string{"work", "research"}, Version: "1.2.3",
		Capabilities: []string{"translate", "summarize/de"}, Protocols: []string{"rtt/1.0", "cip/1.0"}},
		box.get, events.NewEmitter(id.String(), ring, nil))
	if err != nil {
		t.Fatal(err)
	}
	c := signedCard(t, pub)
	raw, _, _ := pub.Signed()
	if pub.ID() != id {
		t.Fatalf("publisher id %s, key's %s", pub.ID(), id)
	}
	if c.Name != "alice" || c.Version != "1.2.3" || !strings.Contains(c.Description, "work, research") {
		t.Fatalf("card %+v", c)
	}
	if got := Skills(c); !slices.Equal(got, []string{"translate", "summarize/de"}) {
		t.Fatalf("skills %v", got)
	}
	want := []string{"/ip4/127.0.0.1/tcp/4001/p2p/" + id.String(), "/ip4/127.0.0.1/udp/4001/quic-v1/p2p/" + id.String()}
	if got := Addrs(c); !slices.Equal(got, want) {
		t.Fatalf("addrs %v, want %v", got, want)
	}
	if in, ok := c.Interface(BindingLibp2p); !ok || in.URL != "/p2p/"+id.String() {
		t.Fatalf("first libp2p interface %+v %v, want the bare /p2p/<id>", in, ok)
	}
	ext := c.Capabilities.Extensions
	if len(ext) != 1 || ext[0].URI != ExtensionWeb4 || ext[0].Params["peer_id"] != id.String() {
		t.Fatalf("extensions %+v", ext)
	}
	// The cached card is returned as long as nothing changed.
	raw2, _, _ := pub.Signed()
	if string(raw2) != string(raw) || ring.Count("web4.card.signed") != 1 {
		t.Fatalf("re-signed without a change (%d signings)", ring.Count("web4.card.signed"))
	}

	// New addresses: re-signed, still verifies, lists them.
	box.set("/ip4/10.0.0.7/tcp/4001")
	if got := Addrs(signedCard(t, pub)); !slices.Equal(got, []string{"/ip4/10.0.0.7/tcp/4001/p2p/" + id.String()}) {
		t.Fatalf("after the address change: %v", got)
	}
	if ring.Count("web4.card.signed") != 2 {
		t.Fatalf("signings %d, want 2", ring.Count("web4.card.signed"))
	}
}

// The A2A gateway adds its JSON-RPC interface (listed first, as the
// preferred one) and its bearer scheme; the card is re-signed with them.
func TestAdditionsAreSignedIn(t *testing.T) {
	key, _ := testKey(t, 2)
	pub, err := NewPublisher(key, Info{AgentID: "bob", Version: "1"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	signedCard(t, pub)
	pub.Add(Addition{
		Interfaces:           []agentcard.Interface{{URL: "http://127.0.0.1:9/a2a", ProtocolBinding: agentcard.BindingJSONRPC, ProtocolVersion: agentcard.ProtocolVersion}},
		SecuritySchemes:      map[string]agentcard.SecurityScheme{"bearer": {HTTPAuth: &agentcard.HTTPAuthScheme{Scheme: "Bearer"}}},
		SecurityRequirements: []agentcard.SecurityRequirement{{Schemes: map[string]agentcard.StringList{"bearer": {List: []string{}}}}},
		Edit:                 func(c *agentcard.Card) { c.Capabilities.Streaming = true },
	})
	c := signedCard(t, pub)
	if c.SupportedInterfaces[0].ProtocolBinding != agentcard.BindingJSONRPC || c.SecuritySchemes["bearer"].HTTPAuth == nil ||
		len(c.SecurityRequirements) != 1 || !c.Capabilities.Streaming {
		t.Fatalf("additions missing: %+v", c)
	}
	if _, ok := c.Interface(BindingLibp2p); !ok {
		t.Fatal("the libp2p interface is gone")
	}
}

// A host on many interfaces lists at most MaxCardAddrs of them, and the
// card stays within what a verifier accepts.
func TestManyAddressesAreBounded(t *testing.T) {
	key, _ := testKey(t, 3)
	box := &addrBox{}
	var many []string
	for i := range 40 {
		many = append(many, fmt.Sprintf("/ip4/10.0.0.%d/tcp/4001", i+1))
	}
	box.set(many...)
	pub, err := NewPublisher(key, Info{AgentID: "c", Version: "1"}, box.get, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(Addrs(signedCard(t, pub))); n != MaxCardAddrs {
		t.Fatalf("%d addresses listed, want %d", n, MaxCardAddrs)
	}
}

func TestPublisherRefusesBadCapabilities(t *testing.T) {
	key, _ := testKey(t, 4)
	if _, err := NewPublisher(key, Info{AgentID: "x", Capabilities: []string{"ok", "Not OK"}}, nil, nil); !errors.Is(err, ErrCapability) ||
		!strings.Contains(err.Error(), "capabilities[1]") {
		t.Fatalf("err = %v, want ErrCapability naming capabilities[1]", err)
	}
}
