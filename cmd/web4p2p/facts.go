package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
)

// factView mirrors the control API's fact record.
type factView struct {
	ID         string   `json:"fact_id"`
	Statement  string   `json:"statement"`
	Domain     string   `json:"domain"`
	Proposer   string   `json:"proposer"`
	Status     string   `json:"status"`
	Reason     string   `json:"reason"`
	Confirmers []string `json:"confirmers"`
	Rejecters  []string `json:"rejecters"`
	Votes      int      `json:"votes"`
}

// shortList joins fingerprints as the table shows them (short maps each
// to its prefix).
func shortList(fps []string, short map[string]string) string {
	if len(fps) == 0 {
		return "-"
	}
	s := make([]string, len(fps))
	for i, f := range fps {
		s[i] = short[f]
	}
	return strings.Join(s, ",")
}

func factsCommand() *cli.Command {
	return &cli.Command{
		Name:  "facts",
		Usage: "list the knowledge base: facts with their state and trusted confirmers",
		Flags: clientFlags,
		Action: func(c *cli.Context) error {
			var out struct {
				Facts []factView `json:"facts"`
			}
			if printed, err := request(c, 10*time.Second, "GET", "/v1/facts", nil, &out); err != nil || printed {
				return err
			}
			if len(out.Facts) == 0 {
				fmt.Fprintln(c.App.Writer, "no facts")
				return nil
			}
			var ids, fps []string
			for _, f := range out.Facts {
				ids = append(ids, f.ID)
				fps = append(fps, f.Confirmers...)
			}
			short, shortFP := shortIDs(ids, minIDPrefix), shortIDs(fps, minIDPrefix)
			tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "FACT\tSTATUS\tDOMAIN\tSTATEMENT\tCONFIRMERS\tVOTES")
			for _, f := range out.Facts {
				st := f.Statement
				if len(st) > 48 {
					st = st[:45] + "..."
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", short[f.ID], f.Status, f.Domain, st, shortList(f.Confirmers, shortFP), f.Votes)
			}
			return tw.Flush()
		},
		Subcommands: []*cli.Command{
			{
				Name:  "propose",
				Usage: "propose a fact to the mesh",
				Flags: append([]cli.Flag{
					&cli.StringFlag{Name: "statement", Required: true},
					&cli.StringFlag{Name: "domain", Required: true},
					&cli.Float64Flag{Name: "confidence", Value: 0.8, Usage: "your confidence, 0..1"},
					&cli.StringSliceFlag{Name: "source", Usage: "source URI (repeatable)"},
				}, clientFlags...),
				Action: func(c *cli.Context) error {
					var f factView
					if printed, err := request(c, 20*time.Second, "POST", "/v1/facts", map[string]any{"statement": c.String("statement"), "domain": c.String("domain"),
						"confidence": c.Float64("confidence"), "sources": c.StringSlice("source")}, &f); err != nil || printed {
						return err
					}
					fmt.Fprintf(c.App.Writer, "proposed %s (%s)\n", f.ID, f.Status)
					return nil
				},
			},
			{
				Name:      "vote",
				Usage:     "confirm or reject a fact",
				ArgsUsage: "<fact-id|prefix> confirm|reject",
				Flags: append([]cli.Flag{
					&cli.Float64Flag{Name: "confidence", Value: 0.8},
					&cli.StringFlag{Name: "notes"},
				}, clientFlags...),
				Action: func(c *cli.Context) error {
					if c.NArg() != 2 {
						return fmt.Errorf("facts vote: want <fact-id> confirm|reject, got %d arguments", c.NArg())
					}
					cl, err := newAPIClient(c)
					if err != nil {
						return err
					}
					ctx, cancel := clientCtx(c, 20*time.Second)
					defer cancel()
					id, err := resolveFact(ctx, cl, c.Args().Get(0))
					if err != nil {
						return err
					}
					var f factView
					if err := cl.call(ctx, "POST", "/v1/facts/"+id+"/vote", map[string]any{"decision": c.Args().Get(1),
						"confidence": c.Float64("confidence"), "notes": c.String("notes")}, &f); err != nil {
						return err
					}
					if c.Bool("json") {
						printJSON(c, f)
						return nil
					}
					fmt.Fprintf(c.App.Writer, "voted %s on %.12s: now %s with %d votes\n", c.Args().Get(1), f.ID, f.Status, f.Votes)
					return nil
				},
			},
		},
	}
}
