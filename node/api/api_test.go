package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/metrics"
	"github.com/web4p2p/web4p2p/node/peers"
	"github.com/web4p2p/web4p2p/node/rtt"
	"github.com/web4p2p/web4p2p/trust"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const peerA = "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf"

// fp1 is the fingerprint of a blacklisted peer in the test ledger.
var fp1 = strings.Repeat("ab", 32)

// memBackend is an in-memory Backend for testing the HTTP layer alone; the
// real node backend is exercised end to end in itest.
type memBackend struct {
	mu     sync.Mutex
	queues map[string][][]byte
	open   map[string]bool
	broker *events.Broker
	reg    *prometheus.Registry
	trust  map[string]string
}

func newMem() *memBackend {
	return &memBackend{queues: map[string][][]byte{}, open: map[string]bool{}, broker: events.NewBroker(100),
		reg: metrics.NewRegistry(), trust: map[string]string{fp1: "blacklisted"}}
}

func (m *memBackend) Status() Status { return Status{PeerID: peerA, AgentID: "a", Presence: "diffuse"} }
func (m *memBackend) Peers() []Peer  { return nil }
func (m *memBackend) Connect(ctx context.Context, ai peer.AddrInfo) (Peer, error) {
	return Peer{PeerID: ai.ID.String(), Connected: true}, nil
}
func (m *memBackend) Trust() []TrustEntry { return nil }
func (m *memBackend) SetTrust(fp string, want trust.State, reason string) (TrustEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.trust[fp]; !ok {
		return TrustEntry{}, ErrNotInLedger
	}
	if want != trust.Probing {
		return TrustEntry{}, fmt.Errorf("%w: only probing in this test backend", ErrOverrideRefused)
	}
	m.trust[fp] = "probing"
	return TrustEntry{Fingerprint: fp, State: "probing", LastCause: reason}, nil
}
func (m *memBackend) key(p peer.ID, ch rtt.Channel) (string, error) {
	if p.String() != peerA {
		return "", fmt.Errorf("%w: no session with %s", peers.ErrUnknownPeer, p)
	}
	return p.String() + "/" + ch.String(), nil
}
func (m *memBackend) OpenChannel(ctx context.Context, p peer.ID, ch rtt.Channel) error {
	k, err := m.key(p, ch)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.open[k] = true
	m.mu.Unlock()
	return nil
}
func (m *memBackend) SendApp(ctx context.Context, p peer.ID, ch rtt.Channel, data []byte) error {
	k, err := m.key(p, ch)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.open[k] {
		return fmt.Errorf("%w: %s is not open", peers.ErrChannelClosed, ch)
	}
	m.queues[k] = append(m.queues[k], data)
	return nil
}
func (m *memBackend) ReceiveApp(ctx context.Context, p peer.ID, ch rtt.Channel) ([]byte, error) {
	k, err := m.key(p, ch)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if q := m.queues[k]; len(q) > 0 {
		m.queues[k] = q[1:]
		m.mu.Unlock()
		return q[0], nil
	}
	m.mu.Unlock()
	<-ctx.Done()
	return nil, ctx.Err()
}
func (m *memBackend) CloseApp(p peer.ID, ch rtt.Channel) error {
	k, err := m.key(p, ch)
	if err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.open, k)
	m.mu.Unlock()
	return nil
}
func (m *memBackend) Shutdown(ctx context.Context, p peer.ID) error { return nil }

// backend serves m as the node and channel areas; the other areas are
// absent (503).
func (m *memBackend) backend() Backend {
	return Backend{Node: m, Channels: m, Events: m.broker, Metrics: m.reg}
}

type harness struct {
	t     *testing.T
	base  string
	token string
	be    *memBackend
	em    *events.Emitter
}

func start(t *testing.T) *harness {
	t.Helper()
	tok, err := LoadOrCreateToken(filepath.Join(t.TempDir(), TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	be := newMem()
	em := events.NewEmitter(peerA, be.broker, nil)
	s, err := New(Config{Addr: "127.0.0.1:0", Token: tok, Events: em}, be.backend())
	if err != nil {
		t.Fatal(err)
	}
	addr, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		be.broker.Close()
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		if err := s.Close(); err != nil {
			t.Error("second close:", err)
		}
	})
	return &harness{t: t, base: "http://" + addr, token: tok, be: be, em: em}
}

