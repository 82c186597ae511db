package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/node"
	"github.com/web4p2p/web4p2p/node/card"
)

// dhtNode starts a node with the DHT (and the API, so the CLI can attach).
func dhtNode(t *testing.T, cfg node.Config) (*node.Node, *events.Ring) {
	t.Helper()
	ring := events.NewRing(256)
	cfg.DataDir, cfg.DHT, cfg.Sinks = t.TempDir(), "server", []events.Sink{ring}
	return startedNode(t, cfg), ring
}

// find prints the providers of a capability with their trust state and
// verified card, progress on stderr; --json prints the API's result.
func TestFindCommandListsVerifiedAgents(t *testing.T) {
	seed, _ := dhtNode(t, node.Config{})
	boot := []string{seed.Addrs()[0].String()}
	provider, rp := dhtNode(t, node.Config{Bootstrap: boot, AgentID: "translator", Capabilities: []string{"translate"}})
	searcher, _ := dhtNode(t, node.Config{Bootstrap: boot})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, ok := rp.WaitFor(ctx.Done(), func(e events.Event) bool {
		return e.Type == "web4.discovery.advertised" && e.Data["namespace"] == card.Namespace("translate")
	}); !ok {
		t.Fatal("the provider never advertised")
	}
	dd := []string{"--data-dir", searcher.Config().DataDir}

	app := newApp()
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errOut
	if err := execute(ctx, app, append([]string{"web4p2p", "find", "translate"}, dd...)); err != nil {
		t.Fatalf("find: %v\n%s", err, errOut.String())
	}
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	short := provider.ID().String()[:minPeerPrefix]
	if !strings.Contains(out.String(), "translator") || !strings.Contains(out.String(), short) || !strings.Contains(out.String(), "verified") {
		t.Fatalf("find output:\n%s", out.String())
	}
	if !strings.Contains(errOut.String(), "found provider "+provider.ID().String()) || !strings.Contains(errOut.String(), "verified the card of") {
		t.Fatalf("progress on stderr:\n%s", errOut.String())
	}

	js, err := run(t, append([]string{"find", "translate", "--json"}, dd...)...)
	if err != nil {
		t.Fatal(err)
	}
	var res card.FindResult
	if err := json.Unmarshal([]byte(js), &res); err != nil || len(res.Agents) != 1 || !res.Agents[0].Verified || res.Agents[0].PeerID != provider.ID().String() {
		t.Fatalf("find --json: %v\n%s", err, js)
	}
	if out, err := run(t, "status", "--data-dir", provider.Config().DataDir); err != nil || !strings.Contains(out, "capability:  translate\n") {
		t.Fatalf("the provider's status: %q %v", out, err)
	}
	if out, err := run(t, append([]string{"find", "nobody-has-this"}, dd...)...); err != nil || !strings.Contains(out, `no agent advertises "nobody-has-this"`) {
		t.Fatalf("nothing found: %q %v", out, err)
	}
}

// Bad input is one error line naming what is wrong, before the node is
// asked; a node without the DHT says so.
func TestFindCommandErrors(t *testing.T) {
	dir := t.TempDir()
	runningNode(t, dir) // no DHT
	for args, want := range map[string]string{
		"find":                     "want exactly one capability",
		"find Translate":           "upper case",
		"find a//b":                "empty segment",
		"find x --limit 0":         "--limit 0",
		"find x --timeout 1h":      "--timeout 1h0m0s",
		"find translate":           "needs the DHT",
		"find translate/de --json": "needs the DHT",
	} {
		_, err := run(t, append(strings.Fields(args), "--data-dir", dir)...)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want one line saying %q", args, err, want)
		}
	}
	if _, err := run(t, "start", "--data-dir", t.TempDir(), "--capability", "Bad Name", "--listen", "/ip4/127.0.0.1/tcp/0", "--quiet"); err == nil ||
		!strings.Contains(err.Error(), "capability[0]") {
		t.Errorf("start with a bad capability: %v", err)
	}
}
