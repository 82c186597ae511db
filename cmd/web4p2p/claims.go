package main

import (
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/web4p2p/web4p2p/protocols/lip"
)

// claimsCommand lists a running node's liminal queue: every claim read from
// the internet, its state (pending, accepted, rejected, disputed) and the
// reason of its last decision.
func claimsCommand() *cli.Command {
	return &cli.Command{
		Name:  "claims",
		Usage: "list the liminal queue: claims learned from the internet, their state and why",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "state", Usage: "only claims in this state (pending|accepted|rejected|disputed)"},
		}, clientFlags...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return fmt.Errorf("claims: takes no arguments (use --state), got %d", c.NArg())
			}
			path := "/v1/lip/claims"
			if s := c.String("state"); s != "" {
				var st lip.State
				if err := st.UnmarshalText([]byte(s)); err != nil {
					return fmt.Errorf("claims: --state must be pending|accepted|rejected|disputed (got %q)", s)
				}
				path += "?state=" + url.QueryEscape(s)
			}
			cl, err := newAPIClient(c)
			if err != nil {
				return err
			}
			ctx, cancel := clientCtx(c, 10*time.Second)
			defer cancel()
			var out struct {
				Claims []lip.Entry `json:"claims"`
			}
			if err := cl.call(ctx, "GET", path, nil, &out); err != nil {
				return err
			}
			if c.Bool("json") {
				printJSON(c, out)
				return nil
			}
			if len(out.Claims) == 0 {
				fmt.Fprintln(c.App.Writer, "the liminal queue is empty")
				return nil
			}
			writeClaims(c.App.Writer, out.Claims)
			return nil
		},
	}
}

// writeClaims prints entries as a table (also used by the demo).
func writeClaims(w io.Writer, es []lip.Entry) {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	short := shortIDs(ids, minIDPrefix)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLAIM\tSTATE\tREASON\tTIER\tSUPPORT\tSOURCE\tSTATEMENT")
	for _, e := range es {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", short[e.ID], e.State, e.Reason, e.Tier, len(e.Support),
			lip.HostOf(e.Claim.Provenance.URI), clip(e.Claim.Assertion(), 40))
	}
	_ = tw.Flush()
}
