package fetch

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/web4p2p/web4p2p/internal/events"
)

// Resolver turns a host name into addresses. *net.Resolver satisfies it;
// tests inject a map so that no DNS query leaves the machine.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// DialFunc connects to address, which is always an "ip:port" literal the
// fetcher has already checked. Tests inject one that records calls to prove
// a refusal happened before any connection attempt.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Config configures a Fetcher. The zero value is usable: every unset field
// gets the default of limits.go.
type Config struct {
	// Timeout bounds one fetch end to end. Default DefaultTimeout; tests
	// shorten it.
	Timeout time.Duration
	// MaxBody is the largest accepted body in bytes. Default DefaultMaxBody.
	MaxBody int64
	// MaxRedirects is how many redirects may be followed. Default
	// DefaultMaxRedirects; a negative value forbids redirects.
	MaxRedirects int
	// Allow lists prefixes that are reachable even though they are not
	// public (e.g. 127.0.0.1/32 for a test server, or a lab network).
	// Empty: only public addresses.
	Allow []netip.Prefix
	// Resolver resolves host names. Default net.DefaultResolver.
	Resolver Resolver
	// Dial connects to a checked "ip:port". Default: a net.Dialer whose
	// Control hook checks the address once more at connect time.
	Dial DialFunc
	// TLS is the client TLS configuration (tests pass the httptest
	// server's roots). Default: system roots.
	TLS *tls.Config
	// Version is the project version named in the User-Agent
	// ("web4p2p/<version> (+LIP)"). Default DefaultVersion.
	Version string
	// Now stamps RetrievedAt. Default time.Now.
	Now func() time.Time
	// Events receives web4.lip.fetched and web4.lip.fetch_refused. nil
	// discards.
	Events *events.Emitter
}

// DefaultConfig returns the SPEC §7 limits with no allow-list.
func DefaultConfig() Config {
	return Config{
		Timeout:      DefaultTimeout,
		MaxBody:      DefaultMaxBody,
		MaxRedirects: DefaultMaxRedirects,
		Version:      DefaultVersion,
	}
}

// Result is one successful fetch and its provenance.
type Result struct {
	// URI is the URI asked for; FinalURI the one that answered (after
	// redirects).
	URI, FinalURI string
	// Redirects is how many redirects were followed.
	Redirects int
	// Status is the HTTP status code (2xx).
	Status int
	// ContentType is the lowercased media type ("text/html"); Charset the
	// declared charset, lowercased ("" when none was declared).
	ContentType, Charset string
	// Body is the complete body (≤ MaxBody bytes, valid UTF-8).
	Body []byte
	// SHA256 is the lowercase hex SHA-256 of Body: the content hash peers
	// compare when they corroborate by re-fetching.
	SHA256 string
	// RetrievedAt is when the body was completely read.
	RetrievedAt time.Time
	// RemoteAddr is the address the final response came from.
	RemoteAddr string
}

// Fetcher performs bounded, SSRF-safe GETs. Safe for concurrent use.
type Fetcher struct {
	cfg       Config
	transport *http.Transport
	ua        string
}

