package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/gowebpki/jcs"
)

// document is the result of the strict parse (check 1): the generic value
// tree (map[string]any / []any / json.Number / string / bool / nil — the
// shape jsonschema validates) plus the byte ranges later checks need, so
// nothing is parsed twice.
type document struct {
	raw      []byte
	root     map[string]any
	payload  []byte // raw bytes of the payload value (nil if absent)
	unsigned []byte // JCS(raw with the top-level sign member removed)
	prefixed []byte // SignPrefix + unsigned in one buffer, or nil
}

// signed returns SignPrefix + unsigned, without a copy when parseStrict
// built unsigned inside a prefixed buffer.
func (d *document) signed() []byte {
	if d.prefixed != nil {
		return d.prefixed
	}
	return signingBytes(d.unsigned)
}

// parseStrict runs check 1: size, UTF-8, exactly one JSON object, no
// duplicate keys at any depth, nothing after it, and expressible in
// RFC 8785. encoding/json alone accepts duplicate keys (last wins), which
// would let two parties read different envelopes out of the same signed
// bytes.
//
// The scanner is hand-written rather than a json.Decoder token walk
// because that walk and jcs.Transform together cost more than the ed25519
// verification they guard (BenchmarkFastPaths/strict weighs the two). It
// also notes whether the document is already in JCS form — no whitespace,
// keys sorted by UTF-16 code units, minimal string escapes, ES6 number
// form (checked with jcs.NumberToJSON). Our own Seal always emits that
// form, so for well-behaved peers the canonicalisation is the identity and
// jcs.Transform is skipped; anything else goes through jcs.Transform.
// FuzzParse holds all of it — verdict, value tree, payload and signed
// bytes — to libraryParse, the same rules applied with encoding/json and
// jcs.
func parseStrict(raw []byte) (*document, error) {
	if len(raw) > MaxSize {
		return nil, newErr(ErrInvalidEnvelope, CheckStrict, "", fmt.Sprintf("%d bytes exceeds the %d-byte limit", len(raw), MaxSize))
	}
	if !utf8.Valid(raw) {
		return nil, newErr(ErrInvalidEnvelope, CheckStrict, "", "not valid UTF-8")
	}
	// Own a copy: the envelope keeps slices of it (Raw, Payload), and the
	// caller's buffer may be reused for the next frame.
	s := &scanner{b: bytes.Clone(raw), canon: true}
	doc, err := s.top()
	if err != nil {
		return nil, newErr(ErrInvalidEnvelope, CheckStrict, s.path(), err.Error())
	}
	if !s.canon {
		// Canonicalise now, not at check 4: a document RFC 8785 cannot
		// express is not a valid envelope, and reporting it here keeps the
		// check order exact.
		c, err := jcs.Transform(doc.unsigned)
		if err != nil {
			return nil, newErr(ErrInvalidEnvelope, CheckStrict, "", "not canonicalisable (RFC 8785): "+err.Error())
		}
		doc.unsigned, doc.prefixed = c, nil
	}
	return doc, nil
}

// isCanonical reports whether b is exactly one JSON value in RFC 8785 form
// (the scanner's canonical-form tracking; FuzzParse and FuzzCanonicalJSON
// keep it in agreement with jcs).
func isCanonical(b []byte) bool {
	if len(b) > MaxSize || !utf8.Valid(b) {
		return false
	}
	s := &scanner{b: b, canon: true, check: true}
	if _, err := s.value(1); err != nil {
		return false
	}
	return s.i == len(b) && s.canon
}

// errNotCanonical stops a check-only scan at the first departure from
// RFC 8785 form.
var errNotCanonical = errors.New("not in RFC 8785 form")

