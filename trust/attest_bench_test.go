package trust

import (
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// BenchmarkVerifyProof measures checking an equivocation proof (two
// embedded votes). ratio = proof check time / time to verify the same two
// envelopes alone (VerifyEvidence twice), measured in this run: what the
// attestation layer adds on top of the unavoidable signature checks.
func BenchmarkVerifyProof(b *testing.B) {
	confirm := voteEnv(b, malloryKey, "confirm", factRef, msgID(1), at0)
	reject := voteEnv(b, malloryKey, "reject", factRef, msgID(2), at0)
	payload := attestPayload(b, malloryFP, Blacklisted, ReasonEquivocation, confirm, reject)
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := VerifyEvidence(confirm); err != nil {
			b.Fatal(err)
		}
		if _, err := VerifyEvidence(reject); err != nil {
			b.Fatal(err)
		}
	}
	base := time.Since(start)
	b.ResetTimer()
	start = time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := VerifyProof(payload, nil); err != nil {
			b.Fatal(err)
		}
	}
	took := time.Since(start)
	b.ReportMetric(float64(took)/float64(base), "ratio")
}

// BenchmarkDetectorObserve measures Observe on a stream of distinct votes
// from 8 signers on 2 facts (up to 16 remembered votes compared per call). ratio = Observe time / time to take the envelope's
// signing bytes and copy its raw bytes (the minimum any detector must do),
// measured in this run.
func BenchmarkDetectorObserve(b *testing.B) {
	keys := []string{"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"}
	var envs []*envelope.Envelope
	for i := 0; i < 512; i++ {
		k := seedKey(keys[i%len(keys)])
		ref := factRef
		if i%3 == 0 {
			ref = factRef2
		}
		envs = append(envs, mustParseEnv(b, voteEnv(b, k, "confirm", ref, msgID(i), at0.Add(time.Duration(i)*time.Second))))
	}
	var sink int
	start := time.Now()
	for i := 0; i < b.N; i++ {
		e := envs[i%len(envs)]
		sb, _ := e.SigningBytes()
		sink += len(append([]byte(nil), e.Raw()...)) + len(sb)
	}
	base := time.Since(start)
	d := NewDetector(DetectorConfig{Now: func() time.Time { return at0 }})
	b.ResetTimer()
	start = time.Now()
	for i := 0; i < b.N; i++ {
		if i%len(envs) == 0 {
			// A fresh detector each cycle, so every Observe sees a new
			// envelope (the expensive path), not a redelivery.
			d = NewDetector(DetectorConfig{Now: func() time.Time { return at0 }})
		}
		if eq := d.Observe(envs[i%len(envs)]); eq != nil {
			b.Fatal("false positive")
		}
	}
	took := time.Since(start)
	_ = sink
	b.ReportMetric(float64(took)/float64(base), "ratio")
}
