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

// verifyBench is the setting of the receive-path benchmarks: a ~1 KiB
// FACT_PROPOSE envelope validated as a node validates it,
// Validator.Validate with the default configuration and the replay cache
// node.New builds (DefaultReplayWindow, DefaultReplayCapacity). The cache
// starts half full of other senders' ids spread over the window, and the
// clock moves on by window/(capacity/2) per envelope, so it stays half
// full: every Add also expires an entry. Every envelope is a distinct one
// (msg_id, timestamp, signature), sealed before the timer starts.
type verifyBench struct {
	v    *Validator
	now  time.Time
	step time.Duration
	r    *registry
	pub  ed25519.PublicKey
	seq  int
}

func newVerifyBench(b *testing.B) *verifyBench {
	if n := len(kibPayload()); n < 1000 || n > 1100 {
		b.Fatalf("payload is %d bytes, want ~1 KiB", n)
	}
	const fill = DefaultReplayCapacity / 2
	vb := &verifyBench{step: DefaultReplayWindow / fill, pub: aliceKey.Public().(ed25519.PublicKey)}
	replay := NewReplayCache(DefaultReplayWindow, DefaultReplayCapacity)
	for i := range fill {
		at := t0.Add(-DefaultReplayWindow + time.Duration(i+1)*vb.step)
		replay.Add(fmt.Sprintf("%064x/6f1c1a2e-8f3b-4c5d-9e7f-%012x", i, i), at)
	}
	cfg := DefaultConfig(bobFP)
	cfg.Now = func() time.Time { return vb.now }
	cfg.Replay = replay
	vb.v = NewValidator(cfg)
	var err error
	if vb.r, err = schemas(); err != nil {
		b.Fatal(err)
	}
	return vb
}

// round is what one iteration validates: k distinct envelopes, all
// timestamped at (and validated at) at.
type round struct {
	wires    [][]byte
	msg, sig []byte // of wires[0]
	at       time.Time
}

// rounds seals n rounds of k envelopes.
func (vb *verifyBench) rounds(b *testing.B, n, k int) []round {
	out := make([]round, n)
	payload := kibPayload()
	for i := range out {
		e := newEnv(FactPropose, payload)
		e.Timestamp = t0.Add(time.Duration(i) * vb.step)
		out[i].at = e.Timestamp
		for j := k - 1; j >= 0; j-- {
			e.MsgID = fmt.Sprintf("6f1c1a2e-8f3b-4c5d-9e7f-%012x", vb.seq)
			vb.seq++
			out[i].wires = append([][]byte{seal(b, e, aliceKey)}, out[i].wires...)
		}
		msg, err := e.SigningBytes()
		if err != nil {
			b.Fatal(err)
		}
		out[i].msg, out[i].sig = msg, mustB64(b, e.Sign.Signature)
	}
	return out
}

func (vb *verifyBench) validate(wire []byte) error {
	_, err := vb.v.Validate(wire)
	return err
}

// timings collects per-iteration times of several operations.
type timings [][]time.Duration

// timed runs fn and records its time under k (a timer read is cheap next
// to any of the operations timed).
func (ts timings) timed(b *testing.B, k int, fn func() error) {
	t := time.Now()
	if err := fn(); err != nil {
		b.Fatal(err)
	}
	ts[k] = append(ts[k], time.Since(t))
}

func (ts timings) median(k int) float64 { return median(ts[k]).Seconds() }

// BenchmarkEnvelopeVerify measures the receive path (see verifyBench)
// against the signature it guards. Each iteration times, one after the
// other: a bare VerifyBytes of an envelope's signed bytes (the primitive
// the validator uses), Validate of the envelope, and crypto/ed25519.Verify.
// From the medians: ratio = Validate throughput ÷ VerifyBytes throughput
// (target ≥ 0.6); stdlib-ratio = the same against crypto/ed25519.Verify.
func BenchmarkEnvelopeVerify(b *testing.B) {
	vb := newVerifyBench(b)
	rounds := vb.rounds(b, b.N, 1)
	verify := func(ok bool) error {
		if !ok {
			return fmt.Errorf("signature does not verify")
		}
		return nil
	}
	const raw, full, std = 0, 1, 2
	ts := make(timings, 3)
	b.ResetTimer()
	for _, r := range rounds {
		vb.now = r.at
		ts.timed(b, raw, func() error { return verify(VerifyBytes(vb.pub, r.msg, r.sig)) })
		ts.timed(b, full, func() error { return vb.validate(r.wires[0]) })
		ts.timed(b, std, func() error { return verify(ed25519.Verify(vb.pub, r.msg, r.sig)) })
	}
	b.StopTimer()
	b.ReportMetric(ts.median(raw)/ts.median(full), "ratio")
	b.ReportMetric(ts.median(std)/ts.median(full), "stdlib-ratio")
	b.ReportMetric(1/ts.median(full), "envelopes/s")
}

