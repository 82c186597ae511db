package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/web4p2p/web4p2p/node/learn"
	"github.com/web4p2p/web4p2p/protocols/lip"
)

// learnCommand asks a running node to learn from one page (SPEC §7): it
// fetches the URI, extracts claims into the liminal queue and shares the
// evidence with the mesh. A refused fetch (private address, size, type) is
// one error line naming the reason.
func learnCommand() *cli.Command {
	return &cli.Command{
		Name:      "learn",
		Usage:     "fetch a page, extract its claims into the liminal queue and share the evidence",
		ArgsUsage: "<uri|query>",
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "statement", Aliases: []string{"s"}, Usage: "a statement to look for verbatim in the page (repeatable)"},
		}, clientFlags...),
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return fmt.Errorf("learn: want one <uri|query>, got none")
			}
			statements, err := trailingStatements(c.Args().Tail())
			if err != nil {
				return err
			}
			cl, err := newAPIClient(c)
			if err != nil {
				return err
			}
			// A fetch may take its full 10 s timeout; leave room for the queue.
			ctx, cancel := clientCtx(c, 30*time.Second)
			defer cancel()
			req := learn.Request{Statements: append(c.StringSlice("statement"), statements...)}
			// An absolute http(s) URL is fetched as is; anything else is a
			// query for the node's configured search URL (--lip-search).
			if arg := c.Args().First(); strings.HasPrefix(arg, "http://") || strings.HasPrefix(arg, "https://") || strings.Contains(arg, "://") {
				req.URI = arg
			} else {
				req.Query = arg
			}
			stop := func(int) {}
			if !c.Bool("json") {
				// Progress on stderr while the node fetches and parses.
				fmt.Fprintf(c.App.ErrWriter, "fetching %s …\n", c.Args().First())
				stop = followLearn(ctx, cl, &learnProgress{w: c.App.ErrWriter, target: req.URI})
			}
			var res learn.Result
			err = cl.call(ctx, "POST", "/v1/lip/learn", req, &res)
			pending := -1 // failed: nothing more to wait for
			if err == nil {
				pending = 0
			}
			for _, e := range res.Claims {
				if e.State == lip.Pending {
					pending++
				}
			}
			stop(pending)
			if err != nil {
				return fmt.Errorf("learn %s: %w", c.Args().First(), err)
			}
			if c.Bool("json") {
				printJSON(c, res)
				return nil
			}
			fmt.Fprintf(c.App.Writer, "read %s (tier %s, sha256 %.12s…)\n", res.URI, res.Tier, res.ContentSHA256)
			if res.ExtractError != "" {
				fmt.Fprintf(c.App.Writer, "some of the page could not be read: %s\n", res.ExtractError)
			}
			if len(res.Claims) == 0 {
				fmt.Fprintln(c.App.Writer, "no claims found")
				return nil
			}
			ids := make([]string, len(res.Claims))
			for i, e := range res.Claims {
				ids[i] = e.ID
			}
			short := shortIDs(ids, minIDPrefix)
			tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CLAIM\tSTATE\tREASON\tVERDICT\tSTATEMENT")
			for _, e := range res.Claims {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", short[e.ID], e.State, e.Reason, e.Claim.Verdict, e.Claim.Statement)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if res.Shared != "" {
				fmt.Fprintf(c.App.Writer, "evidence shared with the mesh (LIP_EVIDENCE %s)\n", res.Shared)
			}
			return nil
		},
	}
}

// trailingStatements reads --statement/-s flags written after the URI
// (the flag parser stops at the first argument), so both
// "learn --statement X <uri>" and "learn <uri> --statement X" work.
func trailingStatements(args []string) ([]string, error) {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--statement" || a == "-statement" || a == "-s" || a == "--s":
			if i+1 >= len(args) {
				return nil, fmt.Errorf("learn: %s needs a value", a)
			}
			out = append(out, args[i+1])
			i++
		case strings.HasPrefix(a, "--statement="), strings.HasPrefix(a, "-s="):
			out = append(out, a[strings.Index(a, "=")+1:])
		default:
			return nil, fmt.Errorf("learn: unexpected argument %q after the uri (want --statement <text>)", a)
		}
	}
	return out, nil
}
