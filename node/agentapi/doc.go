// Package agentapi lets agents that already speak MCP (Model Context
// Protocol) use a node: it is the node's MCP server, built with the
// official Go SDK (github.com/modelcontextprotocol/go-sdk).
//
// The server's tools and resources are a thin layer over the control API
// (SPEC §12): Deps is the set of API calls they make, and Client implements
// it over HTTP. The same server is reached two ways:
//
//   - `web4p2p mcp` serves it on stdio for an MCP client that launches the
//     command; it attaches to the node already running for the data dir
//     (api.addr and api.token there) and fails with a line saying how to
//     start one — it never starts a node of its own, so the MCP client and
//     the operator's `web4p2p start` share one identity, one ledger, one
//     human;
//   - the control API serves it as Streamable HTTP at /mcp, behind the
//     API token; there Client calls the API's own handler in process.
//
// A tool's bad argument is a JSON-RPC invalid-params error naming the
// argument and why; a failure of the node (peer unreachable, timeout) is a
// tool result with isError set, as MCP asks. An action the consent gate
// holds is reported as held — waiting for the human — never as done.
package agentapi
