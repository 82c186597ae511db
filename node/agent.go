package node

import (
	"context"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/node/a2a"
	"github.com/web4p2p/web4p2p/trust"

	"github.com/web4p2p/web4p2p/node/agentapi"
	"github.com/web4p2p/web4p2p/node/api"
	"github.com/web4p2p/web4p2p/node/card"
	"github.com/web4p2p/web4p2p/node/human"
	"github.com/web4p2p/web4p2p/protocols/agentcard"
	"github.com/web4p2p/web4p2p/protocols/cip"
)

// agentArea is the control API's agent area: CIP INTENTs through the peers
// runtime, questions through the human runtime.
type agentArea struct{ rt *runtimes }

func (a agentArea) SendIntent(ctx context.Context, p peer.ID, req cip.IntentRequest) (cip.IntentReply, error) {
	return a.rt.peers.SendIntent(ctx, p, req)
}

func (a agentArea) Ask(ctx context.Context, q human.Question) (human.AskResult, error) {
	return a.rt.human.Ask(ctx, q)
}

// MCPPath is where the control API serves MCP (Streamable HTTP).
const MCPPath = "/mcp"

// mountAgentEndpoints adds the agent protocols to the control API: MCP at
// MCPPath, behind the token like every route; its tools call the API's own
// handler in process.
func mountAgentEndpoints(srv *api.Server, token string) {
	h := agentapi.HTTPHandler(agentapi.InProcess(srv.Handler(), token), Version)
	srv.Handle(MCPPath, h.ServeHTTP)
}

// buildA2A builds the A2A gateway over the peers and the human runtimes,
// and its libp2p binding (opened with the peers' stream handlers).
func (n *Node) buildA2A(h host.Host, rt *runtimes) error {
	m := a2aMesh{rt}
	gw, err := a2a.New(n.cfg.A2A, a2a.Deps{Mesh: m, Human: rt.human, Events: n.em, Group: n.group, Now: n.cfg.Now})
	if err != nil {
		return err
	}
	rt.a2a = gw
	rt.human.OnDecided(gw.HumanDecided)
	rt.a2aLink = a2a.NewBinding(h, gw, m.TrustState, n.em, n.group)
	return nil
}

// a2aMesh is the A2A gateway's view of the mesh.
type a2aMesh struct{ rt *runtimes }

func (m a2aMesh) SendIntent(ctx context.Context, p peer.ID, req cip.IntentRequest) (cip.IntentReply, error) {
	return m.rt.peers.SendIntent(ctx, p, req)
}

// Candidates joins the AgentLoop's view of the ready peers with their
// PeerIDs.
func (m a2aMesh) Candidates() []a2a.Candidate {
	ids := map[string]peer.ID{}
	for _, r := range m.rt.peers.Ready() {
		ids[r.Fingerprint] = r.PeerID
	}
	var out []a2a.Candidate
	for _, p := range m.rt.human.MeshPeers() {
		if id, ok := ids[p.Fingerprint]; ok {
			out = append(out, a2a.Candidate{ID: id, Peer: p})
		}
	}
	return out
}

func (m a2aMesh) TrustState(p peer.ID) trust.State {
	fp, err := FingerprintOf(p)
	if err != nil {
		return trust.Unknown
	}
	return m.rt.trust.State(fp)
}

// a2aCard is what the A2A gateway adds to the agent card: its JSON-RPC
// interface on the control API (first, so A2A clients prefer it) behind
// the API token as a bearer scheme, and streaming. The libp2p interfaces
// the card already lists carry the same JSON-RPC on a2a.Protocol.
func a2aCard(apiAddr string) card.Addition {
	return card.Addition{
		Interfaces: []agentcard.Interface{{URL: "http://" + apiAddr + api.A2APath, ProtocolBinding: "JSONRPC", ProtocolVersion: "1.0"}},
		SecuritySchemes: map[string]agentcard.SecurityScheme{"bearer": {HTTPAuth: &agentcard.HTTPAuthScheme{
			Scheme: "Bearer", Description: "the node's control API token (api.token in its data dir)"}}},
		SecurityRequirements: []agentcard.SecurityRequirement{{Schemes: map[string]agentcard.StringList{"bearer": {List: []string{}}}}},
		Edit:                 func(c *agentcard.Card) { c.Capabilities.Streaming = true },
	}
}
