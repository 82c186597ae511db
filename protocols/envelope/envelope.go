package envelope

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
	voied25519 "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
	voicache "github.com/oasisprotocol/curve25519-voi/primitives/ed25519/extra/cache"
)

// Envelope is one CIP, HCP or LIP message (SPEC §3.2). The payload stays raw
// JSON: the envelope layer validates it against the type's schema, the
// protocol packages decode it into their own structs.
//
// An Envelope returned by Parse or Validator.Validate also remembers the
// exact bytes it was parsed from (Raw), and its signature was checked over
// those bytes, not over a re-encoding of this struct.
type Envelope struct {
	Family    Family
	MsgID     string
	Type      Type
	Timestamp time.Time
	Sender    Sender
	Receiver  Receiver
	Trust     Trust
	State     State
	// Source is the provenance block of LIP envelopes; nil otherwise.
	Source  *Source
	Payload json.RawMessage
	Sign    Signature

	raw    []byte // the received document, as parsed
	signed []byte // SignPrefix + JCS(raw without the sign member)
	// verified is set by Validator.Validate when all nine checks passed.
	verified bool
}

// Verified reports whether this envelope came out of Validator.Validate
// with all nine checks passed (Parse and the builders leave it false).
// The router dispatches only verified envelopes, so a path that skipped
// validation cannot reach a runtime.
func (e *Envelope) Verified() bool { return e != nil && e.verified }

// Sender identifies the signer.
type Sender struct {
	AgentID      string
	Fingerprint  string // lowercase hex SHA-256 of the raw public key
	Capabilities []string
	Pubkey       string // standard base64 (padded) of the 32-byte Ed25519 key
}

// Receiver names the intended recipient; Fingerprint is Broadcast ("*") for
// gossip envelopes. AgentID may be empty when the sender does not know it yet
// (the first HELLO).
type Receiver struct {
	AgentID     string
	Fingerprint string
}

// Trust carries the sender's declared views. They are informational only —
// gating always uses the receiver's own ledger. ReceiverView is the sender's
// current trust state for the receiver (unknown at first contact);
// SenderView is the state the sender believes the receiver holds for it
// ("untrusted" when it has no information, since "unknown" is not allowed
// there by SPEC §3.2).
type Trust struct {
	SenderView   TrustView
	ReceiverView TrustView
}

// State is the sender's agent state (SPEC §3.2), plus the human-state vector
// on HCP envelopes.
type State struct {
	Presence      Presence
	LRI           int // 0..100
	KernelSignals []string
	Intent        string
	// Human is required on HCP envelopes and absent otherwise.
	Human *Human
}

// Human is the human-state vector of HCP envelopes (SPEC §6).
type Human struct {
	Presence     Presence
	Affect       Affect
	Clarity      int // 0..100
	Pressure     int // 0..100
	Intent       string
	Consent      Consent
	ConsentScope []string // e.g. "topic:work"
	// ConsentExpires is optional (zero = no expiry).
	ConsentExpires time.Time
}

// Source is the provenance block of LIP envelopes (SPEC §7).
type Source struct {
	URI         string
	TrustTier   Tier
	RetrievedAt time.Time
}

// Signature is the sign member.
type Signature struct {
	Algo      string
	Signature string // standard base64 of the 64-byte signature
}

// Raw returns the exact bytes the envelope was parsed from (nil for an
// envelope built in memory and not yet sealed). Keep these when the envelope
// must later serve as proof (TRUST_ATTEST evidence). They are read-only:
// Payload and the parsed strings share the same buffer.
func (e *Envelope) Raw() []byte { return e.raw }

// MarshalJSON renders the envelope: the exact received (or sealed) bytes
// when there are any, else its canonical encoding. Value receiver, so
// envelopes embedded by value in other structs encode too.
func (e Envelope) MarshalJSON() ([]byte, error) {
	if e.raw != nil {
		return e.raw, nil
	}
	return e.canonical(true)
}

