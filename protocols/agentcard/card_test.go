package agentcard

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"math/rand"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func testKey(t testing.TB, seed int64) (crypto.PrivKey, peer.ID) {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.New(rand.NewSource(seed)))
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, id
}

func sampleCard() Card {
	return Card{
		Name:        "web4p2p node",
		Description: "a mesh agent",
		SupportedInterfaces: []Interface{
			{URL: "http://127.0.0.1:7777/a2a", ProtocolBinding: BindingJSONRPC, ProtocolVersion: ProtocolVersion},
			{URL: "/ip4/127.0.0.1/tcp/4001/p2p/x", ProtocolBinding: "https://web4p2p.org/a2a/libp2p/v1"},
		},
		Version:            "0.1.0",
		Capabilities:       Capabilities{Streaming: true},
		DefaultInputModes:  []string{"text/plain"},
		DefaultOutputModes: []string{"text/plain", "application/json"},
		Skills:             []Skill{{ID: "intent", Name: "Mesh intent", Description: "ask a capable peer", Tags: []string{"cip"}}},
		SecuritySchemes: map[string]SecurityScheme{
			"bearer": {HTTPAuth: &HTTPAuthScheme{Scheme: "Bearer"}},
		},
		Provider: &Provider{Organization: "web4p2p", URL: "https://example.org"},
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSignVerifyRoundTrip(t *testing.T) {
	key, id := testKey(t, 1)
	signed, err := Sign(sampleCard(), key)
	if err != nil {
		t.Fatal(err)
	}
	v, err := VerifyFrom(mustJSON(t, signed), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Signers) != 1 || v.Signers[0] != id || v.Card.Name != "web4p2p node" {
		t.Fatalf("verified %+v", v)
	}
}

// TestSignatureIsStandardDetachedJWS checks the format against the standard
// library alone: Ed25519 over BASE64URL(header) "." BASE64URL(JCS(card
// minus signatures)), with a header naming alg, kid and jwk.
func TestSignatureIsStandardDetachedJWS(t *testing.T) {
	key, id := testKey(t, 2)
	signed, err := Sign(sampleCard(), key)
	if err != nil {
		t.Fatal(err)
	}
	sig := signed.Signatures[0]
	hdrRaw, err := b64.DecodeString(sig.Protected)
	if err != nil {
		t.Fatal(err)
	}
	var hdr map[string]any
	if err := json.Unmarshal(hdrRaw, &hdr); err != nil {
		t.Fatal(err)
	}
	if hdr["alg"] != "EdDSA" || hdr["kid"] != id.String() {
		t.Fatalf("header %v", hdr)
	}
	x, _ := b64.DecodeString(hdr["jwk"].(map[string]any)["x"].(string))
	unsigned := signed
	unsigned.Signatures = nil
	// JCS of a Go-marshalled struct with sorted keys: re-sort through a map.
	var m map[string]any
	_ = json.Unmarshal(mustJSON(t, unsigned), &m)
	sorted := mustJSON(t, m) // encoding/json sorts map keys; no floats here
	input := sig.Protected + "." + b64.EncodeToString(sorted)
	raw, _ := b64.DecodeString(sig.Signature)
	if !ed25519.Verify(ed25519.PublicKey(x), []byte(input), raw) {
		t.Fatal("signature does not verify with crypto/ed25519 over the detached payload")
	}
}

func TestUnknownMembersAreSignedAndKept(t *testing.T) {
	key, id := testKey(t, 3)
	raw := mustJSON(t, sampleCard())
	// A card with a member this package has no field for, signed over raw.
	raw = append(raw[:len(raw)-1], []byte(`,"x-future":{"b":2,"a":1}}`)...)
	payload, err := Canonical(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(payload, []byte(`"x-future":{"a":1,"b":2}`)) {
		t.Fatalf("canonical payload lost or did not sort the unknown member: %s", payload)
	}
	signed, err := Sign(sampleCard(), key)
	if err != nil {
		t.Fatal(err)
	}
	// The signature made without x-future must not verify over a card with it.
	withSig := mustJSON(t, signed)
	tampered := append(withSig[:len(withSig)-1:len(withSig)-1], []byte(`,"x-future":1}`)...)
	if _, err := Verify(tampered); !errors.Is(err, ErrSignature) {
		t.Fatalf("added member: %v, want ErrSignature", err)
	}
	if _, err := Verify(withSig); err != nil {
		t.Fatal(err)
	}
	_ = id
}

func TestVerifyRefuses(t *testing.T) {
	key, id := testKey(t, 4)
	other, otherID := testKey(t, 5)
	signed, err := Sign(sampleCard(), key)
	if err != nil {
		t.Fatal(err)
	}
	good := mustJSON(t, signed)

	tamperedName := bytes.Replace(good, []byte("web4p2p node"), []byte("evil node"), 1)

	// A header that claims another PeerID than the key it carries.
	lying := signed
	hdrRaw, _ := b64.DecodeString(signed.Signatures[0].Protected)
	var hdr Header
	_ = json.Unmarshal(hdrRaw, &hdr)
	hdr.Kid = otherID.String()
	lying.Signatures = []Signature{{Protected: b64.EncodeToString(mustJSON(t, hdr)), Signature: signed.Signatures[0].Signature}}

	// Header with alg none.
	none := signed
	hdrNone := hdr
	hdrNone.Alg = "none"
	none.Signatures = []Signature{{Protected: b64.EncodeToString(mustJSON(t, hdrNone)), Signature: "AA"}}

	// Header with crit.
	crit := signed
	critHdr := strings.Replace(string(hdrRaw), `{`, `{"crit":["b64"],"b64":false,`, 1)
	crit.Signatures = []Signature{{Protected: b64.EncodeToString([]byte(critHdr)), Signature: signed.Signatures[0].Signature}}

	// A second signature by other over a different card: one bad ⇒ refused.
	otherSigned, _ := Sign(Card{Name: "x", Version: "1", SupportedInterfaces: []Interface{{URL: "u", ProtocolBinding: "b"}}}, other)
	mixed := signed
	mixed.Signatures = append(mixed.Signatures, otherSigned.Signatures[0])

	unsigned := mustJSON(t, sampleCard())
	dup := append(good[:len(good)-1:len(good)-1], []byte(`,"name":"shadow"}`)...)

	for name, tc := range map[string]struct {
		raw  []byte
		want error
		in   string
	}{
		"tampered name":       {tamperedName, ErrSignature, "does not verify"},
		"kid not the jwk key": {mustJSON(t, lying), ErrSignature, "protected.kid"},
		"alg none":            {mustJSON(t, none), ErrSignature, "alg"},
		"crit header":         {mustJSON(t, crit), ErrSignature, "protected"},
		"one bad of two":      {mustJSON(t, mixed), ErrSignature, "signatures[1]"},
		"unsigned":            {unsigned, ErrSignature, "not signed"},
		"duplicate member":    {dup, ErrInvalid, "name: member appears twice"},
		"not json":            {[]byte("{"), ErrInvalid, "card"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Verify(tc.raw)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.in) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.want, tc.in)
			}
		})
	}
	if _, err := VerifyFrom(good, otherID); !errors.Is(err, ErrSignature) {
		t.Fatalf("VerifyFrom wrong peer: %v", err)
	}
	if _, err := VerifyFrom(good, id); err != nil {
		t.Fatal(err)
	}
}

