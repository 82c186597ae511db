package trust

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// FuzzParseAttestation: the TRUST_ATTEST payload parser never panics, and
// whatever it accepts re-encodes to a payload it parses back identically.
func FuzzParseAttestation(f *testing.F) {
	confirm := voteEnv(f, malloryKey, "confirm", factRef, msgID(1), at0)
	reject := voteEnv(f, malloryKey, "reject", factRef, msgID(2), at0)
	f.Add(attestPayload(f, malloryFP, Blacklisted, ReasonEquivocation, confirm, reject))
	f.Add(attestPayload(f, malloryFP, Trusted, ReasonVouch))
	f.Add([]byte(`{"subject":"` + malloryFP + `","view":"probing","reason":"vouch","evidence":[{"msg_id":"` + msgID(3) + `"}]}`))
	f.Add([]byte(`{"subject":"` + malloryFP + `","view":"blacklisted","reason":"","evidence":[{"envelope":"e30="}],"extra":1}`))
	f.Add([]byte(`{"subject":null,"view":"x","reason":7,"evidence":{}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, payload []byte) {
		a, err := ParseAttestation(payload)
		if err != nil {
			if !errors.Is(err, ErrInvalidAttestation) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		re, err := a.Payload()
		if err != nil {
			t.Fatalf("accepted payload does not re-encode: %v", err)
		}
		b, err := ParseAttestation(re)
		if err != nil {
			t.Fatalf("re-encoded payload refused: %v\n%s", err, re)
		}
		if a.Subject != b.Subject || a.View != b.View || a.Reason != b.Reason || len(a.Evidence) != len(b.Evidence) {
			t.Fatalf("round trip changed the attestation: %+v vs %+v", a, b)
		}
		for i := range a.Evidence {
			if a.Evidence[i].MsgID != b.Evidence[i].MsgID || !bytes.Equal(a.Evidence[i].Envelope, b.Evidence[i].Envelope) {
				t.Fatalf("evidence[%d] changed", i)
			}
		}
		// Proof verification on arbitrary accepted input never panics and
		// only succeeds with two envelopes signed by the subject.
		if p, err := a.VerifyProof(nil); err == nil {
			if p.A.Sender.Fingerprint != a.Subject || p.B.Sender.Fingerprint != a.Subject {
				t.Fatal("proof accepted with a foreign signer")
			}
		}
	})
}

// FuzzDetector: arbitrary verified-looking envelopes never panic the
// detector and never produce a proof that VerifyProof would refuse.
func FuzzDetector(f *testing.F) {
	f.Add(uint8(0), uint8(1), int64(0), int64(500))
	f.Add(uint8(1), uint8(1), int64(0), int64(5000))
	f.Fuzz(func(t *testing.T, k1, k2 uint8, ms1, ms2 int64) {
		kinds := []string{"confirm", "reject", "challenge"}
		d := NewDetector(DetectorConfig{Now: func() time.Time { return at0 }})
		e1 := mustParseEnv(t, voteEnv(t, malloryKey, kinds[int(k1)%3], factRef, msgID(int(k1)%2), at0.Add(time.Duration(ms1%10000)*time.Millisecond)))
		e2 := mustParseEnv(t, voteEnv(t, malloryKey, kinds[int(k2)%3], factRef, msgID(1+int(k2)%2), at0.Add(time.Duration(ms2%10000)*time.Millisecond)))
		d.Observe(e1)
		if eq := d.Observe(e2); eq != nil {
			p, err := eq.Payload()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := VerifyProof(p, nil); err != nil {
				t.Fatalf("detector proof refused: %v", err)
			}
		} else if Contradicts(e1, e2).Valid() {
			t.Fatal("detector missed a contradiction")
		}
	})
}
