package extract

import (
	"errors"
	"strings"
	"testing"
)

const claimReviewHTML = `<!doctype html><html><head><title>Fact check</title>
<script type="application/ld+json">
{"@context":"https://schema.org","@type":"ClaimReview","url":"https://factcheck.example.org/moon",
 "claimReviewed":"The Moon is made of cheese.",
 "author":{"@type":"Organization","name":"Example Fact Check"},
 "reviewRating":{"@type":"Rating","ratingValue":1,"bestRating":5,"worstRating":1,"alternateName":"False"}}
</script>
<script type="application/ld+json">
{"@context":"https://schema.org","@graph":[
 {"@type":["ClaimReview"],"claimReviewed":"Water boils at 100 °C at sea level.",
  "reviewRating":{"ratingValue":"5","bestRating":"5","worstRating":"1"}},
 {"@type":"schema:ClaimReview","claimReviewed":"Vaccines contain microchips.",
  "reviewRating":{"alternateName":"Pants on Fire!"}},
 {"@type":"ClaimReview","claimReviewed":"Coffee is healthy.",
  "reviewRating":{"alternateName":"Mostly true"}}]}
</script>
<script>var notJSONLD = {"@type":"ClaimReview"};</script>
</head><body><p>Our verdict: false.</p></body></html>`

func TestClaimReviewHTML(t *testing.T) {
	cs, err := ClaimReview{}.Extract(Document{ContentType: "text/html", Body: []byte(claimReviewHTML)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Verdict{
		"The Moon is made of cheese.":         False,
		"Water boils at 100 °C at sea level.": True,
		"Vaccines contain microchips.":        False,
		"Coffee is healthy.":                  Mixed,
	}
	if len(cs) != len(want) {
		t.Fatalf("got %d claims: %+v", len(cs), cs)
	}
	for _, c := range cs {
		if v, ok := want[c.Statement]; !ok || v != c.Verdict {
			t.Errorf("claim %q verdict %v, want %v (known=%v)", c.Statement, c.Verdict, v, ok)
		}
		if err := c.Check(); err != nil {
			t.Error(err)
		}
	}
	if cs[0].Reviewer != "Example Fact Check" || cs[0].Extractor != "claimreview" {
		t.Fatalf("reviewer/extractor: %+v", cs[0])
	}
}

func TestRatingVerdict(t *testing.T) {
	cases := []struct {
		rating map[string]any
		want   Verdict
		bad    bool
	}{
		{map[string]any{"alternateName": "False"}, False, false},
		{map[string]any{"alternateName": "Mostly False"}, Mixed, false},
		{map[string]any{"alternateName": "Misleading"}, Mixed, false},
		{map[string]any{"alternateName": "Correct"}, True, false},
		{map[string]any{"alternateName": "Pants on fire"}, False, false},
		{map[string]any{"ratingValue": 1.0}, False, false},
		{map[string]any{"ratingValue": 3.0}, Mixed, false},
		{map[string]any{"ratingValue": 5.0}, True, false},
		{map[string]any{"ratingValue": "0", "worstRating": "0", "bestRating": "10"}, False, false},
		{map[string]any{"ratingValue": 7.0, "worstRating": 0.0, "bestRating": 10.0}, True, false},
		{map[string]any{"alternateName": "Unrated-ish ☃", "ratingValue": 2.0}, False, false},
		{map[string]any{"ratingValue": 9.0}, 0, true},                                        // above best
		{map[string]any{"ratingValue": 1.0, "bestRating": 1.0, "worstRating": 1.0}, 0, true}, // empty scale
		{map[string]any{"ratingValue": "NaN"}, 0, true},
		{map[string]any{}, 0, true},
	}
	for i, c := range cases {
		v, conf, _, err := RatingVerdict(c.rating)
		if c.bad {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%d: %v accepted as %v", i, c.rating, v)
			}
			continue
		}
		if err != nil || v != c.want || conf <= 0 || conf > 1 {
			t.Errorf("%d: %v → %v %v %v, want %v", i, c.rating, v, conf, err, c.want)
		}
	}
}

func TestClaimReviewMalformed(t *testing.T) {
	for name, body := range map[string]string{
		"no rating":    `{"@type":"ClaimReview","claimReviewed":"X"}`,
		"no statement": `{"@type":"ClaimReview","reviewRating":{"alternateName":"False"}}`,
		"broken json":  `{"@type":"ClaimReview", `,
	} {
		cs, err := ClaimReview{}.Extract(Document{ContentType: "application/ld+json", Body: []byte(body)})
		if len(cs) != 0 || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v %v", name, cs, err)
		}
	}
	// Not for this extractor at all.
	cs, err := ClaimReview{}.Extract(Document{ContentType: "text/plain", Body: []byte(`{"@type":"ClaimReview"}`)})
	if cs != nil || err != nil {
		t.Fatalf("text/plain: %v %v", cs, err)
	}
}

