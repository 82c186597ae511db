package api

import (
	"crypto/subtle"
	"embed"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/web4p2p/web4p2p/agentloop"
	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/node/human"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/hcp"
	"github.com/web4p2p/web4p2p/protocols/lip"
)

// The local web console (SPEC §12): server-rendered pages under /console/
// that work without JavaScript; console/app.js only adds the live event
// view (SSE) and a refresh when an event arrives. Login is the API token
// pasted into a form; it yields a session cookie (HttpOnly,
// SameSite=Strict, Path=/console/) and a per-session CSRF token that every
// POST form carries. Assets are embedded; the CSP allows only 'self'.

//go:embed console/*
var consoleFS embed.FS

var consoleTmpl = template.Must(template.ParseFS(consoleFS, "console/*.html"))

const (
	consoleCookie = "web4p2p_console"
	// consoleSessionTTL bounds a console session.
	consoleSessionTTL = 12 * time.Hour
	// maxConsoleSessions bounds the session table (oldest evicted).
	maxConsoleSessions = 64
	consoleCSP         = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

type consoleSession struct {
	csrf    string
	expires time.Time
}

// consoleSessions is the server's table of logged-in console sessions.
type consoleSessions struct {
	mu sync.Mutex
	m  map[string]consoleSession
}

func (cs *consoleSessions) create(now time.Time) (id string, s consoleSession) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.m == nil {
		cs.m = map[string]consoleSession{}
	}
	for k, v := range cs.m {
		if now.After(v.expires) {
			delete(cs.m, k)
		}
	}
	for len(cs.m) >= maxConsoleSessions {
		var oldest string
		for k, v := range cs.m {
			if oldest == "" || v.expires.Before(cs.m[oldest].expires) {
				oldest = k
			}
		}
		delete(cs.m, oldest)
	}
	id, s = randHex(), consoleSession{csrf: randHex(), expires: now.Add(consoleSessionTTL)}
	cs.m[id] = s
	return id, s
}

func (cs *consoleSessions) get(id string, now time.Time) (consoleSession, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	s, ok := cs.m[id]
	if !ok || now.After(s.expires) {
		delete(cs.m, id)
		return consoleSession{}, false
	}
	return s, true
}

func (cs *consoleSessions) drop(id string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	delete(cs.m, id)
}

func secureHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin") // no-referrer would make the browser send Origin: null on our own POSTs
	h.Set("Cache-Control", "no-store")
}

// consoleRoutes registers the console. Its routes authenticate with the
// session cookie, not the bearer token.
func (s *Server) consoleRoutes() {
	s.mux.HandleFunc("GET /console/{$}", s.consolePage(s.consoleHome))
	s.mux.HandleFunc("GET /console/login", func(w http.ResponseWriter, r *http.Request) {
		secureHeaders(w)
		s.render(w, http.StatusOK, "login.html", map[string]any{"Error": r.URL.Query().Get("error")})
	})
	s.mux.HandleFunc("POST /console/login", s.consoleLogin)
	s.mux.HandleFunc("POST /console/logout", s.consolePost(func(w http.ResponseWriter, r *http.Request, _ url.Values) error {
		if c, err := r.Cookie(consoleCookie); err == nil {
			s.sessions.drop(c.Value)
		}
		http.SetCookie(w, &http.Cookie{Name: consoleCookie, Value: "", Path: "/console/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, "/console/login", http.StatusSeeOther)
		return nil
	}))
	s.mux.HandleFunc("POST /console/consent", s.consolePost(s.consoleConsent))
	s.mux.HandleFunc("POST /console/decisions/{id}", s.consolePost(s.consoleDecide))
	s.mux.HandleFunc("POST /console/held/{id}", s.consolePost(func(w http.ResponseWriter, r *http.Request, form url.Values) error {
		if err := s.needHuman(); err != nil {
			return err
		}
		return heldAction(r.Context(), s.be.Human, r.PathValue("id"), form.Get("action"))
	}))
	s.mux.HandleFunc("GET /console/events", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.consoleSession(r); !ok {
			writeError(w, Errorf(http.StatusUnauthorized, "unauthorized", "console session missing or expired: log in at /console/login"))
			return
		}
		s.stream(w, r, false)
	})
	for _, a := range []struct{ name, ctype string }{{"app.js", "text/javascript; charset=utf-8"}, {"style.css", "text/css; charset=utf-8"}} {
		b, err := consoleFS.ReadFile("console/" + a.name)
		if err != nil {
			panic(err) // embedded at build time: cannot happen
		}
		ctype := a.ctype
		s.mux.HandleFunc("GET /console/"+a.name, func(w http.ResponseWriter, r *http.Request) {
			secureHeaders(w)
			w.Header().Set("Content-Type", ctype)
			_, _ = w.Write(b)
		})
	}
}

func (s *Server) render(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = consoleTmpl.ExecuteTemplate(w, name, data)
}

func (s *Server) consoleSession(r *http.Request) (consoleSession, bool) {
	c, err := r.Cookie(consoleCookie)
	if err != nil {
		return consoleSession{}, false
	}
	return s.sessions.get(c.Value, time.Now())
}

// consolePage wraps a GET page: no session → redirect to the login page.
func (s *Server) consolePage(fn func(w http.ResponseWriter, r *http.Request, sess consoleSession)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secureHeaders(w)
		sess, ok := s.consoleSession(r)
		if !ok {
			http.Redirect(w, r, "/console/login", http.StatusSeeOther)
			return
		}
		fn(w, r, sess)
	}
}

