package hcp

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/store"
	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// interleave times base and subj in alternating batches of k operations so
// both see the same machine load, and returns the two medians per op.
func interleave(b *testing.B, k int, base, subj func()) (time.Duration, time.Duration) {
	b.Helper()
	var bt, st []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i += k {
		t1 := time.Now()
		for j := 0; j < k; j++ {
			base()
		}
		t2 := time.Now()
		for j := 0; j < k; j++ {
			subj()
		}
		t3 := time.Now()
		bt, st = append(bt, t2.Sub(t1)/time.Duration(k)), append(st, t3.Sub(t2)/time.Duration(k))
	}
	b.StopTimer()
	return median(bt), median(st)
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// BenchmarkParseState: the strict, field-naming state parser against a
// plain encoding/json decode of the same document into a same-shaped struct
// without any checks (ratio = baseline time / parser time; 1 = free).
func BenchmarkParseState(b *testing.B) {
	raw := []byte(validPayloads[envelope.HCPStateUpdate])
	type plain struct {
		Presence, Affect  string
		Clarity, Pressure int
		Intent, Consent   string
		ConsentScope      []string `json:"consent_scope"`
		ConsentExpires    string   `json:"consent_expires"`
	}
	base, subj := interleave(b, 16, func() {
		var p plain
		if err := json.Unmarshal(raw, &p); err != nil {
			b.Fatal(err)
		}
	}, func() {
		if _, err := ParseState(raw); err != nil {
			b.Fatal(err)
		}
	})
	b.ReportMetric(base.Seconds()/subj.Seconds(), "ratio")
	b.ReportMetric(float64(subj.Nanoseconds()), "ns/parse")
}

// BenchmarkGatePass: the consent gate's allowed path (lock, expiry scan,
// rule) against the pure rule Permits alone.
func BenchmarkGatePass(b *testing.B) {
	db := openStoreB(b)
	g, err := NewGate(db, GateConfig{}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	h := human(envelope.ConsentLimited, "topic:a", "topic:b", "topic:work")
	if _, err := g.SetHuman(ctx, h); err != nil {
		b.Fatal(err)
	}
	a := Action{ID: "x", Kind: "prompt", Topic: "work"}
	now := time.Now()
	base, subj := interleave(b, 64, func() {
		if Permits(&h, "work", now) != nil {
			b.Fatal("blocked")
		}
	}, func() {
		if err := g.Pass(ctx, a); err != nil {
			b.Fatal(err)
		}
	})
	b.ReportMetric(base.Seconds()/subj.Seconds(), "ratio")
	b.ReportMetric(float64(subj.Nanoseconds()), "ns/pass")
}

func openStoreB(b *testing.B) *store.DB {
	db, err := store.Open(filepath.Join(b.TempDir(), store.FileName))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}
