package agentloop

import (
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

func TestComputeLRI(t *testing.T) {
	w := DefaultConfig().Weights
	ceil := 2 * time.Second
	cases := []struct {
		name string
		in   LoadInputs
		want int
	}{
		{"idle", LoadInputs{InboxCap: 10}, 0},
		{"everything saturated", LoadInputs{Load: LoadSample{1, 1}, InboxDepth: 10, InboxCap: 10, Latency: ceil}, 100},
		{"cpu only", LoadInputs{Load: LoadSample{CPU: 1}, InboxCap: 10}, 35},
		{"full inbox only", LoadInputs{InboxDepth: 10, InboxCap: 10}, 30},
		{"latency beyond ceiling is capped", LoadInputs{Latency: time.Hour, InboxCap: 10}, 20},
		{"out-of-range inputs are clamped", LoadInputs{Load: LoadSample{CPU: 7, Memory: -3}, InboxCap: 10}, 35},
		{"mixed", LoadInputs{Load: LoadSample{0.6, 0.2}, InboxDepth: 5, InboxCap: 10, Latency: time.Second}, 49},
	}
	for _, c := range cases {
		if got := ComputeLRI(w, ceil, c.in); got != c.want {
			t.Errorf("%s: LRI = %d, want %d", c.name, got, c.want)
		}
	}
	if ComputeLRI(Weights{}, ceil, LoadInputs{Load: LoadSample{1, 1}}) != 0 {
		t.Error("zero weights must give 0")
	}
}

func TestNextPresence(t *testing.T) {
	cfg := DefaultConfig()
	const (
		F = envelope.Focused
		D = envelope.Diffuse
		O = envelope.Overloaded
		E = envelope.Engaged
	)
	cases := []struct {
		cur         envelope.Presence
		lri, active int
		want        envelope.Presence
	}{
		{D, 0, 0, D},
		{D, 79, 0, D},
		{D, 80, 0, O},
		{O, 79, 0, O},
		{O, 65, 2, O},
		{O, 64, 0, D},
		{O, 64, 1, E}, // leaving overload at 64 with one intent: not < 50
		{D, 49, 1, F},
		{D, 50, 1, E},
		{F, 54, 1, F}, // focused hysteresis
		{F, 55, 1, E},
		{E, 52, 1, E},
		{D, 10, 2, E},
		{F, 10, 0, D},
	}
	for _, c := range cases {
		if got := NextPresence(cfg, c.cur, c.lri, c.active); got != c.want {
			t.Errorf("NextPresence(%v, lri %d, active %d) = %v, want %v", c.cur, c.lri, c.active, got, c.want)
		}
	}
}

func TestMatchPeers(t *testing.T) {
	peers := []Peer{
		{Fingerprint: "c", Capabilities: []string{"topic:science"}},
		{Fingerprint: "a", Capabilities: []string{"science"}},
		{Fingerprint: "b", Capabilities: []string{"cooking"}},
		{Fingerprint: "d", Capabilities: []string{"*"}, Presence: envelope.Overloaded},
		{Fingerprint: "e", Capabilities: []string{"*"}},
		{Fingerprint: "a", Capabilities: []string{"science"}}, // duplicate
		{Fingerprint: "", Capabilities: []string{"*"}},
		{Fingerprint: "f", Capabilities: []string{"science/physics"}},
	}
	got := MatchPeers(peers, "science/physics", 0)
	want := []string{"a", "c", "e", "f"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].Fingerprint != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if got := MatchPeers(peers, "science", 2); len(got) != 2 || got[0].Fingerprint != "a" || got[1].Fingerprint != "c" {
		t.Fatalf("fanout 2: %v", got)
	}
	if got := MatchPeers(peers, "sciencefiction", 0); len(got) != 1 || got[0].Fingerprint != "e" {
		t.Fatalf("prefix without '/' must not match: %v", got)
	}
	for hcp, cip := range map[string]string{"request": "ask", "clarify": "ask", "decide": "propose_solution", "align": "propose_solution", "resolve_conflict": "verify_knowledge", "": "ask"} {
		if CIPGoal(hcp) != cip {
			t.Errorf("CIPGoal(%q) = %q, want %q", hcp, CIPGoal(hcp), cip)
		}
	}
	if CIPPriority("safety") != "high" || CIPPriority("low") != "low" || CIPPriority("x") != "normal" {
		t.Error("CIPPriority mapping wrong")
	}
}

func TestEnumStrings(t *testing.T) {
	if ItemHumanIntent.String() != "human_intent" || ItemKind(0).String() != "invalid(0)" || ActRequestDecision.String() != "request_decision" ||
		Defer.String() != "defer" || NodeDecision.String() != "decision" {
		t.Fatal("enum names wrong")
	}
}