// parseStrictValue parses one JSON value (any kind) strictly, for payloads
// handed to ValidatePayload.
func parseStrictValue(raw []byte) (any, error) {
	if len(raw) > MaxSize {
		return nil, fmt.Errorf("%d bytes exceeds the %d-byte limit", len(raw), MaxSize)
	}
	if !utf8.Valid(raw) {
		return nil, errors.New("not valid UTF-8")
	}
	s := &scanner{b: raw}
	v, err := s.value(1)
	if err != nil {
		if p := s.path(); p != "" {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		return nil, err
	}
	if s.ws(); s.i != len(s.b) {
		return nil, errTrailing
	}
	return v, nil
}

var (
	errTrailing  = errors.New("trailing data after the JSON value")
	errTruncated = errors.New("truncated JSON")
)

type scanner struct {
	b     []byte
	i     int
	canon bool // still in RFC 8785 form
	// check: only decide whether b is canonical (isCanonical). No value
	// tree is built, and the scan stops at the first departure; duplicate
	// keys need no map, since canonical keys strictly increase.
	check bool
	// segs is the path of a failure, innermost segment first; it is built
	// while the error unwinds, so the success path allocates no paths.
	segs []string
}

func (s *scanner) fail(format string, args ...any) error {
	return fmt.Errorf(format, args...)
}

// at records that the failure happened inside member key.
func (s *scanner) at(key string) { s.segs = append(s.segs, "."+key) }

// atIndex records that the failure happened inside array element n.
func (s *scanner) atIndex(n int) { s.segs = append(s.segs, "["+strconv.Itoa(n)+"]") }

// path renders the failure path: "payload.fact.sources[2]".
func (s *scanner) path() string {
	var b strings.Builder
	for i := len(s.segs) - 1; i >= 0; i-- {
		b.WriteString(s.segs[i])
	}
	return strings.TrimPrefix(b.String(), ".")
}

// ws skips JSON whitespace; any whitespace makes the document non-canonical.
func (s *scanner) ws() {
	start := s.i
	for s.i < len(s.b) && isWS(s.b[s.i]) {
		s.i++
	}
	if s.i != start {
		s.canon = false
	}
}

func (s *scanner) top() (*document, error) {
	s.ws()
	if s.i >= len(s.b) {
		return nil, errTruncated
	}
	if s.b[s.i] != '{' {
		return nil, errors.New("top level is not a JSON object")
	}
	s.i++
	// An envelope has ten or eleven top-level members: sized for them, the
	// map never grows (a small map holds eight).
	doc := &document{raw: s.b, root: make(map[string]any, 12)}
	signStart, signEnd := -1, -1
	prev := ""
	for n := 0; ; n++ {
		memberStart := s.i // before the comma, if any
		s.ws()
		if s.i >= len(s.b) {
			return nil, errTruncated
		}
		if s.b[s.i] == '}' && n == 0 {
			s.i++
			break
		}
		if n > 0 {
			if s.b[s.i] == '}' {
				s.i++
				break
			}
			if s.b[s.i] != ',' {
				s.at(prev)
				return nil, s.fail("expected ',' or '}' at offset %d", s.i)
			}
			s.i++
			s.ws()
		}
		if n >= MaxMembers {
			return nil, s.fail("more than %d members in one object", MaxMembers)
		}
		key, err := s.key(prev, n)
		if err != nil {
			return nil, err
		}
		if _, dup := doc.root[key]; dup {
			s.at(key)
			return nil, s.fail("duplicate key")
		}
		s.ws()
		valStart := s.i
		v, err := s.value(1)
		if err != nil {
			s.at(key)
			return nil, err
		}
		valEnd := s.i
		doc.root[key] = v
		switch key {
		case "payload":
			doc.payload = s.b[valStart:valEnd]
		case "sign":
			signStart, signEnd = memberStart, valEnd
			if n == 0 {
				// First member: drop the comma that follows instead of the
				// (absent) one before.
				j := signEnd
				for j < len(s.b) && isWS(s.b[j]) {
					j++
				}
				if j < len(s.b) && s.b[j] == ',' {
					signEnd = j + 1
				}
			}
		}
		prev = key
	}
	if s.ws(); s.i != len(s.b) {
		return nil, errTrailing
	}
	if signStart < 0 {
		doc.unsigned = s.b
		return doc, nil
	}
	// Leave room for SignPrefix in front, so the signed bytes can be formed
	// without another copy (see document.signed).
	u := make([]byte, 0, len(SignPrefix)+len(s.b)-(signEnd-signStart))
	u = append(u, SignPrefix...)
	u = append(u, s.b[:signStart]...)
	u = append(u, s.b[signEnd:]...)
	doc.prefixed, doc.unsigned = u, u[len(SignPrefix):]
	return doc, nil
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// key reads an object key and its ':' and tracks JCS member order.
func (s *scanner) key(prev string, n int) (string, error) {
	if s.i >= len(s.b) {
		return "", errTruncated
	}
	if s.b[s.i] != '"' {
		return "", s.fail("object key is not a string at offset %d", s.i)
	}
	k, err := s.str()
	if err != nil {
		return "", err
	}
	if n > 0 && s.canon && !lessUTF16(prev, k) {
		s.canon = false
	}
	s.ws()
	if s.i >= len(s.b) {
		return "", errTruncated
	}
	if s.b[s.i] != ':' {
		s.at(k)
		return "", s.fail("expected ':' at offset %d", s.i)
	}
	s.i++
	return k, nil
}

func (s *scanner) value(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, s.fail("nesting deeper than %d", MaxDepth)
	}
	s.ws()
	if s.i >= len(s.b) {
		return nil, errTruncated
	}
	switch c := s.b[s.i]; {
	case c == '{':
		s.i++
		var m map[string]any
		if !s.check {
			m = map[string]any{}
		}
		prev := ""
		for n := 0; ; n++ {
			s.ws()
			if s.i >= len(s.b) {
				return nil, errTruncated
			}
			if s.b[s.i] == '}' && n == 0 {
				s.i++
				return m, nil
			}
			if n > 0 {
				if s.b[s.i] == '}' {
					s.i++
					return m, nil
				}
				if s.b[s.i] != ',' {
					return nil, s.fail("expected ',' or '}' at offset %d", s.i)
				}
				s.i++
				s.ws()
			}
			if n >= MaxMembers {
				return nil, s.fail("more than %d members in one object", MaxMembers)
			}
			k, err := s.key(prev, n)
			if err != nil {
				return nil, err
			}
			if s.check {
				if !s.canon {
					return nil, errNotCanonical
				}
			} else if _, dup := m[k]; dup {
				s.at(k)
				return nil, s.fail("duplicate key")
			}
			v, err := s.value(depth + 1)
			if err != nil {
				s.at(k)
				return nil, err
			}
			if !s.check {
				m[k] = v
			}
			prev = k
		}
	case c == '[':
		s.i++
		var a []any // nil until the first element: an empty array boxes without allocating
		for n := 0; ; n++ {
			s.ws()
			if s.i >= len(s.b) {
				return nil, errTruncated
			}
			if s.b[s.i] == ']' && n == 0 {
				s.i++
				return a, nil
			}
			if n > 0 {
				if s.b[s.i] == ']' {
					s.i++
					return a, nil
				}
				if s.b[s.i] != ',' {
					return nil, s.fail("expected ',' or ']' at offset %d", s.i)
				}
				s.i++
			}
			v, err := s.value(depth + 1)
			if err != nil {
				s.atIndex(n)
				return nil, err
			}
			if s.check {
				if !s.canon {
					return nil, errNotCanonical
				}
			} else {
				if a == nil {
					a = make([]any, 0, 4)
				}
				a = append(a, v)
			}
		}
	case c == '"':
		if raw, ok := s.plainStr(); ok {
			if k, ok := lookupInterned(raw); ok {
				return k.v, nil
			}
			return view(raw), nil
		}
		return s.decodeStr()
	case c == 't':
		return true, s.lit("true")
	case c == 'f':
		return false, s.lit("false")
	case c == 'n':
		return nil, s.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.num()
	default:
		return nil, s.fail("unexpected %q at offset %d", c, s.i)
	}
}

func (s *scanner) lit(word string) error {
	if !strings.HasPrefix(string(s.b[s.i:min(len(s.b), s.i+len(word))]), word) {
		return s.fail("invalid literal at offset %d", s.i)
	}
	s.i += len(word)
	return nil
}

// num reads a JSON number (RFC 8259 grammar), rejects values outside
// IEEE 754 double range (RFC 8785 cannot express them) and notes whether
// the literal is in ES6 canonical form.
func (s *scanner) num() (any, error) {
	start := s.i
	b := s.b
	if b[s.i] == '-' {
		s.i++
	}
	digits := func() int {
		n := 0
		for s.i < len(b) && b[s.i] >= '0' && b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.i < len(b) && b[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		return nil, s.fail("invalid number at offset %d", start)
	}
	if s.i < len(b) && b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return nil, s.fail("invalid number at offset %d", start)
		}
	}
	if s.i < len(b) && (b[s.i] == 'e' || b[s.i] == 'E') {
		s.i++
		if s.i < len(b) && (b[s.i] == '+' || b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return nil, s.fail("invalid number at offset %d", start)
		}
	}
	lit := string(b[start:s.i])
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return nil, s.fail("number %s is outside the IEEE 754 double range", lit)
	}
	if s.canon {
		if c, err := jcs.NumberToJSON(f); err != nil || c != lit {
			s.canon = false
		}
	}
	return json.Number(lit), nil
}

