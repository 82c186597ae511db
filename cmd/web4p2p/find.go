package main

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/node/api"
	"github.com/web4p2p/web4p2p/node/card"
)

// findCommand lists the agents that advertise a capability in the DHT
// (SPEC §13.3): the running node looks the providers up, fetches each
// one's card over /web4/card/1.0 and verifies it before anything of it is
// shown; each row has the agent's trust state in this node's ledger.
func findCommand() *cli.Command {
	return &cli.Command{
		Name:      "find",
		Usage:     "list the agents offering a capability, with their trust state and verified cards",
		ArgsUsage: "<capability>  (e.g. translate, translate/de-en)",
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "limit", Value: card.DefaultFindResults, Usage: fmt.Sprintf("at most this many providers (1–%d)", card.MaxFindResults)},
			&cli.DurationFlag{Name: "timeout", Value: api.DefaultFindWait, Usage: fmt.Sprintf("give up the lookup after this long (at most %s)", api.MaxFindWait)},
		}, clientFlags...),
		Action: runFind,
	}
}

func runFind(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("find: want exactly one capability, got %d arguments", c.NArg())
	}
	capability := c.Args().First()
	if err := card.CheckCapability(capability); err != nil {
		return fmt.Errorf("find: capability: %w", err)
	}
	limit, wait := c.Int("limit"), c.Duration("timeout")
	if limit < 1 || limit > card.MaxFindResults {
		return fmt.Errorf("find: --limit %d: want 1 to %d", limit, card.MaxFindResults)
	}
	if wait <= 0 || wait > api.MaxFindWait {
		return fmt.Errorf("find: --timeout %s: want more than 0 and at most %s", wait, api.MaxFindWait)
	}
	cl, err := newAPIClient(c)
	if err != nil {
		return err
	}
	ctx, cancel := clientCtx(c, wait+5*time.Second)
	defer cancel()
	stop := func(bool) {}
	if !c.Bool("json") {
		fmt.Fprintf(c.App.ErrWriter, "looking up %q in the DHT …\n", capability)
		p := &findProgress{w: c.App.ErrWriter, capability: capability, seen: map[string]bool{}}
		end := follow(ctx, cl, url.Values{"type": {"web4.card.", "web4.error"}}, p.show)
		stop = func(ok bool) { end(func() bool { return !ok || p.caughtUp() }) }
	}
	q := url.Values{"capability": {capability}, "limit": {strconv.Itoa(limit)}, "timeout_ms": {strconv.FormatInt(wait.Milliseconds(), 10)}}
	var res card.FindResult
	err = cl.call(ctx, "GET", "/v1/find?"+q.Encode(), nil, &res)
	stop(err == nil)
	if err != nil {
		return fmt.Errorf("find %s: %w", capability, err)
	}
	if c.Bool("json") {
		printJSON(c, res)
		return nil
	}
	return printFound(c.App.Writer, res)
}

// printFound is the table of a find: verified agents with their card's
// content; the others with the reason their card is not shown.
func printFound(w io.Writer, res card.FindResult) error {
	if len(res.Agents) == 0 {
		fmt.Fprintf(w, "no agent advertises %q\n", res.Capability)
		return nil
	}
	ids := make([]string, len(res.Agents))
	for i, f := range res.Agents {
		ids[i] = f.PeerID
	}
	short := shortIDs(ids, minPeerPrefix)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tPEER\tTRUST\tCARD\tSKILLS\tADDRS")
	var notes []string
	for _, f := range res.Agents {
		if !f.Verified {
			state := "unreachable"
			if f.Refused != "" {
				state = "refused: " + f.Refused
			}
			fmt.Fprintf(tw, "-\t%s\t%s\t%s\t-\t-\n", short[f.PeerID], f.Trust, state)
			notes = append(notes, fmt.Sprintf("%s: %s", short[f.PeerID], f.Error))
			continue
		}
		addrs := "-"
		if len(f.Addrs) > 0 {
			addrs = f.Addrs[0]
			if len(f.Addrs) > 1 {
				addrs += fmt.Sprintf(" (+%d)", len(f.Addrs)-1)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\tverified\t%s\t%s\n", f.AgentID, short[f.PeerID], f.Trust, strings.Join(f.Skills, ","), addrs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	return nil
}

// findProgress prints on stderr how a find goes, from the node's events:
// each provider found, each card verified or refused.
type findProgress struct {
	w          io.Writer
	capability string

	mu   sync.Mutex
	seen map[string]bool // providers of this find, by PeerID
	done bool            // web4.card.find_done of this capability seen
}

func (p *findProgress) show(e events.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ours := e.Data["capability"] == p.capability
	switch {
	case e.Type == "web4.card.provider_found" && ours:
		p.seen[e.Subject] = true
		fmt.Fprintf(p.w, "found provider %s, fetching its card …\n", e.Subject)
	case e.Type == "web4.card.verified" && ours && p.seen[e.Subject]:
		fmt.Fprintf(p.w, "verified the card of %s (%v)\n", e.Subject, e.Data["agent_id"])
	case e.Type == "web4.error" && e.Data["area"] == "card" && p.seen[e.Subject]:
		fmt.Fprintf(p.w, "refused the card of %s: %v\n", e.Subject, e.Data["kind"])
	case e.Type == "web4.card.find_done" && ours:
		p.done = true
	}
}

func (p *findProgress) caughtUp() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}
