package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/node/card"
	"github.com/web4p2p/web4p2p/protocols/agentcard"
)

// GET /.well-known/agent-card.json needs no token and returns the node's
// card, signed by its PeerID, with its declared capabilities as skills.
func TestWellKnownCardIsPublicAndSignedByThePeerID(t *testing.T) {
	n, _ := startNode(t, Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, APIAddr: "127.0.0.1:0",
		AgentID: "translator", Capabilities: []string{"translate", "translate/de-en"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+n.APIAddr()+agentcard.WellKnownPath, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	v, err := agentcard.Verify(raw)
	if err != nil {
		t.Fatalf("served card does not verify: %v\n%s", err, raw)
	}
	if !v.SignedBy(n.ID()) || len(v.Signers) != 1 {
		t.Fatalf("signed by %v, want %s", v.Signers, n.ID())
	}
	if v.Card.Name != "translator" || !slices.Equal(card.Skills(v.Card), []string{"translate", "translate/de-en"}) {
		t.Fatalf("card %+v", v.Card)
	}
	addrs := card.Addrs(v.Card)
	if len(addrs) == 0 || addrs[0] != n.Addrs()[0].String() {
		t.Fatalf("card addrs %v, node addrs %v", addrs, n.Addrs())
	}
	// A new listen address: the card served next lists it, re-signed.
	if err := n.Host().Network().Listen(ma.StringCast("/ip4/127.0.0.1/tcp/0")); err != nil {
		t.Fatal(err)
	}
	waitCond(t, ctx, "the card to list the new address", func() bool {
		raw, err := n.Cards().Signed()
		if err != nil {
			t.Fatal(err)
		}
		v, err := agentcard.VerifyFrom(raw, n.ID())
		if err != nil {
			t.Fatalf("re-signed card: %v", err)
		}
		return len(card.Addrs(v.Card)) == 2
	})
	// The rest of the API still wants the token.
	req, _ = http.NewRequestWithContext(ctx, "GET", "http://"+n.APIAddr()+"/v1/status", nil)
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/v1/status without a token: %d", resp2.StatusCode)
	}
}

// The declared capabilities travel in HELLO beside the protocol ones, so
// a peer's AgentLoop can pick this node for an intent on them.
func TestDeclaredCapabilitiesAreInHello(t *testing.T) {
	lo := []string{"/ip4/127.0.0.1/tcp/0"}
	a, _ := startNode(t, Config{ListenAddrs: lo, Capabilities: []string{"translate"}})
	b, rb := startNode(t, Config{ListenAddrs: lo, Bootstrap: []string{a.Addrs()[0].String()}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, ok := rb.WaitFor(ctx.Done(), events.OfType("web4.cip.handshake_completed")); !ok {
		t.Fatal("no CIP handshake")
	}
	waitCond(t, ctx, "b to see a's capabilities", func() bool {
		for _, r := range b.Peers().Ready() {
			if r.PeerID == a.ID() && slices.Contains(r.Capabilities, "translate") && slices.Contains(r.Capabilities, "cip/1.0") {
				return true
			}
		}
		return false
	})
}

// waitCond polls cond until it holds, failing the test when ctx ends.
func waitCond(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	if !pollUntil(ctx, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestBadCapabilityConfigNamesTheField(t *testing.T) {
	for caps, want := range map[string]string{
		"Translate":       "capability[0]",
		"ok,x//y":         "capability[1]",
		"a,a":             "given twice",
		"cip/1.0":         "protocol capability",
		"ok,has space,ok": "capability[1]",
	} {
		_, err := New(Config{DataDir: t.TempDir(), Capabilities: strings.Split(caps, ",")})
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want ErrConfig naming %q", caps, err, want)
		}
	}
	many := make([]string, card.MaxCapabilities+1)
	for i := range many {
		many[i] = "c" + strings.Repeat("x", i)
	}
	if _, err := New(Config{DataDir: t.TempDir(), Capabilities: many}); !errors.Is(err, ErrConfig) {
		t.Errorf("%d capabilities: %v", len(many), err)
	}
}

// findMesh is three DHT nodes on loopback: a seed, a provider of
// "translate" and a searcher that lists the provider as a trust anchor
// (so the trust state the find reports is known).
type findMesh struct {
	seed, provider, searcher *Node
	rs                       *events.Ring // the searcher's events
}

func newFindMesh(t *testing.T) findMesh {
	t.Helper()
	lo := []string{"/ip4/127.0.0.1/tcp/0"}
	seed, _ := startNode(t, Config{ListenAddrs: lo, DHT: "server"})
	boot := []string{seed.Addrs()[0].String()}
	provider, rp := startNode(t, Config{ListenAddrs: lo, DHT: "server", Bootstrap: boot, AgentID: "translator",
		Capabilities: []string{"translate", "ocr"}})
	searcher, rs := startNode(t, Config{ListenAddrs: lo, DHT: "server", Bootstrap: boot, APIAddr: "127.0.0.1:0",
		TrustAnchors: []string{provider.ID().String()}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, ok := rp.WaitFor(ctx.Done(), func(e events.Event) bool {
		return e.Type == "web4.discovery.advertised" && e.Data["namespace"] == card.Namespace("translate")
	}); !ok {
		t.Fatalf("the provider never advertised translate; events: %v", rp.Events())
	}
	return findMesh{seed, provider, searcher, rs}
}

func (m findMesh) find(t *testing.T, capability string) card.FindResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := m.searcher.Cards().Find(ctx, capability, 0)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Three nodes with the DHT, one started with capability "translate": a
// find from another lists it, with its trust state and a verified card.
func TestFindListsTheProviderWithItsTrustAndAVerifiedCard(t *testing.T) {
	m := newFindMesh(t)
	res := m.find(t, "translate")
	if len(res.Agents) != 1 {
		t.Fatalf("found %+v, want the provider only", res.Agents)
	}
	f := res.Agents[0]
	if f.PeerID != m.provider.ID().String() || !f.Verified || f.AgentID != "translator" || f.Trust != "trusted" ||
		!slices.Equal(f.Skills, []string{"translate", "ocr"}) || len(f.Addrs) == 0 || f.Error != "" {
		t.Fatalf("found %+v", f)
	}
	if _, err := agentcard.VerifyFrom(f.Card, m.provider.ID()); err != nil {
		t.Fatalf("the card returned does not verify: %v", err)
	}
	if m.rs.Count("web4.card.verified") != 1 || m.rs.Count("web4.card.find_done") != 1 {
		t.Fatalf("events: %v", m.rs.Events())
	}
	// Nobody advertises "ocr/handwriting": an empty list, not an error.
	if res := m.find(t, "ocr/handwriting"); len(res.Agents) != 0 {
		t.Fatalf("found %+v for a capability nobody has", res.Agents)
	}
}

// A provider whose card stream returns a tampered or another agent's card
// is listed as not verified, with the reason and none of the card's
// content, and the searcher reports the refusal.
func TestFindRefusesATamperedOrForeignCard(t *testing.T) {
	m := newFindMesh(t)
	good, err := m.provider.Cards().Signed()
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := m.seed.Cards().Signed()
	if err != nil {
		t.Fatal(err)
	}
	// The provider's own, valid card that does not list the capability it
	// advertises in the DHT.
	other, err := card.NewPublisher(m.provider.Key(), card.Info{AgentID: "translator", Version: "1", Capabilities: []string{"ocr"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	unlisted, _, err := other.Signed()
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		body   []byte
		reason string
	}{
		"tampered":   {[]byte(strings.Replace(string(good), `"translator"`, `"impostor"`, 1)), "bad_signature"},
		"foreign":    {foreign, "foreign_signer"},
		"not listed": {unlisted, "not_listed"},
	} {
		t.Run(name, func(t *testing.T) {
			m.provider.Host().SetStreamHandler(card.ProtocolID, func(s network.Stream) {
				_ = s.SetDeadline(time.Now().Add(5 * time.Second))
				_, _ = s.Write(tc.body)
				_ = s.Close()
			})
			before := m.rs.Count("web4.error")
			res := m.find(t, "translate")
			if len(res.Agents) != 1 {
				t.Fatalf("found %+v", res.Agents)
			}
			f := res.Agents[0]
			if f.Verified || f.Refused != tc.reason || f.AgentID != "" || f.Skills != nil || f.Card != nil || f.Trust != "trusted" {
				t.Fatalf("found %+v, want refused %s with nothing of the card", f, tc.reason)
			}
			var refusals int
			for _, e := range m.rs.Events() {
				if e.Type == "web4.error" && e.Data["area"] == "card" && e.Data["kind"] == tc.reason && e.Subject == m.provider.ID().String() {
					refusals++
				}
			}
			if refusals != 1 || m.rs.Count("web4.error") != before+1 {
				t.Fatalf("%d refusal events; events: %v", refusals, m.rs.Events())
			}
		})
	}
}

// GET /v1/find lists the same; a bad capability name is a 400 naming the
// query parameter; a node without the DHT says so.
func TestFindOverTheAPI(t *testing.T) {
	m := newFindMesh(t)
	tok, err := os.ReadFile(filepath.Join(m.searcher.Config().DataDir, "api.token"))
	if err != nil {
		t.Fatal(err)
	}
	get := func(n *Node, q string) (int, map[string]any) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+n.APIAddr()+"/v1/find?"+q, nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	code, out := get(m.searcher, "capability=translate")
	agents, _ := out["agents"].([]any)
	if code != http.StatusOK || len(agents) != 1 || agents[0].(map[string]any)["verified"] != true {
		t.Fatalf("%d %v", code, out)
	}
	for q, want := range map[string]string{
		"capability=Translate": `query "capability"`,
		"":                     `query "capability"`,
		"capability=a//b":      "empty segment",
		"capability=x&limit=0": `query "limit"`,
	} {
		code, out := get(m.searcher, q)
		if code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(out["detail"]), want) {
			t.Errorf("%q: %d %v, want 400 saying %s", q, code, out, want)
		}
	}
	// A node without the DHT (its own token).
	off, _ := startNode(t, Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, APIAddr: "127.0.0.1:0"})
	tok, _ = os.ReadFile(filepath.Join(off.Config().DataDir, "api.token"))
	if code, out := get(off, "capability=translate"); code != http.StatusServiceUnavailable || out["error"] != "no_dht" {
		t.Fatalf("without the DHT: %d %v", code, out)
	}
}

// A provider whose record outlives it is listed as not reached, with the
// reason, and no card.
func TestFindReportsAProviderItCannotReach(t *testing.T) {
	m := newFindMesh(t)
	if err := m.provider.Close(); err != nil {
		t.Fatal(err)
	}
	res := m.find(t, "translate")
	if len(res.Agents) != 1 {
		t.Fatalf("found %+v", res.Agents)
	}
	f := res.Agents[0]
	t.Logf("unreachable provider: %s", f.Error)
	if f.Verified || f.Refused != "" || f.Error == "" || f.Card != nil || f.PeerID != m.provider.ID().String() {
		t.Fatalf("found %+v, want the provider not reached", f)
	}
}