// str reads a string starting at the opening quote, decoding escapes,
// rejecting control characters and unpaired surrogates, and noting whether
// its escaping is the minimal one RFC 8785 prescribes.
func (s *scanner) str() (string, error) {
	if raw, ok := s.plainStr(); ok {
		if k, ok := lookupInterned(raw); ok {
			return k.s, nil
		}
		return view(raw), nil
	}
	return s.decodeStr()
}

// decodeStr is str's path for a string plainStr could not take: one with
// escapes (or an error to report). s.i is at the opening quote.
func (s *scanner) decodeStr() (string, error) {
	s.i++ // opening quote
	start := s.i
	b := s.b
	for s.i < len(b) && !strSpecial[b[s.i]] {
		s.i++
	}
	if s.i < len(b) && b[s.i] < 0x20 {
		return "", s.fail("control character in string at offset %d", s.i)
	}
	buf := append([]byte(nil), b[start:s.i]...)
	for s.i < len(b) {
		c := b[s.i]
		switch {
		case c == '"':
			s.i++
			return string(buf), nil
		case c < 0x20:
			return "", s.fail("control character in string at offset %d", s.i)
		case c != '\\':
			buf = append(buf, c)
			s.i++
			continue
		}
		if s.i+1 >= len(b) {
			break
		}
		e := b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\':
			buf = append(buf, e)
		case '/':
			buf = append(buf, '/')
			s.canon = false
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, canonical, err := s.uEscape()
			if err != nil {
				return "", err
			}
			if !canonical {
				s.canon = false
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", s.fail("invalid escape \\%c at offset %d", e, s.i-2)
		}
	}
	return "", errTruncated
}

