package envelope

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gowebpki/jcs"
	"go.uber.org/goleak"

	"github.com/web4p2p/web4p2p/internal/events"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func errErrorsIs(err, target error) bool { return errors.Is(err, target) }

func TestRoundTripAllFamilies(t *testing.T) {
	cases := []struct {
		typ     Type
		payload string
	}{
		{FactPropose, factPayload},
		{HCPIntent, `{"goal":"align","topic":"work"}`},
		{LIPEvidence, `{"claims":[],"evidence":[],"confidence":0.5,"extraction_notes":""}`},
		{LIPFetch, `{"uri":"https://example.org"}`},
	}
	for _, c := range cases {
		t.Run(c.typ.String(), func(t *testing.T) {
			in := newEnv(c.typ, c.payload)
			if c.typ == LIPFetch {
				in.Source = nil
			}
			wire := seal(t, in, aliceKey)
			out, err := bobValidator(nil).Validate(wire)
			if err != nil {
				t.Fatalf("Validate: %v\n%s", err, wire)
			}
			if !bytes.Equal(out.Raw(), wire) {
				t.Fatal("Raw() is not the received bytes")
			}
			// Compare everything but the unexported caches and the payload
			// bytes (compared canonically).
			a, b := *in, *out
			if !jsonEqual(t, a.Payload, b.Payload) {
				t.Fatalf("payload %s != %s", a.Payload, b.Payload)
			}
			a.Payload, b.Payload = nil, nil
			if !b.Verified() || a.Verified() {
				t.Fatalf("Verified: sealed %v, validated %v", a.Verified(), b.Verified())
			}
			a.raw, b.raw, a.signed, b.signed, b.verified = nil, nil, nil, nil, false
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("round trip differs:\n in %+v\nout %+v", a, b)
			}
			// Sealing the parsed envelope again yields the same bytes: the
			// wire form is canonical.
			again := seal(t, out, aliceKey)
			if !bytes.Equal(again, wire) {
				t.Fatalf("re-seal differs:\n%s\n%s", wire, again)
			}
		})
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

func TestBothTypeSpellings(t *testing.T) {
	wire := seal(t, newEnv(FactPropose, factPayload), aliceKey)
	for _, spelling := range []string{"FACT_PROPOSE", "FACTPROPOSE"} {
		w := resign(t, wire, aliceKey, func(m map[string]any) {
			m["type"] = spelling
			m["msg_id"] = "6f1c1a2e-8f3b-4c5d-9e7f-0a1b2c3d4e" + map[string]string{"FACT_PROPOSE": "00", "FACTPROPOSE": "01"}[spelling]
		})
		env, err := bobValidator(nil).Validate(w)
		if err != nil {
			t.Fatalf("%s: %v", spelling, err)
		}
		if env.Type != FactPropose || env.Type.String() != "FACT_PROPOSE" {
			t.Fatalf("%s: normalised to %v", spelling, env.Type)
		}
	}
	for _, s := range []string{"STATEUPDATE", "HCPSTATEUPDATE", "LIPFETCH", "TRUST_ATTEST"} {
		if _, err := ParseType(s); err != nil {
			t.Errorf("ParseType(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "fact_propose", "FACT__PROPOSE", "FACT PROPOSE"} {
		if _, err := ParseType(s); err == nil {
			t.Errorf("ParseType(%q) accepted", s)
		}
	}
}

func TestCheck1Strict(t *testing.T) {
	good := seal(t, newEnv(FactPropose, factPayload), aliceKey)
	cases := map[string][]byte{
		"oversize":         append(bytes.Repeat([]byte(" "), MaxSize), good...),
		"invalid utf-8":    bytes.Replace(good, []byte(`"alice"`), []byte("\"al\xffce\""), 1),
		"duplicate top":    bytes.Replace(good, []byte(`{"cip":"1.0",`), []byte(`{"cip":"1.0","cip":"1.0",`), 1),
		"duplicate deep":   bytes.Replace(good, []byte(`"confidence":0.9`), []byte(`"confidence":0.9,"confidence":0.1`), 1),
		"duplicate esc":    bytes.Replace(good, []byte(`"confidence":0.9`), []byte(`"confidence":0.9,"confidenc\u0065":0.1`), 1),
		"trailing object":  append(append([]byte{}, good...), []byte(`{}`)...),
		"trailing junk":    append(append([]byte{}, good...), 'x'),
		"not an object":    []byte(`[1,2]`),
		"truncated":        good[:len(good)-1],
		"empty":            {},
		"too deep":         []byte(`{"payload":` + strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1) + `}`),
		"huge number":      bytes.Replace(good, []byte(`"confidence":0.9`), []byte(`"confidence":1e400`), 1),
		"too many members": []byte(`{"payload":{` + manyMembers(MaxMembers+1) + `}}`),
		"lone surrogate":   bytes.Replace(good, []byte(`"learn"`), []byte(`"\ud800"`), 1),
		"bad escape":       bytes.Replace(good, []byte(`"learn"`), []byte(`"\q"`), 1),
		"control char":     bytes.Replace(good, []byte(`"learn"`), []byte("\"le\tarn\""), 1),
		"leading zero":     bytes.Replace(good, []byte(`"lri":12`), []byte(`"lri":012`), 1),
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := bobValidator(nil).Validate(raw)
			wantErr(t, err, ErrInvalidEnvelope, CheckStrict, "")
		})
	}
	// Trailing whitespace is not data.
	if _, err := bobValidator(nil).Validate(append(append([]byte{}, good...), " \n"...)); err != nil {
		t.Fatalf("trailing whitespace rejected: %v", err)
	}
}

