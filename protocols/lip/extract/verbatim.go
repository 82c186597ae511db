package extract

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/text/unicode/norm"
)

// Verbatim finds the statements a fetch was looking for
// (Document.Statements) as written in the document: in text/* bodies as
// they are, in HTML in the visible text (script, style, noscript, template
// and comments dropped; inline elements joined without a gap, block
// elements separated by one). Both sides are NFC-normalised, white space is
// collapsed and case is folded before comparison.
//
// A match preceded in its sentence by a negation cue ("not", "myth",
// "false", "no evidence", ...) or followed by a denial ("… is false") is
// reported with Verdict Mixed and a low confidence: verbatim presence is not
// assertion, and the queue must not read "it is a myth that X" as support
// for X.
type Verbatim struct{}

// Name implements Extractor.
func (Verbatim) Name() string { return "verbatim" }

// Extract implements Extractor.
func (x Verbatim) Extract(doc Document) ([]Claim, error) {
	if len(doc.Statements) == 0 {
		return nil, nil
	}
	var txt string
	switch {
	case isHTMLType(doc.ContentType):
		t, err := VisibleText(doc.Body)
		if err != nil {
			return nil, err
		}
		txt = t
	case strings.HasPrefix(doc.ContentType, "text/"):
		txt = string(doc.Body)
	default:
		return nil, nil
	}
	hay := fold(txt)
	var out []Claim
	for i, s := range doc.Statements {
		if i >= MaxStatementsSought {
			return out, fmt.Errorf("%w: more than %d statements sought, rest ignored", ErrMalformed, MaxStatementsSought)
		}
		stmt := normSpace(norm.NFC.String(s))
		if stmt == "" || len(stmt) > MaxStatementBytes {
			continue
		}
		needle := fold(stmt)
		at := strings.Index(hay, needle)
		if at < 0 {
			continue
		}
		c := Claim{
			Statement: stmt, Verdict: True, Confidence: confidenceVerbatim, Extractor: x.Name(),
			Evidence: snippet(hay, at, len(needle)), Notes: "found verbatim",
		}
		if cue := negation(hay, at, len(needle)); cue != "" {
			c.Verdict, c.Confidence = Mixed, confidenceVerbatimNeg
			c.Notes = fmt.Sprintf("found verbatim, but %q qualifies it", cue)
		}
		out = append(out, c)
	}
	return out, nil
}

// fold normalises text for comparison: NFC, lower case, collapsed spaces.
func fold(s string) string { return normSpace(strings.ToLower(norm.NFC.String(s))) }

func snippet(s string, at, n int) string {
	from, to := at-SnippetContext, at+n+SnippetContext
	if from < 0 {
		from = 0
	}
	if to > len(s) {
		to = len(s)
	}
	for from > 0 && from < len(s) && !isRuneStart(s[from]) {
		from--
	}
	for to < len(s) && !isRuneStart(s[to]) {
		to++
	}
	return clip(s[from:to], MaxEvidenceBytes)
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

var (
	negBefore = []string{"not", "no", "never", "false", "myth", "untrue", "incorrect", "wrong", "hoax",
		"debunked", "debunk", "deny", "denies", "denied", "fake", "rumor", "rumour", "misconception", "claim that", "claims that", "no evidence"}
	negAfter = []string{"is false", "is untrue", "is a myth", "is wrong", "is not true", "is incorrect", "is a hoax", "has been debunked"}
)

// negation returns the cue that qualifies the match at s[at:at+n], or "".
// It looks back to the start of the sentence (at most 80 bytes) for a cue
// word and forward to the end of the sentence for a denial.
func negation(s string, at, n int) string {
	start := at - 80
	if start < 0 {
		start = 0
	}
	before := s[start:at]
	if i := strings.LastIndexAny(before, ".!?"); i >= 0 {
		before = before[i+1:]
	}
	words := " " + strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return ' '
	}, before) + " "
	words = " " + normSpace(words) + " "
	for _, cue := range negBefore {
		if strings.Contains(words, " "+cue+" ") {
			return cue
		}
	}
	end := at + n + 40
	if end > len(s) {
		end = len(s)
	}
	after := s[at+n : end]
	if i := strings.IndexAny(after, ".!?"); i >= 0 {
		after = after[:i]
	}
	after = normSpace(after)
	for _, cue := range negAfter {
		if strings.HasPrefix(after, cue) {
			return cue
		}
	}
	return ""
}

// skipped elements hold no visible text.
var skipped = map[atom.Atom]bool{atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true, atom.Head: true}

// inline elements do not separate words.
var inline = map[atom.Atom]bool{
	atom.A: true, atom.Abbr: true, atom.B: true, atom.Bdi: true, atom.Bdo: true, atom.Cite: true,
	atom.Code: true, atom.Data: true, atom.Dfn: true, atom.Em: true, atom.I: true, atom.Kbd: true,
	atom.Mark: true, atom.Q: true, atom.S: true, atom.Samp: true, atom.Small: true, atom.Span: true,
	atom.Strong: true, atom.Sub: true, atom.Sup: true, atom.Time: true, atom.U: true, atom.Var: true,
	atom.Font: true, atom.Del: true, atom.Ins: true,
}

// VisibleText returns the text a reader of the page sees, in document
// order, using golang.org/x/net/html (the HTML5 parsing algorithm, so
// malformed markup is read the way browsers read it).
func VisibleText(body []byte) (string, error) {
	root, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("%w: html: %v", ErrMalformed, err)
	}
	var b strings.Builder
	var visit func(n *html.Node)
	visit = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			b.WriteString(n.Data)
			return
		case html.ElementNode:
			if skipped[n.DataAtom] {
				return
			}
			if !inline[n.DataAtom] {
				b.WriteByte(' ')
				defer b.WriteByte(' ')
			}
		case html.CommentNode, html.DoctypeNode:
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			visit(c)
		}
	}
	visit(root)
	return normSpace(b.String()), nil
}
