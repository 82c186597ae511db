package extract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// ClaimReview reads schema.org ClaimReview nodes from JSON-LD: a JSON or
// JSON-LD document, or the <script type="application/ld+json"> elements of
// an HTML page. Each node with a claimReviewed text and a usable
// reviewRating yields one claim whose Verdict is the rating:
//
//   - alternateName wins when it reads as a verdict ("False", "Pants on
//     Fire", "Mostly true", "Misleading", "Correct", ...);
//   - otherwise ratingValue is placed between worstRating (default 1) and
//     bestRating (default 5): the lower third is false, the upper third
//     true, the middle mixed.
//
// ClaimReview nodes are found anywhere in the document (top level, arrays,
// @graph, nested), up to MaxDepth.
type ClaimReview struct{}

// Name implements Extractor.
func (ClaimReview) Name() string { return "claimreview" }

// Extract implements Extractor.
func (x ClaimReview) Extract(doc Document) ([]Claim, error) {
	var blobs [][]byte
	switch {
	case isJSONType(doc.ContentType):
		blobs = [][]byte{doc.Body}
	case isHTMLType(doc.ContentType):
		var err error
		blobs, err = ldScripts(doc.Body)
		if err != nil {
			return nil, err
		}
	default:
		return nil, nil
	}
	var (
		out  []Claim
		errs []error
	)
	for i, b := range blobs {
		v, err := decodeJSON(b)
		if err != nil {
			if len(blobs) == 1 && isJSONType(doc.ContentType) {
				// A plain JSON document that is not JSON is for JSONClaims
				// to complain about too; only report it once we know it is
				// meant as JSON-LD.
				if bytes.Contains(b, []byte("ClaimReview")) {
					return nil, fmt.Errorf("%w: json-ld: %v", ErrMalformed, err)
				}
				return nil, nil
			}
			errs = append(errs, fmt.Errorf("%w: ld+json script %d: %v", ErrMalformed, i, err))
			continue
		}
		out = x.walk(v, 0, out, &errs)
	}
	return out, errors.Join(errs...)
}

func (x ClaimReview) walk(v any, depth int, out []Claim, errs *[]error) []Claim {
	if depth > MaxDepth || len(out) >= MaxClaims {
		return out
	}
	switch n := v.(type) {
	case map[string]any:
		if hasType(n["@type"], "ClaimReview") {
			c, err := x.claim(n)
			if err != nil {
				*errs = append(*errs, err)
			} else {
				out = append(out, c)
			}
		}
		for _, k := range sortedKeys(n) {
			out = x.walk(n[k], depth+1, out, errs)
		}
	case []any:
		for _, e := range n {
			out = x.walk(e, depth+1, out, errs)
		}
	}
	return out
}

func (x ClaimReview) claim(n map[string]any) (Claim, error) {
	stmt := normSpace(text(n["claimReviewed"]))
	if stmt == "" {
		return Claim{}, fmt.Errorf("%w: ClaimReview.claimReviewed: missing or not text", ErrMalformed)
	}
	if len(stmt) > MaxStatementBytes {
		return Claim{}, fmt.Errorf("%w: ClaimReview.claimReviewed: %d bytes, max %d", ErrMalformed, len(stmt), MaxStatementBytes)
	}
	rating, _ := n["reviewRating"].(map[string]any)
	if rating == nil {
		return Claim{}, fmt.Errorf("%w: ClaimReview.reviewRating: missing", ErrMalformed)
	}
	v, conf, notes, err := RatingVerdict(rating)
	if err != nil {
		return Claim{}, err
	}
	return Claim{
		Statement:  stmt,
		Verdict:    v,
		Confidence: conf,
		Reviewer:   clip(normSpace(name(n["author"])), MaxFieldBytes),
		Evidence:   clip(normSpace(text(rating["alternateName"])+" "+text(n["url"])), MaxEvidenceBytes),
		Extractor:  x.Name(),
		Notes:      notes,
	}, nil
}

// Verdict words, checked in this order: hedged phrases first ("mostly
// false" is mixed, not false), then negative, then positive.
var (
	mixedWords = []string{"mostly", "half", "partly", "partially", "mixed", "misleading", "mixture",
		"exaggerat", "unproven", "unsupported", "missing context", "needs context", "out of context", "disputed"}
	falseWords = []string{"false", "pants on fire", "incorrect", "fake", "wrong", "hoax", "inaccurate",
		"fabricated", "not true", "untrue", "debunked", "myth", "scam"}
	trueWords = []string{"true", "correct", "accurate", "verified", "confirmed", "right"}
)

