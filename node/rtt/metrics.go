package rtt

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the service's Prometheus collectors (web4_rtt_*). Labels are
// bounded (channel, direction); per-peer detail lives in Telemetry.
type metrics struct {
	frames            *prometheus.CounterVec
	bytes             *prometheus.CounterVec
	replays           *prometheus.CounterVec
	rejected          *prometheus.CounterVec
	backpressure      *prometheus.CounterVec
	reconnects        prometheus.Counter
	reconnectAttempts prometheus.Counter
	handshakeFailures prometheus.Counter
	migrations        prometheus.Counter
	sessionsUp        prometheus.Gauge
	rtt               prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "web4_rtt_frames_total", Help: "RTT data frames by channel and direction (out = accepted by Send, in = delivered).",
		}, []string{"channel", "direction"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "web4_rtt_bytes_total", Help: "RTT payload bytes by channel and direction.",
		}, []string{"channel", "direction"}),
		replays: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "web4_rtt_replay_drops_total", Help: "Frames dropped as replays (duplicate seq or foreign session).",
		}, []string{"channel"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "web4_rtt_frames_rejected_total", Help: "Malformed or rule-breaking frames; the carrying stream was reset.",
		}, []string{"channel"}),
		backpressure: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "web4_rtt_backpressure_total", Help: "TrySend calls refused because the send queue was full.",
		}, []string{"channel"}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "web4_rtt_resumes_total", Help: "Sessions resumed on a new connection.",
		}),
		reconnectAttempts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "web4_rtt_reconnect_attempts_total", Help: "Redial attempts of down sessions.",
		}),
		handshakeFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "web4_rtt_handshake_failures_total", Help: "Failed RTT session handshakes (either role).",
		}),
		migrations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "web4_rtt_migrations_total", Help: "Sessions moved from a relayed onto a direct connection.",
		}),
		sessionsUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "web4_rtt_sessions_up", Help: "Sessions with a live connection.",
		}),
		rtt: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "web4_rtt_heartbeat_rtt_seconds", Help: "Heartbeat round-trip time on control.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16),
		}),
	}
	if reg == nil {
		return m, nil
	}
	register := func(c prometheus.Collector) (prometheus.Collector, error) {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return are.ExistingCollector, nil
			}
			return nil, err
		}
		return c, nil
	}
	// A second Service on the same registry shares the collectors.
	var err error
	var c prometheus.Collector
	for _, p := range []**prometheus.CounterVec{&m.frames, &m.bytes, &m.replays, &m.rejected, &m.backpressure} {
		if c, err = register(*p); err != nil {
			return nil, err
		}
		*p = c.(*prometheus.CounterVec)
	}
	for _, p := range []*prometheus.Counter{&m.reconnects, &m.reconnectAttempts, &m.handshakeFailures, &m.migrations} {
		if c, err = register(*p); err != nil {
			return nil, err
		}
		*p = c.(prometheus.Counter)
	}
	if c, err = register(m.sessionsUp); err != nil {
		return nil, err
	}
	m.sessionsUp = c.(prometheus.Gauge)
	if c, err = register(m.rtt); err != nil {
		return nil, err
	}
	m.rtt = c.(prometheus.Histogram)
	return m, nil
}

// chanCounters are the per-channel series, resolved once so the data path
// does no label lookups.
type chanCounters struct {
	framesIn, framesOut, bytesIn, bytesOut prometheus.Counter
}

func (m *metrics) forChannel(ch Channel) chanCounters {
	n := ch.String()
	return chanCounters{
		framesIn: m.frames.WithLabelValues(n, "in"), framesOut: m.frames.WithLabelValues(n, "out"),
		bytesIn: m.bytes.WithLabelValues(n, "in"), bytesOut: m.bytes.WithLabelValues(n, "out"),
	}
}