// New returns a Fetcher; unset fields of cfg get defaults.
func New(cfg Config) *Fetcher {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxRedirects == 0 {
		cfg.MaxRedirects = DefaultMaxRedirects
	}
	if cfg.Version == "" {
		cfg.Version = DefaultVersion
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	f := &Fetcher{cfg: cfg, ua: "web4p2p/" + cfg.Version + " (+LIP)"}
	if f.cfg.Dial == nil {
		d := &net.Dialer{Control: f.control}
		f.cfg.Dial = d.DialContext
	}
	f.transport = &http.Transport{
		// Never an environment proxy: it would connect on our behalf to
		// addresses we never checked.
		Proxy:                  nil,
		DialContext:            f.dial,
		TLSClientConfig:        cfg.TLS,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           16,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		DisableCompression:     true, // the size bound applies to bytes on the wire and in memory alike
	}
	return f
}

// UserAgent returns the User-Agent header the fetcher sends.
func (f *Fetcher) UserAgent() string { return f.ua }

// Close drops idle connections. Idempotent; the Fetcher stays usable.
func (f *Fetcher) Close() { f.transport.CloseIdleConnections() }

// errCanceled marks a fetch stopped by the caller's context.
var errCanceled = errors.New("lip/fetch: canceled")

// Fetch GETs uri within the limits and returns the body and its
// provenance. On refusal the error wraps one of the package sentinels and a
// web4.lip.fetch_refused event is emitted.
func (f *Fetcher) Fetch(ctx context.Context, uri string) (*Result, error) {
	res, err := f.fetch(ctx, uri)
	if err != nil {
		f.cfg.Events.Emit("web4.lip.fetch_refused", clip(uri), map[string]any{
			"uri": clip(uri), "reason": Reason(err), "detail": err.Error(),
		})
		return nil, err
	}
	f.cfg.Events.Emit("web4.lip.fetched", clip(uri), map[string]any{
		"uri": clip(uri), "final_uri": clip(res.FinalURI), "sha256": res.SHA256,
		"bytes": len(res.Body), "content_type": res.ContentType, "charset": res.Charset,
		"redirects": res.Redirects, "status": res.Status,
	})
	return res, nil
}

func (f *Fetcher) fetch(parent context.Context, uri string) (*Result, error) {
	u, err := CheckURI(uri)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(parent, f.cfg.Timeout)
	defer cancel()

	redirects := 0
	client := &http.Client{
		Transport: f.transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > f.cfg.MaxRedirects {
				return fmt.Errorf("%w: more than %d (next %s)", ErrTooManyRedirects, f.cfg.MaxRedirects, clip(req.URL.String()))
			}
			if _, err := CheckURI(req.URL.String()); err != nil {
				return fmt.Errorf("redirect to %s: %w", clip(req.URL.String()), err)
			}
			redirects = len(via)
			req.Header.Set("User-Agent", f.ua)
			return nil
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURI, err)
	}
	req.Header.Set("User-Agent", f.ua)
	req.Header.Set("Accept", "text/html, application/ld+json, application/json;q=0.9, text/plain;q=0.8")
	resp, err := client.Do(req)
	if err != nil {
		return nil, f.classify(parent, ctx, err)
	}
	defer resp.Body.Close() // an unread remainder makes the transport drop the connection
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("%w: %d from %s", ErrHTTPStatus, resp.StatusCode, clip(resp.Request.URL.String()))
	}
	if resp.ContentLength > f.cfg.MaxBody {
		return nil, fmt.Errorf("%w: declared %d bytes, limit %d", ErrTooLarge, resp.ContentLength, f.cfg.MaxBody)
	}
	// Read one byte past the limit: that is how we know it was exceeded
	// without reading any further.
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.cfg.MaxBody+1))
	if err != nil {
		return nil, f.classify(parent, ctx, err)
	}
	if int64(len(body)) > f.cfg.MaxBody {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, f.cfg.MaxBody)
	}
	mediaType, charset, err := contentType(resp.Header.Get("Content-Type"), body)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: %s body from %s", ErrInvalidUTF8, mediaType, clip(resp.Request.URL.String()))
	}
	sum := sha256.Sum256(body)
	res := &Result{
		URI: uri, FinalURI: resp.Request.URL.String(), Redirects: redirects,
		Status: resp.StatusCode, ContentType: mediaType, Charset: charset,
		Body: body, SHA256: hex.EncodeToString(sum[:]), RetrievedAt: f.cfg.Now().UTC(),
	}
	return res, nil
}

// classify maps a transport error to a sentinel. A deadline of our own
// timeout is ErrTimeout; the caller's cancellation is reported as such.
func (f *Fetcher) classify(parent, ctx context.Context, err error) error {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return err
		}
	}
	if parent.Err() != nil {
		return fmt.Errorf("%w: %w", errCanceled, parent.Err())
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: no complete answer within %v", ErrTimeout, f.cfg.Timeout)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: %v", ErrTimeout, err)
	}
	return fmt.Errorf("%w: %v", ErrNetwork, err)
}

