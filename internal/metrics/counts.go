package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Counts is a prometheus.Collector of one gauge per label value, computed
// at scrape time by a function the wiring supplies (web4_peers{trust},
// web4_facts{status}). It holds no state of its own, so the gauges can never
// drift from the ledger or store they describe, and the pure core does not
// learn that Prometheus exists.
//
// Every value in Values is exported on each scrape, 0 when count does not
// mention it, so a dashboard sees "no blacklisted peers" rather than a
// missing series. A value count returns that is not in Values is exported
// too (it would be a bug in the caller, and hiding it would be worse).
type Counts struct {
	desc   *prometheus.Desc
	values []string
	count  func() map[string]int
}

// NewCounts returns a collector of gauge name{label=v} for each v of
// values. count is called once per scrape, from the scraping goroutine; it
// must be safe for concurrent use and must not block for long. A nil
// result (the component is not built yet) exports zeros.
func NewCounts(name, help, label string, values []string, count func() map[string]int) *Counts {
	return &Counts{
		desc:   prometheus.NewDesc(name, help, []string{label}, nil),
		values: append([]string(nil), values...),
		count:  count,
	}
}

// Describe implements prometheus.Collector.
func (c *Counts) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *Counts) Collect(ch chan<- prometheus.Metric) {
	got := c.count()
	seen := make(map[string]bool, len(c.values))
	for _, v := range c.values {
		seen[v] = true
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(got[v]), v)
	}
	for v, n := range got {
		if !seen[v] {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), v)
		}
	}
}
