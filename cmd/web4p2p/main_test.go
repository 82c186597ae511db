package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	app := newApp()
	var out bytes.Buffer
	app.Writer = &out
	app.ErrWriter = &out
	err := app.Run(append([]string{"web4p2p"}, args...))
	return out.String(), err
}

func TestVersionJSON(t *testing.T) {
	out, err := run(t, "version", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]string
	if err := json.Unmarshal([]byte(out), &v); err != nil || v["version"] != Version {
		t.Fatalf("version --json: %q %v", out, err)
	}
}

func TestUnknownFlagFails(t *testing.T) {
	if _, err := run(t, "version", "--nope"); err == nil {
		t.Fatal("unknown flag accepted")
	}
}
