package envelope

import (
	"encoding/json"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"
)

// quickSchema is a fast pre-check for checks 2 and 9 (envelope and payload
// schema), compiled from the same schema document the jsonschema library
// compiles. Its check is three-valued: "valid" means the library would
// certainly accept the value, so the library's run — allocation-heavy, and
// a large part of the cost of receiving an envelope
// (BenchmarkFastPaths/quickschema measures it) — is skipped.
// Anything else goes to the library, which stays the single authority on
// what is invalid and on every error message. ("invalid" is exact too; it
// is what lets anyOf, oneOf and not be decided.)
//
// It models the keywords the shipped schemas use: type, properties,
// required, additionalProperties, minLength, maxLength, pattern (with Go's
// regexp, as the library), format date-time, minItems, maxItems, items,
// minProperties, maxProperties, enum and const of scalars, minimum,
// maximum, anyOf, oneOf, not, boolean schemas, and annotations. A
// subschema with any other keyword (another format, if, $ref left
// unresolved, ...) is opaque: a value reaching it makes the verdict
// "unknown"; a schema whose root is opaque has no quick path at all (the
// LIP envelope schema's if/else). Numbers are decided exactly or left to
// the library: integer literals against integer bounds exactly, others
// only when they differ from a bound that is an exact float64 (rounding is
// monotonic, so a strict inequality after rounding holds for the decimal
// too). A date-time is valid when it is in the form FormatTime writes, and
// otherwise left to the library. TestQuickSchemaImpliesLibrary,
// TestQuickEnvelopeImpliesSchema and FuzzQuickSchema check both verdicts
// against the library on every shipped schema.
type quickSchema struct {
	opaque bool // uses a keyword quickSchema does not model: always defer
	never  bool // the schema false: nothing is valid

	types uint8 // bit set of quickType; 0 = any type

	props    map[string]*quickSchema
	required []string
	addl     *quickSchema // schema for other members; nil with noAddl false = any
	noAddl   bool         // additionalProperties: false

	minLen, maxLen int // code points; -1 = unset
	pattern        func(string) bool
	dateTime       bool // format: date-time

	minItems, maxItems int // -1 = unset
	minProps, maxProps int // -1 = unset
	items              *quickSchema

	enum []any // strings, bools, nil and json.Number; nil = unset

	min, max *quickBound

	anyOf, oneOf []*quickSchema
	not          *quickSchema
}

const (
	qtNull uint8 = 1 << iota
	qtBool
	qtObject
	qtArray
	qtNumber
	qtInteger
	qtString
)

var quickTypeNames = map[string]uint8{
	"null": qtNull, "boolean": qtBool, "object": qtObject, "array": qtArray,
	"number": qtNumber, "integer": qtInteger, "string": qtString,
}

// quickBound is a minimum or maximum that is an exact float64; i is set
// (isInt) when it is also an int64.
type quickBound struct {
	f     float64
	i     int64
	isInt bool
}

// annotations are keywords with no effect on validation. The content
// keywords are among them because newCompiler does not turn on content
// assertion (draft 2020-12 makes them annotations by default).
var annotations = map[string]bool{
	"$schema": true, "$id": true, "$comment": true, "$defs": true, "title": true,
	"description": true, "examples": true, "default": true, "deprecated": true,
	"readOnly": true, "writeOnly": true,
	"contentEncoding": true, "contentMediaType": true, "contentSchema": true,
}

// compileQuick compiles a schema document (refs already inlined) into a
// quickSchema; it returns nil when the root itself is opaque.
func compileQuick(doc any) *quickSchema {
	q := compileQuickNode(doc, 0)
	if q.opaque {
		return nil
	}
	return q
}

func compileQuickNode(doc any, depth int) *quickSchema {
	opaque := &quickSchema{opaque: true}
	if depth > MaxDepth {
		return opaque
	}
	switch d := doc.(type) {
	case bool:
		if d {
			return newQuickSchema()
		}
		return &quickSchema{never: true}
	case map[string]any:
		q := newQuickSchema()
		for k, v := range d {
			if annotations[k] {
				continue
			}
			if !q.keyword(k, v, depth) {
				return opaque
			}
		}
		return q
	}
	return opaque
}

func newQuickSchema() *quickSchema {
	return &quickSchema{minLen: -1, maxLen: -1, minItems: -1, maxItems: -1, minProps: -1, maxProps: -1}
}

