package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/node"
	"github.com/web4p2p/web4p2p/node/api"
	"github.com/web4p2p/web4p2p/node/publicnet"
)

func startCommand() *cli.Command {
	return &cli.Command{
		Name:  "start",
		Usage: "run this agent node until SIGINT/SIGTERM",
		Flags: []cli.Flag{
			dataDirFlag, logLevelFlag, jsonFlag,
			&cli.StringSliceFlag{Name: "listen", Aliases: []string{"l"}, Usage: "multiaddr to listen on (repeatable; default: every interface, TCP and QUIC, IPv4 and IPv6, on --port)"},
			&cli.IntFlag{Name: "port", Value: 4001, Usage: "TCP and UDP port of the default listen addresses (0 = any free port)"},
			&cli.BoolFlag{Name: "no-nat-traversal", Usage: "turn off AutoNAT, relay client and hole punching"},
			&cli.StringFlag{Name: "dht", Value: "auto", Usage: "run the /web4 Kademlia DHT: auto|server|client, or off"},
			&cli.StringFlag{Name: "mesh", Usage: "find the other members of mesh NAME through the DHT rendezvous namespace"},
			&cli.BoolFlag{Name: "relay-service", Usage: "offer Circuit Relay v2 to other peers (for publicly reachable nodes)"},
			&cli.StringFlag{Name: "reachability", Usage: "state this node's reachability instead of asking AutoNAT: public, or private (behind a NAT: reserve relay slots at once)"},
			&cli.StringSliceFlag{Name: "public-cidr", Usage: "treat addresses in CIDR as publicly routable for relaying and hole punching (repeatable; for lab networks such as 198.18.0.0/15, which libp2p otherwise ignores there; AutoNAT still cannot test them, so set --reachability too)"},
			&cli.StringSliceFlag{Name: "bootstrap", Aliases: []string{"b"}, Usage: "peer multiaddr ending in /p2p/<PeerID> to join through (repeatable)"},
			&cli.BoolFlag{Name: "mdns", Usage: "discover peers on the local network with mDNS"},
			&cli.StringFlag{Name: "mdns-service", Value: "web4p2p", Usage: "mDNS service name (nodes only find others using the same name)"},
			&cli.StringSliceFlag{Name: "trust-anchor", Usage: "PeerID that starts trusted (repeatable)"},
			&cli.StringFlag{Name: "agent-id", Usage: "this agent's name (default agent-<last 8 of PeerID>)"},
			&cli.StringFlag{Name: "events-file", Usage: "append every event as JSON lines to this file"},
			&cli.Float64Flag{Name: "events-file-max-mb", Value: events.DefaultRotateBytes >> 20, Usage: "rotate the events file past this size in MiB (to <file>.1, older ones shifted up)"},
			&cli.IntFlag{Name: "events-file-keep", Value: events.DefaultRotateKeep, Usage: "rotated events files kept (<file>.1 … <file>.N)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "do not print events to stderr"},
			&cli.StringFlag{Name: "api", Value: "127.0.0.1:0", Usage: "control API address (port 0 = any free port; written to <data-dir>/api.addr); empty disables it"},
			&cli.StringFlag{Name: "lip-search", Usage: "search URL template for LIP queries, {query} is replaced (e.g. https://search.example/?q={query})"},
			&cli.StringFlag{Name: "lip-tiers", Usage: "source-tier JSON file (domain patterns → unknown|low|medium|high|blocked)"},
			&cli.StringSliceFlag{Name: "capability", Usage: "a capability this agent offers, comma-separated or repeated (e.g. translate,summarize): a skill on its agent card, advertised in the DHT for 'find'"},
			&cli.StringSliceFlag{Name: "mission", Usage: "the agent's mission topics, comma-separated or repeated (e.g. work,research); intents off them count as drift"},
			&cli.StringSliceFlag{Name: "allow-fetch-host", Usage: "let 'learn' fetch from this private/loopback IP, CIDR or host name (repeatable; e.g. 127.0.0.1 for local testing)"},
			&cli.BoolFlag{Name: "api-allow-remote", Usage: "allow the control API on a non-loopback address (anyone who can reach it and has the token can act for this agent)"},
		},
		Action: runStart,
	}
}

func runStart(c *cli.Context) error {
	cfg, err := startConfig(c)
	if err != nil {
		return err
	}
	n, err := node.New(cfg)
	if err != nil {
		return err
	}
	return runNode(c, cfg, n)
}

// startConfig resolves start's settings — flag, then WEB4P2P_* variable,
// then <data-dir>/config.json, then default — into a node.Config.
func startConfig(c *cli.Context) (node.Config, error) {
	if err := applyConfigFile(c); err != nil {
		return node.Config{}, err
	}
	if err := applyLogLevel(c); err != nil {
		return node.Config{}, err
	}
	cfg := node.DefaultConfig()
	cfg.DataDir = c.String("data-dir")
	cfg.ListenAddrs = c.StringSlice("listen")
	if len(cfg.ListenAddrs) == 0 {
		cfg.ListenAddrs = allInterfaces(c.Int("port"))
	}
	cfg.NATTraversal = !c.Bool("no-nat-traversal")
	cfg.RelayService = c.Bool("relay-service")
	cfg.Reachability = c.String("reachability")
	lab, err := publicnet.Parse(c.StringSlice("public-cidr"))
	if err != nil {
		return node.Config{}, fmt.Errorf("--public-cidr %w", err)
	}
	cfg.PublicCIDRs = lab
	if cfg.DHT = c.String("dht"); cfg.DHT == "off" {
		cfg.DHT = ""
	}
	cfg.Mesh = c.String("mesh")
	cfg.Bootstrap = c.StringSlice("bootstrap")
	cfg.MDNS = c.Bool("mdns")
	cfg.MDNSService = c.String("mdns-service")
	cfg.TrustAnchors = c.StringSlice("trust-anchor")
	cfg.AgentID = c.String("agent-id")
	cfg.EventsFile = c.String("events-file")
	mb, keep := c.Float64("events-file-max-mb"), c.Int("events-file-keep")
	if mb <= 0 || mb > 1<<20 {
		return node.Config{}, fmt.Errorf("--events-file-max-mb %v: want a size in MiB within (0, 1048576]", mb)
	}
	if keep < 1 || keep > 1000 {
		return node.Config{}, fmt.Errorf("--events-file-keep %d: want 1 to 1000 rotated files", keep)
	}
	cfg.EventsFileMaxBytes, cfg.EventsFileKeep = max(int64(mb*(1<<20)), 1), keep
	cfg.LIP.SearchURL = c.String("lip-search")
	cfg.LIP.TierFile = c.String("lip-tiers")
	cfg.Human.Loop.Mission = listValues(c.StringSlice("mission"))
	cfg.Capabilities = listValues(c.StringSlice("capability"))
	allow, err := fetchAllow(c.Context, c.StringSlice("allow-fetch-host"))
	if err != nil {
		return node.Config{}, err
	}
	cfg.LIP.Allow = allow
	cfg.APIAddr = c.String("api")
	cfg.APIAllowRemote = c.Bool("api-allow-remote")
	if cfg.APIAddr != "" {
		if err := api.CheckBind(cfg.APIAddr, cfg.APIAllowRemote); err != nil {
			return node.Config{}, err
		}
		if cfg.APIAllowRemote {
			if err := api.CheckBind(cfg.APIAddr, false); err != nil {
				warnf(c, "control API on non-loopback address %s (--api-allow-remote): protect %s/%s", cfg.APIAddr, cfg.DataDir, api.TokenFile)
			}
		}
	}
	if !c.Bool("quiet") {
		if c.Bool("json") {
			cfg.Sinks = append(cfg.Sinks, leveled{events.NewJSONLines(nopCloser{os.Stderr})})
		} else {
			cfg.Sinks = append(cfg.Sinks, leveled{events.NewHuman(os.Stderr, "")})
		}
	}
	return cfg, nil
}

// runNode starts n and runs it until a signal or the end of c.Context.
func runNode(c *cli.Context, cfg node.Config, n *node.Node) error {
	defer n.Close()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	ctx, cancel := context.WithTimeout(c.Context, 30*time.Second)
	err := n.Start(ctx)
	cancel()
	if err != nil {
		return err
	}
	if len(cfg.TrustAnchors) == 0 {
		// Without anchors nobody is trusted here at first, and nothing can
		// reach quorum until some peer has earned trust (SPEC §5). Said once
		// the node runs, so a failed start still prints one line.
		warnf(c, "no --trust-anchor: this node trusts nobody yet; no fact reaches quorum here until peers earn trust")
	}
	var addrs []string
	for _, a := range n.Addrs() {
		addrs = append(addrs, a.String())
	}
	if c.Bool("json") {
		printJSON(c, map[string]any{"peer_id": n.ID().String(), "agent_id": n.AgentID(), "addrs": addrs, "data_dir": cfg.DataDir, "api": n.APIAddr()})
	} else {
		fmt.Fprintf(c.App.Writer, "web4p2p %s running as %s (%s)\n", Version, n.AgentID(), n.ID())
		for _, a := range addrs {
			fmt.Fprintf(c.App.Writer, "  listening on %s\n", a)
		}
		if a := n.APIAddr(); a != "" {
			fmt.Fprintf(c.App.Writer, "  control API on http://%s (token in %s)\n", a, filepath.Join(cfg.DataDir, api.TokenFile))
		}
		fmt.Fprintln(c.App.Writer, "press Ctrl-C to stop")
	}
	select {
	case sig := <-sigs:
		if !c.Bool("json") {
			fmt.Fprintf(c.App.Writer, "received %s, shutting down\n", sig)
		}
	case <-c.Context.Done(): // the caller's context (tests) ends the node too
	}
	// A second signal while closing aborts at once.
	closed := make(chan struct{})
	defer close(closed)
	go func() {
		select {
		case <-sigs:
			fmt.Fprintln(os.Stderr, "web4p2p: second signal, exiting without clean shutdown")
			os.Exit(130)
		case <-closed:
		}
	}()
	return n.Close()
}

// allInterfaces are start's default listen addresses: TCP and QUIC on every
// IPv4 interface, and on every IPv6 one when the machine has IPv6 (a host
// with IPv6 disabled would otherwise fail to start).
func allInterfaces(port int) []string {
	addrs := []string{fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", port), fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", port)}
	if l, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		l.Close()
		addrs = append(addrs, fmt.Sprintf("/ip6/::/tcp/%d", port), fmt.Sprintf("/ip6/::/udp/%d/quic-v1", port))
	}
	return addrs
}

type nopCloser struct{ *os.File }

// Close does nothing: stderr outlives the sink.
func (nopCloser) Close() error { return nil }