func manyMembers(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"k%d":%d`, i, i)
	}
	return strings.Join(parts, ",")
}

func TestCheck2Shape(t *testing.T) {
	wire := seal(t, newEnv(FactPropose, factPayload), aliceKey)
	cases := []struct {
		name   string
		mutate func(m map[string]any)
		path   string
	}{
		{"no version key", func(m map[string]any) { delete(m, "cip") }, "cip"},
		{"two version keys", func(m map[string]any) { m["lip"] = "1.0" }, ""},
		{"wrong version", func(m map[string]any) { m["cip"] = "2.0" }, "cip"},
		{"missing msg_id", func(m map[string]any) { delete(m, "msg_id") }, "msg_id"},
		{"uuid v1", func(m map[string]any) { m["msg_id"] = "6f1c1a2e-8f3b-1c5d-9e7f-0a1b2c3d4e5f" }, "msg_id"},
		{"unknown type", func(m map[string]any) { m["type"] = "GOSSIP" }, "type"},
		{"type of other family", func(m map[string]any) { m["type"] = "HCP_HELLO" }, "type"},
		{"local timestamp", func(m map[string]any) { m["timestamp"] = "2026-11-25T09:00:00+01:00" }, "timestamp"},
		{"bad timestamp", func(m map[string]any) { m["timestamp"] = "2026-13-25T08:00:00Z" }, "timestamp"},
		{"presence enum", func(m map[string]any) { sub(m, "state")["presence"] = "asleep" }, "state.presence"},
		{"lri range", func(m map[string]any) { sub(m, "state")["lri"] = 101 }, "state.lri"},
		{"lri fraction", func(m map[string]any) { sub(m, "state")["lri"] = 1.5 }, "state.lri"},
		{"sender view unknown", func(m map[string]any) { sub(m, "trust")["sender_view"] = "unknown" }, "trust.sender_view"},
		{"short fingerprint", func(m map[string]any) { sub(m, "sender")["fingerprint"] = "abc" }, "sender.fingerprint"},
		{"capability type", func(m map[string]any) { sub(m, "sender")["capabilities"] = []any{"a", 7} }, "sender.capabilities[1]"},
		{"unknown member", func(m map[string]any) { m["extra"] = true }, "extra"},
		{"payload not object", func(m map[string]any) { m["payload"] = "x" }, "payload"},
		{"sign algo", func(m map[string]any) {}, "sign.algo"},
		{"hcp without human", func(m map[string]any) {
			delete(m, "cip")
			m["hcp"] = "1.0"
			m["type"] = "HCP_INTENT"
		}, "state.human"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := resign(t, wire, aliceKey, c.mutate)
			if c.name == "sign algo" {
				w = bytes.Replace(w, []byte(`"algo":"ed25519"`), []byte(`"algo":"rsa"`), 1)
			}
			_, err := bobValidator(nil).Validate(w)
			e := wantErr(t, err, ErrInvalidEnvelope, CheckShape, c.path)
			if e.Reason == "" {
				t.Fatal("empty reason")
			}
		})
	}
	// Non-canonical base64 of the pubkey (low bits set in the last char) is
	// rejected even though the fingerprint is computed over decoded bytes.
	pub := aliceKey.Public().(ed25519.PublicKey)
	enc := EncodePubkey(pub)
	last := enc[42]
	alt := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", last) ^ 1
	bad := enc[:42] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[alt]) + "="
	w := resign(t, wire, aliceKey, func(m map[string]any) { sub(m, "sender")["pubkey"] = bad })
	_, err := bobValidator(nil).Validate(w)
	wantErr(t, err, ErrInvalidEnvelope, CheckShape, "sender.pubkey")
}

func TestCheck3Fingerprint(t *testing.T) {
	e := newEnv(Hello, helloPayload)
	e.Sender.Fingerprint = bobFP // claims bob's identity with alice's key
	wire := seal(t, e, aliceKey)
	_, err := bobValidator(nil).Validate(wire)
	wantErr(t, err, ErrFingerprintMismatch, CheckFingerprint, "sender.fingerprint")
	if !errors.Is(err, ErrInvalidEnvelope) {
		t.Fatal("fingerprint mismatch must also be ErrInvalidEnvelope")
	}
	if err := VerifyIdentity(e); !errors.Is(err, ErrFingerprintMismatch) {
		t.Fatalf("VerifyIdentity: %v", err)
	}
}

const helloPayload = `{"protocols":["/web4/cip/1.0"],"capabilities":["facts"],"session_nonce":"AAAAAAAAAAAAAAAAAAAAAA==","challenge":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","features":{"supports_mesh":true,"supports_multiplex":true}}`

func TestCheck4Signature(t *testing.T) {
	wire := seal(t, newEnv(FactPropose, factPayload), aliceKey)
	t.Run("altered payload", func(t *testing.T) {
		w := bytes.Replace(wire, []byte(`"confidence":0.9`), []byte(`"confidence":0.8`), 1)
		_, err := bobValidator(nil).Validate(w)
		wantErr(t, err, ErrSignatureMismatch, CheckSignature, "sign.signature")
	})
	t.Run("signed by another key", func(t *testing.T) {
		w := resign(t, wire, bobKey, func(map[string]any) {})
		_, err := bobValidator(nil).Validate(w)
		wantErr(t, err, ErrSignatureMismatch, CheckSignature, "sign.signature")
	})
	t.Run("no domain prefix", func(t *testing.T) {
		e := newEnv(FactPropose, factPayload)
		seal(t, e, aliceKey)
		c, _ := e.canonical(false)
		e.Sign.Signature = b64(ed25519.Sign(aliceKey, c))
		w, _ := e.canonical(true)
		_, err := bobValidator(nil).Validate(w)
		wantErr(t, err, ErrSignatureMismatch, CheckSignature, "sign.signature")
	})
	t.Run("unknown-but-allowed payload content is covered", func(t *testing.T) {
		// Payload schemas allow extra members for forward compatibility; the
		// signature must still cover them, because it is checked over the
		// received document rather than over our decoding of it.
		w := resign(t, wire, aliceKey, func(m map[string]any) { sub(m, "payload")["x_ext"] = "signed" })
		if _, err := bobValidator(nil).Validate(w); err != nil {
			t.Fatalf("extension rejected: %v", err)
		}
		w2 := bytes.Replace(w, []byte(`"x_ext":"signed"`), []byte(`"x_ext":"forged"`), 1)
		_, err := bobValidator(nil).Validate(w2)
		wantErr(t, err, ErrSignatureMismatch, CheckSignature, "")
	})
	t.Run("formatting and member order do not matter", func(t *testing.T) {
		var m map[string]any
		if err := json.Unmarshal(wire, &m); err != nil {
			t.Fatal(err)
		}
		pretty, _ := json.MarshalIndent(m, "", "   ")
		if _, err := bobValidator(nil).Validate(pretty); err != nil {
			t.Fatalf("indented: %v", err)
		}
		// sign as the first member, whitespace around the cut.
		signObj, _ := json.Marshal(m["sign"])
		delete(m, "sign")
		rest, _ := json.Marshal(m)
		first := append([]byte("{ \"sign\" : "+string(signObj)+" ,\n "), rest[1:]...)
		if _, err := bobValidator(nil).Validate(first); err != nil {
			t.Fatalf("sign first: %v\n%s", err, first)
		}
	})
}

func TestCheck5Timestamp(t *testing.T) {
	for _, d := range []time.Duration{-DefaultMaxSkew - time.Second, DefaultMaxSkew + time.Second} {
		e := newEnv(FactPropose, factPayload)
		e.Timestamp = t0.Add(d)
		_, err := bobValidator(nil).Validate(seal(t, e, aliceKey))
		wantErr(t, err, ErrTimestamp, CheckTimestamp, "timestamp")
	}
	for _, d := range []time.Duration{-DefaultMaxSkew, DefaultMaxSkew} {
		e := newEnv(FactPropose, factPayload)
		e.Timestamp = t0.Add(d)
		if _, err := bobValidator(nil).Validate(seal(t, e, aliceKey)); err != nil {
			t.Fatalf("skew %v at the limit rejected: %v", d, err)
		}
	}
	// Configurable skew.
	e := newEnv(FactPropose, factPayload)
	e.Timestamp = t0.Add(10 * time.Second)
	_, err := bobValidator(func(c *Config) { c.MaxSkew = 5 * time.Second }).Validate(seal(t, e, aliceKey))
	wantErr(t, err, ErrTimestamp, CheckTimestamp, "timestamp")
}

func TestCheck6Replay(t *testing.T) {
	now := t0
	cache := NewReplayCache(time.Minute, 0)
	v := bobValidator(func(c *Config) {
		c.Now = func() time.Time { return now }
		c.Replay = cache
		c.MaxSkew = time.Hour
	})
	wire := seal(t, newEnv(FactPropose, factPayload), aliceKey)
	if _, err := v.Validate(wire); err != nil {
		t.Fatal(err)
	}
	_, err := v.Validate(wire)
	wantErr(t, err, ErrReplay, CheckReplay, "msg_id")
	now = now.Add(59 * time.Second)
	_, err = v.Validate(wire)
	wantErr(t, err, ErrReplay, CheckReplay, "msg_id")
	now = now.Add(time.Second)
	if _, err := v.Validate(wire); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestReplayCacheBounded(t *testing.T) {
	c := NewReplayCache(time.Hour, 3)
	for i := 0; i < 5; i++ {
		if !c.Add(string(rune('a'+i)), t0) {
			t.Fatalf("id %d reported as replay", i)
		}
	}
	if c.Len() != 3 || c.Evicted() != 2 {
		t.Fatalf("len %d evicted %d, want 3 and 2", c.Len(), c.Evicted())
	}
	if c.Add("e", t0) {
		t.Fatal("newest id forgotten")
	}
	// Expiry frees everything and the backing slice is compacted.
	for i := 0; i < 5000; i++ {
		c.Add(string(rune(0x1000+i)), t0.Add(time.Duration(i)*time.Hour))
	}
	if c.Len() > 3 || len(c.order)-c.head > 3 || cap(c.order) > 4096 {
		t.Fatalf("cache grew: len %d order %d cap %d", c.Len(), len(c.order)-c.head, cap(c.order))
	}
}

func TestCheck7Receiver(t *testing.T) {
	e := newEnv(FactPropose, factPayload)
	e.Receiver.Fingerprint = aliceFP
	_, err := bobValidator(nil).Validate(seal(t, e, aliceKey))
	wantErr(t, err, ErrInvalidEnvelope, CheckReceiver, "receiver.fingerprint")

	g := newEnv(FactPropose, factPayload)
	g.Receiver = Receiver{Fingerprint: Broadcast}
	wire := seal(t, g, aliceKey)
	_, err = bobValidator(nil).Validate(wire)
	wantErr(t, err, ErrInvalidEnvelope, CheckReceiver, "receiver.fingerprint")
	if _, err := bobValidator(func(c *Config) { c.Gossip = true }).Validate(wire); err != nil {
		t.Fatalf("gossip: %v", err)
	}
	_, err = bobValidator(func(c *Config) { c.LocalFingerprint = "" }).Validate(seal(t, newEnv(FactPropose, factPayload), aliceKey))
	wantErr(t, err, ErrInvalidEnvelope, CheckReceiver, "receiver.fingerprint")
	// On gossip, an envelope addressed to this very node is refused too:
	// every other receiver of the topic would refuse it, so a relay must
	// not accept (and forward) it.
	_, err = bobValidator(func(c *Config) { c.Gossip = true }).Validate(seal(t, newEnv(FactPropose, factPayload), aliceKey))
	wantErr(t, err, ErrInvalidEnvelope, CheckReceiver, "receiver.fingerprint")
}

// An envelope refused by checks 7–9 does not burn its msg_id: once this
// node's view admits it, the same bytes are accepted, and only then is a
// second copy a replay.
func TestRefusalDoesNotBurnMsgID(t *testing.T) {
	admit := false
	v := bobValidator(func(c *Config) {
		c.Policy = func(*Envelope) error {
			if !admit {
				return errors.New("signer not admitted yet")
			}
			return nil
		}
	})
	wire := seal(t, newEnv(FactPropose, factPayload), aliceKey)
	_, err := v.Validate(wire)
	wantErr(t, err, ErrTrustViolation, CheckTrust, "type")
	admit = true
	if _, err := v.Validate(wire); err != nil {
		t.Fatalf("after the signer was admitted: %v", err)
	}
	_, err = v.Validate(wire)
	wantErr(t, err, ErrReplay, CheckReplay, "msg_id")
}

func TestCheck8Trust(t *testing.T) {
	var seen *Envelope
	v := bobValidator(func(c *Config) {
		c.Policy = func(env *Envelope) error {
			seen = env
			if env.Type != Hello {
				return errors.New("peer is unknown")
			}
			return nil
		}
	})
	_, err := v.Validate(seal(t, newEnv(FactPropose, factPayload), aliceKey))
	e := wantErr(t, err, ErrTrustViolation, CheckTrust, "type")
	if !strings.Contains(e.Reason, "peer is unknown") || seen == nil || seen.Sender.AgentID != "alice" {
		t.Fatalf("reason %q, policy saw %+v", e.Reason, seen)
	}
}

func TestCheck9Payload(t *testing.T) {
	cases := []struct {
		name, payload, path string
	}{
		{"confidence", strings.Replace(factPayload, `"confidence":0.9`, `"confidence":1.5`, 1), "payload.fact.confidence"},
		{"missing statement", strings.Replace(factPayload, `"statement":"water boils at 100 C at sea level",`, ``, 1), "payload.fact.statement"},
		{"source type", strings.Replace(factPayload, `"sources":["https://example.org/boil"]`, `"sources":[1]`, 1), "payload.fact.sources[0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := bobValidator(nil).Validate(seal(t, newEnv(FactPropose, c.payload), aliceKey))
			e := wantErr(t, err, ErrPayloadSchema, CheckPayload, c.path)
			if c.name == "confidence" && !strings.Contains(e.Error(), "payload.fact.confidence: must be <= 1") {
				t.Fatalf("message %q", e.Error())
			}
		})
	}
}

// TestCheckOrder builds one envelope that fails checks 4 through 9 at once
// and repairs one failure at a time: each time the lowest failing check is
// the one reported.
func TestCheckOrder(t *testing.T) {
	bad := strings.Replace(factPayload, `"confidence":0.9`, `"confidence":7`, 1)
	e := newEnv(FactPropose, bad)
	e.Timestamp = t0.Add(time.Hour)                             // check 5
	e.Receiver.Fingerprint = aliceFP                            // check 7
	policy := func(*Envelope) error { return errors.New("no") } // check 8
	wire := seal(t, e, aliceKey)
	broken := bytes.Replace(wire, []byte(`"intent":"learn"`), []byte(`"intent":"xxxxx"`), 1) // check 4

	cache := NewReplayCache(0, 0)
	cache.Add(e.Sender.Fingerprint+"/"+e.MsgID, t0) // check 6
	v := func(skew time.Duration, local string, pol func(*Envelope) error) *Validator {
		return bobValidator(func(c *Config) { c.MaxSkew = skew; c.Replay = cache; c.LocalFingerprint = local; c.Policy = pol })
	}
	_, err := v(0, bobFP, policy).Validate(broken)
	wantErr(t, err, ErrSignatureMismatch, CheckSignature, "")
	_, err = v(0, bobFP, policy).Validate(wire)
	wantErr(t, err, ErrTimestamp, CheckTimestamp, "")
	_, err = v(2*time.Hour, bobFP, policy).Validate(wire)
	wantErr(t, err, ErrReplay, CheckReplay, "")
	cache = NewReplayCache(0, 0)
	_, err = v(2*time.Hour, bobFP, policy).Validate(wire)
	wantErr(t, err, ErrInvalidEnvelope, CheckReceiver, "")
	cache = NewReplayCache(0, 0)
	_, err = v(2*time.Hour, aliceFP, policy).Validate(wire)
	wantErr(t, err, ErrTrustViolation, CheckTrust, "")
	cache = NewReplayCache(0, 0)
	_, err = v(2*time.Hour, aliceFP, nil).Validate(wire)
	wantErr(t, err, ErrPayloadSchema, CheckPayload, "payload.fact.confidence")

	// And the brief's example: failing 4 and 9 reports 4.
	_, err = bobValidator(nil).Validate(bytes.Replace(seal(t, newEnv(FactPropose, bad), aliceKey), []byte(`"learn"`), []byte(`"LEARN"`), 1))
	wantErr(t, err, ErrSignatureMismatch, CheckSignature, "")
	// Failing 2 and 3 reports 2.
	e2 := newEnv(FactPropose, factPayload)
	e2.Sender.Fingerprint = bobFP
	e2.State.LRI = 500
	_, err = bobValidator(nil).Validate(seal(t, e2, aliceKey))
	wantErr(t, err, ErrInvalidEnvelope, CheckShape, "state.lri")
}

func TestRejectionEvents(t *testing.T) {
	ring := events.NewRing(16)
	sink := &events.CheckingSink{Next: ring}
	em := events.NewEmitter("12D3KooWTestPeer", sink, fixedNow)
	v := bobValidator(func(c *Config) { c.Events = em })
	bad := strings.Replace(factPayload, `"confidence":0.9`, `"confidence":2`, 1)
	if _, err := v.Validate(seal(t, newEnv(FactPropose, bad), aliceKey)); err == nil {
		t.Fatal("accepted")
	}
	if _, err := v.Validate([]byte("nope")); err == nil {
		t.Fatal("accepted")
	}
	evs := ring.Events()
	if len(evs) != 2 || evs[0].Type != "web4.envelope.rejected" || evs[0].Data["check"] != CheckPayload ||
		evs[0].Data["path"] != "payload.fact.confidence" || evs[1].Data["check"] != CheckStrict {
		t.Fatalf("events: %+v", evs)
	}
	if f := sink.Failures(); len(f) != 0 {
		t.Fatalf("schema failures: %v", f)
	}
}

func TestFactID(t *testing.T) {
	// Independent computation: the JCS of this object is exactly these bytes.
	want := sha256hex(`{"domain":"physics","statement":"water boils"}`)
	if got := MustFactID("physics", "water boils"); got != want {
		t.Fatalf("FactID = %s, want %s", got, want)
	}
	if MustFactID("physics", "water boils") == MustFactID("physics", "water  boils") {
		t.Fatal("different statements share an id")
	}
	if MustFactID("a", "b") == MustFactID("b", "a") {
		t.Fatal("domain and statement are not distinguished")
	}
	// Non-ASCII, <>& and U+2028 stay literal in JCS (no \u escapes), where
	// encoding/json would escape them.
	for _, c := range [][2]string{{"d", "é<>&"}, {"日本", "水は100度で沸騰する"}, {"d", "a\u2028b\u2029"}, {"d", "tab\tq\"\x01"}} {
		if got, want := MustFactID(c[0], c[1]), jcsFactID(t, c[0], c[1]); got != want {
			t.Fatalf("FactID(%q,%q) = %s, want %s", c[0], c[1], got, want)
		}
	}
	if got, want := MustFactID("d", "é<>"), sha256hex(`{"domain":"d","statement":"é<>"}`); got != want {
		t.Fatalf("FactID non-ASCII = %s, want %s", got, want)
	}
	// Invalid UTF-8 and empty strings name no fact. Coercing would give
	// "\xff" the id of "\uFFFD".
	for _, c := range [][2]string{{"d", "\xff"}, {"d", "ok\xfe\xff"}, {"\xc3", "s"}, {"d", "\xed\xa0\x80"}, {"", "s"}, {"d", ""}, {"", ""}} {
		if id, err := FactID(c[0], c[1]); !errors.Is(err, ErrFactID) || id != "" {
			t.Fatalf("FactID(%q,%q) = %q, %v; want ErrFactID", c[0], c[1], id, err)
		}
	}
	if _, err := FactID("d", "\ufffd"); err != nil {
		t.Fatalf("U+FFFD itself is valid UTF-8: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("MustFactID did not panic on invalid UTF-8")
		}
	}()
	MustFactID("d", "\xff")
}

// jcsFactID computes a fact id the slow, obvious way: encoding/json, then
// the jcs library, then SHA-256.
func jcsFactID(t testing.TB, domain, statement string) string {
	t.Helper()
	b, err := json.Marshal(map[string]string{"statement": statement, "domain": domain})
	if err != nil {
		t.Fatal(err)
	}
	c, err := jcs.Transform(b)
	if err != nil {
		t.Fatal(err)
	}
	return sha256hex(string(c))
}

func TestSealRejectsBadInput(t *testing.T) {
	e := newEnv(FactPropose, factPayload)
	e.Family = HCP
	if _, err := Seal(e, aliceKey); !errors.Is(err, ErrSeal) {
		t.Fatalf("family mismatch: %v", err)
	}
	e = newEnv(FactPropose, `{"a":`)
	if _, err := Seal(e, aliceKey); !errors.Is(err, ErrSeal) {
		t.Fatalf("bad payload: %v", err)
	}
	if _, err := Seal(newEnv(FactPropose, factPayload), aliceKey[:10]); !errors.Is(err, ErrSeal) {
		t.Fatalf("short key: %v", err)
	}
	e = newEnv(FactPropose, factPayload)
	e.State.Presence = 0
	if _, err := Seal(e, aliceKey); !errors.Is(err, ErrSeal) {
		t.Fatalf("zero enum: %v", err)
	}
}

func TestEnumStrings(t *testing.T) {
	if Presence(0).String() != "invalid(0)" || Overloaded.String() != "overloaded" || ViewBlacklisted.String() != "blacklisted" ||
		CIP.String() != "cip" || TierMedium.Rank() <= TierLow.Rank() || TierBlocked.Rank() >= TierUnknown.Rank() ||
		Neutral.String() != "neutral" || ConsentRevoked.String() != "revoked" || Type(99).Valid() {
		t.Fatal("enum strings")
	}
	var p Presence
	if err := p.UnmarshalText([]byte("busy")); err == nil {
		t.Fatal("bad presence accepted")
	}
	if len(Types(CIP)) != 10 || len(Types(HCP)) != 6 || len(Types(LIP)) != 5 {
		t.Fatal("type families")
	}
}

// TestReplayKeyedBySigner: another signer reusing a msg_id someone else
// already used is not a replay — otherwise a peer could race copies of
// honest msg_ids and get the honest envelopes dropped.
func TestReplayKeyedBySigner(t *testing.T) {
	v := bobValidator(nil)
	e := newEnv(FactPropose, factPayload)
	if _, err := v.Validate(seal(t, e, aliceKey)); err != nil {
		t.Fatal(err)
	}
	carol := key("carol")
	c := newEnv(FactPropose, factPayload) // same msg_id
	cp := carol.Public().(ed25519.PublicKey)
	c.Sender.Pubkey, c.Sender.Fingerprint, c.Sender.AgentID = EncodePubkey(cp), Fingerprint(cp), "carol"
	if _, err := v.Validate(seal(t, c, carol)); err != nil {
		t.Fatalf("carol's envelope with alice's msg_id: %v", err)
	}
	_, err := v.Validate(seal(t, newEnv(FactPropose, factPayload), aliceKey))
	wantErr(t, err, ErrReplay, CheckReplay, "msg_id")
}

func TestEnvelopeJSON(t *testing.T) {
	e := newEnv(Hello, helloPayload)
	wire := seal(t, e, aliceKey)
	type holder struct {
		Env Envelope `json:"env"`
	}
	b, err := json.Marshal(holder{Env: *e})
	if err != nil || !bytes.Contains(b, wire) {
		t.Fatalf("marshal: %v %s", err, b)
	}
	var h holder
	if err := json.Unmarshal(b, &h); err != nil || h.Env.MsgID != e.MsgID || h.Env.Type != Hello {
		t.Fatalf("unmarshal: %v %+v", err, h.Env)
	}
	if err := json.Unmarshal([]byte(`{"env":{"cip":"1.0"}}`), &h); !errors.Is(err, ErrInvalidEnvelope) {
		t.Fatalf("bad envelope: %v", err)
	}
	fresh := newEnv(Hello, helloPayload) // never sealed: canonical encoding
	if b, err := json.Marshal(fresh); err != nil || !bytes.HasPrefix(b, []byte(`{"cip":"1.0"`)) {
		t.Fatalf("unsealed: %v %s", err, b)
	}
}

// TestWireStructsSorted: the wire structs declare their fields in RFC 8785
// member order, so encoding/json emits canonical JSON and Seal never needs
// jcs.Transform for an envelope of ours.
func TestWireStructsSorted(t *testing.T) {
	for _, v := range []any{wire{}, wireSender{}, wireReceiver{}, wireTrust{}, wireState{}, wireHuman{}, wireSource{}, wireSign{}} {
		typ := reflect.TypeOf(v)
		prev := ""
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			if i > 0 && !lessUTF16(prev, name) {
				t.Errorf("%s: field %q declared after %q", typ.Name(), name, prev)
			}
			prev = name
		}
	}
	// So with a canonical payload, every envelope encodes canonically.
	for _, c := range samplePayloads {
		e := newEnv(c.typ, c.payload)
		p, err := jcs.Transform(e.Payload)
		if err != nil {
			t.Fatal(err)
		}
		e.Payload = p
		w, err := e.toWire(true)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(w); err != nil {
			t.Fatal(err)
		}
		if b := bytes.TrimSuffix(buf.Bytes(), []byte("\n")); !isCanonical(b) {
			t.Errorf("%v: encoding/json output is not canonical:\n%s", c.typ, b)
		}
	}
}

// SignBytes is crypto/ed25519.Sign, byte for byte (Ed25519 signing is
// deterministic), over keys and message lengths of every shape we sign.
func TestSignBytesMatchesStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		seed := make([]byte, ed25519.SeedSize)
		for j := range seed {
			seed[j] = byte(r.Uint32())
		}
		key := ed25519.NewKeyFromSeed(seed)
		msg := make([]byte, i*37)
		for j := range msg {
			msg[j] = byte(r.Uint32())
		}
		if got, want := SignBytes(key, msg), ed25519.Sign(key, msg); !bytes.Equal(got, want) {
			t.Fatalf("key %d, %d-byte message: SignBytes differs from crypto/ed25519", i, len(msg))
		}
	}
}

