package metrics

import (
	"testing"

	"github.com/web4p2p/web4p2p/internal/events"
)

func TestCountedCountsByTypeAndForwards(t *testing.T) {
	reg := NewRegistry()
	ring := events.NewRing(8)
	c := NewCounted(reg, ring)
	c.Emit(events.Event{Type: "web4.rtt.session_up"})
	c.Emit(events.Event{Type: "web4.rtt.session_up"})
	c.Emit(events.Event{Type: "web4.trust.transition"})
	if ring.Total() != 3 {
		t.Fatalf("forwarded %d events, want 3", ring.Total())
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "web4_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "type" {
					got[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	if len(got) != 2 || got["web4.rtt.session_up"] != 2 || got["web4.trust.transition"] != 1 {
		t.Fatalf("web4_events_total = %v, want session_up 2, transition 1", got)
	}
	// A nil registry and a nil Next are allowed: the sink only counts.
	NewCounted(nil, nil).Emit(events.Event{Type: "x"})
}
