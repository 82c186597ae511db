package itest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/web4p2p/web4p2p/node"
	"github.com/web4p2p/web4p2p/node/agentapi"
	"github.com/web4p2p/web4p2p/node/api"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/trust"
)

// bearer adds the control API token to every request of an MCP client.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

func apiAgent(t *testing.T, name string) *agent {
	return newAgent(t, name, func(c *node.Config) { c.APIAddr = "127.0.0.1:0" })
}

func (a *agent) token() string {
	a.t.Helper()
	tok, err := api.ReadToken(filepath.Join(a.cfg.DataDir, api.TokenFile))
	if err != nil {
		a.t.Fatal(err)
	}
	return tok
}

// mcpSession connects the Go SDK's MCP client to a's /mcp (Streamable HTTP).
func mcpSession(t *testing.T, ctx context.Context, a *agent) *mcp.ClientSession {
	t.Helper()
	tr := &mcp.StreamableClientTransport{Endpoint: "http://" + a.n.APIAddr() + node.MCPPath,
		HTTPClient: &http.Client{Transport: bearer{a.token(), http.DefaultTransport}}}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "itest", Version: "1"}, nil).Connect(ctx, tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func callTool(t *testing.T, ctx context.Context, cs *mcp.ClientSession, name string, args map[string]any, out any) {
	t.Helper()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if res.IsError {
		b, _ := json.Marshal(res.Content)
		t.Fatalf("%s: tool error %s", name, b)
	}
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s: %v in %s", name, err, b)
	}
}

