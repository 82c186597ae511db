package fetch

import "errors"

// Sentinel errors. Every error Fetch returns wraps exactly one of them,
// with the detail (URI, address, limit) in the message.
var (
	// ErrBadURI: the URI does not parse, is too long or has no host.
	ErrBadURI = errors.New("lip/fetch: bad uri")
	// ErrForbiddenScheme: a scheme other than http or https (also on a
	// redirect).
	ErrForbiddenScheme = errors.New("lip/fetch: forbidden scheme")
	// ErrForbiddenAddress: the destination (literal or resolved) is
	// private, loopback, link-local, unspecified, multicast or otherwise not
	// public, and not on the allow-list.
	ErrForbiddenAddress = errors.New("lip/fetch: forbidden address")
	// ErrResolve: the name did not resolve to any address.
	ErrResolve = errors.New("lip/fetch: cannot resolve")
	// ErrTooLarge: the body (declared or read) exceeds MaxBody.
	ErrTooLarge = errors.New("lip/fetch: body too large")
	// ErrTooManyRedirects: more than MaxRedirects redirects.
	ErrTooManyRedirects = errors.New("lip/fetch: too many redirects")
	// ErrTimeout: the fetch did not complete within Timeout.
	ErrTimeout = errors.New("lip/fetch: timeout")
	// ErrInvalidUTF8: a textual body that is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("lip/fetch: body is not valid UTF-8")
	// ErrUnsupportedCharset: a declared charset other than UTF-8/US-ASCII.
	ErrUnsupportedCharset = errors.New("lip/fetch: unsupported charset")
	// ErrUnsupportedContentType: a body that is not text (no extractor can
	// read it).
	ErrUnsupportedContentType = errors.New("lip/fetch: unsupported content type")
	// ErrHTTPStatus: the final response is not 2xx.
	ErrHTTPStatus = errors.New("lip/fetch: http status")
	// ErrNetwork: any other transport failure (refused, reset, TLS).
	ErrNetwork = errors.New("lip/fetch: network error")
)

// reasons maps each sentinel to the short reason carried in the
// web4.lip.fetch_refused event.
var reasons = []struct {
	err    error
	reason string
}{
	{ErrBadURI, "bad_uri"},
	{ErrForbiddenScheme, "forbidden_scheme"},
	{ErrForbiddenAddress, "forbidden_address"},
	{ErrResolve, "resolve"},
	{ErrTooLarge, "too_large"},
	{ErrTooManyRedirects, "too_many_redirects"},
	{ErrTimeout, "timeout"},
	{ErrInvalidUTF8, "invalid_utf8"},
	{ErrUnsupportedCharset, "unsupported_charset"},
	{ErrUnsupportedContentType, "unsupported_content_type"},
	{ErrHTTPStatus, "http_status"},
	{ErrNetwork, "network"},
}

// Reason returns the short machine-readable reason for a fetch error
// ("forbidden_address", "too_large", ...), "canceled" for a cancelled
// context, or "error".
func Reason(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	if errors.Is(err, errCanceled) {
		return "canceled"
	}
	return "error"
}
