package api

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// post sends a form to the console with the session cookie (if any) and
// extra headers.
func (h *harness) post(path, cookie string, form url.Values, hdr map[string]string) (*http.Response, string) {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return h.send(req, cookie)
}

func (h *harness) get(path, cookie string) (*http.Response, string) {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.base+path, nil)
	return h.send(req, cookie)
}

// send does req with the session cookie, without following redirects.
func (h *harness) send(req *http.Request, cookie string) (*http.Response, string) {
	h.t.Helper()
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: consoleCookie, Value: cookie})
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]{64})"`)

// login logs in with the token and returns the session cookie and the
// page's CSRF token.
func (h *harness) login() (cookie, csrf string) {
	h.t.Helper()
	resp, body := h.post("/console/login", "", url.Values{"token": {h.token}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/" {
		h.t.Fatalf("login: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	var c *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == consoleCookie {
			c = k
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/console/" || len(c.Value) != 64 {
		h.t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/console/", c)
	}
	page, html := h.get("/console/", c.Value)
	if page.StatusCode != http.StatusOK {
		h.t.Fatalf("console page: %d %s", page.StatusCode, html)
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
		h.t.Fatalf("CSP %q", csp)
	}
	m := csrfField.FindStringSubmatch(html)
	if m == nil {
		h.t.Fatalf("no CSRF token in the page: %s", html)
	}
	return c.Value, m[1]
}

func TestConsoleLoginRefusesWrongTokenAndGatesPages(t *testing.T) {
	h := start(t)
	// No session: pages go to the login page, actions and the stream 401.
	if resp, _ := h.get("/console/", ""); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/login" {
		t.Fatalf("page without session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body := h.get("/console/events", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("events without session: %d %s", resp.StatusCode, body)
	}
	// The bearer token is not a console session.
	req, _ := http.NewRequest("POST", h.base+"/console/consent", strings.NewReader("consent=granted"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+h.token)
	if resp, err := noRedirect.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bearer on a console action: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	for _, tok := range []string{"", "nope", strings.Repeat("0", 64), h.token + "x"} {
		resp, body := h.post("/console/login", "", url.Values{"token": {tok}}, nil)
		if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 || !strings.Contains(body, "wrong token") {
			t.Fatalf("login with %q: %d cookies %v %s", tok, resp.StatusCode, resp.Cookies(), body)
		}
	}
	if resp, _ := h.post("/console/login", "", url.Values{"token": {h.token}}, map[string]string{"Origin": "http://evil.example"}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin login: %d", resp.StatusCode)
	}
	// A made-up session id is no session.
	if resp, _ := h.get("/console/", strings.Repeat("ab", 32)); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("forged cookie: %d", resp.StatusCode)
	}
	cookie, csrf := h.login()
	// Logout ends the session.
	if resp, _ := h.post("/console/logout", cookie, url.Values{"csrf": {csrf}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if resp, _ := h.get("/console/", cookie); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("page after logout: %d", resp.StatusCode)
	}
}

func TestConsoleActionsNeedCSRF(t *testing.T) {
	h := start(t)
	cookie, csrf := h.login()
	other, _ := h.login() // another browser's session has its own token
	cases := []struct {
		name   string
		cookie string
		form   url.Values
		hdr    map[string]string
		status int
		want   string
	}{
		{"missing csrf", cookie, url.Values{"consent": {"granted"}}, nil, http.StatusForbidden, `field \"csrf\": required`},
		{"wrong csrf", cookie, url.Values{"consent": {"granted"}, "csrf": {strings.Repeat("0", 64)}}, nil, http.StatusForbidden, "does not match"},
		{"other session's csrf", other, url.Values{"consent": {"granted"}, "csrf": {csrf}}, nil, http.StatusForbidden, "does not match"},
		{"cross origin", cookie, url.Values{"consent": {"granted"}, "csrf": {csrf}}, map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden, "Origin"},
		{"json body", cookie, nil, map[string]string{"Content-Type": "application/json"}, http.StatusUnsupportedMediaType, "Content-Type"},
	}
	for _, c := range cases {
		resp, body := h.post("/console/consent", c.cookie, c.form, c.hdr)
		if resp.StatusCode != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s, want %d with %q", c.name, resp.StatusCode, body, c.status, c.want)
		}
	}
	// With the token the action runs; this backend has no human runtime,
	// which the page is told.
	resp, _ := h.post("/console/consent", cookie, url.Values{"consent": {"granted"}, "csrf": {csrf}}, nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "error=") || !strings.Contains(loc, "not+running") {
		t.Fatalf("consent without a human runtime: %d %s", resp.StatusCode, loc)
	}
}

func TestParseConsentForm(t *testing.T) {
	for _, c := range []struct {
		form  string
		want  envelope.Consent
		scope []string
		err   string
	}{
		{"consent=granted", envelope.ConsentGranted, nil, ""},
		{"consent=revoked&scope=", envelope.ConsentRevoked, nil, ""},
		{"consent=limited&scope=topic:work,+topic:play", envelope.ConsentLimited, []string{"topic:work", "topic:play"}, ""},
		{"consent=limited", 0, nil, `field "scope": limited consent needs at least one topic`},
		{"consent=limited&scope=+,+", 0, nil, `field "scope": limited consent needs`},
		{"consent=granted&scope=topic:work", 0, nil, `field "scope": only limited consent takes a scope`},
		{"consent=maybe", 0, nil, `field "consent": must be granted|limited|revoked`},
		{"", 0, nil, `field "consent"`},
		{"consent=limited&scope=" + strings.Repeat("x", 300), 0, nil, `field "scope": topic over 256 bytes`},
	} {
		v, _ := url.ParseQuery(c.form)
		got, err := ParseConsentForm(v)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v, want %q", c.form, err, c.err)
			}
			continue
		}
		if err != nil || got.Consent != c.want || strings.Join(got.Scope, ",") != strings.Join(c.scope, ",") {
			t.Errorf("%q: %+v %v", c.form, got, err)
		}
	}
}

