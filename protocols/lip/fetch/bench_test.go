package fetch

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// BenchmarkFetch measures a 64 KiB fetch through the Fetcher against a bare
// http.Client GET of the same URL over the same kind of transport, both
// measured in the same run: the ratio is the cost of the checks (resolve,
// address policy, bounded read, content-type, UTF-8, SHA-256).
func BenchmarkFetch(b *testing.B) {
	body := strings.Repeat("The Eiffel Tower is in Paris. ", 64<<10/30)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, body)
	}))
	defer srv.Close()
	f := New(Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	defer f.Close()
	plain := &http.Client{Transport: &http.Transport{}}
	defer plain.CloseIdleConnections()
	ctx := context.Background()

	b.SetBytes(int64(len(body)))
	start := time.Now()
	for i := 0; i < b.N; i++ {
		resp, err := plain.Get(srv.URL)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadAll(resp.Body); err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
	base := time.Since(start)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.Fetch(ctx, srv.URL); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if base > 0 {
		b.ReportMetric(float64(b.Elapsed())/float64(base), "ratio")
	}
}