// edgePoints are Ed25519 point encodings where verifiers disagree: the
// eight small-order points and non-canonical encodings (y >= p).
var edgePoints = []string{
	"0100000000000000000000000000000000000000000000000000000000000000",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0000000000000000000000000000000000000000000000000000000000000080",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"0100000000000000000000000000000000000000000000000000000000000080",
}

// edgeScalars are S values around the group order L (S >= L must be
// rejected).
var edgeScalars = []string{
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010", // L-1
	"edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010", // L
	"eed3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010", // L+1
	"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff0f",
}

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// VerifyBytes (curve25519-voi with a key cache) accepts exactly what
// crypto/ed25519.Verify accepts: valid signatures, every single-bit
// corruption of them, and the small-order / non-canonical / S >= L corner
// cases where Ed25519 verifiers are known to differ.
func TestVerifyBytesMatchesStdlib(t *testing.T) {
	check := func(pub, msg, sig []byte) {
		t.Helper()
		if got, want := VerifyBytes(pub, msg, sig), ed25519.Verify(pub, msg, sig); got != want {
			t.Fatalf("pub %x sig %x msg %x: VerifyBytes %v, crypto/ed25519 %v", pub, sig, msg, got, want)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	accepted := 0
	for i := range 40 {
		seed := make([]byte, ed25519.SeedSize)
		for j := range seed {
			seed[j] = byte(r.Uint32())
		}
		key := ed25519.NewKeyFromSeed(seed)
		pub := key.Public().(ed25519.PublicKey)
		msg := make([]byte, i*29)
		for j := range msg {
			msg[j] = byte(r.Uint32())
		}
		sig := ed25519.Sign(key, msg)
		if !VerifyBytes(pub, msg, sig) {
			t.Fatalf("key %d: a valid signature does not verify", i)
		}
		accepted++
		for bit := 0; bit < 8*len(sig); bit += 1 + i%5 {
			bad := bytes.Clone(sig)
			bad[bit/8] ^= 1 << (bit % 8)
			check(pub, msg, bad)
		}
		for bit := 0; bit < 8*len(pub); bit += 3 + i%7 {
			bad := bytes.Clone(pub)
			bad[bit/8] ^= 1 << (bit % 8)
			check(bad, msg, sig)
		}
		if len(msg) > 0 {
			check(pub, msg[1:], sig)
		}
	}
	for _, a := range edgePoints {
		for _, rr := range edgePoints {
			for _, sc := range edgeScalars {
				sig := append(mustHex(t, rr), mustHex(t, sc)...)
				for _, msg := range [][]byte{nil, []byte("web4"), make([]byte, 100)} {
					check(mustHex(t, a), msg, sig)
					if ed25519.Verify(mustHex(t, a), msg, sig) {
						accepted++
					}
				}
			}
		}
	}
	if accepted <= 40 {
		t.Fatal("no corner case verifies: the corner cases test nothing")
	}
	if VerifyBytes(make([]byte, 31), nil, make([]byte, 64)) || VerifyBytes(make([]byte, 32), nil, make([]byte, 63)) {
		t.Fatal("bad lengths must fail, not panic or verify")
	}
}

// FuzzVerifyBytes: VerifyBytes and crypto/ed25519.Verify agree on any
// 32-byte key, 64-byte signature and message.
func FuzzVerifyBytes(f *testing.F) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	msg := []byte("web4-envelope/1.0\n{}")
	f.Add([]byte(key.Public().(ed25519.PublicKey)), msg, ed25519.Sign(key, msg))
	for _, a := range edgePoints {
		f.Add(mustHex(f, a), []byte("x"), append(mustHex(f, edgePoints[0]), mustHex(f, edgeScalars[0])...))
	}
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte) {
		if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
			if VerifyBytes(pub, msg, sig) {
				t.Fatal("bad length verified")
			}
			return
		}
		if got, want := VerifyBytes(pub, msg, sig), ed25519.Verify(pub, msg, sig); got != want {
			t.Fatalf("VerifyBytes %v, crypto/ed25519 %v", got, want)
		}
	})
}

