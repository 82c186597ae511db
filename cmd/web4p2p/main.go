// Command web4p2p runs one agent node of the web4p2p mesh and the operator
// commands around it. Each subcommand lives in its own file.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"github.com/urfave/cli/v2"
)

func main() {
	app := newApp()
	if err := execute(context.Background(), app, os.Args); err != nil {
		reportError(os.Stderr, os.Args, err)
		os.Exit(1)
	}
}

// reportError prints err as one line, or as one JSON object
// {"error": "..."} when the command was asked for --json, so scripts can
// read failures the way they read results.
func reportError(w io.Writer, args []string, err error) {
	for _, a := range args[1:] {
		if a == "--" {
			break
		}
		if a == "--json" || a == "-json" || a == "--json=true" {
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
	}
	fmt.Fprintln(w, "web4p2p:", err)
}

func newApp() *cli.App {
	app := &cli.App{
		Name:                 "web4p2p",
		Usage:                "peer-to-peer mesh for AI agents: signed messages, earned trust, quorum knowledge",
		Version:              Version,
		EnableBashCompletion: true,
		HideVersion:          false,
		Flags:                []cli.Flag{logLevelFlag},
		Before:               applyLogLevel, // a bad --log-level fails every command
		Commands: []*cli.Command{
			startCommand(),
			demoCommand(),
			meshCommand(),
			idCommand(),
			statusCommand(),
			peersCommand(),
			connectCommand(),
			findCommand(),
			trustCommand(),
			humanCommand(), whyCommand(),
			eventsCommand(),
			sendCommand(), receiveCommand(),
			factsCommand(),
			learnCommand(),
			mcpCommand(),
			claimsCommand(),
			versionCommand(), completionCommand(),
		},
		OnUsageError: usageError,
	}
	app.Flags = freshFlags(app.Flags)
	withEnv(app.Flags)
	for _, c := range app.Commands {
		setUsageError(c)
		freshCommandFlags(c)
		if c.Name == "start" {
			withEnv(c.Flags, "log-level") // WEB4P2P_LISTEN, WEB4P2P_API, …
		}
	}
	return app
}

// freshFlags copies each flag: the flag values in flags.go are shared by
// several commands, and urfave/cli writes into a flag when it applies it
// (an environment variable's value, HasBeenSet), so each App gets its own.
func freshFlags(fs []cli.Flag) []cli.Flag {
	out := make([]cli.Flag, len(fs))
	for i, f := range fs {
		v := reflect.ValueOf(f)
		if v.Kind() != reflect.Pointer {
			out[i] = f
			continue
		}
		cp := reflect.New(v.Elem().Type())
		cp.Elem().Set(v.Elem())
		out[i] = cp.Interface().(cli.Flag)
	}
	return out
}

func freshCommandFlags(c *cli.Command) {
	c.Flags = freshFlags(c.Flags)
	for _, s := range c.Subcommands {
		freshCommandFlags(s)
	}
}

// usageError turns a flag/argument mistake into one clear line (no help
// dump); main prints it and exits non-zero.
func usageError(c *cli.Context, err error, _ bool) error {
	if c.Command == nil || c.Command.Name == "" || c.Command.Name == c.App.Name {
		return fmt.Errorf("%w (see '%s --help')", err, c.App.Name)
	}
	// The command path, "trust set", from the chain of contexts.
	var names []string
	for _, x := range c.Lineage() {
		if x.Command != nil && x.Command.Name != "" && x.Command.Name != c.App.Name {
			names = append([]string{x.Command.Name}, names...)
		}
	}
	name := strings.Join(names, " ")
	return fmt.Errorf("%s: %w (see '%s %s --help')", name, err, c.App.Name, name)
}

func setUsageError(c *cli.Command) {
	c.OnUsageError = usageError
	for _, s := range c.Subcommands {
		setUsageError(s)
	}
}