// RatingVerdict reads a schema.org Rating as a verdict, returning the
// extraction confidence and a note on how it was read. An unreadable rating
// is an ErrMalformed.
func RatingVerdict(rating map[string]any) (Verdict, float64, string, error) {
	if alt := strings.ToLower(normSpace(text(rating["alternateName"]))); alt != "" {
		for _, group := range []struct {
			words []string
			v     Verdict
		}{{mixedWords, Mixed}, {falseWords, False}, {trueWords, True}} {
			for _, w := range group.words {
				if strings.Contains(alt, w) {
					return group.v, confidenceReviewNamed, fmt.Sprintf("alternateName %q → %v", clip(alt, 64), group.v), nil
				}
			}
		}
	}
	val, ok := number(rating["ratingValue"])
	if !ok {
		return 0, 0, "", fmt.Errorf("%w: reviewRating: neither a recognisable alternateName nor a numeric ratingValue", ErrMalformed)
	}
	best, worst := 5.0, 1.0
	if b, ok := number(rating["bestRating"]); ok {
		best = b
	}
	if w, ok := number(rating["worstRating"]); ok {
		worst = w
	}
	if !(best > worst) || val < worst || val > best {
		return 0, 0, "", fmt.Errorf("%w: reviewRating: ratingValue %v outside [worstRating %v, bestRating %v]", ErrMalformed, val, worst, best)
	}
	pos := (val - worst) / (best - worst)
	v := Mixed
	switch {
	case pos <= 1.0/3:
		v = False
	case pos >= 2.0/3:
		v = True
	}
	return v, confidenceReviewNumeric, fmt.Sprintf("rating %v in [%v,%v] → %v", val, worst, best, v), nil
}

// ldScripts returns the contents of the application/ld+json script
// elements of an HTML page (at most MaxScripts).
func ldScripts(body []byte) ([][]byte, error) {
	root, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: html: %v", ErrMalformed, err)
	}
	var out [][]byte
	var visit func(n *html.Node)
	visit = func(n *html.Node) {
		if len(out) >= MaxScripts {
			return
		}
		if n.Type == html.ElementNode && n.DataAtom == atom.Script && isLDJSON(n) {
			var b bytes.Buffer
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.TextNode {
					b.WriteString(c.Data)
				}
			}
			out = append(out, b.Bytes())
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			visit(c)
		}
	}
	visit(root)
	return out, nil
}

func isLDJSON(n *html.Node) bool {
	for _, a := range n.Attr {
		if strings.EqualFold(a.Key, "type") {
			t := strings.ToLower(strings.TrimSpace(a.Val))
			if i := strings.IndexByte(t, ';'); i >= 0 {
				t = strings.TrimSpace(t[:i])
			}
			return t == "application/ld+json"
		}
	}
	return false
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

// hasType reports whether a JSON-LD @type (string or array) names t, with
// or without a schema.org prefix.
func hasType(v any, t string) bool {
	match := func(s string) bool {
		s = strings.TrimPrefix(strings.TrimPrefix(s, "https://schema.org/"), "http://schema.org/")
		return strings.TrimPrefix(s, "schema:") == t
	}
	switch x := v.(type) {
	case string:
		return match(x)
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok && match(s) {
				return true
			}
		}
	}
	return false
}

// text returns a JSON-LD value as text: a string, a {"@value": ...}
// object, or the first string of an array.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		return text(x["@value"])
	case []any:
		for _, e := range x {
			if s := text(e); s != "" {
				return s
			}
		}
	case json.Number:
		return x.String()
	}
	return ""
}

// name returns the name of a schema.org Person/Organization value (or the
// value itself when it is text).
func name(v any) string {
	switch x := v.(type) {
	case map[string]any:
		return text(x["name"])
	case []any:
		for _, e := range x {
			if s := name(e); s != "" {
				return s
			}
		}
	}
	return text(v)
}

// number reads a JSON number or a numeric string.
func number(v any) (float64, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	case float64:
		return x, true
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != f || f > 1e300 || f < -1e300 {
		return 0, false
	}
	return f, true
}
