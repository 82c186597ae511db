package itest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/node"
	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// BenchmarkA2AGateway measures what the A2A gateway adds to asking a mesh
// peer: one operation is a blocking SendMessage on A's POST /a2a naming
// peer B, answered COMPLETED once B accepted the CIP INTENT (parse,
// consent check, task, the INTENT round trip, the task's rendering).
//
// The baseline, in the same loop: the same INTENT to B through A's
// control API, POST /v1/cip/{peer}/intent (same HTTP client, same
// token, same round trip). ratio = gateway / baseline (target ≤ 1.5).
func BenchmarkA2AGateway(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	a := startAgent(b, "a", func(c *node.Config) { c.APIAddr = "127.0.0.1:0" }, true)
	p := startAgent(b, "b", nil, true)
	linked(b, ctx, a, p)
	setConsent(b, ctx, a, envelope.ConsentGranted)
	c := newA2AClient(b, a)
	intentURL := "http://" + a.n.APIAddr() + "/v1/cip/" + p.n.ID().String() + "/intent"
	intentBody := []byte(`{"goal":"ask","topic":"research","context":"find papers"}`)
	meta := map[string]any{"peer": p.n.ID().String()}

	var base, gw time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, intentURL, bytes.NewReader(intentBody))
		req.Header.Set("Authorization", "Bearer "+c.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var rep struct{ Decision string }
		err = json.NewDecoder(resp.Body).Decode(&rep)
		resp.Body.Close()
		if err != nil || rep.Decision != "accept" {
			b.Fatalf("baseline INTENT: %v %+v", err, rep)
		}
		base += time.Since(t0)

		t0 = time.Now()
		tk := c.send(ctx, a2aMessage("find papers", "research", meta), nil)
		if tk.Status.State != "TASK_STATE_COMPLETED" {
			b.Fatalf("gateway: %s %q", tk.Status.State, tk.text())
		}
		gw += time.Since(t0)
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) / 1000 }
	b.ReportMetric(ms(base), "intent-ms/op")
	b.ReportMetric(ms(gw), "a2a-ms/op")
	b.ReportMetric(float64(gw)/float64(base), "ratio")
}
