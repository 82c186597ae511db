package envelope

import (
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// allSchemas returns every schema the project ships: the envelope
// schemas, the built-in CIP payload schemas and the HCP and LIP payload
// files (read from their packages' directories, compiled the way
// RegisterPayloadSchema compiles them).
func allSchemas(tb testing.TB) map[string]compiledSchema {
	tb.Helper()
	r, err := schemas()
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]compiledSchema{}
	for f := CIP; f <= LIP; f++ {
		out["envelope-"+f.String()+".json"] = r.envelopes[f]
	}
	for t, file := range builtinPayloads {
		out[file] = r.payload(t)
		if out[file].lib == nil {
			tb.Fatalf("%v: no schema", t)
		}
	}
	for _, dir := range []string{"../hcp/schema", "../lip/schema"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil || len(files) == 0 {
			tb.Fatalf("%s: %v (%d files)", dir, err, len(files))
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				tb.Fatal(err)
			}
			ps, err := compilePayloadSchema(b, schemaBase+filepath.Base(f))
			if err != nil {
				tb.Fatalf("%s: %v", f, err)
			}
			out[filepath.Base(f)] = ps
		}
	}
	return out
}

// quickValues are replacement values for mutations: every JSON kind, and
// numbers and strings at and around the bounds the schemas use.
var quickValues = []any{
	nil, true, false, "", "x", "é", strings.Repeat("é", 200), strings.Repeat("y", 257), strings.Repeat("z", 4097),
	strings.Repeat("w", 16385), "engaged", "probing", "confirm", "reject", "defer", "accept", "high",
	"6f1c1a2e-8f3b-4c5d-9e7f-0a1b2c3d4e5f", sha256hex("x"), sig64, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	"2026-11-25T08:00:00Z", "2026-02-30T08:00:00Z", "https://example.org/x",
	json.Number("0"), json.Number("1"), json.Number("-1"), json.Number("100"), json.Number("101"),
	json.Number("0.5"), json.Number("1.0"), json.Number("1e2"), json.Number("-0"), json.Number("1E0"),
	json.Number("0.99999999999999999999"), json.Number("1.00000000000000000001"), json.Number("-1e-300"),
	json.Number("100.00000000000000001"), json.Number("9007199254740993"), json.Number("1e400"),
	[]any{}, []any{"a"}, []any{json.Number("1")}, []any{map[string]any{}}, map[string]any{},
	map[string]any{"msg_id": "6f1c1a2e-8f3b-4c5d-9e7f-0a1b2c3d4e5f"},
}

// mutate changes v at one random place, at any depth.
func mutate(rng *rand.Rand, v any) any {
	switch x := v.(type) {
	case map[string]any:
		keys := sortedKeys(x)
		switch op := rng.Intn(10); {
		case op == 0 || len(keys) == 0:
			x[[]string{"extra", "notes", "reason", "context"}[rng.Intn(4)]] = quickValues[rng.Intn(len(quickValues))]
		case op == 1:
			delete(x, keys[rng.Intn(len(keys))])
		default:
			k := keys[rng.Intn(len(keys))]
			x[k] = mutate(rng, x[k])
		}
		return x
	case []any:
		switch op := rng.Intn(6); {
		case op == 0:
			n := []int{65, 257, 300}[rng.Intn(3)]
			el := quickValues[rng.Intn(len(quickValues))]
			if len(x) > 0 {
				el = x[0]
			}
			for len(x) < n {
				x = append(x, el)
			}
		case op == 1 || len(x) == 0:
			x = append(x, quickValues[rng.Intn(len(quickValues))])
		default:
			i := rng.Intn(len(x))
			x[i] = mutate(rng, x[i])
		}
		return x
	}
	if rng.Intn(4) == 0 {
		return v // leave leaves alone sometimes: many mutants stay valid
	}
	return quickValues[rng.Intn(len(quickValues))]
}

