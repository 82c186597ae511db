package agentapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/web4p2p/web4p2p/node/api"
	"github.com/web4p2p/web4p2p/node/human"
	"github.com/web4p2p/web4p2p/node/learn"
)

// MaxReply bounds one control API reply the client reads.
const MaxReply = 8 << 20

// Client calls a node's control API. Its methods are Deps.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// NewClient returns a client of the API at base (e.g. "http://127.0.0.1:7777")
// with the bearer token; hc nil means a default client.
func NewClient(base, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{base: strings.TrimRight(base, "/"), token: token, http: hc}
}

// InProcess returns a client that serves its requests with h directly, for
// an endpoint inside the API server itself (no socket, same checks).
func InProcess(h http.Handler, token string) *Client {
	return NewClient("http://in-process", token, &http.Client{Transport: handlerTransport{h}})
}

type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := newRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.response(r), nil
}

// recorder is a minimal buffered http.ResponseWriter (the API replies the
// client reads are whole JSON documents, never streams).
type recorder struct {
	hdr    http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{hdr: http.Header{}} }

func (r *recorder) Header() http.Header { return r.hdr }
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}
func (r *recorder) response(req *http.Request) *http.Response {
	r.WriteHeader(http.StatusOK)
	return &http.Response{StatusCode: r.status, Status: http.StatusText(r.status), Header: r.hdr,
		Body: io.NopCloser(&r.body), ContentLength: int64(r.body.Len()), Request: req, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
}

// ErrUnreachable: the node's API could not be reached.
var ErrUnreachable = errors.New("node not reachable")

// Call does one request; out may be nil. A non-2xx reply is an *api.Error
// carrying the API's kind and detail (and status).
func (c *Client) Call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w at %s: %v", ErrUnreachable, c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxReply))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		e := &api.Error{Status: resp.StatusCode}
		if json.Unmarshal(b, e) != nil || e.Kind == "" {
			e.Kind, e.Detail = "http_error", fmt.Sprintf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
		}
		return e
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// Status is GET /v1/status.
func (c *Client) Status(ctx context.Context) (api.Status, error) {
	var s api.Status
	return s, c.Call(ctx, "GET", "/v1/status", nil, &s)
}

// Peers is GET /v1/peers.
func (c *Client) Peers(ctx context.Context) ([]api.Peer, error) {
	var out struct {
		Peers []api.Peer `json:"peers"`
	}
	return out.Peers, c.Call(ctx, "GET", "/v1/peers", nil, &out)
}

// Trust is GET /v1/trust.
func (c *Client) Trust(ctx context.Context) ([]api.TrustEntry, error) {
	var out struct {
		Trust []api.TrustEntry `json:"trust"`
	}
	return out.Trust, c.Call(ctx, "GET", "/v1/trust", nil, &out)
}

// IntentArgs is the body of POST /v1/cip/{peer}/intent.
type IntentArgs struct {
	Goal      string `json:"goal" jsonschema:"CIP goal: verify_knowledge|ask|learn|propose_solution|test_hypothesis"`
	Topic     string `json:"topic" jsonschema:"what the intent is about"`
	Priority  string `json:"priority,omitempty" jsonschema:"low|normal|high (default normal)"`
	Context   string `json:"context,omitempty" jsonschema:"free text for the peer"`
	TimeoutMS int    `json:"timeout_ms,omitempty" jsonschema:"how long to wait for the answer, at most 60000 (default 10000)"`
}

// SendIntent is POST /v1/cip/{peer}/intent.
func (c *Client) SendIntent(ctx context.Context, peerID string, a IntentArgs) (api.IntentReplyView, error) {
	var out api.IntentReplyView
	return out, c.Call(ctx, "POST", "/v1/cip/"+url.PathEscape(peerID)+"/intent", a, &out)
}

// Facts is GET /v1/facts.
func (c *Client) Facts(ctx context.Context) ([]api.FactView, error) {
	var out struct {
		Facts []api.FactView `json:"facts"`
	}
	return out.Facts, c.Call(ctx, "GET", "/v1/facts", nil, &out)
}

// Fact is GET /v1/facts/{id}.
func (c *Client) Fact(ctx context.Context, id string) (api.FactView, error) {
	var out api.FactView
	return out, c.Call(ctx, "GET", "/v1/facts/"+url.PathEscape(id), nil, &out)
}

// ProposeArgs is the body of POST /v1/facts.
type ProposeArgs struct {
	Statement  string   `json:"statement" jsonschema:"the fact, one sentence"`
	Domain     string   `json:"domain" jsonschema:"the knowledge domain, e.g. science"`
	Confidence float64  `json:"confidence" jsonschema:"within [0,1]"`
	Sources    []string `json:"sources,omitempty" jsonschema:"URIs backing it"`
	Context    string   `json:"context,omitempty"`
}

// ProposeFact is POST /v1/facts.
func (c *Client) ProposeFact(ctx context.Context, a ProposeArgs) (api.FactView, error) {
	if a.Sources == nil {
		a.Sources = []string{}
	}
	var out api.FactView
	return out, c.Call(ctx, "POST", "/v1/facts", a, &out)
}

// VoteArgs is the body of POST /v1/facts/{id}/vote (plus the id).
type VoteArgs struct {
	FactID     string  `json:"fact_id" jsonschema:"the fact voted on"`
	Decision   string  `json:"decision" jsonschema:"confirm|reject"`
	Confidence float64 `json:"confidence" jsonschema:"within [0,1]"`
	Notes      string  `json:"notes,omitempty"`
}

// VoteFact is POST /v1/facts/{id}/vote.
func (c *Client) VoteFact(ctx context.Context, a VoteArgs) (api.FactView, error) {
	var out api.FactView
	body := map[string]any{"decision": a.Decision, "confidence": a.Confidence, "notes": a.Notes}
	return out, c.Call(ctx, "POST", "/v1/facts/"+url.PathEscape(a.FactID)+"/vote", body, &out)
}

// Learn is POST /v1/lip/learn.
func (c *Client) Learn(ctx context.Context, r learn.Request) (learn.Result, error) {
	var out learn.Result
	return out, c.Call(ctx, "POST", "/v1/lip/learn", r, &out)
}

// Why is GET /v1/why/{id}: the causal chain, as the API gives it.
func (c *Client) Why(ctx context.Context, id string) (json.RawMessage, error) {
	var out json.RawMessage
	return out, c.Call(ctx, "GET", "/v1/why/"+url.PathEscape(id), nil, &out)
}

// Ask is POST /v1/human/ask.
func (c *Client) Ask(ctx context.Context, q human.Question) (human.AskResult, error) {
	var out human.AskResult
	return out, c.Call(ctx, "POST", "/v1/human/ask", q, &out)
}

// Decisions is GET /v1/human/decisions.
func (c *Client) Decisions(ctx context.Context) ([]human.PendingDecision, error) {
	var out struct {
		Decisions []human.PendingDecision `json:"decisions"`
	}
	return out.Decisions, c.Call(ctx, "GET", "/v1/human/decisions", nil, &out)
}