// UnmarshalJSON parses with Parse: checks 1 and 2 only — it does not verify
// the signature. Run a Validator on anything received from the network.
func (e *Envelope) UnmarshalJSON(b []byte) error {
	p, err := Parse(b)
	if err != nil {
		return err
	}
	*e = *p
	return nil
}

// PublicKey decodes Sender.Pubkey.
func (e *Envelope) PublicKey() (ed25519.PublicKey, error) { return DecodePubkey(e.Sender.Pubkey) }

// FormatTime renders a timestamp the way envelopes carry it: RFC 3339 in
// UTC with the shortest exact fractional seconds.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// Fingerprint is the lowercase hex SHA-256 of the 32 raw public-key bytes
// (SPEC §1).
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])
}

// EncodePubkey renders a public key as standard padded base64 (SPEC §1).
func EncodePubkey(pub ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(pub) }

// DecodePubkey parses a pubkey field strictly (canonical base64, 32 bytes).
func DecodePubkey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("pubkey: not canonical base64: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("pubkey: %d bytes, want %d", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// ErrFactID reports a (domain, statement) pair that names no fact: one of
// them is empty or not valid UTF-8.
var ErrFactID = errors.New("envelope: cannot compute fact id")

// FactID names a fact: hex SHA-256 of JCS({"domain":…,"statement":…}) (SPEC
// §4.1), so the same statement proposed twice is one fact. It is the one
// definition; knowledge and the protocols all call it.
//
// Both strings must be non-empty (the payload schemas require them) and
// valid UTF-8 (SPEC §3: envelopes are UTF-8 JSON). Anything else is
// ErrFactID rather than coerced: encoding/json would turn each invalid byte
// into U+FFFD, so "\xff" and "\uFFFD" would share an id, and the one sent on
// the wire would not be the one computed from the bytes the caller holds.
func FactID(domain, statement string) (string, error) {
	switch {
	case domain == "":
		return "", fmt.Errorf("%w: domain: empty", ErrFactID)
	case statement == "":
		return "", fmt.Errorf("%w: statement: empty", ErrFactID)
	case !utf8.ValidString(domain):
		return "", fmt.Errorf("%w: domain: not valid UTF-8", ErrFactID)
	case !utf8.ValidString(statement):
		return "", fmt.Errorf("%w: statement: not valid UTF-8", ErrFactID)
	}
	// Fields in key order, so canonicalJSON only falls back to jcs for
	// strings encoding/json escapes differently (U+2028, U+2029).
	b, err := canonicalJSON(struct {
		Domain    string `json:"domain"`
		Statement string `json:"statement"`
	}{domain, statement})
	if err != nil {
		// Unreachable for valid UTF-8; reported, not hidden, all the same.
		return "", fmt.Errorf("%w: canonical form: %v", ErrFactID, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// MustFactID is FactID for arguments fixed in the source (tests, demos,
// well-known facts); it panics where FactID returns an error. Code that
// hashes received or user-supplied text calls FactID.
func MustFactID(domain, statement string) string {
	id, err := FactID(domain, statement)
	if err != nil {
		panic(err)
	}
	return id
}

// wire is the JSON shape of an envelope. Exactly one of Cip/Hcp/Lip is set.
//
// The fields of wire and its parts are declared in RFC 8785 member order
// (sorted keys), so encoding/json already emits the canonical form and
// canonicalJSON can skip jcs.Transform; keep them sorted when adding one
// (TestWireStructsSorted checks).
type wire struct {
	Cip       string          `json:"cip,omitempty"`
	Hcp       string          `json:"hcp,omitempty"`
	Lip       string          `json:"lip,omitempty"`
	MsgID     string          `json:"msg_id"`
	Payload   json.RawMessage `json:"payload"`
	Receiver  wireReceiver    `json:"receiver"`
	Sender    wireSender      `json:"sender"`
	Sign      *wireSign       `json:"sign,omitempty"`
	Source    *wireSource     `json:"source,omitempty"`
	State     wireState       `json:"state"`
	Timestamp string          `json:"timestamp"`
	Trust     wireTrust       `json:"trust"`
	Type      string          `json:"type"`
}

type wireSender struct {
	AgentID      string   `json:"agent_id"`
	Capabilities []string `json:"capabilities"`
	Fingerprint  string   `json:"fingerprint"`
	Pubkey       string   `json:"pubkey"`
}

type wireReceiver struct {
	AgentID     string `json:"agent_id"`
	Fingerprint string `json:"fingerprint"`
}

type wireTrust struct {
	ReceiverView TrustView `json:"receiver_view"`
	SenderView   TrustView `json:"sender_view"`
}

type wireState struct {
	Human         *wireHuman `json:"human,omitempty"`
	Intent        string     `json:"intent"`
	KernelSignals []string   `json:"kernel_signals"`
	LRI           int        `json:"lri"`
	Presence      Presence   `json:"presence"`
}

type wireHuman struct {
	Affect         Affect   `json:"affect"`
	Clarity        int      `json:"clarity"`
	Consent        Consent  `json:"consent"`
	ConsentExpires string   `json:"consent_expires,omitempty"`
	ConsentScope   []string `json:"consent_scope"`
	Intent         string   `json:"intent"`
	Presence       Presence `json:"presence"`
	Pressure       int      `json:"pressure"`
}

type wireSource struct {
	RetrievedAt string `json:"retrieved_at"`
	TrustTier   Tier   `json:"trust_tier"`
	URI         string `json:"uri"`
}

type wireSign struct {
	Algo      string `json:"algo"`
	Signature string `json:"signature"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// toWire converts to the JSON shape; withSign controls the sign member.
func (e *Envelope) toWire(withSign bool) (*wire, error) {
	if !e.Type.Valid() {
		return nil, fmt.Errorf("type: invalid (%d)", e.Type)
	}
	if e.Type.Family() != e.Family {
		return nil, fmt.Errorf("type: %v does not belong to family %v", e.Type, e.Family)
	}
	w := &wire{
		MsgID:     e.MsgID,
		Type:      e.Type.String(),
		Timestamp: FormatTime(e.Timestamp),
		Sender: wireSender{
			AgentID: e.Sender.AgentID, Fingerprint: e.Sender.Fingerprint,
			Capabilities: nonNil(e.Sender.Capabilities), Pubkey: e.Sender.Pubkey,
		},
		Receiver: wireReceiver{AgentID: e.Receiver.AgentID, Fingerprint: e.Receiver.Fingerprint},
		Trust:    wireTrust{ReceiverView: e.Trust.ReceiverView, SenderView: e.Trust.SenderView},
		State: wireState{
			Presence: e.State.Presence, LRI: e.State.LRI,
			KernelSignals: nonNil(e.State.KernelSignals), Intent: e.State.Intent,
		},
		Payload: e.Payload,
	}
	switch e.Family {
	case CIP:
		w.Cip = Version
	case HCP:
		w.Hcp = Version
	case LIP:
		w.Lip = Version
	}
	if h := e.State.Human; h != nil {
		wh := &wireHuman{
			Presence: h.Presence, Affect: h.Affect, Clarity: h.Clarity, Pressure: h.Pressure,
			Intent: h.Intent, Consent: h.Consent, ConsentScope: nonNil(h.ConsentScope),
		}
		if !h.ConsentExpires.IsZero() {
			wh.ConsentExpires = FormatTime(h.ConsentExpires)
		}
		w.State.Human = wh
	}
	if s := e.Source; s != nil {
		w.Source = &wireSource{URI: s.URI, TrustTier: s.TrustTier, RetrievedAt: FormatTime(s.RetrievedAt)}
	}
	if len(w.Payload) == 0 {
		w.Payload = json.RawMessage("{}")
	}
	if withSign {
		w.Sign = &wireSign{Algo: e.Sign.Algo, Signature: e.Sign.Signature}
	}
	return w, nil
}

// canonical returns JCS of the envelope (with or without sign).
func (e *Envelope) canonical(withSign bool) ([]byte, error) {
	w, err := e.toWire(withSign)
	if err != nil {
		return nil, err
	}
	return canonicalJSON(w)
}

// EncodePayload is what every builder does with a payload before signing:
// its RFC 8785 encoding (cheap when the struct's fields are declared in key
// order, see canonicalJSON), checked against t's payload schema (check 9).
func EncodePayload(t Type, payload any) (json.RawMessage, error) {
	raw, err := canonicalJSON(payload)
	if err != nil {
		return nil, fmt.Errorf("%v payload: %w", t, err)
	}
	if err := ValidatePayload(t, raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// TrustFor is the trust block a builder signs for a peer: ours is our view
// of the receiver, theirs the receiver's reported view of us. An unset view
// of ours is "unknown"; an unset or unknown view of theirs is written as
// the conservative "untrusted" (the schema has no unknown sender_view).
func TrustFor(ours, theirs TrustView) Trust {
	if ours == 0 {
		ours = ViewUnknown
	}
	if theirs == 0 || theirs == ViewUnknown {
		theirs = ViewUntrusted
	}
	return Trust{SenderView: theirs, ReceiverView: ours}
}

// canonicalJSON returns the RFC 8785 form of v's JSON encoding. encoding/json
// (without HTML escaping) already produces it for our wire structs and for
// payloads whose fields are declared in key order; the strict scanner
// confirms that (isCanonical, held to jcs by FuzzParse and
// FuzzCanonicalJSON), and only otherwise is the encoding handed to
// jcs.Transform, which decodes and re-encodes the whole document.
func canonicalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if isCanonical(b) {
		return b, nil
	}
	return jcs.Transform(b)
}

// ErrSeal reports an envelope that cannot be sealed (invalid enum, wrong
// family, payload that is not JSON, bad key).
var ErrSeal = errors.New("envelope: cannot seal")

// Seal signs e with key and returns the wire bytes: JCS of the complete
// envelope, so what is sent is canonical and byte-for-byte reproducible.
// Seal sets e.Sign and e's raw bytes; it does not fill the sender identity —
// the caller (a builder) does, which is what lets tests forge mismatches.
// Seal does not validate the result: run a Validator on it where that matters.
func Seal(e *Envelope, key ed25519.PrivateKey) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: private key has %d bytes", ErrSeal, len(key))
	}
	unsigned, err := e.canonical(false)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSeal, err)
	}
	sig := SignBytes(key, signingBytes(unsigned))
	e.Sign = Signature{Algo: Algo, Signature: base64.StdEncoding.EncodeToString(sig)}
	full, err := withSign(unsigned, e.Sign)
	if err != nil {
		if full, err = e.canonical(true); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSeal, err)
		}
	}
	e.raw = full
	e.signed = signingBytes(unsigned)
	return full, nil
}

// SignBytes returns the Ed25519 signature of msg by key (a 64-byte
// crypto/ed25519 private key). Ed25519 signing is deterministic (RFC 8032),
// so this is byte for byte what crypto/ed25519.Sign returns (the golden
// handshake transcript pins it); it uses curve25519-voi's implementation,
// which is faster, and every handshake step signs once or twice.
func SignBytes(key ed25519.PrivateKey, msg []byte) []byte {
	return voied25519.Sign(voied25519.PrivateKey(key), msg)
}

// VerifyBytes reports whether sig is pub's Ed25519 signature of msg,
// accepting exactly what crypto/ed25519.Verify accepts (curve25519-voi's
// VerifyOptionsStdLib: cofactorless, small-order and non-canonical A
// allowed, canonical S required; TestVerifyBytesMatchesStdlib and
// FuzzVerifyBytes compare the two), but never panicking on a bad length.
//
// It verifies with curve25519-voi and keeps the decompressed ("expanded")
// form of recently seen public keys in a process-wide LRU cache: a node
// verifies many messages from the same few peers, and the decompression is
// a sizeable part of a verification. Every envelope received costs one
// verification and every handshake step one or two; BenchmarkEnvelopeVerify
// reports this against crypto/ed25519.Verify (stdlib-ratio).
func VerifyBytes(pub ed25519.PublicKey, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	return keyCache.VerifyWithOptions(voied25519.PublicKey(pub), msg, sig, stdlibVerify)
}

// keyCacheSize bounds the expanded-key cache: about 1 KiB per key (a
// precomputed table), so 4 MiB at most; a peer flooding new keys only
// evicts, it cannot grow it.
const keyCacheSize = 4096

var (
	keyCache     = voicache.NewVerifier(voicache.NewLRUCache(keyCacheSize))
	stdlibVerify = &voied25519.Options{Verify: voied25519.VerifyOptionsStdLib}
)

// withSign returns the canonical envelope with its sign member: the
// canonical unsigned envelope with `"sign":{...}` inserted before the first
// top-level member that sorts after "sign". Removing or inserting a member
// keeps an RFC 8785 document canonical, so this is JCS of the whole
// envelope without encoding and checking it all again. It fails, and Seal
// falls back to the full path, on anything it does not expect (a key with
// an escape, a document that is not an object).
func withSign(unsigned []byte, sig Signature) ([]byte, error) {
	member, err := canonicalJSON(wireSign{Algo: sig.Algo, Signature: sig.Signature})
	if err != nil {
		return nil, err
	}
	at, err := memberPosition(unsigned, "sign")
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(unsigned)+len(member)+9)
	out = append(out, unsigned[:at]...)
	last := unsigned[at] == '}' // appended after the last member
	if last && unsigned[at-1] != '{' {
		out = append(out, ',')
	}
	out = append(out, `"sign":`...)
	out = append(out, member...)
	if !last {
		out = append(out, ',') // the member at `at` follows
	}
	return append(out, unsigned[at:]...), nil
}

// memberPosition returns where in the canonical (whitespace-free) object b
// a member named key belongs: the offset of the first member whose key
// sorts after it (past the comma before it), or of the closing brace. The
// object must not already have the key.
func memberPosition(b []byte, key string) (int, error) {
	if len(b) < 2 || b[0] != '{' {
		return 0, errors.New("not an object")
	}
	i := 1
	for {
		if i >= len(b) {
			return 0, errTruncated
		}
		if b[i] == '}' {
			return i, nil
		}
		if b[i] != '"' {
			return 0, fmt.Errorf("member at offset %d is not a key", i)
		}
		end := i + 1
		for end < len(b) && b[end] != '"' {
			if b[end] == '\\' {
				return 0, errors.New("escaped key")
			}
			end++
		}
		k := string(b[i+1 : min(end, len(b))])
		if k == key {
			return 0, fmt.Errorf("%q is already a member", key)
		}
		if lessUTF16(key, k) {
			return i, nil
		}
		j, err := skipValue(b, end+2) // past `":`
		if err != nil {
			return 0, err
		}
		if j >= len(b) {
			return 0, errTruncated
		}
		if b[j] == ',' {
			j++
		}
		i = j
	}
}

// skipValue returns the offset just past the JSON value starting at b[i]
// (whitespace-free input, as canonical JSON is).
func skipValue(b []byte, i int) (int, error) {
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			i++
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' {
					i++
				}
				i++
			}
			i++
		case '{', '[':
			depth++
			i++
		case '}', ']':
			if depth == 0 {
				return i, nil
			}
			depth--
			i++
		case ',':
			if depth == 0 {
				return i, nil
			}
			i++
		default:
			i++
		}
		if depth == 0 && i < len(b) && (b[i] == ',' || b[i] == '}' || b[i] == ']') {
			return i, nil
		}
	}
	return 0, errTruncated
}

func signingBytes(canonicalUnsigned []byte) []byte {
	b := make([]byte, 0, len(SignPrefix)+len(canonicalUnsigned))
	b = append(b, SignPrefix...)
	return append(b, canonicalUnsigned...)
}

// SigningBytes returns the exact bytes the signature covers:
// "web4-envelope/1.0\n" + JCS(document without sign). For a parsed envelope
// that is the received document; for one built in memory, its encoding.
func (e *Envelope) SigningBytes() ([]byte, error) {
	if e.signed != nil {
		return e.signed, nil
	}
	c, err := e.canonical(false)
	if err != nil {
		return nil, err
	}
	return signingBytes(c), nil
}