func decodeTree(tb testing.TB, s string) any {
	tb.Helper()
	v, err := parseStrictValue([]byte(s))
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// TestQuickSchemaImpliesLibrary: the quick check is only a shortcut. Whenever it accepts, the library accepts — over thousands of
// mutants of the sample payloads, checked against every shipped schema —
// and it does accept the valid samples, so the shortcut is really taken.
func TestQuickSchemaImpliesLibrary(t *testing.T) {
	all := allSchemas(t)
	for name, c := range samplePayloads {
		ps := all[builtinPayloads[c.typ]]
		if ps.quick == nil {
			t.Fatalf("%s: %v has no quick path", name, c.typ)
		}
		if ps.quick.check(decodeTree(t, c.payload)) != valid {
			t.Errorf("%s: quick check rejects a valid payload", name)
		}
	}
	if all["payload-fact_propose.json"].quick.check(decodeTree(t, kibPayload())) != valid {
		t.Error("quick check rejects the benchmark payload")
	}
	rng := rand.New(rand.NewSource(7))
	verdicts := map[tri]int{}
	deferredValid := 0
	for _, c := range samplePayloads {
		for i := 0; i < 400; i++ {
			v := decodeTree(t, c.payload)
			for n := rng.Intn(3); n >= 0; n-- {
				v = mutate(rng, v)
			}
			for file, ps := range all {
				if ps.quick == nil {
					continue
				}
				libErr := ps.lib.Validate(v)
				q := ps.quick.check(v)
				verdicts[q]++
				switch {
				case q == valid && libErr != nil:
					t.Fatalf("%s: quick says valid, library rejects (%v):\n%s", file, libErr, mustJSON(t, v))
				case q == invalid && libErr == nil:
					t.Fatalf("%s: quick says invalid, library accepts:\n%s", file, mustJSON(t, v))
				case q == unknown && libErr == nil:
					deferredValid++
				}
			}
		}
	}
	t.Logf("quick: %d valid, %d invalid, %d unknown (%d of them valid)",
		verdicts[valid], verdicts[invalid], verdicts[unknown], deferredValid)
	if verdicts[valid] == 0 || verdicts[invalid] == 0 {
		t.Fatal("the quick check never decided")
	}
}

// TestQuickSchemaKeywords pins the semantics at the edges: numbers at and
// beyond bounds, integer spellings, code points rather than bytes, enum by
// value, and keywords it does not model.
func TestQuickSchemaKeywords(t *testing.T) {
	const (
		V = valid
		I = invalid
		U = unknown
	)
	cases := []struct {
		schema string
		value  string
		quick  tri
	}{
		{`{"type":"integer","minimum":0,"maximum":100}`, `100`, V},
		{`{"type":"integer","minimum":0,"maximum":100}`, `101`, I},
		{`{"type":"integer","minimum":0,"maximum":100}`, `-1`, I},
		{`{"type":"integer","minimum":0,"maximum":100}`, `1.0`, U}, // valid, but left to the library
		{`{"type":"integer","minimum":0,"maximum":100}`, `"1"`, I},
		{`{"type":"integer"}`, `1e2`, U},
		{`{"type":"number","minimum":0,"maximum":1}`, `0.5`, V},
		{`{"type":"number","minimum":0,"maximum":1}`, `1`, V},
		{`{"type":"number","minimum":0,"maximum":1}`, `1.5`, I},
		{`{"type":"number","minimum":0,"maximum":1}`, `1.00000000000000000001`, U}, // rounds to the bound
		{`{"type":"number","minimum":0,"maximum":1}`, `1.0`, U},
		{`{"type":"number","minimum":0.1}`, `0.1`, U}, // 0.1 is not an exact float64: opaque
		{`{"type":"string","maxLength":3}`, `"ééé"`, V},
		{`{"type":"string","maxLength":3}`, `"éééé"`, I},
		{`{"type":"string","minLength":2}`, `"é"`, I},
		{`{"type":"string","minLength":2}`, `"éé"`, V},
		{`{"enum":["a",null,true]}`, `null`, V},
		{`{"enum":["a",null,true]}`, `"b"`, I},
		{`{"enum":["a",null,true]}`, `{}`, I},
		{`{"enum":["a",1]}`, `1.0`, U},
		{`{"const":"x"}`, `"x"`, V},
		{`{"anyOf":[{"type":"string"},{"type":"integer"}]}`, `"x"`, V},
		{`{"anyOf":[{"type":"string"},{"type":"integer"}]}`, `true`, I},
		{`{"anyOf":[{"type":"string"},{"format":"email"}]}`, `true`, U},
		{`{"oneOf":[{"type":"string"},{"type":"integer"}]}`, `1`, V},
		{`{"oneOf":[{"type":"number"},{"type":"integer"}]}`, `1`, I}, // both match
		{`{"oneOf":[{"required":["a"]},{"required":["b"]}]}`, `{"a":1,"b":1}`, I},
		{`{"type":"object","properties":{"a":{"not":{}}}}`, `{"b":1}`, V},
		{`{"type":"object","properties":{"a":{"not":{}}}}`, `{"a":1}`, I},
		{`{"type":"object","properties":{"a":false}}`, `{"a":1}`, I},
		{`{"type":"object","required":["a"],"additionalProperties":false,"properties":{"a":{}}}`, `{"a":1}`, V},
		{`{"type":"object","required":["a"],"additionalProperties":false,"properties":{"a":{}}}`, `{"a":1,"b":2}`, I},
		{`{"type":"object","additionalProperties":{"type":"string"}}`, `{"a":1}`, I},
		{`{"type":["string","null"]}`, `null`, V},
		{`{"minProperties":1,"maxProperties":1}`, `{}`, I},
		{`{"minProperties":1,"maxProperties":1}`, `{"a":1}`, V},
		{`{"minProperties":1,"maxProperties":1}`, `{"a":1,"b":2}`, I},
		{`{"type":"string","contentEncoding":"base64"}`, `"!!"`, V}, // an annotation here
		{`{"type":"array","items":{"type":"string","pattern":"^a+$"},"maxItems":2}`, `["a","aa"]`, V},
		{`{"type":"array","items":{"type":"string","pattern":"^a+$"},"maxItems":2}`, `["a","b"]`, I},
		{`{"type":"array","items":{"type":"string","pattern":"^a+$"},"maxItems":2}`, `["a","a","a"]`, I},
		{`{"type":"string","format":"date-time"}`, `"2026-11-25T08:00:00Z"`, V},
		{`{"type":"string","format":"date-time"}`, `"2026-11-25T08:00:00.123456789Z"`, V},
		{`{"type":"string","format":"date-time"}`, `"0000-01-01T00:00:00Z"`, V},
		{`{"type":"string","format":"date-time"}`, `"9999-12-31T23:59:59.999999999Z"`, V},
		{`{"type":"string","format":"date-time"}`, `"2024-02-29T00:00:00Z"`, V},
		{`{"type":"string","format":"date-time"}`, `"2026-11-25t08:00:00z"`, U},
		{`{"type":"string","format":"date-time"}`, `"2026-11-25T08:00:00.50Z"`, U}, // valid, not FormatTime's form
		{`{"type":"string","format":"date-time"}`, `"2026-11-25T09:00:00+01:00"`, U},
		{`{"type":"string","format":"date-time"}`, `"2016-12-31T23:59:60Z"`, U}, // a leap second
		{`{"type":"string","format":"date-time"}`, `"2026-02-30T08:00:00Z"`, U},
		{`{"format":"date-time"}`, `1`, V}, // formats apply to strings only
		{`{"type":"string","format":"email"}`, `"a@b.c"`, U},
	}
	for _, c := range cases {
		ps, err := compilePayloadSchema([]byte(c.schema), schemaBase+"test.json")
		if err != nil {
			t.Fatalf("%s: %v", c.schema, err)
		}
		v := decodeTree(t, c.value)
		got := unknown
		if ps.quick != nil {
			got = ps.quick.check(v)
		}
		if got != c.quick {
			t.Errorf("%s on %s: quick %v, want %v", c.schema, c.value, got, c.quick)
		}
		if libErr := ps.lib.Validate(v); got == valid && libErr != nil || got == invalid && libErr == nil {
			t.Errorf("%s on %s: quick %v, library: %v", c.schema, c.value, got, libErr)
		}
	}
}

// FuzzQuickSchema holds the quick check to the jsonschema library: for any
// JSON value and every shipped schema (envelopes and payloads), a quick
// verdict agrees with the library's.
func FuzzQuickSchema(f *testing.F) {
	for _, c := range samplePayloads {
		f.Add([]byte(c.payload))
	}
	f.Add([]byte(kibPayload()))
	f.Add([]byte(`{"fact":{"statement":"s","domain":"d","confidence":1.0,"sources":[],"context":""},"dmp_trace":{"decision_id":"d","steps":[],"counterfactuals":[],"evidence":[]},"causal_links":[]}`))
	// The seed envelopes and their payloads, and the HCP and LIP packages'
	// corpora of payloads.
	for _, s := range seeds(f) {
		f.Add(s)
		var m map[string]json.RawMessage
		if json.Unmarshal(s, &m) == nil && m["payload"] != nil {
			f.Add([]byte(m["payload"]))
		}
	}
	for _, dir := range []string{"../hcp/testdata/fuzz/FuzzParsePayload", "../lip/testdata/fuzz/FuzzDecode"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, file := range files {
			for _, b := range corpusBytes(f, file) {
				f.Add(b)
			}
		}
	}
	all := allSchemas(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		v, err := parseStrictValue(raw)
		if err != nil {
			return
		}
		for file, ps := range all {
			if ps.quick == nil {
				continue
			}
			q, err := ps.quick.check(v), ps.lib.Validate(v)
			if q == valid && err != nil || q == invalid && err == nil {
				t.Fatalf("%s: quick %v, library: %v", file, q, err)
			}
		}
	})
}

func mustJSON(tb testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}
