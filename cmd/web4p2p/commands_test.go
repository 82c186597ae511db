package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDemoEndsWithExitZero(t *testing.T) {
	out, err := run(t, "demo", "--quiet", "--messages", "300")
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	for _, want := range []string{"RTT session handshake", "cutting the libp2p connection", "exactly once, in order"} {
		if !strings.Contains(out, want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out)
		}
	}
}

func TestMeshJSONSummary(t *testing.T) {
	out, err := run(t, "mesh", "--n", "5", "--json")
	if err != nil {
		t.Fatalf("mesh: %v\n%s", err, out)
	}
	var s struct {
		OK       bool     `json:"ok"`
		Accepted []string `json:"accepted"`
		Nodes    []struct {
			Name        string `json:"name"`
			Accepted    int    `json:"accepted_facts"`
			Blacklisted int    `json:"blacklisted"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !s.OK || len(s.Accepted) != 2 || len(s.Nodes) != 4 {
		t.Fatalf("summary: %+v", s)
	}
	for _, n := range s.Nodes {
		if n.Accepted != 2 || n.Blacklisted != 1 {
			t.Fatalf("%s: %+v", n.Name, n)
		}
	}
}

func TestMeshRejectsTooFewNodes(t *testing.T) {
	if _, err := run(t, "mesh", "--n", "3"); err == nil || !strings.Contains(err.Error(), "--n 3") {
		t.Fatalf("got %v", err)
	}
}
