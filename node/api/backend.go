package api

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/web4p2p/web4p2p/internal/events"
)

// Backend is what the server needs from the node. Methods are called on
// request goroutines, concurrently; they must honour ctx. Errors that
// should map to a specific status are *Error (or wrap one).
type Backend interface {
	Status() Status
	Peers() []Peer
	Connect(ctx context.Context, addr string) (Peer, error)
	Trust() []TrustEntry
	// SetTrust applies the operator's manual override; reason is recorded
	// as the FSM event's cause.
	SetTrust(ctx context.Context, peer, state, reason string) (TrustEntry, error)

	OpenChannel(ctx context.Context, peer, channel string) error
	Send(ctx context.Context, peer, channel string, data []byte) error
	Receive(ctx context.Context, peer, channel string) ([]byte, error)
	CloseChannel(ctx context.Context, peer, channel string) error
	Shutdown(ctx context.Context, peer string) error

	Events() *events.Broker
	Metrics() prometheus.Gatherer
}

// Status is GET /v1/status.
type Status struct {
	PeerID        string   `json:"peer_id"`
	AgentID       string   `json:"agent_id"`
	Fingerprint   string   `json:"fingerprint"`
	Addrs         []string `json:"addrs"`
	UptimeSeconds float64  `json:"uptime_seconds"`
	Presence      string   `json:"presence"`
	LRI           int      `json:"lri"`
	Peers         int      `json:"peers"`
	Version       string   `json:"version"`
}

// Peer is one entry of GET /v1/peers.
type Peer struct {
	PeerID      string         `json:"peer_id"`
	AgentID     string         `json:"agent_id,omitempty"`
	Fingerprint string         `json:"fingerprint,omitempty"`
	Addrs       []string       `json:"addrs,omitempty"`
	Connected   bool           `json:"connected"`
	Trust       string         `json:"trust"`
	Session     bool           `json:"rtt_session"`
	Presence    string         `json:"presence,omitempty"`
	LRI         *int           `json:"lri,omitempty"`
	Telemetry   map[string]any `json:"telemetry,omitempty"`
}

// TrustEntry is one peer's trust record.
type TrustEntry struct {
	Fingerprint string `json:"fingerprint"`
	PeerID      string `json:"peer_id,omitempty"`
	State       string `json:"state"`
	Since       string `json:"since,omitempty"`
	LastEvent   string `json:"last_event,omitempty"`
	LastCause   string `json:"last_cause,omitempty"`
}
