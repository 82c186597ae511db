package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/web4p2p/web4p2p/node/api"
)

func peersCommand() *cli.Command {
	return &cli.Command{
		Name:  "peers",
		Usage: "list known peers with their trust state and RTT session",
		Flags: clientFlags,
		Action: func(c *cli.Context) error {
			var out struct {
				Peers []api.Peer `json:"peers"`
			}
			if printed, err := request(c, 10*time.Second, "GET", "/v1/peers", nil, &out); err != nil || printed {
				return err
			}
			if len(out.Peers) == 0 {
				fmt.Fprintln(c.App.Writer, "no peers")
				return nil
			}
			ids := make([]string, len(out.Peers))
			for i, p := range out.Peers {
				ids[i] = p.PeerID
			}
			short := shortIDs(ids, minPeerPrefix)
			tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PEER\tAGENT\tCONNECTED\tTRUST\tRTT SESSION\tPRESENCE\tVIA")
			for _, p := range out.Peers {
				fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%v\t%s\t%s\n", short[p.PeerID], p.AgentID, p.Connected, p.Trust, p.Session, p.Presence, connsSummary(p.Conns))
			}
			return tw.Flush()
		},
	}
}

func connectCommand() *cli.Command {
	return &cli.Command{
		Name:      "connect",
		Usage:     "connect the running node to a peer",
		ArgsUsage: "<PeerID | multiaddr ending in /p2p/PeerID>  (a bare PeerID is looked up in the DHT)",
		Flags:     clientFlags,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("connect: want exactly one PeerID or multiaddr, got %d arguments", c.NArg())
			}
			var p api.Peer
			if printed, err := request(c, 30*time.Second, "POST", "/v1/connect", map[string]string{"addr": c.Args().First()}, &p); err != nil || printed {
				return err
			}
			fmt.Fprintf(c.App.Writer, "connected to %s (trust %s, RTT session %v)\n", p.PeerID, p.Trust, p.Session)
			return nil
		},
	}
}

// connsSummary names each connection's transport and whether it is
// relayed or direct: "quic-v1 direct, tcp relayed".
func connsSummary(conns []api.Conn) string {
	if len(conns) == 0 {
		return "-"
	}
	parts := make([]string, len(conns))
	for i, c := range conns {
		kind := "direct"
		if c.Relayed {
			kind = "relayed"
		}
		parts[i] = c.Transport + " " + kind
	}
	return strings.Join(parts, ", ")
}
