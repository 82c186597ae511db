package extract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// benchRatio runs extract b.N times as the measured benchmark and the
// baseline (the bare parse every extractor must at least do) b.N times in
// the same run, and reports ns(extract)/ns(baseline) as "ratio".
func benchRatio(b *testing.B, size int, baseline, extract func()) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		baseline()
	}
	base := time.Since(start)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		extract()
	}
	b.StopTimer()
	if base > 0 {
		b.ReportMetric(float64(b.Elapsed())/float64(base), "ratio")
	}
}

func bigClaimReviewPage() []byte {
	var b strings.Builder
	b.WriteString("<html><head>")
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&b, `<script type="application/ld+json">{"@context":"https://schema.org","@type":"ClaimReview","claimReviewed":"Claim number %d is reviewed.","author":{"name":"FC"},"reviewRating":{"ratingValue":%d,"bestRating":5,"worstRating":1}}</script>`, i, 1+i%5)
	}
	b.WriteString("</head><body>")
	for i := 0; i < 400; i++ {
		fmt.Fprintf(&b, "<p>Paragraph %d with <b>some</b> text about things and <a href='#'>links</a>.</p>\n", i)
	}
	b.WriteString("</body></html>")
	return []byte(b.String())
}

func BenchmarkExtract(b *testing.B) {
	page := bigClaimReviewPage()
	var js strings.Builder
	js.WriteString(`{"claims":[`)
	for i := 0; i < 200; i++ {
		if i > 0 {
			js.WriteByte(',')
		}
		fmt.Fprintf(&js, `{"statement":"Statement %d holds.","domain":"bench","subject":"s%d","predicate":"p","object":"o","confidence":0.8}`, i, i)
	}
	js.WriteString("]}")
	jsonDoc := []byte(js.String())

	parseHTML := func() {
		if _, err := html.Parse(bytes.NewReader(page)); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("claimreview", func(b *testing.B) {
		doc := Document{ContentType: "text/html", Body: page}
		benchRatio(b, len(page), parseHTML, func() {
			if cs, err := (ClaimReview{}).Extract(doc); err != nil || len(cs) != 50 {
				b.Fatal(len(cs), err)
			}
		})
	})
	b.Run("json_claims", func(b *testing.B) {
		doc := Document{ContentType: "application/json", Body: jsonDoc}
		benchRatio(b, len(jsonDoc), func() {
			var v any
			if err := json.Unmarshal(jsonDoc, &v); err != nil {
				b.Fatal(err)
			}
		}, func() {
			if cs, err := (JSONClaims{}).Extract(doc); err != nil || len(cs) != 200 {
				b.Fatal(len(cs), err)
			}
		})
	})
	b.Run("verbatim", func(b *testing.B) {
		doc := Document{ContentType: "text/html", Body: page, Statements: []string{"Paragraph 399 with some text about things and links.", "absent statement"}}
		benchRatio(b, len(page), parseHTML, func() {
			if cs, err := (Verbatim{}).Extract(doc); err != nil || len(cs) != 1 {
				b.Fatal(len(cs), err)
			}
		})
	})
}