func TestJSONClaims(t *testing.T) {
	body := `{"source":"x","claims":[
		"Paris is the capital of France.",
		{"statement":"The Eiffel Tower is 330 m tall.","domain":"geo","subject":"Eiffel Tower","predicate":"height_m","object":"330","confidence":0.9},
		{"subject":"Eiffel Tower","predicate":"located_in","object":"Paris"},
		{"statement":"Denied thing.","verdict":"false"},
		{"domain":"geo"},
		{"statement":"x","confidence":2},
		{"statement":"y","verdict":"maybe"},
		42]}`
	cs, err := JSONClaims{}.Extract(Document{ContentType: "application/json", Body: []byte(body)})
	if len(cs) != 4 {
		t.Fatalf("got %d claims: %+v", len(cs), cs)
	}
	if cs[1].Subject != "Eiffel Tower" || cs[1].Object != "330" || cs[1].Confidence != 0.9 || cs[1].Domain != "geo" {
		t.Fatalf("object entry: %+v", cs[1])
	}
	if cs[2].Statement != "Eiffel Tower located_in Paris" {
		t.Fatalf("triple statement: %q", cs[2].Statement)
	}
	if cs[3].Verdict != False || cs[0].Verdict != True {
		t.Fatal("verdicts")
	}
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("skipped entries not reported: %v", err)
	}
	for _, want := range []string{"claims[4].statement", "claims[5].confidence", "claims[6].verdict", "claims[7]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
	for _, c := range []struct{ ct, body string }{
		{"application/json", `{"other":1}`}, {"text/html", `{"claims":["x"]}`}, {"text/plain", `hello`},
	} {
		if cs, err := (JSONClaims{}).Extract(Document{ContentType: c.ct, Body: []byte(c.body)}); cs != nil || err != nil {
			t.Errorf("%s %s: %v %v", c.ct, c.body, cs, err)
		}
	}
	if _, err := (JSONClaims{}).Extract(Document{ContentType: "application/json", Body: []byte(`{"claims":{}}`)}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("claims object: %v", err)
	}
}

func TestVerbatim(t *testing.T) {
	page := `<html><head><title>Paris facts</title><style>p{}</style></head><body>
	<h1>Facts</h1><p>The   Eiffel Tower is in <b>Paris</b>.</p>
	<p>It is a myth that the Great Wall is visible from space.</p>
	<script>document.write("Bananas are blue.")</script>
	<!-- Bananas are blue. -->
	<div>The Moon landing was faked</div><p>is false, says everyone.</p>
	<p>ＦＵＬＬ café</p></body></html>`
	doc := Document{ContentType: "text/html", Body: []byte(page), Statements: []string{
		"the eiffel tower is in Paris.",
		"the Great Wall is visible from space",
		"Bananas are blue.",
		"The Moon landing was faked",
		"Tokyo is in France",
		"cafe\u0301", // NFD spelling of café
	}}
	cs, err := Verbatim{}.Extract(doc)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Claim{}
	for _, c := range cs {
		got[c.Statement] = c
	}
	if c, ok := got["the eiffel tower is in Paris."]; !ok || c.Verdict != True || !strings.Contains(c.Evidence, "eiffel") {
		t.Errorf("plain match: %+v", c)
	}
	if c := got["the Great Wall is visible from space"]; c.Verdict != Mixed || c.Confidence >= confidenceVerbatim {
		t.Errorf("negated match must be mixed/low: %+v", c)
	}
	if c := got["The Moon landing was faked"]; c.Verdict != Mixed {
		t.Errorf("denial after the match: %+v", c)
	}
	if _, ok := got["Bananas are blue."]; ok {
		t.Error("text inside script/comment matched")
	}
	if _, ok := got["Tokyo is in France"]; ok {
		t.Error("absent statement matched")
	}
	if _, ok := got["café"]; !ok {
		t.Errorf("NFC normalisation: %+v", cs)
	}
	// Plain text works, JSON does not.
	cs, _ = Verbatim{}.Extract(Document{ContentType: "text/plain", Body: []byte("a\nb  c"), Statements: []string{"A B C"}})
	if len(cs) != 1 {
		t.Fatalf("text/plain: %+v", cs)
	}
	cs, _ = Verbatim{}.Extract(Document{ContentType: "application/json", Body: []byte(`"a b c"`), Statements: []string{"a b c"}})
	if cs != nil {
		t.Fatalf("json: %+v", cs)
	}
}

type panicky struct{}

func (panicky) Name() string                      { return "panicky" }
func (panicky) Extract(Document) ([]Claim, error) { panic("boom") }

type liar struct{}

func (liar) Name() string { return "liar" }
func (liar) Extract(Document) ([]Claim, error) {
	return []Claim{{Statement: "", Verdict: True}, {Statement: "ok", Verdict: True, Confidence: 7}, {Statement: "fine", Verdict: True, Confidence: 0.5}}, nil
}

func TestSet(t *testing.T) {
	body := `{"claims":["Same.", "Same."]}`
	cs, err := Set{JSONClaims{}, JSONClaims{}, panicky{}, liar{}}.Extract(Document{ContentType: "application/json", Body: []byte(body)})
	if len(cs) != 2 || cs[0].Statement != "Same." || cs[1].Statement != "fine" || cs[1].Extractor != "liar" {
		t.Fatalf("merged: %+v", cs)
	}
	if err == nil || !strings.Contains(err.Error(), "panicky") || !strings.Contains(err.Error(), "claim.confidence") {
		t.Fatalf("errors: %v", err)
	}
	if len(Builtin()) != 3 {
		t.Fatal("builtin set")
	}
}

func TestVerdictEnum(t *testing.T) {
	for v := True; v <= Mixed; v++ {
		b, err := v.MarshalText()
		var back Verdict
		if err != nil || back.UnmarshalText(b) != nil || back != v {
			t.Fatalf("%v round trip", v)
		}
	}
	if Verdict(0).Valid() || Verdict(0).String() != "invalid(0)" {
		t.Fatal("zero verdict")
	}
	if _, err := Verdict(9).MarshalText(); err == nil {
		t.Fatal("invalid marshal")
	}
}
