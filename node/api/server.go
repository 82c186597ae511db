package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/web4p2p/web4p2p/internal/events"
)

// Limits of the control API, in one place.
const (
	// MaxBody bounds every request body; larger → 413.
	MaxBody = 1 << 20
	// MaxReceiveWait bounds a long-poll receive.
	MaxReceiveWait = 60 * time.Second
	// DefaultReceiveWait applies when the request names none.
	DefaultReceiveWait = 5 * time.Second
	// sseKeepAlive is the interval of SSE comment lines that keep proxies
	// and clients from timing out an idle stream.
	sseKeepAlive = 15 * time.Second
)

// Config configures the server.
type Config struct {
	// Addr is host:port to bind; port 0 picks a free one.
	Addr string
	// AllowRemote permits a non-loopback bind.
	AllowRemote bool
	// Token is the bearer token every request must carry.
	Token string
	// Events receives api events (server started, remote bind warning,
	// rejected requests).
	Events *events.Emitter
}

// ErrRemoteBind is returned for a non-loopback address without AllowRemote.
var ErrRemoteBind = errors.New("control API refuses a non-loopback address")

// Server is the control API server.
type Server struct {
	cfg     Config
	be      Backend
	mux     *http.ServeMux
	srv     *http.Server
	ln      net.Listener
	wg      sync.WaitGroup
	once    sync.Once
	stop    chan struct{}
	closeMu sync.Mutex
	// sessions are the console's logged-in browsers.
	sessions consoleSessions
}

// New builds a server over be. Extra routes can be added with Handle
// before Start.
func New(cfg Config, be Backend) (*Server, error) {
	if cfg.Token == "" {
		return nil, errors.New("control API: empty token")
	}
	s := &Server{cfg: cfg, be: be, mux: http.NewServeMux(), stop: make(chan struct{})}
	s.routes()
	return s, nil
}

// CheckBind verifies that addr is loopback unless allowRemote; it is also
// used by the CLI before starting a node.
func CheckBind(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("control API address %q: %v", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsLoopback() {
		return nil
	}
	if allowRemote {
		return nil
	}
	return fmt.Errorf("%w %q (anyone who can reach it could act for this agent); use 127.0.0.1, or pass --api-allow-remote if you really mean it", ErrRemoteBind, addr)
}

// Handle registers an extra authenticated route (Go 1.22 pattern,
// e.g. "GET /v1/facts"). Later components add their endpoints this way.
func (s *Server) Handle(pattern string, h http.HandlerFunc) {
	s.mux.Handle(pattern, s.auth(h))
}

// Handler is the server's routes with their token check, for callers in
// the same process (the MCP endpoint calls the API through it, so its tools
// and the REST endpoints can never disagree).
func (s *Server) Handler() http.Handler { return s.mux }

// Start binds and serves in the background. It returns the bound address.
func (s *Server) Start() (string, error) {
	if err := CheckBind(s.cfg.Addr, s.cfg.AllowRemote); err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return "", fmt.Errorf("control API listen %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		s.cfg.Events.Emit("web4.api.remote_bind", ln.Addr().String(), map[string]any{
			"warning": "control API reachable from other machines; protect the token"})
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.srv.Serve(ln)
	}()
	s.cfg.Events.Emit("web4.api.started", ln.Addr().String(), map[string]any{"addr": ln.Addr().String()})
	return ln.Addr().String(), nil
}

// Close stops the server, ends SSE streams and waits for its goroutines.
// Idempotent.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		close(s.stop)
		if s.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = s.srv.Shutdown(ctx)
			if err != nil {
				err = s.srv.Close()
			}
		}
		s.wg.Wait()
	})
	return err
}

// auth wraps h with the bearer-token check and the body limit.
func (s *Server) auth(h http.HandlerFunc) http.Handler {
	want := []byte("Bearer " + s.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			s.cfg.Events.Emit("web4.api.unauthorized", r.URL.Path, map[string]any{"method": r.Method, "remote": r.RemoteAddr})
			writeError(w, &Error{Status: http.StatusUnauthorized, Kind: "unauthorized", Detail: "missing or wrong bearer token (see api.token in the data dir)"})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		h(w, r)
	})
}

// Error is an API error: HTTP status, a stable kind for programs, and a
// detail for people. Backends return it (or an error wrapping it) to choose
// the status; anything else is a 500.
type Error struct {
	Status int    `json:"-"`
	Kind   string `json:"error"`
	Detail string `json:"detail"`
	// Field names the request field at fault, when there is one. Left
	// empty, writeError takes it from a detail that starts the API's way,
	// `field "x": …` (FieldOf).
	Field string `json:"field,omitempty"`
}

func (e *Error) Error() string { return e.Kind + ": " + e.Detail }

// Errorf builds an *Error.
func Errorf(status int, kind, format string, args ...any) *Error {
	return &Error{Status: status, Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

// WriteError writes err as {error, detail} with its status (500 unless err
// is or wraps an *Error). For routes added with Handle.
func WriteError(w http.ResponseWriter, err error) { writeError(w, err) }

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

func writeError(w http.ResponseWriter, err error) {
	var ae *Error
	if !errors.As(err, &ae) {
		ae = &Error{Status: http.StatusInternalServerError, Kind: "internal", Detail: err.Error()}
	}
	if ae.Field == "" {
		if f := FieldOf(ae.Detail); f != "" {
			e := *ae
			e.Field = f
			ae = &e
		}
	}
	writeJSON(w, ae.Status, ae)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// Decode reads a strict JSON body into v: unknown fields, wrong types,
// trailing data and bodies over MaxBody are errors naming the problem.
func Decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var ute *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &mbe):
			return Errorf(http.StatusRequestEntityTooLarge, "body_too_large", "request body over %d bytes", mbe.Limit)
		case errors.Is(err, io.EOF):
			return Errorf(http.StatusBadRequest, "bad_request", "empty body: a JSON object is required")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return Errorf(http.StatusBadRequest, "bad_request", "malformed JSON: body ends in the middle of a value")
		case errors.As(err, &ute):
			return Errorf(http.StatusBadRequest, "bad_request", "field %q: want %s, got %s", ute.Field, ute.Type, ute.Value)
		case errors.As(err, &se):
			return Errorf(http.StatusBadRequest, "bad_request", "malformed JSON at byte %d: %v", se.Offset, err)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return Errorf(http.StatusBadRequest, "bad_request", "%s", strings.TrimPrefix(err.Error(), "json: "))
		default:
			return Errorf(http.StatusBadRequest, "bad_request", "%v", err)
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return Errorf(http.StatusRequestEntityTooLarge, "body_too_large", "request body over %d bytes", mbe.Limit)
		}
		return Errorf(http.StatusBadRequest, "bad_request", "trailing data after the JSON object")
	}
	return nil
}

// metricsHandler serves the node's registry (ours and go-libp2p's).
func metricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