// consolePost wraps a console form action: it needs a live session, a
// same-origin request and the session's CSRF token; then fn runs and the
// browser is sent back to the page (with ?error= when fn fails).
func (s *Server) consolePost(fn func(w http.ResponseWriter, r *http.Request, form url.Values) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secureHeaders(w)
		sess, ok := s.consoleSession(r)
		if !ok {
			s.cfg.Events.Emit("web4.api.unauthorized", r.URL.Path, map[string]any{"method": r.Method, "remote": r.RemoteAddr, "console": true})
			writeError(w, Errorf(http.StatusUnauthorized, "unauthorized", "console session missing or expired: log in at /console/login"))
			return
		}
		form, err := parseConsoleForm(w, r)
		if err != nil {
			writeError(w, err)
			return
		}
		if err := checkCSRF(r, form, sess.csrf); err != nil {
			s.cfg.Events.Emit("web4.api.csrf_refused", r.URL.Path, map[string]any{"remote": r.RemoteAddr, "detail": err.Error()})
			writeError(w, err)
			return
		}
		if err := fn(w, r, form); err != nil {
			var ae *Error
			msg := err.Error()
			if me, ok := mapErr(err).(*Error); ok {
				ae = me
				msg = ae.Detail
			}
			http.Redirect(w, r, "/console/?error="+url.QueryEscape(msg), http.StatusSeeOther)
			return
		}
		if w.Header().Get("Location") == "" {
			http.Redirect(w, r, "/console/", http.StatusSeeOther)
		}
	}
}

// parseConsoleForm reads an application/x-www-form-urlencoded body of at
// most MaxBody bytes.
func parseConsoleForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, Errorf(http.StatusUnsupportedMediaType, "bad_request", "Content-Type: want application/x-www-form-urlencoded, got %q", ct)
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	if err := r.ParseForm(); err != nil {
		return nil, Errorf(http.StatusBadRequest, "bad_request", "form body: %v", err)
	}
	return r.PostForm, nil
}

// checkCSRF wants the form's csrf field to equal the session's token and,
// when the browser names an Origin, that origin to be this host.
func checkCSRF(r *http.Request, form url.Values, want string) error {
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return Errorf(http.StatusForbidden, "csrf", "Origin %q is not this console (%s)", o, r.Host)
		}
	}
	got := form.Get("csrf")
	if got == "" {
		return Errorf(http.StatusForbidden, "csrf", "field \"csrf\": required (reload the console page)")
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return Errorf(http.StatusForbidden, "csrf", "field \"csrf\": does not match this session (reload the console page)")
	}
	return nil
}

