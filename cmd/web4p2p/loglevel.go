package main

import (
	"fmt"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/node"
)

// logLevels are the values --log-level accepts.
var logLevels = []string{"debug", "info", "warn", "error"}

// defaultLogLevel is web4p2p's own level when --log-level is not given.
// go-libp2p's loggers then stay at "fatal": their internal chatter (fx
// start-up rollbacks we already report as one line) is not for operators.
const defaultLogLevel = "info"

// logLevel returns the --log-level in force for c — the innermost command
// that was given it (flag, WEB4P2P_LOG_LEVEL or the config file), else the
// global one — and whether it was given at all.
func logLevel(c *cli.Context) (string, bool) {
	for _, x := range c.Lineage() {
		if x.IsSet("log-level") {
			return x.String("log-level"), true
		}
	}
	return defaultLogLevel, false
}

// applyLogLevel checks --log-level and sets it through ipfs/go-log: web4p2p's
// own subsystem always, every go-libp2p logger too when it was given.
func applyLogLevel(c *cli.Context) error {
	lvl, given := logLevel(c)
	if !slices.Contains(logLevels, lvl) {
		return fmt.Errorf("--log-level %q: want debug|info|warn|error", lvl)
	}
	if given {
		if err := node.SetLogLevel(lvl); err != nil {
			return err
		}
	} else if err := node.SetLogLevel("fatal"); err != nil {
		return err
	}
	return node.SetOwnLogLevel(lvl)
}

// eventLevel is the level at which an event printed on stderr counts:
// web4.error is an error, everything else info.
func eventLevel(e events.Event) string {
	if e.Type == "web4.error" {
		return "error"
	}
	return "info"
}

// leveled passes on the events web4p2p's log level lets through.
type leveled struct{ next events.Sink }

// Emit implements events.Sink.
func (l leveled) Emit(e events.Event) {
	if node.OwnLogEnabled(eventLevel(e)) {
		l.next.Emit(e)
	}
}

// warnf prints a WARNING line on stderr unless --log-level is error.
func warnf(c *cli.Context, format string, args ...any) {
	if node.OwnLogEnabled("warn") {
		fmt.Fprintf(c.App.ErrWriter, "WARNING: "+format+"\n", args...)
	}
}
