package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// This file holds the library path that the strict scanner is held
// against: FuzzParse checks that the two agree, and BenchmarkFastPaths
// weighs one against the other in the same run. (quickSchema's library
// path is the jsonschema library itself.)

// libraryParse is check 1 done with encoding/json and jcs alone, applying
// the rules parseStrict documents: at most MaxSize bytes of valid UTF-8,
// exactly one JSON object and nothing but whitespace after it, no duplicate
// key in any object, at most MaxMembers members per object, no value
// nested more than MaxDepth deep, no unpaired surrogate escape, no number
// outside float64 range, and a document that jcs can canonicalise. The
// unsigned bytes are jcs.Transform of the document without its top-level
// sign member.
func libraryParse(raw []byte) (*document, error) {
	v, err := libraryTree(raw, 0)
	if err != nil {
		return nil, err
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("top level is not a JSON object")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return nil, err
	}
	doc := &document{raw: raw, root: root, payload: members["payload"]}
	delete(members, "sign")
	b, err := json.Marshal(members)
	if err != nil {
		return nil, err
	}
	if doc.unsigned, err = jcs.Transform(b); err != nil {
		return nil, err
	}
	return doc, nil
}

// libraryValue is parseStrictValue done with encoding/json: one JSON value
// of any kind, under the same rules as libraryParse.
func libraryValue(raw []byte) (any, error) { return libraryTree(raw, 1) }

// libraryTree decodes raw with a json.Decoder token by token, so that it
// sees every key (json.Unmarshal keeps the last of duplicates) and every
// string's escapes (json.Unmarshal turns an unpaired surrogate into
// U+FFFD). The top-level value sits at depth top.
func libraryTree(raw []byte, top int) (any, error) {
	if len(raw) > MaxSize {
		return nil, errors.New("too large")
	}
	if !utf8.Valid(raw) {
		return nil, errors.New("not valid UTF-8")
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	v, err := libraryNext(d, raw, top)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errTrailing
	}
	return v, nil
}

func libraryNext(d *json.Decoder, raw []byte, depth int) (any, error) {
	start := d.InputOffset()
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	if depth > MaxDepth {
		return nil, errors.New("too deep")
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			a := []any{}
			for d.More() {
				v, err := libraryNext(d, raw, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := d.Token()
			return a, err
		}
		if t != '{' {
			return nil, fmt.Errorf("unexpected %v", t)
		}
		m := map[string]any{}
		for d.More() {
			if len(m) >= MaxMembers {
				return nil, errors.New("too many members")
			}
			kstart := d.InputOffset()
			k, err := d.Token()
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok || !pairedSurrogates(raw[kstart:d.InputOffset()]) {
				return nil, errors.New("bad key")
			}
			if _, dup := m[ks]; dup {
				return nil, errors.New("duplicate key")
			}
			if m[ks], err = libraryNext(d, raw, depth+1); err != nil {
				return nil, err
			}
		}
		_, err := d.Token()
		return m, err
	case string:
		if !pairedSurrogates(raw[start:d.InputOffset()]) {
			return nil, errors.New("unpaired surrogate")
		}
		return t, nil
	case json.Number:
		if _, err := strconv.ParseFloat(string(t), 64); err != nil {
			return nil, err
		}
		return t, nil
	}
	return tok, nil // bool or nil
}

// jsonEscape matches one escape sequence of a JSON string; scanned from
// the left, every backslash starts one.
var jsonEscape = regexp.MustCompile(`(?s)\\(?:u([0-9a-fA-F]{4})|.)`)

// pairedSurrogates reports whether every \u escape of a UTF-16 surrogate
// in tok (a string token, possibly with separators in front) is a high
// surrogate directly followed by a low one.
func pairedSurrogates(tok []byte) bool {
	esc := jsonEscape.FindAllSubmatchIndex(tok, -1)
	unit := func(m []int) uint64 {
		if m[2] < 0 {
			return 0
		}
		u, _ := strconv.ParseUint(string(tok[m[2]:m[3]]), 16, 16)
		return u
	}
	for i := 0; i < len(esc); i++ {
		switch u := unit(esc[i]); {
		case u >= 0xD800 && u < 0xDC00:
			if i+1 == len(esc) || esc[i+1][0] != esc[i][1] {
				return false
			}
			if lo := unit(esc[i+1]); lo < 0xDC00 || lo > 0xDFFF {
				return false
			}
			i++
		case u >= 0xDC00 && u <= 0xDFFF:
			return false
		}
	}
	return true
}

// sameTree compares two value trees of the strict parser's shape; an
// empty array may be nil on one side.
func sameTree(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameTree(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameTree(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}
