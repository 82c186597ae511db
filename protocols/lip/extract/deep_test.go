package extract

import (
	"errors"
	"strings"
	"testing"
)

// A hostile page at the fetcher's size limit: deep nesting and many
// scripts must neither crash nor blow up.
func TestHostileDocumentsAtSizeLimit(t *testing.T) {
	const limit = 2 << 20
	deepHTML := strings.Repeat("<div>", limit/10) + "The claim." + strings.Repeat("</div>", limit/12)
	deepJSON := `{"claims":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "}"
	deepLD := `{"@graph":` + strings.Repeat(`{"a":`, 50000) + `{"@type":"ClaimReview"}` + strings.Repeat("}", 50000) + "}"
	manyScripts := strings.Repeat(`<script type="application/ld+json">{"@type":"ClaimReview","claimReviewed":"x","reviewRating":{"alternateName":"False"}}</script>`, 5000)
	docs := []Document{
		{ContentType: "text/html", Body: []byte(deepHTML), Statements: []string{"The claim."}},
		{ContentType: "application/json", Body: []byte(deepJSON)},
		{ContentType: "application/ld+json", Body: []byte(deepLD)},
		{ContentType: "text/html", Body: []byte(manyScripts)},
	}
	for i, d := range docs {
		cs, err := Builtin().Extract(d)
		// Nesting beyond the parsers' own limits is reported, not crashed on.
		if i < 3 && !errors.Is(err, ErrMalformed) {
			t.Fatalf("doc %d: err %v", i, err)
		}
		if len(cs) > MaxClaims {
			t.Fatalf("doc %d: %d claims", i, len(cs))
		}
		for _, c := range cs {
			if err := c.Check(); err != nil {
				t.Fatalf("doc %d: %v", i, err)
			}
		}
	}
}
