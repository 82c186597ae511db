package main

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
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

// The default demo output is the story, readable on a 120-column
// terminal: no line is wider, and the trust story is told.
func TestDemoTellsTheStoryIn120Columns(t *testing.T) {
	out, err := run(t, "demo", "--messages", "50")
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	for i, line := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(line); n > 120 {
			t.Errorf("line %d is %d columns wide: %q", i+1, n, line)
		}
	}
	for _, want := range []string{
		"earned trust from verified knowledge: probing → trusted",
		"second trusted confirmation (n1): accepted on all 4 honest nodes",
		"eve is blacklisted on all 4 honest nodes",
		"n3 kept its state: n2 still trusted, eve still blacklisted, 2 facts still accepted",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if strings.Contains(out, "web4.trust.transition") {
		t.Error("default demo output prints events")
	}
}

func TestDemoEventsPrintsEveryEvent(t *testing.T) {
	out, err := run(t, "demo", "--messages", "5", "--events")
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	for _, want := range []string{"web4.trust.transition", "web4.rtt.handshake_completed", "web4.cip.handshake_completed"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo --events lacks %q", want)
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
