package main

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/urfave/cli/v2"
)

// Version is the release version; overridden with -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version",
		Flags: []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			if c.Bool("json") {
				return json.NewEncoder(c.App.Writer).Encode(map[string]string{
					"version": Version, "go": runtime.Version(), "rtt": "1.0", "cip": "1.0", "event_contract": "1.0",
				})
			}
			fmt.Fprintf(c.App.Writer, "web4p2p %s (%s, RTT 1.0, CIP 1.0, events 1.0)\n", Version, runtime.Version())
			return nil
		},
	}
}