func (h *harness) do(method, path, token string, body io.Reader) (int, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.base+path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, v
}

func TestAuthRequiredEverywhereNoSideEffect(t *testing.T) {
	h := start(t)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/status", ""},
		{"GET", "/metrics", ""},
		{"GET", "/v1/events", ""},
		{"POST", "/v1/trust/" + fp1, `{"state":"probing","reason":"x"}`},
		{"GET", "/v1/nope", ""},
	} {
		for _, tok := range []string{"", "wrong-token"} {
			code, v := h.do(c.method, c.path, tok, strings.NewReader(c.body))
			if code != 401 || v["error"] != "unauthorized" {
				t.Errorf("%s %s token=%q: %d %v", c.method, c.path, tok, code, v)
			}
		}
	}
	if h.be.trust[fp1] != "blacklisted" {
		t.Fatal("unauthorized request had a side effect")
	}
}

func TestBadBodies(t *testing.T) {
	h := start(t)
	cases := []struct {
		body  string
		code  int
		want  string
		field string // the reply's "field" member; "" = absent
	}{
		{`{"addr":`, 400, "malformed JSON", ""},
		{`{"addr":"x","extra":1}`, 400, "unknown field", "extra"},
		{`{"addr":5}`, 400, `field "addr"`, "addr"},
		{`{"addr":"/ip4/1.2.3.4/tcp/1/p2p/x"} {}`, 400, "trailing data", ""},
		{``, 400, "empty body", ""},
		{`{}`, 400, "required", "addr"},
		{`{"addr":"` + strings.Repeat("a", MaxBody) + `"}`, 413, "over", ""},
	}
	for _, c := range cases {
		code, v := h.do("POST", "/v1/connect", h.token, strings.NewReader(c.body))
		if code != c.code || !strings.Contains(fmt.Sprint(v["detail"]), c.want) {
			t.Errorf("body %.40q: got %d %v, want %d containing %q", c.body, code, v, c.code, c.want)
		}
		if f, _ := v["field"].(string); f != c.field {
			t.Errorf("body %.40q: field %q, want %q", c.body, f, c.field)
		}
	}
	if code, v := h.do("GET", "/v1/nope", h.token, nil); code != 404 || v["error"] != "not_found" {
		t.Errorf("unknown path: %d %v", code, v)
	}
}

func TestChannelLifecycleAndErrors(t *testing.T) {
	h := start(t)
	p := "/v1/rtt/" + peerA
	if code, v := h.do("POST", p+"/send", h.token, strings.NewReader(`{"channel":"control","data":"aGk="}`)); code != 409 || v["error"] != "channel_closed" {
		t.Fatalf("send on closed channel: %d %v", code, v)
	}
	if code, _ := h.do("POST", p+"/open", h.token, strings.NewReader(`{"channel":"control"}`)); code != 200 {
		t.Fatal("open failed")
	}
	if code, _ := h.do("POST", p+"/send", h.token, strings.NewReader(`{"channel":"control","data":"aGk="}`)); code != 200 {
		t.Fatal("send failed")
	}
	code, v := h.do("POST", p+"/receive", h.token, strings.NewReader(`{"channel":"control","timeout_ms":1000}`))
	if code != 200 || v["data"] != "aGk=" {
		t.Fatalf("receive: %d %v", code, v)
	}
	code, v = h.do("POST", p+"/receive", h.token, strings.NewReader(`{"channel":"control","timeout_ms":50}`))
	if code != 504 || v["error"] != "timeout" {
		t.Fatalf("receive timeout: %d %v", code, v)
	}
	if code, v := h.do("POST", p+"/receive", h.token, strings.NewReader(`{"channel":"control","timeout_ms":-1}`)); code != 400 {
		t.Fatalf("negative timeout: %d %v", code, v)
	}
	if code, v := h.do("POST", "/v1/rtt/someone-else/open", h.token, strings.NewReader(`{"channel":"control"}`)); code != 400 || v["error"] != "bad_peer" {
		t.Fatalf("not a PeerID: %d %v", code, v)
	}
	other := newPeerID(t)
	if code, v := h.do("POST", "/v1/rtt/"+other+"/open", h.token, strings.NewReader(`{"channel":"control"}`)); code != 404 || v["error"] != "unknown_peer" {
		t.Fatalf("unknown peer: %d %v", code, v)
	}
	if code, v := h.do("POST", p+"/open", h.token, strings.NewReader(`{"channel":"gossip"}`)); code != 400 || v["error"] != "bad_channel" {
		t.Fatalf("bad channel: %d %v", code, v)
	}
	if code, _ := h.do("POST", p+"/data-without-channel", h.token, strings.NewReader(`{}`)); code != 404 {
		t.Fatal("bogus subpath accepted")
	}
	if code, v := h.do("POST", p+"/close", h.token, strings.NewReader(`{"channel":"control"}`)); code != 200 || v["open"] != false {
		t.Fatalf("close: %d %v", code, v)
	}
}