func TestTwoSignersBothVerify(t *testing.T) {
	k1, id1 := testKey(t, 6)
	k2, id2 := testKey(t, 7)
	c, err := Sign(sampleCard(), k1)
	if err != nil {
		t.Fatal(err)
	}
	if c, err = Sign(c, k2); err != nil {
		t.Fatal(err)
	}
	v, err := Verify(mustJSON(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if !v.SignedBy(id1) || !v.SignedBy(id2) {
		t.Fatalf("signers %v", v.Signers)
	}
}

func TestDecodeNamesTheField(t *testing.T) {
	for name, tc := range map[string]struct {
		raw, field string
	}{
		"no name":          {`{"version":"1","supportedInterfaces":[{"url":"u","protocolBinding":"JSONRPC"}]}`, "name: required"},
		"no version":       {`{"name":"n","supportedInterfaces":[{"url":"u","protocolBinding":"JSONRPC"}]}`, "version: required"},
		"no interface":     {`{"name":"n","version":"1"}`, "supportedInterfaces: at least one"},
		"interface no url": {`{"name":"n","version":"1","supportedInterfaces":[{"protocolBinding":"JSONRPC"}]}`, "supportedInterfaces[0].url"},
		"skill no id":      {`{"name":"n","version":"1","url":"u","skills":[{"name":"s"}]}`, "skills[0].id"},
		"sig no protected": {`{"name":"n","version":"1","url":"u","signatures":[{"signature":"x"}]}`, "signatures[0].protected"},
		"wrong type":       {`{"name":5}`, "card: not a JSON card object"},
		"trailing":         {`{"name":"n","version":"1","url":"u"} {}`, "trailing"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Decode([]byte(tc.raw))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("err = %v, want ErrInvalid naming %q", err, tc.field)
			}
		})
	}
	big := `{"name":"` + strings.Repeat("a", MaxCardBytes) + `"}`
	if _, err := Decode([]byte(big)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("oversize: %v", err)
	}
}

// TestCanonicalDropsEmptyValues: empty values ("", null, [], {}, and
// what is empty once they are gone) are left out of the signing payload
// at every depth, as the A2A SDKs leave them out, so a card they verify
// and one we verify are signed over the same bytes.
func TestCanonicalDropsEmptyValues(t *testing.T) {
	plain, err := Canonical([]byte(`{"name":"a","version":"1","n":10000000000000000001,"skills":[{"id":"s","tags":["x"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	padded, err := Canonical([]byte(`{"name":"a","version":"1","n":10000000000000000001,"description":"","iconUrl":null,
		"skills":[{"id":"s","tags":["x",""],"examples":[]},{}],"securityRequirements":[{"schemes":{"bearer":{"list":[]}}}],
		"capabilities":{"extensions":[{"params":{"caps":[]}}]},"signatures":[{"protected":"x"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, padded) {
		t.Fatalf("empty values changed the payload:\n%s\n%s", plain, padded)
	}
	if !bytes.Contains(plain, []byte(`"n":10000000000000000000`)) { // JCS writes numbers as IEEE doubles
		t.Fatalf("number: %s", plain)
	}
}
