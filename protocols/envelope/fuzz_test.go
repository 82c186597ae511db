package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// seeds returns valid envelopes of every family plus damaged variants.
func seeds(tb testing.TB) [][]byte {
	var out [][]byte
	for _, c := range samplePayloads {
		out = append(out, seal(tb, newEnv(c.typ, c.payload), aliceKey))
	}
	out = append(out,
		seal(tb, newEnv(HCPContext, `{"note":"x"}`), aliceKey),
		seal(tb, newEnv(LIPEvidence, `{"claims":[]}`), aliceKey),
		[]byte(`{}`), []byte(`{"cip":"1.0"}`), []byte(`{"a":"\u00e9\ud83d\ude00","b":[1e2,-0,0.1]}`),
		[]byte(`{"sign":{},"a":1}`), []byte("{\"a\":1}\n{\"b\":2}"), []byte(`{"a":"\ud800"}`),
	)
	good := out[0]
	out = append(out, bytes.Replace(good, []byte(`"cip"`), []byte(` "cip" `), 1), good[:len(good)/2])
	return append(out, fileSeeds(tb)...)
}

// fileSeeds returns the envelopes of the CIP handshake transcript
// (protocols/cip/testdata) and the inputs in this package's fuzz corpora,
// so every envelope target starts from all of them.
func fileSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	golden, err := os.ReadFile("../cip/testdata/handshake.golden")
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for _, line := range bytes.Split(golden, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("{")) {
			out = append(out, line)
		}
	}
	files, _ := filepath.Glob("testdata/fuzz/*/*")
	for _, f := range files {
		out = append(out, corpusBytes(tb, f)...)
	}
	return out
}

// corpusBytes returns the []byte values of a file in the fuzz corpus
// format ("go test fuzz v1", then one Go literal per line).
func corpusBytes(tb testing.TB, file string) [][]byte {
	tb.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for _, line := range strings.Split(string(b), "\n") {
		lit, ok := strings.CutPrefix(line, "[]byte(")
		if !ok {
			continue
		}
		v, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
		if err != nil {
			tb.Fatalf("%s: %v", file, err)
		}
		out = append(out, []byte(v))
	}
	return out
}

// FuzzParse holds the strict scanner to the library path (libraryParse:
// encoding/json and jcs under the rules parseStrict documents); see
// checkStrict.
func FuzzParse(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	for _, e := range strictEdges() {
		if len(e.doc) < 4<<10 { // the size limits stay in TestStrictEdges: mutating 256 KiB is slow
			f.Add(e.doc)
		}
	}
	f.Fuzz(checkStrict)
}

// TestStrictEdges runs checkStrict on documents at the edges of every
// strictness rule, and checks the verdict both paths agree on.
func TestStrictEdges(t *testing.T) {
	for _, e := range strictEdges() {
		checkStrict(t, e.doc)
		if _, err := parseStrict(e.doc); (err == nil) != e.ok {
			t.Errorf("%.80q: accepted %v, want %v (%v)", e.doc, err == nil, e.ok, err)
		}
	}
}

type strictEdge struct {
	doc []byte
	ok  bool // parseStrict accepts it
}

