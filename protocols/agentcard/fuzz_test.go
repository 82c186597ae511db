package agentcard

import (
	"encoding/json"
	"testing"
)

// FuzzVerify feeds arbitrary bytes to Decode, Canonical and Verify: none may
// panic, and whatever Verify accepts must decode and name at least one
// signer whose signature re-verifies.
func FuzzVerify(f *testing.F) {
	key, _ := testKey(f, 9)
	signed, err := Sign(sampleCard(), key)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := json.Marshal(signed)
	f.Add(good)
	f.Add([]byte(`{"name":"n","version":"1","url":"u","signatures":[{"protected":"e30","signature":"AA"}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, _ = Decode(raw)
		_, _ = Canonical(raw)
		v, err := Verify(raw)
		if err != nil {
			return
		}
		if len(v.Signers) == 0 || len(v.Signers) != len(v.Card.Signatures) {
			t.Fatalf("accepted with signers %v for %d signatures", v.Signers, len(v.Card.Signatures))
		}
	})
}
