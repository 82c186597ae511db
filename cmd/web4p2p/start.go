package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/node"
)

func startCommand() *cli.Command {
	return &cli.Command{
		Name:  "start",
		Usage: "run this agent node until SIGINT/SIGTERM",
		Flags: []cli.Flag{
			dataDirFlag, listenFlag, logLevelFlag, jsonFlag,
			&cli.StringSliceFlag{Name: "bootstrap", Aliases: []string{"b"}, Usage: "peer multiaddr ending in /p2p/<PeerID> to join through (repeatable)"},
			&cli.BoolFlag{Name: "mdns", Usage: "discover peers on the local network with mDNS"},
			&cli.StringFlag{Name: "mdns-service", Value: "web4p2p", Usage: "mDNS service name (nodes only find others using the same name)"},
			&cli.StringSliceFlag{Name: "trust-anchor", Usage: "PeerID that starts trusted (repeatable)"},
			&cli.StringFlag{Name: "agent-id", Usage: "this agent's name (default agent-<last 8 of PeerID>)"},
			&cli.StringFlag{Name: "events-file", Usage: "append every event as JSON lines to this file"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "do not print events to stderr"},
		},
		Action: runStart,
	}
}

func runStart(c *cli.Context) error {
	if err := node.SetLogLevel(c.String("log-level")); err != nil {
		return err
	}
	cfg := node.DefaultConfig()
	cfg.DataDir = c.String("data-dir")
	cfg.ListenAddrs = c.StringSlice("listen")
	cfg.Bootstrap = c.StringSlice("bootstrap")
	cfg.MDNS = c.Bool("mdns")
	cfg.MDNSService = c.String("mdns-service")
	cfg.TrustAnchors = c.StringSlice("trust-anchor")
	cfg.AgentID = c.String("agent-id")
	cfg.EventsFile = c.String("events-file")
	if !c.Bool("quiet") {
		if c.Bool("json") {
			cfg.Sinks = append(cfg.Sinks, events.NewJSONLines(nopCloser{os.Stderr}))
		} else {
			cfg.Sinks = append(cfg.Sinks, events.NewHuman(os.Stderr, ""))
		}
	}
	n, err := node.New(cfg)
	if err != nil {
		return err
	}
	defer n.Close()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	ctx, cancel := context.WithTimeout(c.Context, 30*time.Second)
	err = n.Start(ctx)
	cancel()
	if err != nil {
		return err
	}
	var addrs []string
	for _, a := range n.Addrs() {
		addrs = append(addrs, a.String())
	}
	if c.Bool("json") {
		printJSON(c, map[string]any{"peer_id": n.ID().String(), "agent_id": n.AgentID(), "addrs": addrs, "data_dir": cfg.DataDir})
	} else {
		fmt.Fprintf(c.App.Writer, "web4p2p %s running as %s (%s)\n", Version, n.AgentID(), n.ID())
		for _, a := range addrs {
			fmt.Fprintf(c.App.Writer, "  listening on %s\n", a)
		}
		fmt.Fprintln(c.App.Writer, "press Ctrl-C to stop")
	}
	sig := <-sigs
	if !c.Bool("json") {
		fmt.Fprintf(c.App.Writer, "received %s, shutting down\n", sig)
	}
	// A second signal while closing aborts at once.
	go func() {
		if _, ok := <-sigs; ok {
			fmt.Fprintln(os.Stderr, "web4p2p: second signal, exiting without clean shutdown")
			os.Exit(130)
		}
	}()
	return n.Close()
}

type nopCloser struct{ *os.File }

// Close does nothing: stderr outlives the sink.
func (nopCloser) Close() error { return nil }