// strictEdges are documents at and across the limits of check 1.
func strictEdges() []strictEdge {
	nest := func(n int) string { // a value n levels below the top object
		return `{"a":` + strings.Repeat("[", n-1) + "1" + strings.Repeat("]", n-1) + "}"
	}
	members := func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"k%03d":%d`, i, i)
		}
		return b.String() + "}"
	}
	sized := func(n int) string { return `{"a":"` + strings.Repeat("x", n-8) + `"}` }
	var out []strictEdge
	for doc, ok := range map[string]bool{
		nest(MaxDepth): true, nest(MaxDepth + 1): false, members(MaxMembers): true, members(MaxMembers + 1): false,
		sized(MaxSize): true, sized(MaxSize + 1): false,
		`{"a":1} `: true, "{\"a\":1}\n{}": false, `{"a":1,"a":2}`: false, `{"a":{"b":1,"b":1}}`: false,
		`{"a":"\ud800"}`: false, `{"a":"\udc00\ud800"}`: false, `{"a":"\ud83d\ude00"}`: true,
		`{"a":"\ud83d\u0041"}`: false, `{"\ud800":1}`: false, `{"a":"\\ud800"}`: true,
		`{"a":1e400}`: false, `{"a":-1e400}`: false, `{"a":1e-400}`: true, `{"a":-0}`: true,
		`{"a":[1,]}`: false, `{"a":01}`: false, `{"a":.5}`: false, `{"a":tru}`: false, `{"a":nulls}`: false,
		"{\"a\":\"\x01\"}": false, "{\"a\":\"\xff\"}": false, `[]`: false, `"x"`: false, ``: false, ` `: false,
		`{"sign":1}`: true, `{"payload":{"x":[1,2]},"sign":{}}`: true, `{"b":1,"a":2}`: true,
		`{"a":"\u00e9\/"}`: true, `{"a":1E2,"b":0.10}`: true,
	} {
		out = append(out, strictEdge{[]byte(doc), ok})
	}
	return out
}

// checkStrict: parseStrict and libraryParse accept the same documents
// and, when they do, produce the same value tree, payload bytes and
// signed bytes; the same goes for parseStrictValue against libraryValue;
// and isCanonical says yes exactly when jcs leaves a valid value
// unchanged.
func checkStrict(t *testing.T, raw []byte) {
	t.Helper()
	doc, err := parseStrict(raw)
	ref, refErr := libraryParse(raw)
	switch {
	case err != nil && refErr == nil:
		t.Fatalf("%.200q: scanner rejects (%v), library accepts", raw, err)
	case err == nil && refErr != nil:
		t.Fatalf("%.200q: scanner accepts, library rejects (%v)", raw, refErr)
	case err != nil:
		if e, ok := AsError(err); !ok || e.Check != CheckStrict || !errors.Is(err, ErrInvalidEnvelope) {
			t.Fatalf("error %v is not a check-1 *Error", err)
		}
	default:
		if !sameTree(doc.root, ref.root) {
			t.Fatalf("value trees differ:\n%#v\n%#v", doc.root, ref.root)
		}
		if !bytes.Equal(doc.payload, ref.payload) {
			t.Fatalf("payload %q, library %q", doc.payload, ref.payload)
		}
		if !bytes.Equal(doc.unsigned, ref.unsigned) || !bytes.Equal(doc.signed(), signingBytes(ref.unsigned)) {
			t.Fatalf("unsigned bytes\n%s\nlibrary\n%s", doc.unsigned, ref.unsigned)
		}
	}

	v, err := parseStrictValue(raw)
	rv, refErr := libraryValue(raw)
	if (err == nil) != (refErr == nil) || err == nil && !sameTree(v, rv) {
		t.Fatalf("%.200q: parseStrictValue %#v (%v), library %#v (%v)", raw, v, err, rv, refErr)
	}
	canon := false
	if refErr == nil {
		c, err := jcs.Transform(raw)
		canon = err == nil && bytes.Equal(c, raw)
	}
	if isCanonical(raw) != canon {
		t.Fatalf("%.200q: isCanonical %v, library %v", raw, !canon, canon)
	}
}

// FuzzValidate runs the whole validator; every outcome must be success or
// a well-formed *Error, and success must be reproducible.
func FuzzValidate(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		env, err := bobValidator(nil).Validate(raw)
		if err != nil {
			e, ok := AsError(err)
			if !ok || e.Check < CheckStrict || e.Check > CheckPayload || e.Reason == "" {
				t.Fatalf("malformed error %#v", err)
			}
			return
		}
		again, err := bobValidator(nil).Validate(raw)
		if err != nil || again.MsgID != env.MsgID || !bytes.Equal(again.Payload, env.Payload) {
			t.Fatalf("not reproducible: %v", err)
		}
	})
}

// TestQuickEnvelopeImpliesSchema: the quick check-2 path agrees with the
// envelope schemas whenever it decides — over random mutations of valid
// CIP and HCP envelopes — and it does decide valid ones, so the shortcut is
// actually taken. (The LIP schema's if/else is beyond it: LIP envelopes
// always go to the library.)
func TestQuickEnvelopeImpliesSchema(t *testing.T) {
	r, err := schemas()
	if err != nil {
		t.Fatal(err)
	}
	if r.envelopes[LIP].quick != nil {
		t.Fatal("LIP envelope schema has a quick path; test it here")
	}
	rng := rand.New(rand.NewSource(2))
	values := []any{nil, true, "", "x", "*", "1.0", "ed25519", "probing", "unknown", "focused", json.Number("0"),
		json.Number("100"), json.Number("101"), json.Number("1.5"), json.Number("-1"), json.Number("007"),
		json.Number("1e2"), json.Number("50.0"), []any{}, []any{"a"}, []any{1}, map[string]any{}, aliceFP,
		strings.Repeat("y", 300), "2026-11-25T24:00:00Z", "2026-02-30T08:00:00Z", "2026-11-25T08:00:00.50Z",
		"2016-12-31T23:59:60Z", "6f1c1a2e-8f3b-4c5d-9e7f-0a1b2c3d4e5f", "HELLO", "HCP_HELLO", "FACTPROPOSE"}
	verdicts := map[tri]int{}
	for name, c := range samplePayloads {
		for _, fam := range []Family{CIP, HCP} {
			e := newEnv(c.typ, c.payload)
			if fam != CIP {
				e = newEnv(Types(fam)[0], `{}`)
			}
			wire := seal(t, e, aliceKey)
			doc, err := parseStrict(wire)
			if err != nil {
				t.Fatal(err)
			}
			s := r.envelopes[fam]
			if s.quick == nil || s.quick.check(doc.root) != valid {
				t.Fatalf("%s: quick check does not decide a valid %v envelope", name, fam)
			}
			for i := 0; i < 100; i++ {
				var m map[string]any
				_ = json.Unmarshal(wire, &m)
				m = renumber(m).(map[string]any)
				// Mutate one field at depth 1 or 2.
				keys := sortedKeys(m)
				k := keys[rng.Intn(len(keys))]
				if sm, ok := m[k].(map[string]any); ok && rng.Intn(2) == 0 && len(sm) > 0 {
					sk := sortedKeys(sm)
					if rng.Intn(5) == 0 {
						sm["extra"] = 1
					} else {
						sm[sk[rng.Intn(len(sk))]] = values[rng.Intn(len(values))]
					}
				} else if rng.Intn(6) == 0 {
					delete(m, k)
				} else {
					m[k] = values[rng.Intn(len(values))]
				}
				q, libErr := s.quick.check(m), s.lib.Validate(m)
				verdicts[q]++
				if q == valid && libErr != nil || q == invalid && libErr == nil {
					t.Fatalf("%v: quick %v, schema: %v\n%v", fam, q, libErr, m)
				}
			}
		}
	}
	if verdicts[valid] == 0 || verdicts[invalid] == 0 {
		t.Fatalf("the quick check never decided: %v", verdicts)
	}
}

// renumber converts float64 from encoding/json into json.Number, the form
// the strict parser produces.
func renumber(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = renumber(e)
		}
	case []any:
		for i, e := range x {
			x[i] = renumber(e)
		}
	case float64:
		b, _ := json.Marshal(x)
		return json.Number(b)
	}
	return v
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slicesSort(out)
	return out
}

// FuzzCanonicalJSON: canonicalJSON (encoding/json plus the scanner's
// canonical-form check, jcs only as the fallback) produces exactly what jcs
// produces, whatever the key order, escapes and numbers of the input.
func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Add([]byte(`{"b":1,"a":[true,null,"<&>\u2028"],"c":{"z":1e21,"y":0.000001}}`))
	f.Add([]byte(`["\u0008\u000c\u001f",1E2,-0.0]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		want, err := jcs.Transform(b)
		if err != nil {
			return
		}
		got, err := canonicalJSON(json.RawMessage(b))
		if err != nil {
			t.Fatalf("canonicalJSON failed where jcs succeeded: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("canonicalJSON %s\n          jcs %s", got, want)
		}
	})
}

