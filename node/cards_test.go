package node

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

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
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, r := range b.Peers().Ready() {
			if r.PeerID == a.ID() && slices.Contains(r.Capabilities, "translate") && slices.Contains(r.Capabilities, "cip/1.0") {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("b never saw a's capabilities: %+v", b.Peers().Ready())
		case <-tick.C:
		}
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
