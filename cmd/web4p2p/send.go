package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"
)

func sendCommand() *cli.Command {
	return &cli.Command{
		Name:      "send",
		Usage:     "send a message to a peer over an RTT channel (control|state|knowledge)",
		ArgsUsage: "<peer-id|prefix> <channel> <text>",
		Flags:     clientFlags,
		Action: func(c *cli.Context) error {
			if c.NArg() != 3 {
				return fmt.Errorf("send: want <peer-id> <channel> <text>, got %d arguments", c.NArg())
			}
			cl, err := newAPIClient(c)
			if err != nil {
				return err
			}
			ctx, cancel := clientCtx(c, 30*time.Second)
			defer cancel()
			peer, ch, text := c.Args().Get(0), c.Args().Get(1), c.Args().Get(2)
			if peer, err = resolvePeer(ctx, cl, peer); err != nil {
				return err
			}
			if err := cl.call(ctx, "POST", "/v1/rtt/"+peer+"/open", map[string]string{"channel": ch}, nil); err != nil {
				return err
			}
			if err := cl.call(ctx, "POST", "/v1/rtt/"+peer+"/send", map[string]any{"channel": ch, "data": []byte(text)}, nil); err != nil {
				return err
			}
			if c.Bool("json") {
				printJSON(c, map[string]any{"peer": peer, "channel": ch, "bytes": len(text)})
				return nil
			}
			fmt.Fprintf(c.App.Writer, "sent %d bytes to %s on %s\n", len(text), peer, ch)
			return nil
		},
	}
}
