package agentcard

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gowebpki/jcs"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/crypto/pb"
	"github.com/libp2p/go-libp2p/core/peer"
)

// AlgEdDSA is the only JWS algorithm this package signs and verifies with
// (RFC 8037; libp2p identity keys are Ed25519).
const AlgEdDSA = "EdDSA"

// ErrSignature is wrapped by every error about a signature that is absent,
// malformed or does not verify.
var ErrSignature = errors.New("agentcard: bad signature")

func badSig(i int, format string, args ...any) error {
	return fmt.Errorf("%w: signatures[%d]: %s", ErrSignature, i, fmt.Sprintf(format, args...))
}

// Header is the JWS protected header of a card signature.
type Header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
	// Kid is the signer's PeerID (base58 string form).
	Kid string `json:"kid"`
	JWK JWK    `json:"jwk"`
}

// JWK is an RFC 8037 OKP public key.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
}

var b64 = base64.RawURLEncoding

// Canonical returns the signing payload of a raw card: its RFC 8785 (JCS)
// canonical form with the top-level "signatures" member removed and, at
// every depth, the empty values ("", null, [] and {}, also those left
// empty by this removal) left out, as the A2A SDKs do before they
// canonicalize (a2a-python's _clean_empty, @a2a-js/sdk's cleanEmpty), so
// a card and its signature mean the same to them and to us. Every other
// member — unknown ones included — is kept as received, so a verifier
// signs off on exactly what the signer signed. A card with a duplicated
// top-level member is refused: two parsers could read two different cards
// from it.
func Canonical(raw []byte) ([]byte, error) {
	if len(raw) > MaxCardBytes {
		return nil, invalid("card", "%d bytes, more than the %d allowed", len(raw), MaxCardBytes)
	}
	members, err := topLevel(raw)
	if err != nil {
		return nil, err
	}
	delete(members, "signatures")
	clean := map[string]any{}
	for name, v := range members {
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber() // numbers keep their text until JCS writes them
		var val any
		if err := dec.Decode(&val); err != nil {
			return nil, invalid(name, "%v", err)
		}
		if val = dropEmpty(val); val != nil {
			clean[name] = val
		}
	}
	stripped, err := json.Marshal(clean)
	if err != nil {
		return nil, invalid("card", "%v", err)
	}
	out, err := jcs.Transform(stripped)
	if err != nil {
		return nil, invalid("card", "not canonicalizable (RFC 8785): %v", err)
	}
	return out, nil
}

// dropEmpty returns v without its empty values; nil if v itself is empty.
func dropEmpty(v any) any {
	switch x := v.(type) {
	case string:
		if x == "" {
			return nil
		}
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if e = dropEmpty(e); e != nil {
				out = append(out, e)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case map[string]any:
		for k, e := range x {
			if e = dropEmpty(e); e != nil {
				x[k] = e
			} else {
				delete(x, k)
			}
		}
		if len(x) == 0 {
			return nil
		}
	}
	return v
}

// topLevel splits a JSON object into its members, refusing duplicates.
func topLevel(raw []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, invalid("card", "not a JSON object")
	}
	members := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalid("card", "%v", err)
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, invalid(name, "%v", err)
		}
		if _, dup := members[name]; dup {
			return nil, invalid(name, "member appears twice")
		}
		members[name] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, invalid("card", "%v", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, invalid("card", "trailing data after the card object")
	}
	return members, nil
}