func TestParseDecisionForm(t *testing.T) {
	for _, c := range []struct{ form, err string }{
		{"choice=approve&rationale=ok&alternative=a&alternative=b", ""},
		{"choice=maybe&rationale=ok&alternative=a", `field "choice"`},
		{"choice=reject&rationale=+&alternative=a", `field "rationale"`},
		{"choice=reject&rationale=no", `field "alternative"`},
	} {
		v, _ := url.ParseQuery(c.form)
		d, err := ParseDecisionForm(v)
		if c.err == "" {
			if err != nil || d.Choice != "approve" || len(d.Alternatives) != 2 {
				t.Errorf("%q: %+v %v", c.form, d, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q: %v, want %q", c.form, err, c.err)
		}
	}
}

// FuzzConsoleForms: no form body makes the console's parsers panic, and
// whatever they accept is well formed.
func FuzzConsoleForms(f *testing.F) {
	for _, s := range []string{"consent=limited&scope=topic:work", "choice=approve&rationale=x&alternative=y", "consent=%zz", "scope=" + strings.Repeat(",", 100), "csrf=&&&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		v, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		if c, err := ParseConsentForm(v); err == nil {
			if (c.Consent == envelope.ConsentLimited) != (len(c.Scope) > 0) {
				t.Fatalf("accepted %+v from %q", c, body)
			}
			for _, s := range c.Scope {
				if s == "" || len(s) > 256 {
					t.Fatalf("scope topic %q from %q", s, body)
				}
			}
		}
		if d, err := ParseDecisionForm(v); err == nil && (d.Rationale == "" || len(d.Alternatives) == 0 || (d.Choice != "approve" && d.Choice != "reject")) {
			t.Fatalf("accepted %+v from %q", d, body)
		}
	})
}
