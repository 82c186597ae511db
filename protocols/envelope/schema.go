package envelope

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// SchemaFS holds the shipped JSON Schemas (draft 2020-12): common.json,
// envelope-{cip,hcp,lip}.json and payload-<type>.json for every CIP type.
//
//go:embed schema/*.json
var SchemaFS embed.FS

// schemaBase is the URL prefix of every shipped schema's $id; relative
// $refs between the files resolve against it.
const schemaBase = "https://web4p2p.dev/schema/envelope/"

// builtinPayloads maps CIP types to their shipped payload schema file.
var builtinPayloads = map[Type]string{
	Hello:         "payload-hello.json",
	Verify:        "payload-verify.json",
	Intent:        "payload-intent.json",
	FactPropose:   "payload-fact_propose.json",
	FactChallenge: "payload-fact_challenge.json",
	FactConfirm:   "payload-fact_confirm.json",
	FactReject:    "payload-fact_reject.json",
	DecisionShare: "payload-decision_share.json",
	StateUpdate:   "payload-state_update.json",
	TrustAttest:   "payload-trust_attest.json",
}

// ErrSchema reports a schema that does not load or compile.
var ErrSchema = errors.New("envelope: bad schema")

type registry struct {
	mu        sync.RWMutex
	envelopes [4]compiledSchema // by Family
	payloads  map[Type]compiledSchema
}

// compiledSchema is a compiled envelope or payload schema and its quick
// pre-check (nil when the schema's root is beyond what quickSchema models).
type compiledSchema struct {
	lib   *jsonschema.Schema
	quick *quickSchema
}

// validate is check 2 or 9 on a parsed value: the quick path when it is
// sure, the library otherwise.
func (p compiledSchema) validate(v any) error {
	if p.quick != nil && p.quick.check(v) == valid {
		return nil
	}
	return p.lib.Validate(v)
}

var (
	regOnce sync.Once
	reg     *registry
	regErr  error
)