// BenchmarkFastPaths weighs each fast path of the receive path (see
// verifyBench) against the library path it stands in for, in the same
// run. Each iteration times Validate with the fast path and, on another
// envelope, Validate with the library path in its place, and the fast and
// the library path alone on the same input. From the medians:
//
//   - ratio: the fast path's time ÷ the library path's time.
//   - e2e: Validate throughput with the fast path ÷ with the library path.
//     The strict scanner has no switch, so for strict it is
//     (full − fast + library) ÷ full, which leaves out the garbage the
//     library path would add.
//
// A fast path is worth keeping at e2e ≥ 1.15. The paths: strict
// (parseStrict vs libraryParse) and quickschema (the quick checks of the
// envelope and the payload vs the jsonschema library on the same schemas).
func BenchmarkFastPaths(b *testing.B) {
	b.Run("strict", func(b *testing.B) {
		vb := newVerifyBench(b)
		wire := func(w []byte) any { return w }
		benchFastPath(b, vb, nil, wire,
			func(in any) error { _, err := parseStrict(in.([]byte)); return err },
			func(in any) error { _, err := libraryParse(in.([]byte)); return err })
	})
	b.Run("quickschema", func(b *testing.B) {
		vb := newVerifyBench(b)
		es, ps := vb.r.envelopes[CIP], vb.r.payload(FactPropose)
		if es.quick == nil || ps.quick == nil {
			b.Fatal("no quick check")
		}
		benchFastPath(b, vb, func(on bool) {
			e, p := es, ps
			if !on {
				e.quick, p.quick = nil, nil
			}
			vb.r.mu.Lock()
			vb.r.envelopes[CIP], vb.r.payloads[FactPropose] = e, p
			vb.r.mu.Unlock()
		}, func(w []byte) any {
			doc, _ := parseStrict(w)
			return doc.root
		}, func(in any) error {
			m := in.(map[string]any)
			if es.quick.check(m) != valid || ps.quick.check(m["payload"]) != valid {
				return fmt.Errorf("quick check does not decide a valid envelope")
			}
			return nil
		}, func(in any) error {
			m := in.(map[string]any)
			if err := es.lib.Validate(m); err != nil {
				return err
			}
			return ps.lib.Validate(m["payload"])
		})
	})
}

// benchFastPath runs one path of BenchmarkFastPaths: use switches the
// fast path on and off in Validate (nil where it cannot be), fast and lib
// run the path alone on what input makes of an envelope.
func benchFastPath(b *testing.B, vb *verifyBench, use func(on bool), input func([]byte) any, fast, lib func(any) error) {
	const full, fullLib, alone, aloneLib = 0, 1, 2, 3
	ts := make(timings, 4)
	rounds := vb.rounds(b, b.N, 2)
	if use != nil {
		defer use(true)
	}
	b.ResetTimer()
	for _, r := range rounds {
		vb.now = r.at
		ts.timed(b, full, func() error { return vb.validate(r.wires[0]) })
		if use != nil {
			use(false)
			ts.timed(b, fullLib, func() error { return vb.validate(r.wires[1]) })
			use(true)
		}
		in := input(r.wires[0])
		ts.timed(b, alone, func() error { return fast(in) })
		ts.timed(b, aloneLib, func() error { return lib(in) })
	}
	b.StopTimer()
	f, l := ts.median(alone), ts.median(aloneLib)
	b.ReportMetric(f/l, "ratio")
	if use == nil {
		b.ReportMetric((ts.median(full)-f+l)/ts.median(full), "e2e")
	} else {
		b.ReportMetric(ts.median(fullLib)/ts.median(full), "e2e")
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
