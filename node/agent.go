package node

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/node/agentapi"
	"github.com/web4p2p/web4p2p/node/api"
	"github.com/web4p2p/web4p2p/node/human"
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
