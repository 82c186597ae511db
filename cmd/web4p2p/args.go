package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// flagsFirst reorders args so that the flags of the command they invoke
// come before its positional arguments: urfave/cli stops reading flags at
// the first argument, so `trust set <PeerID> probing --reason x` would
// otherwise take --reason as an argument. Tokens after "--" are left as
// they are. A flag that takes a value keeps the token after it (unless it
// was written --flag=value).
func flagsFirst(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	cmds, flags := app.Commands, app.Flags
	i := 1
	// The command path: leading tokens naming (sub)commands, with the
	// flags of the levels before them left where they are.
	for i < len(args) {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			out = append(out, a)
			if takesValue(flags, a) && i+1 < len(args) {
				out = append(out, args[i+1])
				i++
			}
			i++
			continue
		}
		c := find(cmds, a)
		if c == nil {
			break
		}
		out = append(out, a)
		cmds, flags = c.Subcommands, c.Flags
		i++
	}
	var moved, positional []string
	for ; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			positional = append(positional, args[i:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && a != "-":
			moved = append(moved, a)
			if takesValue(flags, a) && i+1 < len(args) {
				moved = append(moved, args[i+1])
				i++
			}
		default:
			positional = append(positional, a)
		}
	}
	return append(append(out, moved...), positional...)
}

func find(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.Name == name {
			return c
		}
		for _, a := range c.Aliases {
			if a == name {
				return c
			}
		}
	}
	return nil
}

// takesValue reports whether the flag token tok names a flag that reads
// the next token as its value.
func takesValue(flags []cli.Flag, tok string) bool {
	name := strings.TrimLeft(tok, "-")
	if strings.Contains(name, "=") {
		return false
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			if _, ok := f.(*cli.BoolFlag); ok {
				return false
			}
			return true
		}
	}
	return false // unknown: cli reports it
}

// checkCommand reports an unknown command or subcommand in args as one
// line, before urfave/cli would print "No help topic" (and exit 3) or
// take the word as an argument of the parent command.
func checkCommand(app *cli.App, args []string) error {
	cmds, flags := app.Commands, app.Flags
	path := ""
	var parent *cli.Command
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return nil
		}
		if strings.HasPrefix(a, "-") {
			if takesValue(flags, a) {
				i++
			}
			continue
		}
		if parent == nil && (a == "help" || a == "h") {
			return nil
		}
		c := find(cmds, a)
		if c == nil {
			switch {
			case parent == nil:
				return fmt.Errorf("unknown command %q (see '%s --help')", a, app.Name)
			case len(parent.Subcommands) > 0 && parent.ArgsUsage == "":
				return fmt.Errorf("unknown command '%s %s' (see '%s %s --help')", path, a, app.Name, path)
			}
			return nil
		}
		path = strings.TrimSpace(path + " " + a)
		parent, cmds, flags = c, c.Subcommands, c.Flags
	}
	return nil
}

// execute runs the app on the command line args: flags after arguments
// moved first, an unknown command refused in one line.
func execute(ctx context.Context, app *cli.App, args []string) error {
	if err := checkCommand(app, args); err != nil {
		return err
	}
	return app.RunContext(ctx, flagsFirst(app, args))
}
