package extract

import (
	"testing"
	"unicode/utf8"
)

// checkContract asserts the Extractor contract on whatever came out.
func checkContract(t *testing.T, cs []Claim) {
	t.Helper()
	if len(cs) > MaxClaims {
		t.Fatalf("%d claims > MaxClaims", len(cs))
	}
	for _, c := range cs {
		if err := c.Check(); err != nil {
			t.Fatalf("claim breaks the contract: %v (%+v)", err, c)
		}
		if !utf8.ValidString(c.Evidence) || len(c.Evidence) > MaxEvidenceBytes {
			t.Fatalf("evidence: %q", c.Evidence)
		}
	}
}

func FuzzClaimReview(f *testing.F) {
	f.Add("text/html", claimReviewHTML)
	f.Add("application/ld+json", `{"@type":"ClaimReview","claimReviewed":"X","reviewRating":{"ratingValue":"1e400"}}`)
	f.Add("application/ld+json", `[{"@graph":[{"@type":["ClaimReview"],"claimReviewed":{"@value":"Y"},"reviewRating":{"alternateName":["False"]}}]}]`)
	f.Add("text/html", `<script type="application/ld+json; charset=utf-8">{"@type":"ClaimReview"`)
	f.Fuzz(func(t *testing.T, ct, body string) {
		if !utf8.ValidString(body) {
			return // the fetcher never hands over invalid UTF-8
		}
		cs, _ := ClaimReview{}.Extract(Document{ContentType: ct, Body: []byte(body)})
		checkContract(t, cs)
	})
}

func FuzzJSONClaims(f *testing.F) {
	f.Add(`{"claims":["a",{"statement":"b","confidence":0.5,"verdict":"mixed"},{"subject":"s","predicate":"p","object":"o"}]}`)
	f.Add(`{"claims":[{"statement":"\u0000","confidence":-0}]}`)
	f.Add(`{"claims":null}`)
	f.Fuzz(func(t *testing.T, body string) {
		if !utf8.ValidString(body) {
			return
		}
		cs, _ := JSONClaims{}.Extract(Document{ContentType: "application/json", Body: []byte(body)})
		checkContract(t, cs)
	})
}

func FuzzVerbatim(f *testing.F) {
	f.Add("text/html", "<p>The Eiffel Tower is in <b>Paris</b>.</p>", "The Eiffel Tower is in Paris.")
	f.Add("text/plain", "It is not true that x y.", "x y")
	f.Add("text/html", "<table><tr><td>İstanbul ǅ</td></tr></table>", "i̇stanbul")
	f.Fuzz(func(t *testing.T, ct, body, stmt string) {
		if !utf8.ValidString(body) || !utf8.ValidString(stmt) {
			return
		}
		cs, _ := Verbatim{}.Extract(Document{ContentType: ct, Body: []byte(body), Statements: []string{stmt}})
		checkContract(t, cs)
	})
}
