// Command web4p2p runs one agent node of the web4p2p mesh and the operator
// commands around it. Each subcommand lives in its own file.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

func main() {
	app := newApp()
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "web4p2p:", err)
		os.Exit(1)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:                 "web4p2p",
		Usage:                "peer-to-peer mesh for AI agents: signed messages, earned trust, quorum knowledge",
		Version:              Version,
		EnableBashCompletion: true,
		HideVersion:          false,
		Commands: []*cli.Command{
			versionCommand(),
		},
		OnUsageError: func(c *cli.Context, err error, isSub bool) error {
			return fmt.Errorf("%w (see --help)", err)
		},
	}
}