func (s *Server) consoleLogin(w http.ResponseWriter, r *http.Request) {
	secureHeaders(w)
	form, err := parseConsoleForm(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	if o := r.Header.Get("Origin"); o != "" {
		if u, err := url.Parse(o); err != nil || u.Host != r.Host {
			writeError(w, Errorf(http.StatusForbidden, "csrf", "Origin %q is not this console (%s)", o, r.Host))
			return
		}
	}
	tok := strings.TrimSpace(form.Get("token"))
	if subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.Token)) != 1 {
		s.cfg.Events.Emit("web4.api.unauthorized", r.URL.Path, map[string]any{"method": r.Method, "remote": r.RemoteAddr, "console": true})
		s.render(w, http.StatusUnauthorized, "login.html", map[string]any{"Error": "wrong token: paste the contents of api.token from the node's data directory"})
		return
	}
	id, _ := s.sessions.create(time.Now())
	http.SetCookie(w, &http.Cookie{Name: consoleCookie, Value: id, Path: "/console/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: int(consoleSessionTTL.Seconds())})
	s.cfg.Events.Emit("web4.api.console_login", r.URL.Path, map[string]any{"remote": r.RemoteAddr})
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

// needHuman is the console's answer when the node runs no human runtime.
func (s *Server) needHuman() error {
	if s.be.Human == nil {
		return Errorf(http.StatusServiceUnavailable, "unavailable", "the human runtime is not running on this node")
	}
	return nil
}

// ConsoleConsent is a parsed consent form.
type ConsoleConsent struct {
	Consent envelope.Consent
	Scope   []string
}

// ParseConsentForm reads the console's consent form: consent
// granted|limited|revoked, scope (comma or space separated topics;
// required for limited, refused otherwise).
func ParseConsentForm(form url.Values) (ConsoleConsent, error) {
	var c envelope.Consent
	if err := c.UnmarshalText([]byte(form.Get("consent"))); err != nil {
		return ConsoleConsent{}, Errorf(http.StatusBadRequest, "invalid_state", "field \"consent\": must be granted|limited|revoked (got %q)", form.Get("consent"))
	}
	scope := strings.FieldsFunc(form.Get("scope"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' })
	switch {
	case c == envelope.ConsentLimited && len(scope) == 0:
		return ConsoleConsent{}, Errorf(http.StatusBadRequest, "invalid_state", "field \"scope\": limited consent needs at least one topic")
	case c != envelope.ConsentLimited && len(scope) > 0:
		return ConsoleConsent{}, Errorf(http.StatusBadRequest, "invalid_state", "field \"scope\": only limited consent takes a scope (got %q with consent %s)", form.Get("scope"), form.Get("consent"))
	}
	for _, t := range scope {
		if len(t) > 256 {
			return ConsoleConsent{}, Errorf(http.StatusBadRequest, "invalid_state", "field \"scope\": topic over 256 bytes")
		}
	}
	return ConsoleConsent{Consent: c, Scope: scope}, nil
}

func (s *Server) consoleConsent(w http.ResponseWriter, r *http.Request, form url.Values) error {
	if err := s.needHuman(); err != nil {
		return err
	}
	cc, err := ParseConsentForm(form)
	if err != nil {
		return err
	}
	_, err = s.be.Human.SetConsent(r.Context(), cc.Consent, cc.Scope, time.Time{})
	return err
}

// ParseDecisionForm reads the console's answer to a pending decision:
// choice approve|reject, rationale (required), alternative (the
// alternatives offered, repeated; at least one).
func ParseDecisionForm(form url.Values) (hcp.Decision, error) {
	d := hcp.Decision{Choice: form.Get("choice"), Rationale: strings.TrimSpace(form.Get("rationale")), Alternatives: form["alternative"]}
	if d.Choice != "approve" && d.Choice != "reject" {
		return hcp.Decision{}, Errorf(http.StatusBadRequest, "bad_request", "field \"choice\": must be approve|reject (got %q)", d.Choice)
	}
	if d.Rationale == "" {
		return hcp.Decision{}, Errorf(http.StatusBadRequest, "bad_request", "field \"rationale\": required (say why)")
	}
	if len(d.Alternatives) == 0 {
		return hcp.Decision{}, Errorf(http.StatusBadRequest, "bad_request", "field \"alternative\": at least one alternative considered is required")
	}
	return d, nil
}

func (s *Server) consoleDecide(w http.ResponseWriter, r *http.Request, form url.Values) error {
	if err := s.needHuman(); err != nil {
		return err
	}
	d, err := ParseDecisionForm(form)
	if err != nil {
		return err
	}
	_, err = s.be.Human.Decide(r.Context(), r.PathValue("id"), d)
	return err
}

// consoleDecision is a pending decision with its why chain.
type consoleDecision struct {
	human.PendingDecision
	Why []agentloop.Node
}

// consoleFact is a fact with its provenance: the proposal's msg_id and
// every vote counted.
type consoleFact struct {
	FactView
	MsgID string
	Votes []knowledge.Vote
}

type trustNode struct {
	X, Y  int
	Label string
	State string
}

func (s *Server) consoleHome(w http.ResponseWriter, r *http.Request, sess consoleSession) {
	data := map[string]any{"CSRF": sess.csrf, "Error": r.URL.Query().Get("error")}
	// The page's live view resumes after the last event this render saw,
	// so nothing emitted between the render and the stream is missed.
	if s.be.Events != nil {
		if rec := s.be.Events.Recent(nil); len(rec) > 0 {
			data["LastEvent"] = rec[len(rec)-1].ID
		}
	}
	var errs []string
	if n := s.be.Node; n != nil {
		st := n.Status()
		data["Status"] = st
		data["Peers"] = n.Peers()
		tr := n.Trust()
		sort.Slice(tr, func(i, j int) bool { return tr[i].Fingerprint < tr[j].Fingerprint })
		data["Trust"] = tr
		data["Graph"] = trustGraph(st, tr)
	}
	if h := s.be.Human; h != nil {
		if st, err := h.Status(); err == nil {
			data["Human"] = st
			var hv map[string]any
			if len(st.Human) > 0 && json.Unmarshal(st.Human, &hv) == nil {
				data["HumanState"] = hv
			}
		} else {
			errs = append(errs, "human: "+err.Error())
		}
		data["Held"] = h.Held()
		if pd, err := h.PendingDecisions(); err == nil {
			var ds []consoleDecision
			for _, d := range pd {
				cd := consoleDecision{PendingDecision: d}
				if chain, err := h.Why(d.ID); err == nil {
					cd.Why = chain
				}
				ds = append(ds, cd)
			}
			data["Decisions"] = ds
		} else {
			errs = append(errs, "decisions: "+err.Error())
		}
	}
	if fs := s.be.Facts; fs != nil {
		var out []consoleFact
		for _, st := range fs.Facts() {
			if v, ok := factView(fs, st.Fact.ID); ok {
				out = append(out, consoleFact{FactView: v, MsgID: st.Fact.MsgID, Votes: fs.Votes(v.ID)})
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].ProposedAt < out[j].ProposedAt })
		data["Facts"] = out
	}
	if l := s.be.Learn; l != nil {
		if cs, err := l.Claims(lip.State(0)); err == nil {
			data["Claims"] = cs
		} else {
			errs = append(errs, "claims: "+err.Error())
		}
	}
	data["Errors"] = errs
	s.render(w, http.StatusOK, "index.html", data)
}

// trustGraph lays this node in the centre and its ledger's peers on a
// circle around it, for the SVG in the peers section.
func trustGraph(st Status, tr []TrustEntry) map[string]any {
	const cx, cy, rad = 200, 160, 120
	nodes := make([]trustNode, 0, len(tr))
	for i, e := range tr {
		x, y := circlePoint(cx, cy, rad, i, len(tr))
		label := e.PeerID
		if label == "" {
			label = e.Fingerprint
		}
		if len(label) > 10 {
			label = "…" + label[len(label)-8:]
		}
		nodes = append(nodes, trustNode{X: x, Y: y, Label: label, State: e.State})
	}
	self := st.PeerID
	if len(self) > 10 {
		self = "…" + self[len(self)-8:]
	}
	return map[string]any{"CX": cx, "CY": cy, "Self": self, "Nodes": nodes}
}