// keyword compiles one keyword; false means it is not modelled.
func (q *quickSchema) keyword(k string, v any, depth int) bool {
	switch k {
	case "type":
		switch t := v.(type) {
		case string:
			q.types = quickTypeNames[t]
			return q.types != 0
		case []any:
			for _, e := range t {
				s, _ := e.(string)
				if quickTypeNames[s] == 0 {
					return false
				}
				q.types |= quickTypeNames[s]
			}
			return q.types != 0
		}
		return false
	case "properties":
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		q.props = make(map[string]*quickSchema, len(m))
		for name, sub := range m {
			q.props[name] = compileQuickNode(sub, depth+1)
		}
		return true
	case "required":
		a, ok := v.([]any)
		if !ok {
			return false
		}
		for _, e := range a {
			s, ok := e.(string)
			if !ok {
				return false
			}
			q.required = append(q.required, s)
		}
		return true
	case "additionalProperties":
		if b, ok := v.(bool); ok {
			q.noAddl = !b
			return true
		}
		q.addl = compileQuickNode(v, depth+1)
		return true
	case "minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties":
		n, ok := quickCount(v)
		if !ok {
			return false
		}
		switch k {
		case "minLength":
			q.minLen = n
		case "maxLength":
			q.maxLen = n
		case "minItems":
			q.minItems = n
		case "maxItems":
			q.maxItems = n
		case "minProperties":
			q.minProps = n
		default:
			q.maxProps = n
		}
		return true
	case "pattern":
		src, ok := v.(string)
		if !ok {
			return false
		}
		re, err := regexp.Compile(src)
		if err != nil {
			return false
		}
		q.pattern = re.MatchString
		return true
	case "format":
		// The compiler asserts formats; only date-time, which every
		// envelope's timestamp has, is modelled.
		if v != "date-time" {
			return false
		}
		q.dateTime = true
		return true
	case "items":
		q.items = compileQuickNode(v, depth+1)
		return true
	case "enum", "const":
		vals := []any{v}
		if k == "enum" {
			a, ok := v.([]any)
			if !ok {
				return false
			}
			vals = a
		}
		if q.enum != nil { // both enum and const: not modelled
			return false
		}
		q.enum = make([]any, 0, len(vals))
		for _, e := range vals {
			switch e.(type) {
			case string, bool, nil, json.Number:
				q.enum = append(q.enum, e)
			default:
				return false
			}
		}
		return true
	case "anyOf", "oneOf":
		a, ok := v.([]any)
		if !ok || len(a) == 0 {
			return false
		}
		subs := make([]*quickSchema, len(a))
		for i, e := range a {
			subs[i] = compileQuickNode(e, depth+1)
		}
		if k == "anyOf" {
			q.anyOf = subs
		} else {
			q.oneOf = subs
		}
		return true
	case "not":
		q.not = compileQuickNode(v, depth+1)
		return true
	case "minimum", "maximum":
		b, ok := quickBoundOf(v)
		if !ok {
			return false
		}
		if k == "minimum" {
			q.min = b
		} else {
			q.max = b
		}
		return true
	}
	return false
}

// quickCount reads a non-negative integer keyword value.
func quickCount(v any) (int, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(string(n))
	return i, err == nil && i >= 0
}

// quickBoundOf accepts a bound only if it is exactly a float64.
func quickBoundOf(v any) (*quickBound, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(string(n))
	if !ok {
		return nil, false
	}
	f, exact := r.Float64()
	if !exact || math.IsInf(f, 0) {
		return nil, false
	}
	b := &quickBound{f: f}
	if r.IsInt() && r.Num().IsInt64() {
		b.i, b.isInt = r.Num().Int64(), true
	}
	return b, true
}

// tri is a three-valued verdict: the quick check knows v is valid, knows
// it is invalid, or cannot tell (and the library decides).
type tri uint8

const (
	unknown tri = iota
	valid
	invalid
)

func verdict(ok bool) tri {
	if ok {
		return valid
	}
	return invalid
}

// and combines verdicts of keywords that must all hold.
func (a tri) and(b tri) tri {
	switch {
	case a == invalid || b == invalid:
		return invalid
	case a == valid && b == valid:
		return valid
	}
	return unknown
}

// check decides v against the schema where it can. v is a value of the
// strict parser's tree: map[string]any, []any, string, json.Number, bool
// or nil. "valid" and "invalid" are exact; anything not modelled, and
// numbers too close to a bound to decide in float64, give "unknown".
func (q *quickSchema) check(v any) tri {
	if q.opaque {
		return unknown
	}
	if q.never {
		return invalid
	}
	r := valid
	if q.enum != nil {
		if r = q.inEnum(v); r == invalid {
			return invalid
		}
	}
	if len(q.anyOf) > 0 {
		r = r.and(q.combine(v, q.anyOf, 1, len(q.anyOf)))
	}
	if len(q.oneOf) > 0 {
		r = r.and(q.combine(v, q.oneOf, 1, 1))
	}
	if q.not != nil {
		switch q.not.check(v) {
		case valid:
			return invalid
		case unknown:
			r = r.and(unknown)
		}
	}
	if r == invalid {
		return invalid
	}
	return r.and(q.checkType(v))
}