// Sign returns card with one more signature, made with key (a libp2p
// Ed25519 identity key) over the canonical form of card without its
// signatures. Signatures already on the card stay valid: they cover the
// same payload.
func Sign(card Card, key crypto.PrivKey) (Card, error) {
	if key == nil || key.Type() != pb.KeyType_Ed25519 {
		return card, errors.New("agentcard: sign: key must be an Ed25519 libp2p key")
	}
	if len(card.Signatures) >= MaxSignatures {
		return card, invalid("signatures", "already %d, at most %d", len(card.Signatures), MaxSignatures)
	}
	if err := card.Validate(); err != nil {
		return card, err
	}
	unsigned := card
	unsigned.Signatures = nil
	raw, err := json.Marshal(unsigned)
	if err != nil {
		return card, fmt.Errorf("agentcard: sign: %w", err)
	}
	payload, err := Canonical(raw)
	if err != nil {
		return card, err
	}
	pub, err := key.GetPublic().Raw()
	if err != nil {
		return card, fmt.Errorf("agentcard: sign: public key: %w", err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return card, fmt.Errorf("agentcard: sign: peer id: %w", err)
	}
	hdr, err := json.Marshal(Header{Alg: AlgEdDSA, Typ: "JOSE", Kid: id.String(),
		JWK: JWK{Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(pub)}})
	if err != nil {
		return card, fmt.Errorf("agentcard: sign: %w", err)
	}
	protected := b64.EncodeToString(hdr)
	sig, err := key.Sign(signingInput(protected, payload))
	if err != nil {
		return card, fmt.Errorf("agentcard: sign: %w", err)
	}
	out := card
	out.Signatures = append(append([]Signature(nil), card.Signatures...),
		Signature{Protected: protected, Signature: b64.EncodeToString(sig)})
	return out, nil
}

// signingInput is the JWS Signing Input (RFC 7515 §5.1):
// ASCII(BASE64URL(protected) || '.' || BASE64URL(payload)).
func signingInput(protected string, payload []byte) []byte {
	in := make([]byte, 0, len(protected)+1+b64.EncodedLen(len(payload)))
	in = append(in, protected...)
	in = append(in, '.')
	return b64.AppendEncode(in, payload)
}

// Verified is a card whose every signature verified, with its signers.
type Verified struct {
	Card    Card
	Signers []peer.ID
}

// SignedBy reports whether id is among the signers.
func (v Verified) SignedBy(id peer.ID) bool {
	for _, s := range v.Signers {
		if s == id {
			return true
		}
	}
	return false
}

// Verify decodes raw and checks its signatures: at least one is required,
// and every one must verify (a card carrying a signature that does not is
// refused, not half-trusted). The payload is recomputed from raw with
// Canonical. Errors wrap ErrInvalid or ErrSignature and name the field.
func Verify(raw []byte) (Verified, error) {
	card, err := Decode(raw)
	if err != nil {
		return Verified{}, err
	}
	if len(card.Signatures) == 0 {
		return Verified{}, fmt.Errorf("%w: signatures: the card is not signed", ErrSignature)
	}
	payload, err := Canonical(raw)
	if err != nil {
		return Verified{}, err
	}
	v := Verified{Card: card}
	for i, s := range card.Signatures {
		id, err := verifyOne(i, s, payload)
		if err != nil {
			return Verified{}, err
		}
		v.Signers = append(v.Signers, id)
	}
	return v, nil
}

// VerifyFrom is Verify plus the check that want signed the card.
func VerifyFrom(raw []byte, want peer.ID) (Verified, error) {
	v, err := Verify(raw)
	if err != nil {
		return v, err
	}
	if !v.SignedBy(want) {
		return Verified{}, fmt.Errorf("%w: signatures: not signed by %s", ErrSignature, want)
	}
	return v, nil
}

func verifyOne(i int, s Signature, payload []byte) (peer.ID, error) {
	if len(s.Protected) > b64.EncodedLen(MaxProtectedBytes) {
		return "", badSig(i, "protected header longer than %d bytes", MaxProtectedBytes)
	}
	hdrRaw, err := b64.DecodeString(s.Protected)
	if err != nil {
		return "", badSig(i, "protected: not base64url: %v", err)
	}
	hdr, err := parseHeader(hdrRaw)
	if err != nil {
		return "", badSig(i, "protected: %v", err)
	}
	x, err := b64.DecodeString(hdr.JWK.X)
	if err != nil {
		return "", badSig(i, "protected.jwk.x: not base64url: %v", err)
	}
	pub, err := crypto.UnmarshalEd25519PublicKey(x)
	if err != nil {
		return "", badSig(i, "protected.jwk.x: %v", err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		return "", badSig(i, "protected.jwk.x: %v", err)
	}
	if hdr.Kid != id.String() {
		return "", badSig(i, "protected.kid: %q is not the PeerID of the jwk (%s)", hdr.Kid, id)
	}
	sig, err := b64.DecodeString(s.Signature)
	if err != nil {
		return "", badSig(i, "signature: not base64url: %v", err)
	}
	ok, err := pub.Verify(signingInput(s.Protected, payload), sig)
	if err != nil || !ok {
		return "", badSig(i, "signature: does not verify for %s", id)
	}
	return id, nil
}

// parseHeader reads a protected header strictly: only the members this
// package understands, alg EdDSA, an OKP Ed25519 jwk. A "crit" or "b64"
// member (RFC 7515 §4.1.11, RFC 7797) is refused since it would change how
// the signature must be read.
func parseHeader(raw []byte) (Header, error) {
	var h Header
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return h, fmt.Errorf("not a header this verifier understands: %v", err)
	}
	if _, err := dec.Token(); err == nil {
		return h, errors.New("trailing data after the header")
	}
	switch {
	case h.Alg != AlgEdDSA:
		return h, fmt.Errorf("alg: %q, only %q is accepted", h.Alg, AlgEdDSA)
	case h.Typ != "" && h.Typ != "JOSE" && h.Typ != "JWS":
		return h, fmt.Errorf("typ: %q, want JOSE", h.Typ)
	case h.Kid == "":
		return h, errors.New("kid: required (the signer's PeerID)")
	case h.JWK.Kty != "OKP" || h.JWK.Crv != "Ed25519":
		return h, fmt.Errorf("jwk: kty %q crv %q, want OKP Ed25519", h.JWK.Kty, h.JWK.Crv)
	}
	return h, nil
}
