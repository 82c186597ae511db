package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// whyCommand is `web4p2p why <id>`: the causal chain of a message,
// decision or fact from the agent's causal memory.
func whyCommand() *cli.Command {
	return &cli.Command{
		Name:      "why",
		Usage:     "explain a message, decision or fact: its causal chain, causes first",
		ArgsUsage: "<id|prefix>",
		Flags:     clientFlags,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("why: want <id>, got %d arguments", c.NArg())
			}
			return withClient(c, func(ctx context.Context, cl *apiClient) error {
				var out struct {
					ID    string            `json:"id"`
					Chain []json.RawMessage `json:"chain"`
				}
				id, err := resolveAny(ctx, cl, c.Args().First())
				if err != nil {
					return err
				}
				if err := cl.call(ctx, "GET", "/v1/why/"+id, nil, &out); err != nil {
					return err
				}
				if c.Bool("json") {
					printJSON(c, out)
					return nil
				}
				return printChain(c, out.Chain)
			})
		},
	}
}

// chainNode is what `why` prints of a causal-memory node.
type chainNode struct {
	ID      string   `json:"id"`
	Kind    string   `json:"kind"`
	Type    string   `json:"type"`
	Summary string   `json:"summary"`
	Causes  []string `json:"causes"`
	Trace   *struct {
		Decision     string   `json:"decision"`
		Alternatives []string `json:"alternatives"`
		Reasons      []string `json:"reasons"`
		Consequences []string `json:"consequences"`
		Context      string   `json:"context"`
	} `json:"trace"`
	Time time.Time `json:"time"`
}

func printChain(c *cli.Context, raw []json.RawMessage) error {
	w := c.App.Writer
	for i, r := range raw {
		var n chainNode
		if err := json.Unmarshal(r, &n); err != nil {
			return fmt.Errorf("why: node %d of the answer: %v", i, err)
		}
		fmt.Fprintf(w, "%d. [%s %s] %s\n   id %s at %s\n", i+1, n.Kind, n.Type, n.Summary, n.ID, n.Time.Format(time.RFC3339))
		if len(n.Causes) > 0 {
			fmt.Fprintf(w, "   because of: %s\n", strings.Join(n.Causes, ", "))
		}
		if t := n.Trace; t != nil {
			fmt.Fprintf(w, "   decided: %s\n", t.Decision)
			for _, s := range t.Reasons {
				fmt.Fprintf(w, "   reason: %s\n", s)
			}
			if len(t.Alternatives) > 0 {
				fmt.Fprintf(w, "   instead of: %s\n", strings.Join(t.Alternatives, " | "))
			}
			for _, s := range t.Consequences {
				fmt.Fprintf(w, "   then: %s\n", s)
			}
			if t.Context != "" {
				fmt.Fprintf(w, "   context: %s\n", t.Context)
			}
		}
	}
	return nil
}
