package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/web4p2p/web4p2p/internal/events"
)

// NewRegistry returns the node's Prometheus registry with the Go runtime and
// process collectors registered. Components register their own collectors
// on it; the control API serves it at /metrics next to go-libp2p's metrics.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Counted is an events.Sink that counts events by type into a Prometheus
// counter (web4_events_total{type}), then forwards them.
type Counted struct {
	Next    events.Sink
	counter *prometheus.CounterVec
}

// NewCounted registers web4_events_total on reg and returns the sink.
func NewCounted(reg prometheus.Registerer, next events.Sink) *Counted {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "web4_events_total", Help: "Events emitted by this node, by type.",
	}, []string{"type"})
	if reg != nil {
		reg.MustRegister(c)
	}
	return &Counted{Next: next, counter: c}
}

// Emit implements events.Sink.
func (c *Counted) Emit(e events.Event) {
	c.counter.WithLabelValues(e.Type).Inc()
	if c.Next != nil {
		c.Next.Emit(e)
	}
}
