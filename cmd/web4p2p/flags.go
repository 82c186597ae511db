package main

import (
	"github.com/urfave/cli/v2"

	"github.com/web4p2p/web4p2p/node"
)

// Flags shared by several commands.
var (
	jsonFlag    = &cli.BoolFlag{Name: "json", Usage: "print machine-readable JSON"}
	dataDirFlag = &cli.StringFlag{
		Name: "data-dir", Usage: "data directory (identity key, store, API token)",
		EnvVars: []string{node.HomeEnv}, Value: node.DefaultDataDir(), DefaultText: "$WEB4P2P_HOME or ~/.web4p2p",
	}
	listenFlag = &cli.StringSliceFlag{
		Name: "listen", Aliases: []string{"l"}, Usage: "multiaddr to listen on (repeatable)",
		Value: cli.NewStringSlice("/ip4/127.0.0.1/tcp/4001", "/ip4/127.0.0.1/udp/4001/quic-v1"),
	}
	logLevelFlag = &cli.StringFlag{Name: "log-level", Value: "fatal", Usage: "go-libp2p log level: debug|info|warn|error|fatal (web4p2p itself reports through events)"}
)
