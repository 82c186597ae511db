package main

import "github.com/urfave/cli/v2"

// Flags shared by several commands.
var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print machine-readable JSON"}