// CheckURI parses uri and checks what can be checked without the network:
// length, http/https scheme, a host, no user info. It returns ErrBadURI or
// ErrForbiddenScheme.
func CheckURI(uri string) (*url.URL, error) {
	if len(uri) > MaxURILength {
		return nil, fmt.Errorf("%w: %d bytes, max %d", ErrBadURI, len(uri), MaxURILength)
	}
	if !utf8.ValidString(uri) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrBadURI)
	}
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURI, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	default:
		return nil, fmt.Errorf("%w: %q (only http and https)", ErrForbiddenScheme, u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%w: no host", ErrBadURI)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: credentials in the uri", ErrBadURI)
	}
	return u, nil
}

// dial is the transport's DialContext: resolve, check every address, then
// connect to the checked IP itself so nothing resolves the name again.
func (f *Fetcher) dial(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURI, err)
	}
	addrs, err := f.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	// A name that maps to any forbidden address is refused as a whole: a
	// public answer next to a private one is the shape of a rebinding
	// attack, and trying "the good one" would depend on answer order.
	for _, a := range addrs {
		if err := f.Check(a); err != nil {
			if net.ParseIP(host) == nil {
				return nil, fmt.Errorf("%s resolves to %v: %w", host, a, err)
			}
			return nil, err
		}
	}
	var last error
	for _, a := range addrs {
		c, err := f.cfg.Dial(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}

func (f *Fetcher) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if a, err := netip.ParseAddr(h); err == nil {
		return []netip.Addr{a}, nil
	}
	addrs, err := f.cfg.Resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrResolve, host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%w: %s: no addresses", ErrResolve, host)
	}
	return addrs, nil
}

// control is the default dialer's Control hook: the last check, on the
// exact address the socket is about to connect to.
func (f *Fetcher) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q: %v", ErrForbiddenAddress, address, err)
	}
	return f.Check(ap.Addr())
}

// Check returns nil if a may be fetched from: a public unicast address, or
// one inside a Config.Allow prefix. Otherwise it returns an error wrapping
// ErrForbiddenAddress that names the class of address.
func (f *Fetcher) Check(a netip.Addr) error {
	a = a.Unmap().WithZone("")
	for _, p := range f.cfg.Allow {
		if p.Contains(a) {
			return nil
		}
	}
	if class := Classify(a); class != "" {
		return fmt.Errorf("%w: %v is %s", ErrForbiddenAddress, a, class)
	}
	return nil
}

// Classify names why a is not a public unicast address ("loopback",
// "private", "link-local", "unspecified", "multicast", "reserved",
// "invalid"), or returns "" for a public address.
func Classify(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	switch {
	case !a.IsValid():
		return "invalid"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsMulticast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	}
	for _, p := range forbiddenPrefixes {
		if p.Contains(a) {
			return "reserved (" + p.String() + ")"
		}
	}
	return ""
}

// contentType parses the Content-Type header (sniffing when absent) and
// insists on text in UTF-8 or US-ASCII.
func contentType(header string, body []byte) (mediaType, charset string, err error) {
	if header == "" {
		header = http.DetectContentType(body)
	}
	mt, params, perr := mime.ParseMediaType(header)
	if perr != nil {
		return "", "", fmt.Errorf("%w: %q: %v", ErrUnsupportedContentType, clip(header), perr)
	}
	mt = strings.ToLower(mt)
	charset = strings.ToLower(strings.TrimSpace(params["charset"]))
	if !IsText(mt) {
		return "", "", fmt.Errorf("%w: %q is not text", ErrUnsupportedContentType, mt)
	}
	switch charset {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
	default:
		return "", "", fmt.Errorf("%w: %q (only utf-8 and us-ascii)", ErrUnsupportedCharset, clip(charset))
	}
	return mt, charset, nil
}

// IsText reports whether a media type is one the extractors can read:
// text/*, JSON and XML family types.
func IsText(mediaType string) bool {
	switch {
	case strings.HasPrefix(mediaType, "text/"),
		mediaType == "application/json", mediaType == "application/ld+json",
		mediaType == "application/xhtml+xml", mediaType == "application/xml",
		strings.HasSuffix(mediaType, "+json"), strings.HasSuffix(mediaType, "+xml"):
		return true
	}
	return false
}

// clip bounds strings copied into events and errors.
func clip(s string) string {
	const n = 512
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}