// uEscape decodes the hex of a \u escape (the "\u" already consumed),
// joining surrogate pairs.
func (s *scanner) uEscape() (rune, bool, error) {
	hex4 := func() (rune, string, bool) {
		if s.i+4 > len(s.b) {
			return 0, "", false
		}
		h := string(s.b[s.i : s.i+4])
		v, err := strconv.ParseUint(h, 16, 16)
		if err != nil {
			return 0, "", false
		}
		s.i += 4
		return rune(v), h, true
	}
	r, h, ok := hex4()
	if !ok {
		return 0, false, s.fail("invalid \\u escape at offset %d", s.i)
	}
	if utf16.IsSurrogate(r) {
		if r >= 0xDC00 || s.i+2 > len(s.b) || s.b[s.i] != '\\' || s.b[s.i+1] != 'u' {
			return 0, false, s.fail("unpaired surrogate at offset %d", s.i)
		}
		s.i += 2
		r2, _, ok := hex4()
		if !ok || r2 < 0xDC00 || r2 > 0xDFFF {
			return 0, false, s.fail("unpaired surrogate at offset %d", s.i)
		}
		return utf16.DecodeRune(r, r2), false, nil
	}
	// RFC 8785 escapes exactly the control characters without a short form,
	// as \u00xx in lowercase hex.
	canonical := r < 0x20 && r != '\b' && r != '\f' && r != '\n' && r != '\r' && r != '\t' &&
		h == strings.ToLower(h)
	return r, canonical, nil
}

