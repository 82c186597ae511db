package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/web4p2p/web4p2p/internal/events"
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
			tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PEER\tFINGERPRINT\tSTATE\tSINCE\tLAST EVENT")
			for _, e := range out.Trust {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", events.Short(e.PeerID), events.Short(e.Fingerprint), e.State, e.Since, e.LastEvent)
			}
			return tw.Flush()
		},
		Subcommands: []*cli.Command{{
			Name:      "set",
			Usage:     "manual override (e.g. blacklisted → probing); the reason is recorded in the ledger",
			ArgsUsage: "<peer-id|fingerprint> <state>",
			Flags:     append([]cli.Flag{&cli.StringFlag{Name: "reason", Required: true, Usage: "why (recorded as the FSM event's cause)"}}, clientFlags...),
			Action: func(c *cli.Context) error {
				if c.NArg() != 2 {
					return fmt.Errorf("trust set: want <peer> <state>, got %d arguments", c.NArg())
				}
				var e api.TrustEntry
				if printed, err := request(c, 10*time.Second, "POST", "/v1/trust/"+c.Args().Get(0), map[string]string{"state": c.Args().Get(1), "reason": c.String("reason")}, &e); err != nil || printed {
					return err
				}
				fmt.Fprintf(c.App.Writer, "%s is now %s\n", c.Args().Get(0), e.State)
				return nil
			},
		}},
	}
}
