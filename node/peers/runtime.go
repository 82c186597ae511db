package peers

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/lifecycle"
	"github.com/web4p2p/web4p2p/node/rtt"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/router"
	"github.com/web4p2p/web4p2p/trust"
)

// Trust is what the runtime needs of the trust ledger (*trust.Ledger).
type Trust interface {
	State(fp string) trust.State
	// Stage records a handshake verdict and binds the PeerID, in effect at
	// once, on disk when commit returns.
	Stage(fp, peerID string, in trust.Input) (*trust.Transition, func() error, error)
	Apply(fp string, ev trust.Event, cause string) (*trust.Transition, error)
}

// Agent is the node's agent as the peers see it: its presence (SPEC §10)
// and its answer to a peer's CIP INTENT request. The AgentLoop provides it
// (node/human); without one the node is diffuse and accepts.
type Agent interface {
	// Presence is the agent's presence and LRI.
	Presence() (envelope.Presence, int)
	// DecideIntent answers a peer's INTENT request. It runs on a goroutine
	// of its own and must return by ctx's end.
	DecideIntent(ctx context.Context, fromFP string, req cip.IntentRequest) (cip.Decision, string)
}

// Deps are the runtime's collaborators, built by the node before it.
type Deps struct {
	Host host.Host
	// Trust is the ledger; Router the routing matrix whose handlers the
	// receive path calls.
	Trust  Trust
	Router *router.Router
	// Validator verifies every envelope a peer sends directly; its check 8
	// must be Router.Policy().Envelope and its replay cache Replay, which
	// the CIP handshake shares.
	Validator *envelope.Validator
	Replay    *envelope.ReplayCache
	// Sign returns a CIP builder for this node's identity.
	Sign func() *cip.Builder
	// Events receives the runtime's events.
	Events *events.Emitter
	// Group runs every goroutine of the runtime.
	Group *lifecycle.Group
}

// Config tunes the runtime.
type Config struct {
	// RTT configures the transport (Events, Registerer and OnSession are
	// set by the runtime).
	RTT rtt.Config
	// Registerer receives the RTT metrics.
	Registerer prometheus.Registerer
	// HandshakeTimeout bounds each CIP handshake step.
	HandshakeTimeout time.Duration
	// ShutdownTimeout bounds how long Close waits for the peers to
	// acknowledge the end of their sessions (default 2 s).
	ShutdownTimeout time.Duration
	// Now is the clock.
	Now func() time.Time
}

// MaxIntentsInFlight bounds one peer's INTENT requests being answered at
// once; a request beyond it is deferred at once ("busy").
const MaxIntentsInFlight = 8

// Capabilities this node advertises in HELLO and its envelopes.
var Capabilities = []string{"rtt/1.0", "cip/1.0", "knowledge/1.0", "mesh/gossipsub"}

// Features are what this node advertises in its HELLO.
var Features = cip.Features{SupportsMesh: true, SupportsMultiplex: true}

// Runtime is the direct-peer runtime of one node.
type Runtime struct {
	cfg     Config
	deps    Deps
	agent   Agent                             // set by BindAgent before Open; read-only after
	onReady []func(p peer.ID, initiator bool) // set by OnReady before Open; read-only after

	mu       sync.Mutex
	svc      *rtt.Service
	sessions map[peer.ID]*session

	tableMu sync.Mutex
	table   map[peer.ID]Info

	intentWaiters sync.Map // msg_id of a sent INTENT → chan cip.IntentReply
}

// New builds the runtime and registers its routes (Handshake, PeerState,
// AgentLoop) on deps.Router. Nothing reaches it before Open.
func New(cfg Config, deps Deps) (*Runtime, error) {
	switch {
	case deps.Host == nil, deps.Trust == nil, deps.Router == nil, deps.Validator == nil, deps.Replay == nil, deps.Sign == nil, deps.Group == nil:
		return nil, fmt.Errorf("peers: Host, Trust, Router, Validator, Replay, Sign and Group are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RTT.HandshakeTimeout == 0 {
		cfg.RTT = rtt.DefaultConfig()
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 2 * time.Second
	}
	r := &Runtime{cfg: cfg, deps: deps, sessions: map[peer.ID]*session{}, table: map[peer.ID]Info{}}
	for route, h := range map[router.Route]router.HandlerFunc{
		router.Handshake: r.handleLateHandshake,
		router.PeerState: r.handleStateUpdate,
		router.AgentLoop: r.handleIntent,
	} {
		if _, err := deps.Router.Register(route, h); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// BindAgent sets the agent that answers INTENT requests and gives the
// node's presence. Call it before Open.
func (r *Runtime) BindAgent(a Agent) { r.agent = a }

// OnReady registers fn to run (on the session's goroutine; it must not
// block) each time a session's CIP handshake succeeds; initiator tells
// whether this node opened the session. Call it before Open.
func (r *Runtime) OnReady(fn func(p peer.ID, initiator bool)) { r.onReady = append(r.onReady, fn) }

// IsReady reports whether the session with p is past the CIP handshake.
func (r *Runtime) IsReady(p peer.ID) bool {
	s := r.session(p)
	return s != nil && s.isReady()
}

// ReadyPeers lists the peers past the CIP handshake.
func (r *Runtime) ReadyPeers() []peer.ID {
	ss := r.readySessions()
	out := make([]peer.ID, len(ss))
	for i, s := range ss {
		out[i] = s.t.RemotePeer()
	}
	return out
}

// Presence is the agent's presence and LRI (diffuse, 0 without an agent).
func (r *Runtime) Presence() (envelope.Presence, int) {
	if r.agent == nil {
		return envelope.Diffuse, 0
	}
	return r.agent.Presence()
}

// Overloaded is the SPEC §4.2 step 6 / §10 test: INTENT replies defer.
func (r *Runtime) Overloaded() bool {
	p, _ := r.Presence()
	return p == envelope.Overloaded
}

// ViewOf converts our trust state for a peer into the envelope enum.
func (r *Runtime) ViewOf(fp string) envelope.TrustView {
	var v envelope.TrustView
	if err := v.UnmarshalText([]byte(r.deps.Trust.State(fp).String())); err != nil {
		return 0
	}
	return v
}

// FingerprintOf returns the SPEC §1 fingerprint (hex SHA-256 of the raw
// Ed25519 public key) of an Ed25519 PeerID, which embeds its key.
func FingerprintOf(p peer.ID) (string, error) {
	pub, err := p.ExtractPublicKey()
	if err != nil {
		return "", fmt.Errorf("peer %s: no embedded public key: %w", p, err)
	}
	raw, err := pub.Raw()
	if err != nil {
		return "", err
	}
	return trust.Fingerprint(raw), nil
}

// edKey returns p's Ed25519 public key, if its ID embeds one.
func edKey(p peer.ID) (ed25519.PublicKey, bool) {
	pub, err := p.ExtractPublicKey()
	if err != nil {
		return nil, false
	}
	raw, err := pub.Raw()
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, false
	}
	return ed25519.PublicKey(raw), true
}

// cipPeer addresses an envelope to the session's peer.
func (r *Runtime) cipPeer(s *session) cip.Peer {
	p := cip.Peer{Fingerprint: s.fp, View: r.ViewOf(s.fp)}
	if s.hs != nil {
		p.AgentID = s.hs.Peer.AgentID
	}
	return p
}
