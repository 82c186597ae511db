package agentapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/web4p2p/web4p2p/node/api"
	"github.com/web4p2p/web4p2p/node/human"
	"github.com/web4p2p/web4p2p/node/learn"
)

// Deps is what the MCP server needs of a node: control API calls (Client).
type Deps interface {
	Status(ctx context.Context) (api.Status, error)
	Peers(ctx context.Context) ([]api.Peer, error)
	Trust(ctx context.Context) ([]api.TrustEntry, error)
	SendIntent(ctx context.Context, peerID string, a IntentArgs) (api.IntentReplyView, error)
	Facts(ctx context.Context) ([]api.FactView, error)
	Fact(ctx context.Context, id string) (api.FactView, error)
	ProposeFact(ctx context.Context, a ProposeArgs) (api.FactView, error)
	VoteFact(ctx context.Context, a VoteArgs) (api.FactView, error)
	Learn(ctx context.Context, r learn.Request) (learn.Result, error)
	Why(ctx context.Context, id string) (json.RawMessage, error)
	Ask(ctx context.Context, q human.Question) (human.AskResult, error)
}

// Tool names, as MCP clients list them.
const (
	ToolListPeers   = "list_peers"
	ToolSendIntent  = "send_intent"
	ToolProposeFact = "propose_fact"
	ToolVoteFact    = "vote_fact"
	ToolQueryFacts  = "query_facts"
	ToolLearn       = "learn_url"
	ToolWhy         = "why"
	ToolAskHuman    = "ask_human"
)

// Resource URIs.
const (
	ResourceFacts = "web4p2p://facts"
	ResourcePeers = "web4p2p://peers"
	// ResourceFact is the template of one fact.
	ResourceFact = "web4p2p://facts/{id}"
)

// NewServer returns the node's MCP server over d; version is the node's.
func NewServer(d Deps, version string) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "web4p2p", Title: "web4p2p agent node", Version: version}, &mcp.ServerOptions{
		Instructions: "Tools of a web4p2p mesh node: peers and their trust, CIP intents to peers, " +
			"the knowledge base (accepted facts only, with confirmers), learning from a URL, why, and asking the human " +
			"(an action the consent gate holds is waiting for the human, not done).",
	})
	addTools(s, d)
	addResources(s, d)
	return s
}

// HTTPHandler serves the MCP server as Streamable HTTP (one server per
// session, all over d).
func HTTPHandler(d Deps, version string) http.Handler {
	srv := NewServer(d, version)
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
}

// PeerView is one peer as the list_peers tool shows it: the connection and
// the trust ledger's record side by side.
type PeerView struct {
	api.Peer
	TrustSince string `json:"trust_since,omitempty"`
	LastEvent  string `json:"trust_last_event,omitempty"`
	LastCause  string `json:"trust_last_cause,omitempty"`
}

// PeersOut is the list_peers result.
type PeersOut struct {
	Self  string     `json:"self"`
	Peers []PeerView `json:"peers"`
	// Ledger has the trust records of peers not connected now.
	Ledger []api.TrustEntry `json:"ledger"`
}

// FactsOut is the query_facts result.
type FactsOut struct {
	Facts []api.FactView `json:"facts"`
}

// QueryArgs are query_facts' arguments.
type QueryArgs struct {
	Query  string `json:"query,omitempty" jsonschema:"words the statement must contain (case-insensitive)"`
	Domain string `json:"domain,omitempty" jsonschema:"only facts of this domain"`
}

// LearnArgs are learn_url's arguments.
type LearnArgs struct {
	URI        string   `json:"uri" jsonschema:"http(s) URL to read"`
	Statements []string `json:"statements,omitempty" jsonschema:"statements to look for verbatim"`
}

// WhyArgs are why's arguments.
type WhyArgs struct {
	ID string `json:"id" jsonschema:"a fact id, msg_id or decision id"`
}

// AskArgs are ask_human's arguments.
type AskArgs struct {
	Topic        string   `json:"topic" jsonschema:"what the question is about (consent scope is per topic)"`
	Question     string   `json:"question"`
	Alternatives []string `json:"alternatives" jsonschema:"at least two choices"`
}

// AskOut is ask_human's result.
type AskOut struct {
	human.AskResult
	// WaitingForHuman is always true: the human answers later.
	WaitingForHuman bool   `json:"waiting_for_human"`
	Message         string `json:"message"`
}