// withSign (Seal's fast path) yields exactly the canonical encoding of the
// signed envelope, for every family and sample, and never needs the
// fallback for our own envelopes.
func TestWithSignMatchesCanonical(t *testing.T) {
	envs := []*Envelope{}
	for _, c := range samplePayloads {
		envs = append(envs, newEnv(c.typ, c.payload))
	}
	envs = append(envs, newEnv(HCPContext, `{"note":"x"}`), newEnv(LIPEvidence, `{"claims":[]}`))
	odd := newEnv(FactPropose, `{"fact":{"statement":"\u00e9 \"q\" \\ \ud83d\ude00 <&>","domain":"d","confidence":1e-7,"sources":[],"context":"}{][,:"},"dmp_trace":{"decision_id":"d","steps":[],"counterfactuals":[],"evidence":[]},"causal_links":[]}`)
	odd.Sender.AgentID = "a \"quoted\" \u2028 agent"
	envs = append(envs, odd)
	for _, e := range envs {
		unsigned, err := e.canonical(false)
		if err != nil {
			t.Fatal(err)
		}
		e.Sign = Signature{Algo: Algo, Signature: strings.Repeat("A", 86) + "=="}
		got, err := withSign(unsigned, e.Sign)
		if err != nil {
			t.Fatalf("%v: withSign: %v", e.Type, err)
		}
		want, err := e.canonical(true)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%v:\n got %s\nwant %s", e.Type, got, want)
		}
	}
	for _, bad := range []string{``, `[]`, `{"a":1`, `{"a":1,`, `{"a":{"b":[1,`, `{"sign":1}`, `{"a\"b":1}`} {
		if _, err := withSign([]byte(bad), Signature{Algo: Algo}); err == nil {
			t.Errorf("withSign(%s) succeeded", bad)
		}
	}
	if got, err := withSign([]byte(`{}`), Signature{Algo: "x", Signature: "y"}); err != nil || string(got) != `{"sign":{"algo":"x","signature":"y"}}` {
		t.Errorf("empty object: %s %v", got, err)
	}
}

// MaxAge lets check 5 take kept envelopes from the past (anti-entropy),
// never from the future.
func TestMaxAgeAcceptsThePastOnly(t *testing.T) {
	old := newEnv(FactPropose, factPayload)
	old.Timestamp = t0.Add(-time.Hour)
	wire := seal(t, old, aliceKey)
	_, err := bobValidator(nil).Validate(wire)
	wantErr(t, err, ErrTimestamp, CheckTimestamp, "timestamp")
	if _, err := bobValidator(func(c *Config) { c.MaxAge = 2 * time.Hour }).Validate(wire); err != nil {
		t.Fatalf("an hour-old envelope with MaxAge 2h: %v", err)
	}
	future := newEnv(FactPropose, factPayload)
	future.Timestamp = t0.Add(time.Hour)
	_, err = bobValidator(func(c *Config) { c.MaxAge = 2 * time.Hour }).Validate(seal(t, future, aliceKey))
	wantErr(t, err, ErrTimestamp, CheckTimestamp, "timestamp")
}
