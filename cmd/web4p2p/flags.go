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
		EnvVars: []string{"WEB4P2P_DATA_DIR", node.HomeEnv}, Value: node.DefaultDataDir(), DefaultText: "$WEB4P2P_HOME or ~/.web4p2p",
	}
	listenFlag = &cli.StringSliceFlag{
		Name: "listen", Aliases: []string{"l"}, Usage: "multiaddr to listen on (repeatable)",
		Value: cli.NewStringSlice("/ip4/127.0.0.1/tcp/4001", "/ip4/127.0.0.1/udp/4001/quic-v1"),
	}
	logLevelFlag = &cli.StringFlag{
		Name: "log-level", Value: defaultLogLevel, // WEB4P2P_LOG_LEVEL: on the global copy (withEnv)
		Usage: "debug|info|warn|error: what web4p2p prints on stderr (events are info, web4.error events error, warnings warn); when given, go-libp2p's loggers too (else they stay quiet)",
	}
)
