package main

import (
	"encoding/json"

	"github.com/urfave/cli/v2"
)

// printJSON writes v as one JSON document to the command's writer.
func printJSON(c *cli.Context, v any) {
	enc := json.NewEncoder(c.App.Writer)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
