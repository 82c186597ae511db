package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/web4p2p/web4p2p/node/api"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show a running node's identity, addresses, uptime and load",
		Flags: clientFlags,
		Action: func(c *cli.Context) error {
			var st api.Status
			if printed, err := request(c, 10*time.Second, "GET", "/v1/status", nil, &st); err != nil || printed {
				return err
			}
			w := c.App.Writer
			fmt.Fprintf(w, "agent:       %s\nPeerID:      %s\nfingerprint: %s\n", st.AgentID, st.PeerID, st.Fingerprint)
			fmt.Fprintf(w, "uptime:      %s\npresence:    %s (LRI %d)\npeers:       %d\nversion:     %s\n",
				(time.Duration(st.UptimeSeconds) * time.Second).String(), st.Presence, st.LRI, st.Peers, st.Version)
			if len(st.Mission) > 0 {
				fmt.Fprintf(w, "mission:     %s\n", strings.Join(st.Mission, ", "))
			}
			if len(st.Capabilities) > 0 {
				fmt.Fprintf(w, "capability:  %s\n", strings.Join(st.Capabilities, ", "))
			}
			for _, a := range st.Addrs {
				fmt.Fprintf(w, "address:     %s\n", a)
			}
			return nil
		},
	}
}
