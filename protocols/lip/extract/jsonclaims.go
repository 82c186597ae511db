package extract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"unicode/utf8"
)

// JSONClaims reads JSON documents of the form
//
//	{"claims": ["statement", {"statement": "...", "domain": "...",
//	  "subject": "...", "predicate": "...", "object": "...",
//	  "confidence": 0.8, "verdict": "true|false|mixed"}, ...]}
//
// An entry without statement but with subject, predicate and object gets
// the statement "subject predicate object". Entries that cannot be read
// are skipped and reported (ErrMalformed naming claims[i].field); the
// readable ones are still returned. A JSON document without a "claims"
// member is not for this extractor.
type JSONClaims struct{}

// Name implements Extractor.
func (JSONClaims) Name() string { return "json_claims" }

type jsonClaim struct {
	Statement  *string  `json:"statement"`
	Domain     string   `json:"domain"`
	Subject    string   `json:"subject"`
	Predicate  string   `json:"predicate"`
	Object     string   `json:"object"`
	Confidence *float64 `json:"confidence"`
	Verdict    string   `json:"verdict"`
}

// Extract implements Extractor.
func (x JSONClaims) Extract(doc Document) ([]Claim, error) {
	if !isJSONType(doc.ContentType) && doc.ContentType != "text/plain" {
		return nil, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc.Body, &top); err != nil {
		if doc.ContentType == "text/plain" || bytes.Contains(doc.Body, []byte(`"@context"`)) {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	raw, ok := top["claims"]
	if !ok {
		return nil, nil
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("%w: claims: not an array: %v", ErrMalformed, err)
	}
	var (
		out  []Claim
		errs []error
	)
	for i, e := range entries {
		if len(out) >= MaxClaims {
			errs = append(errs, fmt.Errorf("%w: claims: more than %d entries, rest ignored", ErrMalformed, MaxClaims))
			break
		}
		c, err := x.entry(e)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: claims[%d]%v", ErrMalformed, i, err))
			continue
		}
		out = append(out, c)
	}
	return out, errors.Join(errs...)
}

func (x JSONClaims) entry(raw json.RawMessage) (Claim, error) {
	c := Claim{Verdict: True, Confidence: confidenceJSONDefault, Extractor: x.Name()}
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) > 0 && raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return Claim{}, fmt.Errorf(": %v", err)
		}
		c.Statement = normSpace(s)
	case len(raw) > 0 && raw[0] == '{':
		var jc jsonClaim
		if err := json.Unmarshal(raw, &jc); err != nil {
			return Claim{}, fmt.Errorf(": not a claim object: %v", err)
		}
		c.Domain, c.Subject, c.Predicate, c.Object = normSpace(jc.Domain), normSpace(jc.Subject), normSpace(jc.Predicate), normSpace(jc.Object)
		switch {
		case jc.Statement != nil:
			c.Statement = normSpace(*jc.Statement)
		case c.Subject != "" && c.Predicate != "" && c.Object != "":
			c.Statement = c.Subject + " " + c.Predicate + " " + c.Object
		}
		if jc.Confidence != nil {
			if !(*jc.Confidence >= 0 && *jc.Confidence <= 1) {
				return Claim{}, fmt.Errorf(".confidence: %v not within [0,1]", *jc.Confidence)
			}
			c.Confidence = *jc.Confidence
		}
		if jc.Verdict != "" {
			v, err := ParseVerdict(jc.Verdict)
			if err != nil {
				return Claim{}, fmt.Errorf(".verdict: %v", err)
			}
			c.Verdict = v
		}
		for _, f := range []struct{ name, v string }{{"domain", c.Domain}, {"subject", c.Subject}, {"predicate", c.Predicate}, {"object", c.Object}} {
			if len(f.v) > MaxFieldBytes {
				return Claim{}, fmt.Errorf(".%s: %d bytes, max %d", f.name, len(f.v), MaxFieldBytes)
			}
		}
	default:
		return Claim{}, fmt.Errorf(": not a string or claim object")
	}
	switch {
	case c.Statement == "":
		return Claim{}, fmt.Errorf(".statement: required (or subject, predicate and object)")
	case len(c.Statement) > MaxStatementBytes:
		return Claim{}, fmt.Errorf(".statement: %d bytes, max %d", len(c.Statement), MaxStatementBytes)
	case !utf8.ValidString(c.Statement):
		return Claim{}, fmt.Errorf(".statement: not valid UTF-8")
	}
	c.Evidence = clip(string(raw), MaxEvidenceBytes)
	return c, nil
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