func addTools(s *mcp.Server, d Deps) {
	mcp.AddTool(s, &mcp.Tool{Name: ToolListPeers, Description: "List the node's peers with their connection, CIP readiness and trust state (SPEC §5)."},
		func(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, PeersOut, error) {
			st, err := d.Status(ctx)
			if err != nil {
				return nil, PeersOut{}, toolErr(err)
			}
			ps, err := d.Peers(ctx)
			if err != nil {
				return nil, PeersOut{}, toolErr(err)
			}
			tr, err := d.Trust(ctx)
			if err != nil {
				return nil, PeersOut{}, toolErr(err)
			}
			return nil, joinPeers(st.PeerID, ps, tr), nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: ToolSendIntent, Description: "Send a CIP INTENT to a peer and wait for its answer (accept, or defer with a reason)."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in struct {
			Peer string `json:"peer" jsonschema:"the peer's PeerID"`
			IntentArgs
		}) (*mcp.CallToolResult, api.IntentReplyView, error) {
			if _, err := peer.Decode(in.Peer); err != nil {
				return nil, api.IntentReplyView{}, argErr("peer", "%q is not a PeerID: %v", in.Peer, err)
			}
			out, err := d.SendIntent(ctx, in.Peer, in.IntentArgs)
			return nil, out, toolErr(err)
		})
	mcp.AddTool(s, &mcp.Tool{Name: ToolProposeFact, Description: "Propose a fact to the mesh (FACT_PROPOSE); peers vote, the quorum accepts or rejects it."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in ProposeArgs) (*mcp.CallToolResult, api.FactView, error) {
			if strings.TrimSpace(in.Statement) == "" {
				return nil, api.FactView{}, argErr("statement", "required")
			}
			out, err := d.ProposeFact(ctx, in)
			return nil, out, toolErr(err)
		})
	mcp.AddTool(s, &mcp.Tool{Name: ToolVoteFact, Description: "Vote on a proposed fact: confirm or reject, with a confidence."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in VoteArgs) (*mcp.CallToolResult, api.FactView, error) {
			if in.FactID == "" {
				return nil, api.FactView{}, argErr("fact_id", "required")
			}
			if in.Decision != "confirm" && in.Decision != "reject" {
				return nil, api.FactView{}, argErr("decision", "want confirm or reject, got %q", in.Decision)
			}
			out, err := d.VoteFact(ctx, in)
			return nil, out, toolErr(err)
		})
	mcp.AddTool(s, &mcp.Tool{Name: ToolQueryFacts, Description: "Query the knowledge base: accepted facts only, each with its proposer, confirmers and when it was proposed; use why for the full provenance."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in QueryArgs) (*mcp.CallToolResult, FactsOut, error) {
			fs, err := d.Facts(ctx)
			if err != nil {
				return nil, FactsOut{}, toolErr(err)
			}
			return nil, FactsOut{Facts: acceptedMatching(fs, in)}, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: ToolLearn, Description: "Learn from a URL (LIP): fetch it, extract claims; claims enter the knowledge base only once accepted."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in LearnArgs) (*mcp.CallToolResult, any, error) {
			if in.URI == "" {
				return nil, nil, argErr("uri", "required (an http or https URL)")
			}
			out, err := d.Learn(ctx, learn.Request{URI: in.URI, Statements: in.Statements})
			if err != nil {
				return nil, nil, toolErr(err)
			}
			return nil, out, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: ToolWhy, Description: "Explain why: the causal chain behind a fact, message or decision."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in WhyArgs) (*mcp.CallToolResult, any, error) {
			if in.ID == "" {
				return nil, nil, argErr("id", "required")
			}
			raw, err := d.Why(ctx, in.ID)
			if err != nil {
				return nil, nil, toolErr(err)
			}
			var out any
			if err := json.Unmarshal(raw, &out); err != nil {
				return nil, nil, err
			}
			return nil, out, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: ToolAskHuman, Description: "Ask the human a question with alternatives, through the consent gate and prompt pacing. The answer comes later as a decision; a held question waits for the human's consent."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in AskArgs) (*mcp.CallToolResult, AskOut, error) {
			switch {
			case strings.TrimSpace(in.Topic) == "":
				return nil, AskOut{}, argErr("topic", "required")
			case strings.TrimSpace(in.Question) == "":
				return nil, AskOut{}, argErr("question", "required")
			case len(in.Alternatives) < 2:
				return nil, AskOut{}, argErr("alternatives", "at least two are required, got %d", len(in.Alternatives))
			}
			res, err := d.Ask(ctx, human.Question{Topic: in.Topic, Question: in.Question, Alternatives: in.Alternatives})
			if err != nil {
				return nil, AskOut{}, toolErr(err)
			}
			out := AskOut{AskResult: res, WaitingForHuman: true}
			if res.Status == "held" {
				out.Message = "held by the consent gate: waiting for the human to give consent for topic " + in.Topic
			} else {
				out.Message = "asked; waiting for the human's decision (pacing: " + res.Paced + ")"
			}
			return nil, out, nil
		})
}