// FuzzWithSign: inserting the sign member into any canonical object (as
// Seal does) gives the canonical form of the object with that member.
func FuzzWithSign(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s, "c2lnbmF0dXJl")
	}
	f.Add([]byte(`{}`), "x")
	f.Add([]byte(`{"z":[{"sign":1}],"a":"}"}`), "")
	f.Fuzz(func(t *testing.T, b []byte, sig string) {
		var obj map[string]json.RawMessage
		if !utf8.Valid(b) || !utf8.ValidString(sig) || json.Unmarshal(b, &obj) != nil {
			return
		}
		if _, has := obj["sign"]; has {
			return
		}
		canon, err := jcs.Transform(b)
		if err != nil {
			return
		}
		s := Signature{Algo: Algo, Signature: sig}
		got, err := withSign(canon, s)
		if err != nil {
			return // Seal falls back to the full encoding
		}
		sm, _ := json.Marshal(wireSign{Algo: s.Algo, Signature: s.Signature})
		obj["sign"] = sm
		whole, _ := json.Marshal(obj)
		want, err := jcs.Transform(whole)
		if err != nil {
			return
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("withSign %s\n      jcs %s", got, want)
		}
	})
}

// FuzzFactID: FactID never panics; it refuses exactly the empty and
// non-UTF-8 inputs, and otherwise returns 64 hex digits equal to the slow
// encoding/json + jcs computation.
func FuzzFactID(f *testing.F) {
	f.Add("physics", "water boils")
	f.Add("d", "\u2028<>&\"\\")
	f.Add("d", "\xff\xfe")
	f.Add("\xed\xa0\x80", "s")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, domain, statement string) {
		id, err := FactID(domain, statement)
		valid := domain != "" && statement != "" && utf8.ValidString(domain) && utf8.ValidString(statement)
		if !valid {
			if !errors.Is(err, ErrFactID) || id != "" {
				t.Fatalf("FactID(%q,%q) = %q, %v; want ErrFactID", domain, statement, id, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("FactID(%q,%q): %v", domain, statement, err)
		}
		if want := jcsFactID(t, domain, statement); id != want {
			t.Fatalf("FactID(%q,%q) = %s, jcs says %s", domain, statement, id, want)
		}
	})
}