// lessUTF16 orders strings by UTF-16 code units (RFC 8785 §3.2.3).
func lessUTF16(a, b string) bool {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			return utf16Key(ra) < utf16Key(rb)
		}
		a, b = a[na:], b[nb:]
	}
	return a == "" && b != ""
}

// utf16Key maps a rune to a value ordered like its first UTF-16 code unit
// (then the second): supplementary-plane runes sort by their high
// surrogate, which is below U+E000..U+FFFF.
func utf16Key(r rune) uint32 {
	if r >= 0x10000 {
		h, l := utf16.EncodeRune(r)
		return uint32(h)<<16 | uint32(l)
	}
	return uint32(r) << 16
}

// plainStr is the fast path of a string token starting at the opening
// quote: one with no escapes and no control characters, the common case
// (and always in RFC 8785 form). It returns the bytes between the quotes
// and moves past the closing one; otherwise it returns false and leaves
// s.i alone for the decoding path, which also reports the errors.
func (s *scanner) plainStr() ([]byte, bool) {
	b := s.b
	j := s.i + 1
	for j < len(b) && !strSpecial[b[j]] {
		j++
	}
	if j < len(b) && b[j] == '"' {
		raw := b[s.i+1 : j]
		s.i = j + 1
		return raw, true
	}
	return nil, false
}

// strSpecial marks the bytes that end plainStr's scan: the closing quote,
// a backslash, and the control characters (invalid in a string).
var strSpecial = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// view returns raw as a string without copying it. Strings of the value
// tree share the parsed buffer: parseStrict parses its own copy, which the
// envelope keeps (Raw, Payload) and nothing writes to; parseStrictValue's
// caller's buffer is only read during the validation it serves.
func view(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	return unsafe.String(&raw[0], len(raw))
}

// lookupInterned finds a string that is one of the shipped schemas'
// property names or enum/const values (the map lookup keyed by
// string(bytes) does not copy). Most strings of an envelope are such
// words, and their boxed values are shared.
func lookupInterned(raw []byte) (internEntry, bool) {
	if len(raw) > maxInterned {
		return internEntry{}, false
	}
	k, ok := internTable[string(raw)]
	return k, ok
}

const maxInterned = 32

type internEntry struct {
	s string
	v any
}

// internTable holds every property name and enum/const string of the
// shipped schemas (collected once from the embedded files).
var internTable = func() map[string]internEntry {
	m := map[string]internEntry{}
	var walk func(v any)
	add := func(s string) {
		if len(s) <= maxInterned {
			m[s] = internEntry{s, s}
		}
	}
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				if k == "properties" {
					if props, ok := val.(map[string]any); ok {
						for name := range props {
							add(name)
						}
					}
				}
				if k == "required" || k == "enum" {
					if a, ok := val.([]any); ok {
						for _, e := range a {
							if s, ok := e.(string); ok {
								add(s)
							}
						}
					}
				}
				if k == "const" {
					if s, ok := val.(string); ok {
						add(s)
					}
				}
				walk(val)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	entries, _ := SchemaFS.ReadDir("schema")
	for _, e := range entries {
		b, _ := SchemaFS.ReadFile("schema/" + e.Name())
		var doc any
		if json.Unmarshal(b, &doc) == nil {
			walk(doc)
		}
	}
	return m
}()