func joinPeers(self string, ps []api.Peer, tr []api.TrustEntry) PeersOut {
	out := PeersOut{Self: self, Peers: []PeerView{}, Ledger: []api.TrustEntry{}}
	seen := map[string]bool{}
	byPeer := map[string]api.TrustEntry{}
	for _, e := range tr {
		byPeer[e.PeerID] = e
	}
	for _, p := range ps {
		v := PeerView{Peer: p}
		if e, ok := byPeer[p.PeerID]; ok {
			v.TrustSince, v.LastEvent, v.LastCause = e.Since, e.LastEvent, e.LastCause
			seen[p.PeerID] = true
		}
		out.Peers = append(out.Peers, v)
	}
	for _, e := range tr {
		if !seen[e.PeerID] {
			out.Ledger = append(out.Ledger, e)
		}
	}
	return out
}

func acceptedMatching(fs []api.FactView, q QueryArgs) []api.FactView {
	out := []api.FactView{}
	words := strings.Fields(strings.ToLower(q.Query))
	for _, f := range fs {
		if f.Status != "accepted" || (q.Domain != "" && f.Domain != q.Domain) {
			continue
		}
		st := strings.ToLower(f.Statement)
		match := true
		for _, w := range words {
			if !strings.Contains(st, w) {
				match = false
				break
			}
		}
		if match {
			out = append(out, f)
		}
	}
	return out
}

// argErr is an invalid-params JSON-RPC error naming the argument.
func argErr(arg, format string, args ...any) error {
	return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("argument %s: %s", arg, fmt.Sprintf(format, args...))}
}

// toolErr maps a control API error: a request the node refused as bad
// (400, 404, 413, 422) is invalid params with the API's detail (which names
// the field); anything else stays a tool error (isError result).
func toolErr(err error) error {
	if err == nil {
		return nil
	}
	var ae *api.Error
	if errors.As(err, &ae) {
		switch ae.Status {
		case http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
			return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: ae.Kind + ": " + ae.Detail}
		}
		return fmt.Errorf("%s: %s", ae.Kind, ae.Detail)
	}
	return err
}

func addResources(s *mcp.Server, d Deps) {
	asJSON := func(uri string, v any) (*mcp.ReadResourceResult, error) {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return nil, err
		}
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uri, MIMEType: "application/json", Text: string(b)}}}, nil
	}
	s.AddResource(&mcp.Resource{URI: ResourceFacts, Name: "facts", Description: "accepted facts of the knowledge base", MIMEType: "application/json"},
		func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			fs, err := d.Facts(ctx)
			if err != nil {
				return nil, toolErr(err)
			}
			return asJSON(req.Params.URI, FactsOut{Facts: acceptedMatching(fs, QueryArgs{})})
		})
	s.AddResource(&mcp.Resource{URI: ResourcePeers, Name: "peers", Description: "peers and their trust", MIMEType: "application/json"},
		func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			st, err := d.Status(ctx)
			if err != nil {
				return nil, toolErr(err)
			}
			ps, err := d.Peers(ctx)
			if err != nil {
				return nil, toolErr(err)
			}
			tr, err := d.Trust(ctx)
			if err != nil {
				return nil, toolErr(err)
			}
			return asJSON(req.Params.URI, joinPeers(st.PeerID, ps, tr))
		})
	s.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: ResourceFact, Name: "fact", Description: "one fact (any status) with its votes' outcome", MIMEType: "application/json"},
		func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			id := strings.TrimPrefix(req.Params.URI, "web4p2p://facts/")
			if id == "" || strings.Contains(id, "/") {
				return nil, mcp.ResourceNotFoundError(req.Params.URI)
			}
			f, err := d.Fact(ctx, id)
			var ae *api.Error
			if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
				return nil, mcp.ResourceNotFoundError(req.Params.URI)
			}
			if err != nil {
				return nil, toolErr(err)
			}
			return asJSON(req.Params.URI, f)
		})
}
