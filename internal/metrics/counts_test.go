package metrics

import (
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestCountsExportsEveryValueAtScrapeTime(t *testing.T) {
	var cur atomic.Pointer[map[string]int]
	c := NewCounts("web4_test_things", "Things by colour.", "colour", []string{"red", "blue"},
		func() map[string]int {
			if p := cur.Load(); p != nil {
				return *p
			}
			return nil
		})
	reg := NewRegistry()
	reg.MustRegister(c)

	// Not built yet: every declared value is there, at 0.
	if got := gauges(t, reg, "web4_test_things", "colour"); len(got) != 2 || got["red"] != 0 || got["blue"] != 0 {
		t.Fatalf("before: %v", got)
	}
	// The values follow the source on the next scrape; an undeclared
	// value is exported rather than hidden.
	cur.Store(&map[string]int{"red": 2, "green": 1})
	if got := gauges(t, reg, "web4_test_things", "colour"); len(got) != 3 || got["red"] != 2 || got["blue"] != 0 || got["green"] != 1 {
		t.Fatalf("after: %v", got)
	}
}

// gauges gathers reg and returns the gauge name's values by label.
func gauges(t *testing.T, reg prometheus.Gatherer, name, label string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		if mf.GetType() != dto.MetricType_GAUGE {
			t.Fatalf("%s is a %v, want a gauge", name, mf.GetType())
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label {
					got[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	return got
}
