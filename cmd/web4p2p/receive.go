package main

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"github.com/web4p2p/web4p2p/node/api"
)

// receiveCommand reads the application messages a peer sent this node
// over an RTT channel (what `send` sends): the next one, or every one
// with --follow until Ctrl-C.
func receiveCommand() *cli.Command {
	return &cli.Command{
		Name:      "receive",
		Usage:     "read messages a peer sent to this node on an RTT channel (what 'send' sends)",
		ArgsUsage: "<peer-id|prefix>",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "channel", Aliases: []string{"c"}, Value: "control", Usage: "control|state|knowledge"},
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing messages until Ctrl-C"},
			&cli.DurationFlag{Name: "timeout", Value: 10 * time.Second, Usage: "how long to wait for a message (without --follow)"},
		}, clientFlags...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("receive: want <peer-id|prefix>, got %d arguments", c.NArg())
			}
			wait := c.Duration("timeout")
			if wait <= 0 || wait > api.MaxReceiveWait {
				return fmt.Errorf("receive: --timeout must be within (0, %v], got %v", api.MaxReceiveWait, wait)
			}
			cl, err := newAPIClient(c)
			if err != nil {
				return err
			}
			ctx, cancel := clientCtx(c, 20*time.Second)
			p, err := resolvePeer(ctx, cl, c.Args().First())
			if err == nil {
				err = cl.call(ctx, "POST", "/v1/rtt/"+p+"/open", map[string]string{"channel": c.String("channel")}, nil)
			}
			cancel()
			if err != nil {
				return err
			}
			for {
				if c.Bool("follow") {
					wait = api.MaxReceiveWait
				}
				ctx, cancel := clientCtx(c, wait+5*time.Second)
				var out struct {
					Data []byte `json:"data"`
				}
				err := cl.call(ctx, "POST", "/v1/rtt/"+p+"/receive", map[string]any{"channel": c.String("channel"), "timeout_ms": wait.Milliseconds()}, &out)
				cancel()
				switch {
				case err == nil:
					printMessage(c, p, out.Data)
				case c.Bool("follow") && isKind(err, "timeout"):
					// nothing yet: ask again
				case c.Bool("follow") && c.Context.Err() != nil:
					return nil
				default:
					return err
				}
				if !c.Bool("follow") {
					return nil
				}
			}
		},
	}
}

func printMessage(c *cli.Context, p string, data []byte) {
	if c.Bool("json") {
		m := map[string]any{"peer": p, "channel": c.String("channel"), "data": data}
		if utf8.Valid(data) {
			m["text"] = string(data)
		}
		b, _ := json.Marshal(m)
		fmt.Fprintln(c.App.Writer, string(b))
		return
	}
	if utf8.Valid(data) {
		fmt.Fprintf(c.App.Writer, "%s\n", data)
		return
	}
	fmt.Fprintf(c.App.Writer, "(%d bytes, not text: use --json for base64)\n", len(data))
}