// TestMCPToolsEndToEnd drives a real node's MCP endpoint with the official
// Go SDK client: tools listed; peers with trust; an INTENT answered by the
// peer; a fact proposed; ask_human held while consent is revoked; bad
// arguments are invalid-params errors naming the argument; unauthenticated
// requests are refused.
func TestMCPToolsEndToEnd(t *testing.T) {
	ctx := ctxFor(t, 60*time.Second)
	a := apiAgent(t, "a")
	b := newAgent(t, "b", nil)
	a.connect(ctx, b)
	a.waitTrust(ctx, b.n.ID(), trust.Probing)
	if err := a.n.Peers().WaitReady(ctx, b.n.ID()); err != nil {
		t.Fatal(err)
	}
	cs := mcpSession(t, ctx, a)

	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, tl := range tools.Tools {
		have[tl.Name] = true
	}
	for _, want := range []string{agentapi.ToolListPeers, agentapi.ToolSendIntent, agentapi.ToolProposeFact, agentapi.ToolVoteFact,
		agentapi.ToolQueryFacts, agentapi.ToolLearn, agentapi.ToolWhy, agentapi.ToolAskHuman} {
		if !have[want] {
			t.Errorf("tool %s not listed (have %v)", want, have)
		}
	}

	var peers agentapi.PeersOut
	callTool(t, ctx, cs, agentapi.ToolListPeers, nil, &peers)
	if peers.Self != a.n.ID().String() || len(peers.Peers) != 1 || peers.Peers[0].PeerID != b.n.ID().String() || peers.Peers[0].Trust != "probing" {
		t.Fatalf("list_peers: %+v", peers)
	}

	var rep api.IntentReplyView
	callTool(t, ctx, cs, agentapi.ToolSendIntent, map[string]any{"peer": b.n.ID().String(), "goal": "ask", "topic": "research"}, &rep)
	if rep.Decision != "accept" || rep.ReplyTo == "" {
		t.Fatalf("send_intent: %+v", rep)
	}

	var fv api.FactView
	callTool(t, ctx, cs, agentapi.ToolProposeFact, map[string]any{"statement": "Water boils at 100 C at sea level", "domain": "science", "confidence": 0.9}, &fv)
	if fv.ID == "" || fv.Status == "accepted" {
		t.Fatalf("propose_fact: %+v (a lone proposal is not accepted yet)", fv)
	}
	var facts agentapi.FactsOut
	callTool(t, ctx, cs, agentapi.ToolQueryFacts, map[string]any{"query": "water"}, &facts)
	for _, f := range facts.Facts {
		if f.Status != "accepted" {
			t.Fatalf("query_facts returned a %s fact", f.Status)
		}
	}

	if _, err := a.n.Human().SetConsent(ctx, envelope.ConsentRevoked, nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	var ask agentapi.AskOut
	callTool(t, ctx, cs, agentapi.ToolAskHuman, map[string]any{"topic": "work", "question": "ship it?", "alternatives": []string{"yes", "no"}}, &ask)
	if ask.Status != "held" || !ask.WaitingForHuman {
		t.Fatalf("ask_human with consent revoked: %+v, want held", ask)
	}
	if _, err := a.n.Human().SetConsent(ctx, envelope.ConsentGranted, nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	callTool(t, ctx, cs, agentapi.ToolAskHuman, map[string]any{"topic": "work", "question": "ship it now?", "alternatives": []string{"yes", "no"}}, &ask)
	if ask.Status != "pending" || !ask.WaitingForHuman {
		t.Fatalf("ask_human with consent: %+v, want pending", ask)
	}

	for name, tc := range map[string]struct {
		tool string
		args map[string]any
		want string
	}{
		"bad peer":      {agentapi.ToolSendIntent, map[string]any{"peer": "nope", "goal": "ask", "topic": "x"}, "argument peer"},
		"bad goal":      {agentapi.ToolSendIntent, map[string]any{"peer": b.n.ID().String(), "goal": "conquer", "topic": "x"}, `"goal"`},
		"bad decision":  {agentapi.ToolVoteFact, map[string]any{"fact_id": fv.ID, "decision": "maybe", "confidence": 1}, "argument decision"},
		"unknown fact":  {agentapi.ToolVoteFact, map[string]any{"fact_id": "nope", "decision": "confirm", "confidence": 1}, "unknown_fact"},
		"one choice":    {agentapi.ToolAskHuman, map[string]any{"topic": "t", "question": "q", "alternatives": []string{"only"}}, "argument alternatives"},
		"no uri":        {agentapi.ToolLearn, map[string]any{}, `missing properties: ["uri"]`},
		"bad scheme":    {agentapi.ToolLearn, map[string]any{"uri": "ftp://x"}, "fetch_refused"},
		"why no id":     {agentapi.ToolWhy, map[string]any{"id": ""}, "argument id"},
		"proposal none": {agentapi.ToolProposeFact, map[string]any{"domain": "d", "confidence": 1}, `missing properties: ["statement"]`},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tc.tool, Arguments: tc.args})
			var we *jsonrpc.Error
			switch {
			case errors.As(err, &we):
				if we.Code != jsonrpc.CodeInvalidParams || !strings.Contains(we.Message, tc.want) {
					t.Fatalf("error %d %q, want invalid params naming %q", we.Code, we.Message, tc.want)
				}
			case err != nil:
				t.Fatalf("error %v (%T), want a JSON-RPC invalid-params error", err, err)
			case res.IsError:
				// The SDK checks arguments against the tool's input schema
				// first and reports a missing one as a tool error.
				text := ""
				for _, c := range res.Content {
					if tc, ok := c.(*mcp.TextContent); ok {
						text += tc.Text
					}
				}
				if !strings.Contains(text, tc.want) {
					t.Fatalf("tool error %q, want one naming %q", text, tc.want)
				}
			default:
				t.Fatalf("no error (result %+v), want invalid params naming %q", res, tc.want)
			}
		})
	}

	// Without the token the endpoint answers 401.
	resp, err := http.Post("http://"+a.n.APIAddr()+node.MCPPath, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/mcp without token: HTTP %d", resp.StatusCode)
	}
}

// TestMCPStdioAttachesToRunningNode launches `web4p2p mcp` the way an MCP
// client config does (stdio, the node's data dir) with the Go SDK's
// command transport, against a separately started node; without a node it
// fails with one line saying how to start one.
func TestMCPStdioAttachesToRunningNode(t *testing.T) {
	ctx := ctxFor(t, 60*time.Second)
	dir, stop := startProc(t)
	defer stop()
	cmd := exec.Command(binary(t), "mcp", "--data-dir", dir)
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "itest", Version: "1"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var peers agentapi.PeersOut
	callTool(t, ctx, cs, agentapi.ToolListPeers, nil, &peers)
	if peers.Self == "" {
		t.Fatalf("list_peers over stdio: %+v", peers)
	}
	res, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: agentapi.ResourceFacts})
	if err != nil || len(res.Contents) != 1 || !strings.Contains(res.Contents[0].Text, `"facts"`) {
		t.Fatalf("facts resource: %v %+v", err, res)
	}
	if err := cs.Close(); err != nil {
		t.Logf("close: %v", err)
	}

	out, err := exec.Command(binary(t), "mcp", "--data-dir", t.TempDir()).CombinedOutput()
	if err == nil || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 || !strings.Contains(string(out), "web4p2p start") {
		t.Fatalf("mcp without a node: err=%v out=%q", err, out)
	}
}
