package fetch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/web4p2p/web4p2p/internal/events"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeResolver maps names to addresses; it never touches DNS.
type fakeResolver map[string][]netip.Addr

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	a, ok := r[host]
	if !ok {
		return nil, fmt.Errorf("no such host %q", host)
	}
	return a, nil
}

// dialRecorder dials for real (loopback only) and remembers every address
// it was asked for, so tests can prove a refusal happened before connecting.
type dialRecorder struct {
	mu    sync.Mutex
	addrs []string
}

func (d *dialRecorder) dial(ctx context.Context, network, address string) (net.Conn, error) {
	d.mu.Lock()
	d.addrs = append(d.addrs, address)
	d.mu.Unlock()
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !ap.Addr().IsLoopback() {
		// Never let a test packet leave the machine, whatever happens.
		return nil, fmt.Errorf("test dialer: refusing non-loopback %q", address)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, address)
}

func (d *dialRecorder) calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.addrs...)
}

type harness struct {
	f    *Fetcher
	dial *dialRecorder
	ring *events.Ring
	sink *events.CheckingSink
}

var loopback4 = netip.MustParsePrefix("127.0.0.1/32")

func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	h := &harness{dial: &dialRecorder{}, ring: events.NewRing(256)}
	h.sink = &events.CheckingSink{Next: h.ring}
	cfg := DefaultConfig()
	cfg.Allow = []netip.Prefix{loopback4}
	cfg.Dial = h.dial.dial
	cfg.Resolver = fakeResolver{
		"public.test":    {netip.MustParseAddr("127.0.0.1")}, // allowed in tests
		"ten.test":       {netip.MustParseAddr("10.1.2.3")},
		"home.test":      {netip.MustParseAddr("192.168.1.1")},
		"meta.test":      {netip.MustParseAddr("169.254.169.254")},
		"six.test":       {netip.MustParseAddr("::1")},
		"lo.test":        {netip.MustParseAddr("127.0.0.2")},
		"rebind.test":    {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("10.0.0.1")},
		"mapped.test":    {netip.MustParseAddr("::ffff:10.0.0.1")},
		"multicast.test": {netip.MustParseAddr("224.0.0.1")},
	}
	cfg.Events = events.NewEmitter("12D3KooWFetchTest", h.sink, nil)
	if mod != nil {
		mod(&cfg)
	}
	h.f = New(cfg)
	t.Cleanup(func() {
		h.f.Close()
		if f := h.sink.Failures(); len(f) > 0 {
			t.Errorf("events failed the schema: %v", f)
		}
	})
	return h
}

// expectRefused asserts err wraps want, that a fetch_refused event with the
// matching reason was emitted, and that nothing was fetched.
func (h *harness) expectRefused(t *testing.T, res *Result, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
	if res != nil {
		t.Fatalf("got a result on refusal: %+v", res)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, ok := h.ring.WaitFor(ctx.Done(), func(e events.Event) bool {
		return e.Type == "web4.lip.fetch_refused" && e.Data["reason"] == Reason(want)
	}); !ok {
		t.Fatalf("no web4.lip.fetch_refused event with reason %q; events: %v", Reason(want), h.ring.Events())
	}
	if n := h.ring.Count("web4.lip.fetched"); n != 0 {
		t.Fatalf("%d fetched events on refusal", n)
	}
}

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

func TestFetchOK(t *testing.T) {
	var ua atomic.Value
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ua.Store(r.Header.Get("User-Agent"))
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		io.WriteString(w, "<p>The Eiffel Tower is in Paris — ✓</p>")
	}))
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	h := newHarness(t, func(c *Config) { c.Now = func() time.Time { return now }; c.Version = "9.9.9" })
	res, err := h.f.Fetch(context.Background(), srv.URL+"/page")
	if err != nil {
		t.Fatal(err)
	}
	if got := ua.Load(); got != "web4p2p/9.9.9 (+LIP)" {
		t.Fatalf("User-Agent = %q", got)
	}
	if res.ContentType != "text/html" || res.Charset != "utf-8" || res.Status != 200 {
		t.Fatalf("content type %q charset %q status %d", res.ContentType, res.Charset, res.Status)
	}
	if res.SHA256 != sha256Hex([]byte("<p>The Eiffel Tower is in Paris — ✓</p>")) {
		t.Fatalf("sha256 %s does not match the body", res.SHA256)
	}
	if !res.RetrievedAt.Equal(now) || res.FinalURI != srv.URL+"/page" {
		t.Fatalf("provenance: %+v", res)
	}
	if n := h.ring.Count("web4.lip.fetched"); n != 1 {
		t.Fatalf("fetched events = %d", n)
	}
}

func TestFetchViaNameAndTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"claims":[]}`)
	}))
	defer srv.Close()
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	h := newHarness(t, func(c *Config) {
		c.TLS = &tls.Config{RootCAs: roots}
		// httptest's certificate is valid for example.com; resolve it to
		// the loopback server so SNI and verification use the name.
		c.Resolver = fakeResolver{"example.com": {netip.MustParseAddr("127.0.0.1")}}
	})
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	res, err := h.f.Fetch(context.Background(), fmt.Sprintf("https://example.com:%d/x", port))
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Body) != `{"claims":[]}` || res.ContentType != "application/json" {
		t.Fatalf("result %+v", res)
	}
	if c := h.dial.calls(); len(c) != 1 || !strings.HasPrefix(c[0], "127.0.0.1:") {
		t.Fatalf("dialled %v, want the resolved IP only", c)
	}
}

func TestRefusedSchemes(t *testing.T) {
	for _, uri := range []string{"file:///etc/passwd", "gopher://example.org/1", "ftp://example.org/", "javascript:alert(1)", "data:text/plain,hi"} {
		t.Run(uri, func(t *testing.T) {
			h := newHarness(t, nil)
			res, err := h.f.Fetch(context.Background(), uri)
			h.expectRefused(t, res, err, ErrForbiddenScheme)
			if c := h.dial.calls(); len(c) != 0 {
				t.Fatalf("dialled %v", c)
			}
		})
	}
}

func TestRefusedAddresses(t *testing.T) {
	cases := []string{
		"http://10.1.2.3/", "http://192.168.0.1/", "http://127.0.0.1:1/", "http://[::1]:80/",
		"http://169.254.169.254/latest/meta-data/", "http://0.0.0.0/", "http://[::ffff:10.0.0.1]/",
		"http://224.0.0.1/", "http://100.64.0.1/",
		"http://ten.test/", "http://home.test/", "http://meta.test/", "http://six.test/",
		"http://lo.test/", "http://rebind.test/", "http://mapped.test/", "http://multicast.test/",
	}
	for _, uri := range cases {
		t.Run(uri, func(t *testing.T) {
			// 127.0.0.1 is not allowed here.
			h := newHarness(t, func(c *Config) { c.Allow = nil })
			res, err := h.f.Fetch(context.Background(), uri)
			h.expectRefused(t, res, err, ErrForbiddenAddress)
			if c := h.dial.calls(); len(c) != 0 {
				t.Fatalf("connected to %v before refusing", c)
			}
		})
	}
}

func TestRefusedViaRedirect(t *testing.T) {
	targets := map[string]error{
		"/to-ten":    ErrForbiddenAddress, // literal private
		"/to-meta":   ErrForbiddenAddress, // via DNS name → 169.254.x
		"/to-six":    ErrForbiddenAddress, // via DNS name → ::1
		"/to-home":   ErrForbiddenAddress,
		"/to-file":   ErrForbiddenScheme,
		"/to-gopher": ErrForbiddenScheme,
	}
	loc := map[string]string{
		"/to-ten": "http://10.0.0.8/", "/to-meta": "http://meta.test/", "/to-six": "http://six.test:8080/",
		"/to-home": "http://home.test/", "/to-file": "file:///etc/passwd", "/to-gopher": "gopher://x.test/",
	}
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, loc[r.URL.Path], http.StatusFound)
	}))
	for path, want := range targets {
		t.Run(path, func(t *testing.T) {
			h := newHarness(t, nil)
			res, err := h.f.Fetch(context.Background(), srv.URL+path)
			h.expectRefused(t, res, err, want)
			for _, a := range h.dial.calls() {
				if !strings.HasPrefix(a, "127.0.0.1:") {
					t.Fatalf("connected to %s", a)
				}
			}
		})
	}
}

func TestRedirects(t *testing.T) {
	var hits atomic.Int32
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch {
		case r.URL.Path == "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/hop/"):
			var n int
			fmt.Sscanf(r.URL.Path, "/hop/%d", &n)
			if n > 0 {
				http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusMovedPermanently)
				return
			}
			io.WriteString(w, "arrived")
		}
	}))
	h := newHarness(t, nil)
	res, err := h.f.Fetch(context.Background(), srv.URL+"/hop/5")
	if err != nil {
		t.Fatalf("5 redirects must be followed: %v", err)
	}
	if res.Redirects != 5 || string(res.Body) != "arrived" || !strings.HasSuffix(res.FinalURI, "/hop/0") {
		t.Fatalf("result %+v", res)
	}
	hits.Store(0)
	h = newHarness(t, nil)
	res, err = h.f.Fetch(context.Background(), srv.URL+"/loop")
	h.expectRefused(t, res, err, ErrTooManyRedirects)
	if n := hits.Load(); n != 6 {
		t.Fatalf("server saw %d requests, want 6 (1 + 5 redirects)", n)
	}
	_, err = h.f.Fetch(context.Background(), srv.URL+"/hop/6")
	if !errors.Is(err, ErrTooManyRedirects) {
		t.Fatalf("6 redirects: %v", err)
	}
}

// countingBody writes up to total bytes and counts what the kernel took.
type counter struct {
	written atomic.Int64
	done    chan struct{}
}

func (c *counter) handler(total int64, declare bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(c.done)
		w.Header().Set("Content-Type", "text/plain")
		if declare {
			w.Header().Set("Content-Length", fmt.Sprint(total))
		}
		chunk := []byte(strings.Repeat("a", 32<<10))
		for c.written.Load() < total {
			n, err := w.Write(chunk)
			c.written.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
}

func smallBuffers(srv *httptest.Server) {
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if tc, ok := c.(*net.TCPConn); ok && s == http.StateNew {
			_ = tc.SetWriteBuffer(64 << 10)
		}
	}
}

func TestBodyTooLargeStopsReading(t *testing.T) {
	for _, declare := range []bool{false, true} {
		t.Run(fmt.Sprintf("declared=%v", declare), func(t *testing.T) {
			c := &counter{done: make(chan struct{})}
			const total = 256 << 20
			srv := httptest.NewUnstartedServer(c.handler(total, declare))
			smallBuffers(srv)
			srv.Start()
			defer srv.Close()
			h := newHarness(t, func(cfg *Config) {
				cfg.Dial = func(ctx context.Context, network, address string) (net.Conn, error) {
					conn, err := h0dial(ctx, network, address)
					if tc, ok := conn.(*net.TCPConn); ok {
						_ = tc.SetReadBuffer(64 << 10)
					}
					return conn, err
				}
			})
			res, err := h.f.Fetch(context.Background(), srv.URL)
			h.expectRefused(t, res, err, ErrTooLarge)
			select {
			case <-c.done:
			case <-time.After(10 * time.Second):
				t.Fatal("server still writing: the client kept reading")
			}
			t.Logf("server wrote %d bytes before the client stopped", c.written.Load())
			// The client read at most MaxBody+1 bytes; what else the server
			// managed to write sits in socket buffers (a few hundred KiB).
			if w := c.written.Load(); w > DefaultMaxBody+1<<20 {
				t.Fatalf("server wrote %d bytes of %d: the client did not stop reading", w, total)
			}
			if declare && c.written.Load() > 1<<20 {
				t.Fatalf("declared too large, yet %d bytes were transferred", c.written.Load())
			}
		})
	}
}

func h0dial(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow-body" {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "partial ")
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer close(release)
	for _, path := range []string{"/slow-headers", "/slow-body"} {
		t.Run(path, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.Timeout = 150 * time.Millisecond })
			res, err := h.f.Fetch(context.Background(), srv.URL+path)
			h.expectRefused(t, res, err, ErrTimeout)
		})
	}
}

func TestCallerCancelIsNotTimeout(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer close(release)
	h := newHarness(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Cancel once the request has reached the server.
		select {
		case <-arrived:
		case <-time.After(5 * time.Second):
		}
		cancel()
	}()
	_, err := h.f.Fetch(ctx, srv.URL)
	if err == nil || errors.Is(err, ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want the caller's cancellation", err)
	}
	if Reason(err) != "canceled" {
		t.Fatalf("reason %q", Reason(err))
	}
}

func TestBodyChecks(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bad-utf8":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte("caf\xe9 \xff\xfe"))
		case "/latin1":
			w.Header().Set("Content-Type", "text/html; charset=ISO-8859-1")
			w.Write([]byte("<p>caf\xe9</p>"))
		case "/png":
			w.Header().Set("Content-Type", "image/png")
			w.Write([]byte("\x89PNG\r\n\x1a\n"))
		case "/sniffed-binary":
			w.Header()["Content-Type"] = nil
			w.Write([]byte("\x00\x01\x02\x03binary"))
		case "/missing":
			http.NotFound(w, r)
		}
	}))
	cases := map[string]error{
		"/bad-utf8": ErrInvalidUTF8, "/latin1": ErrUnsupportedCharset, "/png": ErrUnsupportedContentType,
		"/sniffed-binary": ErrUnsupportedContentType, "/missing": ErrHTTPStatus,
	}
	for path, want := range cases {
		t.Run(path, func(t *testing.T) {
			h := newHarness(t, nil)
			res, err := h.f.Fetch(context.Background(), srv.URL+path)
			h.expectRefused(t, res, err, want)
		})
	}
}

func TestBadURIs(t *testing.T) {
	for _, uri := range []string{"", "http://", "http://user:pw@example.org/", "http://%zz/", "http://exa mple/", "http://x/" + strings.Repeat("a", MaxURILength)} {
		h := newHarness(t, nil)
		res, err := h.f.Fetch(context.Background(), uri)
		if err == nil || res != nil {
			t.Fatalf("%q: accepted", uri)
		}
		if !errors.Is(err, ErrBadURI) && !errors.Is(err, ErrForbiddenScheme) {
			t.Fatalf("%q: %v", uri, err)
		}
		if len(h.dial.calls()) != 0 {
			t.Fatalf("%q: dialled", uri)
		}
	}
}

func TestControlHookChecksConnectAddress(t *testing.T) {
	f := New(Config{})
	defer f.Close()
	for addr, ok := range map[string]bool{
		"127.0.0.1:80": false, "10.0.0.1:443": false, "[::1]:80": false, "[fe80::1%eth0]:80": false,
		"93.184.215.14:80": true, "[2606:4700::1]:443": true, "garbage": false,
	} {
		err := f.control("tcp", addr, nil)
		if (err == nil) != ok {
			t.Fatalf("control(%s) = %v, want ok=%v", addr, err, ok)
		}
		if err != nil && !errors.Is(err, ErrForbiddenAddress) {
			t.Fatalf("control(%s) = %v", addr, err)
		}
	}
}

func TestClassify(t *testing.T) {
	for s, want := range map[string]string{
		"8.8.8.8": "", "2001:4860:4860::8888": "", "10.0.0.1": "private", "172.16.5.4": "private",
		"192.168.1.1": "private", "fd00::1": "private", "127.0.0.1": "loopback", "::1": "loopback",
		"169.254.169.254": "link-local", "fe80::1": "link-local", "0.0.0.0": "unspecified", "::": "unspecified",
		"224.0.0.251": "multicast", "ff02::1": "multicast", "::ffff:192.168.0.1": "private",
		"100.64.1.1": "reserved (100.64.0.0/10)", "255.255.255.255": "reserved (240.0.0.0/4)",
		"64:ff9b::a00:1": "reserved (64:ff9b::/96)",
	} {
		if got := Classify(netip.MustParseAddr(s)); got != want {
			t.Errorf("Classify(%s) = %q, want %q", s, got, want)
		}
	}
	f := New(Config{Allow: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}})
	defer f.Close()
	if err := f.Check(netip.MustParseAddr("10.9.1.1")); err != nil {
		t.Fatalf("allow-listed: %v", err)
	}
	if err := f.Check(netip.MustParseAddr("10.8.1.1")); !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("outside allow-list: %v", err)
	}
}

func FuzzCheckURI(f *testing.F) {
	for _, s := range []string{"http://example.org/", "https://a.b:8443/x?y#z", "file:///etc/passwd", "gopher://x", "http://[::1]/", "HTTP://EXAMPLE.ORG", "http://%41/", "http://user@x/", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := CheckURI(s)
		if err != nil {
			if !errors.Is(err, ErrBadURI) && !errors.Is(err, ErrForbiddenScheme) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if sc := strings.ToLower(u.Scheme); sc != "http" && sc != "https" {
			t.Fatalf("accepted scheme %q", u.Scheme)
		}
		if u.Hostname() == "" {
			t.Fatal("accepted a uri without host")
		}
	})
}
