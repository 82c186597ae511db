package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/web4p2p/web4p2p/node/human"
)

// humanState is the wire form of the human-state vector (SPEC §6).
type humanState struct {
	Presence       string   `json:"presence"`
	Affect         string   `json:"affect"`
	Clarity        int      `json:"clarity"`
	Pressure       int      `json:"pressure"`
	Intent         string   `json:"intent"`
	Consent        string   `json:"consent"`
	ConsentScope   []string `json:"consent_scope"`
	ConsentExpires string   `json:"consent_expires,omitempty"`
}

// humanStatus mirrors human.Status with the state decoded.
type humanStatus struct {
	Human       *humanState `json:"human"`
	Fingerprint string      `json:"fingerprint"`
	Presence    string      `json:"presence"`
	LRI         int         `json:"lri"`
	Held        int         `json:"held"`
	Pending     int         `json:"pending"`
}

// defaultHumanState is what the node assumes before the human said
// anything (consent revoked), the base for a first `human state --...`.
func defaultHumanState() humanState {
	return humanState{Presence: "diffuse", Affect: "neutral", Clarity: 100, Pressure: 0, Consent: "revoked", ConsentScope: []string{}}
}

// humanCommand is `web4p2p human ...`: the human's side of HCP through the
// control API.
func humanCommand() *cli.Command {
	return &cli.Command{
		Name:  "human",
		Usage: "speak to your agent as its human: state, intents, decisions, feedback, consent",
		Subcommands: []*cli.Command{
			humanStateCommand(), humanIntentCommand(), humanDecideCommand(), humanFeedbackCommand(), humanConsentCommand(),
		},
	}
}

// withClient runs fn with an API client and a bounded context.
func withClient(c *cli.Context, fn func(ctx context.Context, cl *apiClient) error) error {
	cl, err := newAPIClient(c)
	if err != nil {
		return err
	}
	ctx, cancel := clientCtx(c, 15*time.Second)
	defer cancel()
	return fn(ctx, cl)
}

func printHumanStatus(c *cli.Context, st humanStatus) {
	if c.Bool("json") {
		printJSON(c, st)
		return
	}
	w := c.App.Writer
	if st.Human == nil {
		fmt.Fprintln(w, "human state: none given yet (consent counts as revoked)")
	} else {
		h := st.Human
		fmt.Fprintf(w, "presence:  %s\naffect:    %s\nclarity:   %d\npressure:  %d\nintent:    %s\n", h.Presence, h.Affect, h.Clarity, h.Pressure, h.Intent)
		fmt.Fprintf(w, "consent:   %s", h.Consent)
		if len(h.ConsentScope) > 0 {
			fmt.Fprintf(w, " (%s)", strings.Join(h.ConsentScope, ", "))
		}
		if h.ConsentExpires != "" {
			fmt.Fprintf(w, " until %s", h.ConsentExpires)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "agent:     %s (LRI %d)\nheld:      %d action(s) waiting for consent\npending:   %d decision(s) for you\nhuman key: %s\n",
		st.Presence, st.LRI, st.Held, st.Pending, st.Fingerprint)
}

func humanStateCommand() *cli.Command {
	return &cli.Command{
		Name:  "state",
		Usage: "show your human state, or change parts of it (the rest stays as it is)",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "presence", Usage: "focused|diffuse|overloaded|engaged"},
			&cli.StringFlag{Name: "affect", Usage: "calm|tense|anxious|energized|neutral"},
			&cli.IntFlag{Name: "clarity", Usage: "0-100"},
			&cli.IntFlag{Name: "pressure", Usage: "0-100"},
			&cli.StringFlag{Name: "intent", Usage: "what you are about, in words"},
		}, clientFlags...),
		Action: func(c *cli.Context) error {
			return withClient(c, func(ctx context.Context, cl *apiClient) error {
				var st humanStatus
				if err := cl.call(ctx, "GET", "/v1/human/state", nil, &st); err != nil {
					return err
				}
				changed := false
				for _, f := range []string{"presence", "affect", "clarity", "pressure", "intent"} {
					changed = changed || c.IsSet(f)
				}
				if !changed {
					printHumanStatus(c, st)
					return nil
				}
				h := defaultHumanState()
				if st.Human != nil {
					h = *st.Human
				}
				if c.IsSet("presence") {
					h.Presence = c.String("presence")
				}
				if c.IsSet("affect") {
					h.Affect = c.String("affect")
				}
				if c.IsSet("clarity") {
					h.Clarity = c.Int("clarity")
				}
				if c.IsSet("pressure") {
					h.Pressure = c.Int("pressure")
				}
				if c.IsSet("intent") {
					h.Intent = c.String("intent")
				}
				if h.ConsentScope == nil {
					h.ConsentScope = []string{}
				}
				if err := cl.call(ctx, "POST", "/v1/human/state", h, &st); err != nil {
					return err
				}
				printHumanStatus(c, st)
				return nil
			})
		},
	}
}

func humanIntentCommand() *cli.Command {
	return &cli.Command{
		Name:      "intent",
		Usage:     "tell your agent what you want; it asks capable peers (if consent allows)",
		ArgsUsage: "<topic>",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "goal", Value: "request", Usage: "align|request|clarify|decide|resolve_conflict"},
			&cli.StringFlag{Name: "priority", Value: "normal", Usage: "low|normal|high|safety"},
			&cli.StringFlag{Name: "context", Usage: "what the agent should know"},
		}, clientFlags...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("human intent: want <topic>, got %d arguments", c.NArg())
			}
			return withClient(c, func(ctx context.Context, cl *apiClient) error {
				var res human.IntentResult
				body := map[string]string{"goal": c.String("goal"), "topic": c.Args().First(), "priority": c.String("priority"), "context": c.String("context")}
				if err := cl.call(ctx, "POST", "/v1/human/intent", body, &res); err != nil {
					return err
				}
				if c.Bool("json") {
					printJSON(c, res)
					return nil
				}
				if res.Status == "held" {
					fmt.Fprintf(c.App.Writer, "intent %s held: your consent does not cover %q (it runs once it does)\n", res.MsgID, c.Args().First())
					return nil
				}
				fmt.Fprintf(c.App.Writer, "intent %s accepted (see 'web4p2p why %s')\n", res.MsgID, res.MsgID)
				return nil
			})
		},
	}
}