// newCompiler returns a compiler that knows every shipped file, so a
// payload schema (shipped or registered later) can $ref "common.json#/...",
// and the shipped documents by file name with their $refs inlined.
func newCompiler() (*jsonschema.Compiler, map[string]any, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	entries, err := SchemaFS.ReadDir("schema")
	if err != nil {
		return nil, nil, err
	}
	docs := make(map[string]any, len(entries))
	for _, e := range entries {
		b, err := SchemaFS.ReadFile("schema/" + e.Name())
		if err != nil {
			return nil, nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		docs[e.Name()] = doc
	}
	inlined := make(map[string]any, len(docs))
	for name, doc := range docs {
		inl, err := inlineRefs(doc, name, docs, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		if err := c.AddResource(schemaBase+name, inl); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		inlined[name] = inl
	}
	return c, inlined, nil
}

// inlineRefs returns a copy of a schema document in which every
// {"$ref": "<file>#/$defs/<name>"} that points into the shipped files is
// replaced by the definition itself. The files keep $refs for readability;
// the validator then runs without the per-$ref indirection, and quickSchema
// can compile the whole document. Other keywords next to a
// $ref are kept (allOf-like semantics, as in draft 2020-12).
func inlineRefs(v any, file string, docs map[string]any, depth int) (any, error) {
	if depth > 32 {
		return nil, errors.New("$ref nesting too deep (recursive schema?)")
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		ref, hasRef := x["$ref"].(string)
		target, targetFile, ok := resolveLocalRef(ref, file, docs)
		if hasRef && ok {
			t, err := inlineRefs(target, targetFile, docs, depth+1)
			if err != nil {
				return nil, err
			}
			tm, isMap := t.(map[string]any)
			if !isMap {
				return t, nil
			}
			for k, val := range tm {
				if k == "$id" || k == "$schema" || k == "$defs" || k == "title" || k == "description" {
					continue
				}
				out[k] = val
			}
		}
		for k, val := range x {
			if hasRef && ok && k == "$ref" {
				continue
			}
			if _, taken := out[k]; taken {
				return nil, fmt.Errorf("keyword %q both beside a $ref and in its target", k)
			}
			iv, err := inlineRefs(val, file, docs, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = iv
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			iv, err := inlineRefs(val, file, docs, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = iv
		}
		return out, nil
	}
	return v, nil
}

// resolveLocalRef resolves "file.json#/$defs/name" or "#/$defs/name"
// against the shipped files.
func resolveLocalRef(ref, file string, docs map[string]any) (any, string, bool) {
	f, frag, found := strings.Cut(ref, "#")
	if !found || !strings.HasPrefix(frag, "/$defs/") {
		return nil, "", false
	}
	if f == "" {
		f = file
	}
	doc, ok := docs[f].(map[string]any)
	if !ok {
		return nil, "", false
	}
	defs, _ := doc["$defs"].(map[string]any)
	t, ok := defs[strings.TrimPrefix(frag, "/$defs/")]
	return t, f, ok
}

// schemas compiles the shipped schemas once per process.
func schemas() (*registry, error) {
	regOnce.Do(func() {
		c, docs, err := newCompiler()
		if err != nil {
			regErr = fmt.Errorf("%w: %w", ErrSchema, err)
			return
		}
		r := &registry{payloads: map[Type]compiledSchema{}}
		for f := CIP; f <= LIP; f++ {
			file := "envelope-" + f.String() + ".json"
			s, err := c.Compile(schemaBase + file)
			if err != nil {
				regErr = fmt.Errorf("%w: %s: %w", ErrSchema, file, err)
				return
			}
			r.envelopes[f] = compiledSchema{lib: s, quick: compileQuick(docs[file])}
		}
		for t, file := range builtinPayloads {
			s, err := c.Compile(schemaBase + file)
			if err != nil {
				regErr = fmt.Errorf("%w: %s: %w", ErrSchema, file, err)
				return
			}
			r.payloads[t] = compiledSchema{lib: s, quick: compileQuick(docs[file])}
		}
		reg = r
	})
	return reg, regErr
}

// RegisterPayloadSchema installs (or replaces) the JSON Schema that check 9
// applies to payloads of type t. HCP and LIP packages call it from init or
// their constructors; CIP payload schemas ship built in. The schema may
// $ref the shared definitions as "common.json#/$defs/<name>". Safe for
// concurrent use.
func RegisterPayloadSchema(t Type, schemaJSON []byte) error {
	if !t.Valid() {
		return fmt.Errorf("%w: type %d is not defined", ErrSchema, t)
	}
	r, err := schemas()
	if err != nil {
		return err
	}
	ps, err := compilePayloadSchema(schemaJSON, schemaBase+"registered-"+strings.ToLower(t.String())+".json")
	if err != nil {
		return fmt.Errorf("%w: %v: %w", ErrSchema, t, err)
	}
	r.mu.Lock()
	r.payloads[t] = ps
	r.mu.Unlock()
	return nil
}

// compilePayloadSchema compiles a payload schema document (its $id, or
// url when it has none) with the library and as a quick pre-check.
func compilePayloadSchema(schemaJSON []byte, url string) (compiledSchema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return compiledSchema{}, err
	}
	c, docs, err := newCompiler()
	if err != nil {
		return compiledSchema{}, err
	}
	if m, ok := doc.(map[string]any); ok {
		if id, ok := m["$id"].(string); ok && id != "" {
			url = id
		}
	}
	if err := c.AddResource(url, doc); err != nil {
		return compiledSchema{}, err
	}
	s, err := c.Compile(url)
	if err != nil {
		return compiledSchema{}, err
	}
	// The quick pre-check sees the document with its references to the
	// shipped files (and to its own $defs) inlined; a reference it cannot
	// inline leaves that subschema opaque, so it only defers more often.
	docs[registeredName] = doc
	var quick *quickSchema
	if inl, err := inlineRefs(doc, registeredName, docs, 0); err == nil {
		quick = compileQuick(inl)
	}
	return compiledSchema{lib: s, quick: quick}, nil
}

// registeredName is the file name a registered schema's own "#/$defs/..."
// references resolve against while inlining.
const registeredName = "registered.json"

// HasPayloadSchema reports whether check 9 has a schema for t.
func HasPayloadSchema(t Type) bool {
	r, err := schemas()
	if err != nil {
		return false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.payloads[t].lib != nil
}

func (r *registry) payload(t Type) compiledSchema {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.payloads[t]
}

var printer = message.NewPrinter(language.English)

// schemaError turns a jsonschema validation error into an *Error whose Path
// is the dotted instance path (prefixed with prefix) of the most specific
// failure and whose Reason is that failure's message.
func schemaError(err error, k error, check int, prefix string) *Error {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return newErr(k, check, prefix, err.Error())
	}
	leaf := deepest(ve)
	loc := leaf.InstanceLocation
	reason := leaf.ErrorKind.LocalizedString(printer)
	switch kd := leaf.ErrorKind.(type) {
	case *kind.Required:
		if len(kd.Missing) > 0 {
			loc = append(append([]string(nil), loc...), kd.Missing[0])
			reason = "required field missing"
		}
	case *kind.AdditionalProperties:
		if len(kd.Properties) > 0 {
			loc = append(append([]string(nil), loc...), kd.Properties[0])
			reason = "unknown field"
		}
	case *kind.Minimum:
		reason = "must be >= " + ratString(kd.Want) + ", got " + ratString(kd.Got)
	case *kind.Maximum:
		reason = "must be <= " + ratString(kd.Want) + ", got " + ratString(kd.Got)
	}
	return newErr(k, check, joinPath(prefix, loc), reason)
}

func ratString(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// deepest follows the first cause down to a leaf: the most specific
// failure, rather than "allOf failed" at the root.
func deepest(ve *jsonschema.ValidationError) *jsonschema.ValidationError {
	for len(ve.Causes) > 0 {
		best := ve.Causes[0]
		// Prefer the cause that reaches deepest into the instance: for
		// oneOf/anyOf that is usually the branch the sender meant.
		for _, c := range ve.Causes[1:] {
			if len(c.InstanceLocation) > len(best.InstanceLocation) {
				best = c
			}
		}
		ve = best
	}
	return ve
}

// joinPath renders ["fact","sources","2"] as "fact.sources[2]".
func joinPath(prefix string, loc []string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, s := range loc {
		if _, err := strconv.Atoi(s); err == nil {
			b.WriteString("[" + s + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}