func TestTrustOverrideAndStatus(t *testing.T) {
	h := start(t)
	code, v := h.do("POST", "/v1/trust/"+fp1, h.token, strings.NewReader(`{"state":"probing","reason":"operator checked the logs"}`))
	if code != 200 || v["state"] != "probing" || v["last_cause"] != "operator checked the logs" {
		t.Fatalf("override: %d %v", code, v)
	}
	if code, _ := h.do("POST", "/v1/trust/"+fp1, h.token, strings.NewReader(`{"state":"probing"}`)); code != 400 {
		t.Fatal("override without reason accepted")
	}
	if code, v := h.do("POST", "/v1/trust/"+fp1, h.token, strings.NewReader(`{"state":"trusted","reason":"x"}`)); code != 409 || v["error"] != "override_refused" {
		t.Fatalf("override to trusted: %d %v", code, v)
	}
	if code, v := h.do("POST", "/v1/trust/"+strings.Repeat("cd", 32), h.token, strings.NewReader(`{"state":"probing","reason":"x"}`)); code != 404 || v["error"] != "unknown_peer" {
		t.Fatalf("override of a stranger: %d %v", code, v)
	}
	if code, v := h.do("POST", "/v1/trust/nobody", h.token, strings.NewReader(`{"state":"probing","reason":"x"}`)); code != 400 || v["error"] != "bad_peer" {
		t.Fatalf("override of a non-peer: %d %v", code, v)
	}
	// An area the node does not run answers 503, naming it.
	if code, v := h.do("GET", "/v1/facts", h.token, nil); code != 503 || v["error"] != "unavailable" {
		t.Fatalf("facts without a knowledge area: %d %v", code, v)
	}
	if code, v := h.do("GET", "/v1/status", h.token, nil); code != 200 || v["peer_id"] != peerA {
		t.Fatalf("status: %d %v", code, v)
	}
	req, _ := http.NewRequest("GET", h.base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+h.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(b, []byte("go_goroutines")) {
		t.Fatalf("metrics body lacks go collector: %.200s", b)
	}
}

// readSSE reads events from an SSE body until n have arrived.
func readSSE(t *testing.T, body io.Reader, n int) []events.Event {
	t.Helper()
	sc := bufio.NewScanner(body)
	var out []events.Event
	for sc.Scan() && len(out) < n {
		line := sc.Text()
		if strings.HasPrefix(line, "data: ") {
			var e events.Event
			if err := json.Unmarshal([]byte(line[6:]), &e); err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
	}
	return out
}

func TestSSEFilterAndResume(t *testing.T) {
	h := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", h.base+"/v1/events?type=web4.rtt.", nil)
	req.Header.Set("Authorization", "Bearer "+h.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("sse: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	first := h.em.Emit("web4.rtt.session_up", "", nil)
	h.em.Emit("web4.trust.transition", "", nil)
	h.em.Emit("web4.rtt.session_down", "", nil)
	got := readSSE(t, resp.Body, 2)
	resp.Body.Close()
	if len(got) != 2 || got[0].Type != "web4.rtt.session_up" || got[1].Type != "web4.rtt.session_down" {
		t.Fatalf("live filtered stream: %+v", got)
	}
	// Resume after the first event, unfiltered: the two later ones come back.
	req2, _ := http.NewRequestWithContext(ctx, "GET", h.base+"/v1/events", nil)
	req2.Header.Set("Authorization", "Bearer "+h.token)
	req2.Header.Set("Last-Event-ID", first.ID)
	resp2, err := http.DefaultClient.Do(req2)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	got = readSSE(t, resp2.Body, 2)
	if len(got) != 2 || got[0].Type != "web4.trust.transition" || got[1].Type != "web4.rtt.session_down" {
		t.Fatalf("resumed stream: %+v", got)
	}
	for _, e := range got {
		if err := events.ValidateEvent(e); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRefusesRemoteBindWithoutFlag(t *testing.T) {
	if err := CheckBind("0.0.0.0:7000", false); !errors.Is(err, ErrRemoteBind) || !strings.Contains(err.Error(), "--api-allow-remote") {
		t.Fatalf("got %v", err)
	}
	for _, a := range []string{"127.0.0.1:0", "[::1]:0", "localhost:1"} {
		if err := CheckBind(a, false); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
	if err := CheckBind("0.0.0.0:7000", true); err != nil {
		t.Fatal(err)
	}
	be := newMem()
	s, _ := New(Config{Addr: "0.0.0.0:0", Token: strings.Repeat("x", 64)}, be.backend())
	if _, err := s.Start(); !errors.Is(err, ErrRemoteBind) {
		t.Fatalf("server started on 0.0.0.0 without the flag: %v", err)
	}
	s.Close()
}

func TestTokenFileRules(t *testing.T) {
	p := filepath.Join(t.TempDir(), TokenFile)
	a, err := LoadOrCreateToken(p)
	if err != nil || len(a) != 64 {
		t.Fatalf("%q %v", a, err)
	}
	b, _ := LoadOrCreateToken(p)
	if a != b {
		t.Fatal("token changed on reload")
	}
	os.Chmod(p, 0o644)
	if _, err := LoadOrCreateToken(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("loose token accepted: %v", err)
	}
}

func TestFieldOf(t *testing.T) {
	for detail, want := range map[string]string{
		`field "addr": required`:                        "addr",
		`fields "state" and "reason" are required`:      "state",
		`unknown field "extra"`:                         "extra",
		`field "consent_scope[2]": too long`:            "consent_scope[2]",
		`field "": empty`:                               "",
		`field "unterminated`:                           "",
		`field "two words": x`:                          "",
		`rtt: handshake failed: field "x" in a message`: "",
		`goal: must be ask`:                             "",
		``:                                              "",
	} {
		if got := FieldOf(detail); got != want {
			t.Errorf("FieldOf(%q) = %q, want %q", detail, got, want)
		}
	}
}

// FuzzFieldOf: any detail gives a field that the detail itself quotes
// at its start, and never panics.
func FuzzFieldOf(f *testing.F) {
	f.Add(`field "addr": required`)
	f.Add(`fields "a" and "b"`)
	f.Add(`unknown field "`)
	f.Fuzz(func(t *testing.T, detail string) {
		got := FieldOf(detail)
		if got != "" && !strings.Contains(detail, `"`+got+`"`) {
			t.Fatalf("FieldOf(%q) = %q, not quoted in the detail", detail, got)
		}
	})
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"channel":"control","data":"aGk=","timeout_ms":5}`))
	f.Add([]byte(`{"channel":1}`))
	f.Add([]byte(`{}{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, _ := http.NewRequest("POST", "/", bytes.NewReader(b))
		var v struct {
			Channel   string `json:"channel"`
			Data      []byte `json:"data"`
			TimeoutMS int    `json:"timeout_ms"`
		}
		if err := Decode(r, &v); err != nil {
			var ae *Error
			if !errors.As(err, &ae) || ae.Status < 400 {
				t.Fatalf("decode error not an API error: %v", err)
			}
		}
	})
}

// newPeerID returns a fresh, valid PeerID no backend knows.
func newPeerID(t *testing.T) string {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}
