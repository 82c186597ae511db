package node

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/node/api"
)

// TestMetricsGaugesFollowTrustAndFacts scrapes /metrics on a real node and
// watches web4_peers{trust} and web4_facts{status} follow the ledger and
// the knowledge store.
func TestMetricsGaugesFollowTrustAndFacts(t *testing.T) {
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	anchor, _ := peer.IDFromPrivateKey(k)
	dir := t.TempDir()
	n, _ := startNode(t, Config{DataDir: dir, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, APIAddr: "127.0.0.1:0",
		TrustAnchors: []string{anchor.String()}})
	token, err := api.ReadToken(filepath.Join(dir, api.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path, body string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, method, "http://"+n.APIAddr()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		return string(raw)
	}
	want := func(name, label string, exp map[string]float64) {
		t.Helper()
		got := scrapeGauge(t, do("GET", "/metrics", ""), name, label)
		for v, x := range exp {
			if y, ok := got[v]; !ok || y != x {
				t.Fatalf("%s{%s=%q} = %v, want %v (all: %v)", name, label, v, got[v], x, got)
			}
		}
	}
	// Every state and status is exported, the anchor as trusted.
	want("web4_peers", "trust", map[string]float64{"unknown": 0, "untrusted": 0, "probing": 0, "trusted": 1, "blacklisted": 0})
	want("web4_facts", "status", map[string]float64{"proposed": 0, "pending": 0, "accepted": 0, "disputed": 0, "rejected": 0})

	do("POST", "/v1/trust/"+anchor.String(), `{"state":"blacklisted","reason":"metrics test"}`)
	want("web4_peers", "trust", map[string]float64{"trusted": 0, "blacklisted": 1})

	do("POST", "/v1/facts", `{"statement":"water boils at 100 C at sea level","domain":"physics","confidence":0.9}`)
	got := scrapeGauge(t, do("GET", "/metrics", ""), "web4_facts", "status")
	var total float64
	for _, x := range got {
		total += x
	}
	if total != 1 {
		t.Fatalf("web4_facts after one proposal: %v, want one fact in all", got)
	}
	facts := n.Knowledge().Facts()
	if len(facts) != 1 || got[facts[0].Status.String()] != 1 {
		t.Fatalf("web4_facts %v does not match the store %v", got, facts)
	}
}

// scrapeGauge reads name{label="v"} values out of a Prometheus text body.
func scrapeGauge(t *testing.T, body, name, label string) map[string]float64 {
	t.Helper()
	if !strings.Contains(body, "# TYPE "+name+" gauge") {
		t.Fatalf("/metrics has no gauge %s", name)
	}
	re := regexp.MustCompile(fmt.Sprintf(`(?m)^%s\{%s="([^"]*)"\} (\S+)$`, regexp.QuoteMeta(name), regexp.QuoteMeta(label)))
	out := map[string]float64{}
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatalf("%s: %v", m[0], err)
		}
		out[m[1]] = v
	}
	return out
}
