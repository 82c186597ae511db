package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/web4p2p/web4p2p/node/api"
)

func trustCommand() *cli.Command {
	return &cli.Command{
		Name:  "trust",
		Usage: "show the node's trust view, or override a peer's state",
		Flags: clientFlags,
		Action: func(c *cli.Context) error {
			var out struct {
				Trust []api.TrustEntry `json:"trust"`
			}
			if printed, err := request(c, 10*time.Second, "GET", "/v1/trust", nil, &out); err != nil || printed {
				return err
			}
			if len(out.Trust) == 0 {
				fmt.Fprintln(c.App.Writer, "no peers in the trust ledger")
				return nil
			}
			var ids, fps []string
			for _, e := range out.Trust {
				ids, fps = append(ids, e.PeerID), append(fps, e.Fingerprint)
			}
			short, shortFP := shortIDs(ids, minPeerPrefix), shortIDs(fps, minIDPrefix)
			tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PEER\tFINGERPRINT\tSTATE\tSINCE\tLAST EVENT\tCAUSE")
			for _, e := range out.Trust {
				p, st := short[e.PeerID], e.State
				if p == "" {
					p = "-"
				}
				if e.Anchor {
					st += " (anchor)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p, shortFP[e.Fingerprint], st, e.Since, e.LastEvent, clip(e.LastCause, 40))
			}
			return tw.Flush()
		},
		Subcommands: []*cli.Command{{
			Name:      "set",
			Usage:     "operator override: lift a blacklisting (→ probing), demote or un-anchor (trusted → probing), distrust (→ untrusted), blacklist (→ blacklisted); the reason is recorded in the ledger",
			ArgsUsage: "<peer-id|fingerprint|prefix> probing|untrusted|blacklisted",
			Flags:     append([]cli.Flag{&cli.StringFlag{Name: "reason", Required: true, Usage: "why (recorded as the FSM event's cause)"}}, clientFlags...),
			Action: func(c *cli.Context) error {
				if c.NArg() != 2 {
					return fmt.Errorf("trust set: want <peer> <state>, got %d arguments", c.NArg())
				}
				return withClient(c, func(ctx context.Context, cl *apiClient) error {
					p, err := resolvePeer(ctx, cl, c.Args().Get(0))
					if err != nil {
						return err
					}
					var e api.TrustEntry
					if err := cl.call(ctx, "POST", "/v1/trust/"+p, map[string]string{"state": c.Args().Get(1), "reason": c.String("reason")}, &e); err != nil {
						return err
					}
					if c.Bool("json") {
						printJSON(c, e)
						return nil
					}
					fmt.Fprintf(c.App.Writer, "%s is now %s (%s: %s)\n", p, e.State, e.LastEvent, e.LastCause)
					if e.Anchor && e.State != "trusted" {
						fmt.Fprintln(c.App.Writer, "it was a trust anchor: it stays demoted after a restart; drop it from --trust-anchor too")
					}
					return nil
				})
			},
		}},
	}
}

// clip shortens s to at most n runes for a table cell.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
