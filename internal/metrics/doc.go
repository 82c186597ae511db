// Package metrics holds the node's Prometheus plumbing: the registry the
// control API serves at /metrics and the sinks and collectors that turn the
// pure core's events and plain counters into Prometheus series.
//
// It exists so that the pure core stays pure: internal/events (the event
// contract), trust, knowledge and protocols/* import neither Prometheus nor
// net/http; node wires them to this package instead. purity_test.go keeps it
// that way.
package metrics
