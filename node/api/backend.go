package api

import (
	"context"
	"errors"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/web4p2p/web4p2p/agentloop"
	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/node/human"
	"github.com/web4p2p/web4p2p/node/learn"
	"github.com/web4p2p/web4p2p/node/rtt"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/hcp"
	"github.com/web4p2p/web4p2p/protocols/lip"
	"github.com/web4p2p/web4p2p/trust"
)

// Backend is what the server serves: one small interface per area, each
// implemented by the runtime that owns it. Methods are called on request
// goroutines, concurrently, and must honour ctx. The server parses and
// checks every request (PeerIDs, channels, enums, bodies) before it calls
// an area and maps the area's typed errors to statuses and kinds, so the
// areas never see HTTP. An area left nil answers 503 "unavailable".
type Backend struct {
	Node     Node
	Channels Channels
	Facts    Facts
	Human    Human
	Learn    Learn
	Agent    Agent
	A2A      A2A
	Cards    Cards
	Events   *events.Broker
	Metrics  prometheus.Gatherer
}

// ErrNotInLedger: the trust ledger has no record of that peer (404).
var ErrNotInLedger = errors.New("not in the trust ledger")

// ErrOverrideRefused: the ledger refused the operator's change (409).
var ErrOverrideRefused = errors.New("override refused")

// Node is the node itself: status, connections, the trust ledger.
type Node interface {
	Status() Status
	Peers() []Peer
	// Connect dials ai and opens the RTT session.
	Connect(ctx context.Context, ai peer.AddrInfo) (Peer, error)
	Trust() []TrustEntry
	// SetTrust applies the operator's change of fp's trust state (SPEC §5
	// operator transitions: lift a blacklisting, demote, un-anchor,
	// distrust, blacklist); reason is recorded as the cause. It returns
	// ErrNotInLedger for a peer the ledger does not know (unless want is
	// untrusted or blacklisted: a stranger may be refused in advance) and
	// ErrOverrideRefused for a change the FSM does not allow.
	SetTrust(fp string, want trust.State, reason string) (TrustEntry, error)
}

// Channels is the RTT transport API for scripts (node/peers.Runtime).
type Channels interface {
	OpenChannel(ctx context.Context, p peer.ID, ch rtt.Channel) error
	SendApp(ctx context.Context, p peer.ID, ch rtt.Channel, data []byte) error
	ReceiveApp(ctx context.Context, p peer.ID, ch rtt.Channel) ([]byte, error)
	CloseApp(p peer.ID, ch rtt.Channel) error
	Shutdown(ctx context.Context, p peer.ID) error
}

// Facts is the knowledge base (node/mesh with its knowledge.Store).
type Facts interface {
	Facts() []knowledge.FactStatus
	Fact(id string) (knowledge.Fact, knowledge.Result, bool)
	Votes(id string) []knowledge.Vote
	ProposeFact(ctx context.Context, f cip.Fact, trace cip.DMPTrace) (string, error)
	VoteFact(ctx context.Context, factID string, confirm bool, confidence float64, notes string) error
}

// Human is the human's side of the node (node/human.Runtime).
type Human interface {
	Status() (human.Status, error)
	SetState(ctx context.Context, st envelope.Human) error
	SetConsent(ctx context.Context, c envelope.Consent, scope []string, expires time.Time) (envelope.Human, error)
	Intent(ctx context.Context, in hcp.Intent) (human.IntentResult, error)
	PendingDecisions() ([]human.PendingDecision, error)
	Decide(ctx context.Context, id string, d hcp.Decision) (string, error)
	Feedback(ctx context.Context, f hcp.Feedback) (string, error)
	Why(id string) ([]agentloop.Node, error)
	// Held lists the actions the consent gate holds; ReleaseHeld performs
	// one now on the human's word, DropHeld discards it (hcp.ErrNotHeld
	// for an id not held).
	Held() []hcp.Action
	ReleaseHeld(ctx context.Context, id string) error
	DropHeld(ctx context.Context, id string) error
}

// Learn is the LIP runtime (node/learn.Runtime).
type Learn interface {
	Learn(ctx context.Context, req learn.Request) (*learn.Result, error)
	Claims(state lip.State) ([]lip.Entry, error)
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
	// Mission is the AgentLoop's mission topics (empty: none set).
	Mission []string `json:"mission,omitempty"`
	// Capabilities are the operator-declared capabilities (start
	// --capability), advertised in the DHT and listed on the card.
	Capabilities []string `json:"capabilities,omitempty"`
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
	Ready       bool           `json:"cip_ready"` // the CIP handshake on the session succeeded
	Presence    string         `json:"presence,omitempty"`
	LRI         *int           `json:"lri,omitempty"`
	Telemetry   map[string]any `json:"telemetry,omitempty"`
	// Conns are the open libp2p connections to the peer.
	Conns []Conn `json:"conns,omitempty"`
}

// Conn is one open libp2p connection to a peer.
type Conn struct {
	Local     string `json:"local"`
	Remote    string `json:"remote"`
	Transport string `json:"transport"` // tcp, quic-v1, … (the hop under a relay for relayed ones)
	Relayed   bool   `json:"relayed"`   // through a Circuit Relay v2 hop (limited), not direct
	Direction string `json:"direction"` // inbound | outbound
}

// TrustEntry is one peer's trust record.
type TrustEntry struct {
	Fingerprint string `json:"fingerprint"`
	PeerID      string `json:"peer_id,omitempty"`
	State       string `json:"state"`
	Since       string `json:"since,omitempty"`
	LastEvent   string `json:"last_event,omitempty"`
	LastCause   string `json:"last_cause,omitempty"`
	// Anchor: the peer was listed as a trust anchor (it stays set after
	// an operator demotion, which is what keeps a restart from
	// re-anchoring it).
	Anchor bool `json:"anchor,omitempty"`
}
