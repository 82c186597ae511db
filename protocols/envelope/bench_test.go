package envelope

import (
	"crypto/ed25519"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// kibPayload returns a FACT_PROPOSE payload of about 1 KiB.
func kibPayload() string {
	steps := make([]string, 0, 16)
	for i := 0; i < 12; i++ {
		steps = append(steps, `"step `+strings.Repeat("x", 50)+`"`)
	}
	p := `{"fact":{"statement":"water boils at 100 C at sea level","domain":"physics","confidence":0.9,"sources":["https://example.org/boil","https://example.org/physics"],"context":"textbook","subject":"water","predicate":"boils_at","object":"100C"},"dmp_trace":{"decision_id":"d-1","steps":[` +
		strings.Join(steps, ",") + `],"counterfactuals":["it boils at 90 C"],"evidence":["https://example.org/boil"]},"causal_links":["c-1","c-2"]}`
	return p
}

// BenchmarkEnvelopeVerify measures the receive path of a ~1 KiB
// FACT_PROPOSE envelope as a node runs it: Validator.Validate with the
// default configuration, including the replay cache node.New builds
// (DefaultReplayWindow, DefaultReplayCapacity). The cache starts half full
// of other senders' ids spread over the window, and the clock moves on by
// window/(capacity/2) per envelope, so it stays half full: every Add also
// expires an entry. Every envelope is a distinct one (msg_id, timestamp,
// signature), sealed before the timer starts.
//
// Each iteration times, one after the other on the same envelope: a bare
// VerifyBytes of its signed bytes (the primitive the validator uses),
// Validate, crypto/ed25519.Verify, and each fast path of checks 1, 2 and 9
// next to the library path it stands in for. Metrics, from the medians of
// those times:
//
//   - ratio: Validate throughput ÷ VerifyBytes throughput (target ≥ 0.6);
//     stdlib-ratio: the same against crypto/ed25519.Verify.
//   - <path>-ratio: the fast path's time ÷ the library path's time, for
//     strict (parseStrict vs libraryParse), quickcip (quickCIP vs the CIP
//     envelope schema) and quickschema (the quick payload check vs the
//     payload schema), the schemas run by the jsonschema library.
//   - <path>-e2e: Validate throughput with the fast path ÷ with the
//     library path in its place, (full − fast + library) ÷ full; the
//     checks run one after another, so swapping one changes the total by
//     the difference. A fast path is worth keeping at ≥ 1.15.
func BenchmarkEnvelopeVerify(b *testing.B) {
	payload := kibPayload()
	if n := len(payload); n < 1000 || n > 1100 {
		b.Fatalf("payload is %d bytes, want ~1 KiB", n)
	}
	const fill = DefaultReplayCapacity / 2
	step := DefaultReplayWindow / fill
	replay := NewReplayCache(DefaultReplayWindow, DefaultReplayCapacity)
	for i := range fill {
		at := t0.Add(-DefaultReplayWindow + time.Duration(i+1)*step)
		replay.Add(fmt.Sprintf("%064x/6f1c1a2e-8f3b-4c5d-9e7f-%012x", i, i), at)
	}
	var now time.Time
	cfg := DefaultConfig(bobFP)
	cfg.Now = func() time.Time { return now }
	cfg.Replay = replay
	v := NewValidator(cfg)

	type item struct {
		wire, msg, sig []byte
		at             time.Time
	}
	items := make([]item, b.N)
	for i := range items {
		e := newEnv(FactPropose, payload)
		e.MsgID = fmt.Sprintf("6f1c1a2e-8f3b-4c5d-9e7f-%012x", i)
		e.Timestamp = t0.Add(time.Duration(i) * step)
		wire := seal(b, e, aliceKey)
		msg, err := e.SigningBytes()
		if err != nil {
			b.Fatal(err)
		}
		items[i] = item{wire: wire, msg: msg, sig: mustB64(b, e.Sign.Signature), at: e.Timestamp}
	}
	pub := aliceKey.Public().(ed25519.PublicKey)
	r, err := schemas()
	if err != nil {
		b.Fatal(err)
	}
	ps := r.payload(FactPropose)
	if ps.quick == nil {
		b.Fatal("no quick payload check")
	}

	const (
		raw = iota
		full
		std
		strictFast
		strictLib
		cipFast
		cipLib
		payloadFast
		payloadLib
		nTimes
	)
	var times [nTimes][]time.Duration
	for k := range times {
		times[k] = make([]time.Duration, 0, b.N)
	}
	// Timer reads cost ~50 ns against µs to tens of µs per operation.
	timed := func(k int, fn func() error) {
		t := time.Now()
		if err := fn(); err != nil {
			b.Fatal(err)
		}
		times[k] = append(times[k], time.Since(t))
	}
	verify := func(ok bool) error {
		if !ok {
			return fmt.Errorf("signature does not verify")
		}
		return nil
	}
	b.ResetTimer()
	for _, it := range items {
		now = it.at
		timed(raw, func() error { return verify(VerifyBytes(pub, it.msg, it.sig)) })
		timed(full, func() error { _, err := v.Validate(it.wire); return err })
		timed(std, func() error { return verify(ed25519.Verify(pub, it.msg, it.sig)) })
		var doc *document
		timed(strictFast, func() (err error) { doc, err = parseStrict(it.wire); return err })
		timed(strictLib, func() error { _, err := libraryParse(it.wire); return err })
		timed(cipFast, func() error {
			if !r.quickCIP(doc.root) {
				return fmt.Errorf("quickCIP defers a valid envelope")
			}
			return nil
		})
		timed(cipLib, func() error { return r.envelopes[CIP].Validate(doc.root) })
		pl := doc.root["payload"]
		timed(payloadFast, func() error {
			if ps.quick.check(pl) != valid {
				return fmt.Errorf("quick check does not decide a valid payload")
			}
			return nil
		})
		timed(payloadLib, func() error { return ps.lib.Validate(pl) })
	}
	b.StopTimer()
	var med [nTimes]float64
	for k := range times {
		med[k] = median(times[k]).Seconds()
	}
	b.ReportMetric(med[raw]/med[full], "ratio")
	b.ReportMetric(med[std]/med[full], "stdlib-ratio")
	b.ReportMetric(1/med[full], "envelopes/s")
	for _, p := range []struct {
		name      string
		fast, lib int
	}{{"strict", strictFast, strictLib}, {"quickcip", cipFast, cipLib}, {"quickschema", payloadFast, payloadLib}} {
		b.ReportMetric(med[p.fast]/med[p.lib], p.name+"-ratio")
		b.ReportMetric((med[full]-med[p.fast]+med[p.lib])/med[full], p.name+"-e2e")
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func mustB64(tb testing.TB, s string) []byte {
	tb.Helper()
	out, err := decodeB64(s)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
