package main

import (
	"context"
	"fmt"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/urfave/cli/v2"

	"github.com/web4p2p/web4p2p/node"
	"github.com/web4p2p/web4p2p/node/agentapi"
)

// mcpCommand serves the running node over MCP on stdio. It attaches to the
// node of the data dir (or --api) instead of starting one: an MCP client
// launches this command, and the agent it serves must be the one the
// operator started, with its identity, trust ledger and human.
func mcpCommand() *cli.Command {
	return &cli.Command{
		Name:  "mcp",
		Usage: "serve the running node to an MCP client on stdin/stdout (the node must be started: 'web4p2p start')",
		Flags: []cli.Flag{dataDirFlag, apiFlag, tokenFileFlag},
		Action: func(c *cli.Context) error {
			a, err := newAPIClient(c)
			if err != nil {
				return err
			}
			cl := a.api
			ctx, cancel := context.WithTimeout(c.Context, 5*time.Second)
			_, err = cl.Status(ctx)
			cancel()
			if err != nil {
				return fmt.Errorf("mcp: no node answers at %s (%v); start one with 'web4p2p start --data-dir %s'", a.base, err, c.String("data-dir"))
			}
			return agentapi.NewServer(cl, node.Version).Run(c.Context, &mcp.StdioTransport{})
		},
	}
}
