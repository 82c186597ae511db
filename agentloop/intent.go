package agentloop

import (
	"sort"
	"strings"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// CapabilityAll in a peer's capabilities matches every topic.
const CapabilityAll = "*"

// Matches reports whether a peer advertising caps can take an intent on
// topic: a capability equal to the topic, to "topic:<topic>", to a parent
// of the topic ("work" covers "work/papers"), or CapabilityAll.
func Matches(caps []string, topic string) bool {
	for _, c := range caps {
		c = strings.TrimPrefix(c, "topic:")
		if c == CapabilityAll || within(topic, c) {
			return true
		}
	}
	return false
}

// within reports whether topic equals parent or extends it with "/".
func within(topic, parent string) bool {
	return topic == parent || (parent != "" && strings.HasPrefix(topic, parent+"/"))
}

// MatchPeers returns the peers an intent on topic should go to: those whose
// capabilities match, not known to be overloaded, at most max of them,
// ordered by fingerprint so the choice is deterministic. Pure.
func MatchPeers(peers []Peer, topic string, max int) []Peer {
	var out []Peer
	seen := map[string]bool{}
	for _, p := range peers {
		if p.Fingerprint == "" || seen[p.Fingerprint] || p.Presence == envelope.Overloaded || !Matches(p.Capabilities, topic) {
			continue
		}
		seen[p.Fingerprint] = true
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Fingerprint < out[j].Fingerprint })
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out
}

// CIPGoal maps an HCP intent goal to the CIP INTENT goal it becomes when
// propagated to peers (SPEC §6 and §4.1 name different goal sets):
// request/clarify → ask, decide/align → propose_solution, resolve_conflict
// → verify_knowledge; anything else → ask.
func CIPGoal(hcpGoal string) string {
	switch hcpGoal {
	case "decide", "align":
		return "propose_solution"
	case "resolve_conflict":
		return "verify_knowledge"
	default:
		return "ask"
	}
}

// CIPPriority maps an HCP priority to CIP (which has no "safety": it
// becomes high); unknown → normal.
func CIPPriority(hcpPriority string) string {
	switch hcpPriority {
	case "low", "normal", "high":
		return hcpPriority
	case "safety":
		return "high"
	default:
		return "normal"
	}
}

// OnMission reports whether topic is within one of the mission topics.
func OnMission(mission []string, topic string) bool {
	for _, m := range mission {
		if within(topic, m) {
			return true
		}
	}
	return false
}

// drift tracks whether the last N acted intents were on mission.
type drift struct {
	window []bool // true = off mission; ring
	ids    []string
	next   int
	full   bool
	alarm  bool // raised and not yet cleared (edge-triggered)
}

func newDrift(n int) *drift { return &drift{window: make([]bool, n), ids: make([]string, n)} }

func (d *drift) add(off bool, id string) {
	d.window[d.next], d.ids[d.next] = off, id
	d.next = (d.next + 1) % len(d.window)
	if d.next == 0 {
		d.full = true
	}
}

func (d *drift) len() int {
	if d.full {
		return len(d.window)
	}
	return d.next
}

// share is the fraction of the window that is off mission (0 while the
// window is not yet full, so a few early intents cannot raise the alarm).
func (d *drift) share() float64 {
	if !d.full {
		return 0
	}
	n := 0
	for _, off := range d.window {
		if off {
			n++
		}
	}
	return float64(n) / float64(len(d.window))
}

// offIDs returns the ids of the off-mission intents in the window.
func (d *drift) offIDs() []string {
	var out []string
	for i := 0; i < d.len(); i++ {
		j := (d.next - d.len() + i + len(d.window)) % len(d.window)
		if d.window[j] {
			out = append(out, d.ids[j])
		}
	}
	return out
}