func humanDecideCommand() *cli.Command {
	return &cli.Command{
		Name:      "decide",
		Usage:     "list the decisions your agent asks of you, or answer one",
		ArgsUsage: "[<id|prefix> approve|reject]",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "rationale", Usage: "why (required to answer: a decision must be explainable)"},
			&cli.StringSliceFlag{Name: "alt", Usage: "alternative you considered (repeatable; default: those the agent offered)"},
		}, clientFlags...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 && c.NArg() != 2 {
				return fmt.Errorf("human decide: want no arguments (list) or <id> approve|reject, got %d arguments", c.NArg())
			}
			return withClient(c, func(ctx context.Context, cl *apiClient) error {
				var list struct {
					Decisions []human.PendingDecision `json:"decisions"`
				}
				if err := cl.call(ctx, "GET", "/v1/human/decisions", nil, &list); err != nil {
					return err
				}
				if c.NArg() == 0 {
					if c.Bool("json") {
						printJSON(c, list)
						return nil
					}
					if len(list.Decisions) == 0 {
						fmt.Fprintln(c.App.Writer, "no decisions pending")
						return nil
					}
					var ids []string
					for _, d := range list.Decisions {
						ids = append(ids, d.ID)
					}
					short := shortIDs(ids, minIDPrefix)
					tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tTOPIC\tQUESTION\tOPTIONS")
					for _, d := range list.Decisions {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", short[d.ID], d.Topic, d.Question, strings.Join(d.Alternatives, " | "))
					}
					return tw.Flush()
				}
				id, err := resolveDecision(list.Decisions, c.Args().Get(0))
				if err != nil {
					return err
				}
				choice := c.Args().Get(1)
				alts := c.StringSlice("alt")
				if len(alts) == 0 {
					for _, d := range list.Decisions {
						if d.ID == id {
							alts = d.Alternatives
						}
					}
				}
				body := map[string]any{"choice": choice, "rationale": c.String("rationale"), "alternatives": alts}
				if alts == nil {
					body["alternatives"] = []string{}
				}
				var out struct {
					MsgID string `json:"msg_id"`
				}
				if err := cl.call(ctx, "POST", "/v1/human/decisions/"+id, body, &out); err != nil {
					return err
				}
				if c.Bool("json") {
					printJSON(c, out)
					return nil
				}
				fmt.Fprintf(c.App.Writer, "decision %s sent (%s)\n", out.MsgID, choice)
				return nil
			})
		},
	}
}

func humanFeedbackCommand() *cli.Command {
	return &cli.Command{
		Name:      "feedback",
		Usage:     "tell your agent how it did",
		ArgsUsage: "<feedback>",
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "satisfaction", Value: 50, Usage: "0-100"},
			&cli.StringFlag{Name: "reply-to", Usage: "msg_id the feedback is about"},
			&cli.StringSliceFlag{Name: "correction", Usage: "a correction (repeatable)"},
		}, clientFlags...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("human feedback: want <feedback>, got %d arguments", c.NArg())
			}
			return withClient(c, func(ctx context.Context, cl *apiClient) error {
				corr := c.StringSlice("correction")
				if corr == nil {
					corr = []string{}
				}
				body := map[string]any{"feedback": c.Args().First(), "satisfaction": c.Int("satisfaction"), "corrections": corr}
				if r := c.String("reply-to"); r != "" {
					body["reply_to"] = r
				}
				var out struct {
					MsgID string `json:"msg_id"`
				}
				if err := cl.call(ctx, "POST", "/v1/human/feedback", body, &out); err != nil {
					return err
				}
				if c.Bool("json") {
					printJSON(c, out)
					return nil
				}
				fmt.Fprintf(c.App.Writer, "feedback %s sent\n", out.MsgID)
				return nil
			})
		},
	}
}

func humanConsentCommand() *cli.Command {
	return &cli.Command{
		Name:      "consent",
		Usage:     "grant, limit or revoke what your agent may do for you",
		ArgsUsage: "granted|limited|revoked",
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "scope", Usage: "topic consent covers when limited, e.g. topic:work (repeatable)"},
			&cli.StringFlag{Name: "expires", Usage: "when consent lapses: a duration from now (2h) or an RFC 3339 time"},
		}, clientFlags...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("human consent: want granted|limited|revoked, got %d arguments", c.NArg())
			}
			exp := c.String("expires")
			if exp != "" {
				if d, err := time.ParseDuration(exp); err == nil {
					exp = time.Now().Add(d).UTC().Format(time.RFC3339)
				} else if _, err := time.Parse(time.RFC3339, exp); err != nil {
					return fmt.Errorf("human consent: --expires %q is neither a duration (2h) nor an RFC 3339 time", exp)
				}
			}
			return withClient(c, func(ctx context.Context, cl *apiClient) error {
				scope := c.StringSlice("scope")
				if scope == nil {
					scope = []string{}
				}
				var st humanStatus
				if err := cl.call(ctx, "POST", "/v1/human/consent", map[string]any{"consent": c.Args().First(), "scope": scope, "expires": exp}, &st); err != nil {
					return err
				}
				printHumanStatus(c, st)
				return nil
			})
		},
	}
}