// combine is anyOf (want 1..n branches valid) and oneOf (exactly 1).
func (q *quickSchema) combine(v any, branches []*quickSchema, lo, hi int) tri {
	yes, no := 0, 0
	for _, b := range branches {
		switch b.check(v) {
		case valid:
			yes++
		case invalid:
			no++
		}
	}
	maybe := len(branches) - yes - no
	switch {
	case yes >= lo && yes+maybe <= hi:
		return valid
	case yes+maybe < lo || yes > hi:
		return invalid
	}
	return unknown
}

// checkType applies the type keyword and the keywords of v's own kind.
func (q *quickSchema) checkType(v any) tri {
	switch x := v.(type) {
	case string:
		if q.types != 0 && q.types&qtString == 0 {
			return invalid
		}
		if q.minLen >= 0 || q.maxLen >= 0 {
			n := len(x) // bytes ≥ code points; count only when it matters
			if q.maxLen >= 0 && n > q.maxLen || q.minLen >= 0 && n < q.minLen*utf8.UTFMax {
				n = utf8.RuneCountInString(x)
			}
			if q.maxLen >= 0 && n > q.maxLen || q.minLen >= 0 && n < q.minLen {
				return invalid
			}
		}
		if q.pattern != nil && !q.pattern(x) {
			return invalid
		}
		if q.dateTime && !quickDateTime(x) {
			return unknown
		}
		return valid
	case map[string]any:
		if q.types != 0 && q.types&qtObject == 0 {
			return invalid
		}
		if q.maxProps >= 0 && len(x) > q.maxProps || q.minProps >= 0 && len(x) < q.minProps {
			return invalid
		}
		for _, r := range q.required {
			if _, ok := x[r]; !ok {
				return invalid
			}
		}
		r := valid
		for k, val := range x {
			sub := q.addl
			if p, ok := q.props[k]; ok {
				sub = p
			} else if q.noAddl {
				return invalid
			}
			if sub != nil {
				if r = r.and(sub.check(val)); r == invalid {
					return invalid
				}
			}
		}
		return r
	case []any:
		if q.types != 0 && q.types&qtArray == 0 {
			return invalid
		}
		if q.maxItems >= 0 && len(x) > q.maxItems || q.minItems >= 0 && len(x) < q.minItems {
			return invalid
		}
		r := valid
		if q.items != nil {
			for _, e := range x {
				if r = r.and(q.items.check(e)); r == invalid {
					return invalid
				}
			}
		}
		return r
	case json.Number:
		return q.checkNumber(x)
	case bool:
		return verdict(q.types == 0 || q.types&qtBool != 0)
	case nil:
		return verdict(q.types == 0 || q.types&qtNull != 0)
	}
	return unknown
}

func (q *quickSchema) checkNumber(n json.Number) tri {
	i, err := strconv.ParseInt(string(n), 10, 64)
	isInt := err == nil
	r := valid
	if q.types != 0 && q.types&qtNumber == 0 && !(isInt && q.types&qtInteger != 0) {
		if q.types&qtInteger == 0 {
			return invalid
		}
		// "integer" also admits 1.0 and 1e2; such literals go to the
		// library.
		r = unknown
	}
	if q.min == nil && q.max == nil {
		return r
	}
	if isInt && (q.min == nil || q.min.isInt) && (q.max == nil || q.max.isInt) {
		return r.and(verdict((q.min == nil || i >= q.min.i) && (q.max == nil || i <= q.max.i)))
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return unknown
	}
	// Rounding to float64 is monotonic and the bounds are exact float64s,
	// so a strict inequality after rounding holds for the decimal too;
	// equality says nothing.
	if q.min != nil && f < q.min.f || q.max != nil && f > q.max.f {
		return invalid
	}
	if q.min != nil && f == q.min.f || q.max != nil && f == q.max.f {
		return r.and(unknown)
	}
	return r
}

// quickDateTime reports whether s is certainly an RFC 3339 date-time: a
// string that time.Parse reads and FormatTime writes back unchanged is in
// UTC, with hour, minute and second in range (no leap second) and a day
// that exists in its month. Other spellings (offsets, leap seconds,
// trailing zeros in the fraction) go to the library.
func quickDateTime(s string) bool {
	t, err := time.Parse(time.RFC3339Nano, s)
	return err == nil && FormatTime(t) == s
}

// inEnum compares by JSON value for strings, booleans and null; numbers
// are equal when their literals are, and otherwise left to the library
// (1 and 1.0 are equal in JSON Schema).
func (q *quickSchema) inEnum(v any) tri {
	r := invalid
	switch x := v.(type) {
	case string, bool, nil:
		for _, e := range q.enum {
			if e == x {
				return valid
			}
		}
	case json.Number:
		for _, e := range q.enum {
			if e == x {
				return valid
			}
			if _, ok := e.(json.Number); ok {
				r = unknown
			}
		}
	}
	return r
}

func (t tri) String() string {
	return [...]string{"unknown", "valid", "invalid"}[t]
}
