package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"

	"github.com/urfave/cli/v2"
)

// Version is the release version; overridden with -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

// Commit is the source revision; set with -ldflags "-X main.Commit=<sha>"
// (needed when building with -buildvcs=false, as .ci/run does). Empty: the
// revision Go recorded in the build info (vcs.revision) is used, and when
// neither is there `version` says "commit unknown".
var Commit = ""

// buildCommit returns the commit and whether the tree was modified.
func buildCommit() (commit string, dirty bool) {
	if Commit != "" {
		return Commit, false
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "", false
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	return commit, dirty
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version and the commit it was built from",
		Flags: []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			commit, dirty := buildCommit()
			if c.Bool("json") {
				return json.NewEncoder(c.App.Writer).Encode(map[string]string{
					"version": Version, "commit": commit, "modified": strconv.FormatBool(dirty), "go": runtime.Version(), "rtt": "1.0", "cip": "1.0", "event_contract": "1.0",
				})
			}
			shown := "commit unknown"
			if commit != "" {
				shown = "commit " + commit
				if dirty {
					shown += " (modified)"
				}
			}
			fmt.Fprintf(c.App.Writer, "web4p2p %s (%s, %s, RTT 1.0, CIP 1.0, events 1.0)\n", Version, shown, runtime.Version())
			return nil
		},
	}
}
