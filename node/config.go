package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/node/a2a"
	"github.com/web4p2p/web4p2p/node/card"
	"github.com/web4p2p/web4p2p/node/gossip"
	"github.com/web4p2p/web4p2p/node/human"
	"github.com/web4p2p/web4p2p/node/learn"
	"github.com/web4p2p/web4p2p/node/peers"
	"github.com/web4p2p/web4p2p/node/publicnet"
	"github.com/web4p2p/web4p2p/node/reconcile"
	"github.com/web4p2p/web4p2p/node/rtt"
	"github.com/web4p2p/web4p2p/trust"
)

// HumanConfig configures the HCP runtime and the AgentLoop (node/human).
type HumanConfig = human.Config

// LIPConfig configures the LIP runtime (node/learn).
type LIPConfig = learn.Config

// DefaultHumanConfig returns the SPEC §6/§10 defaults of the human runtime.
func DefaultHumanConfig() HumanConfig { return human.DefaultConfig() }

// DefaultLIPConfig returns the SPEC §7 defaults of the LIP runtime.
func DefaultLIPConfig() LIPConfig { return learn.DefaultConfig() }

// HomeEnv names the environment variable that overrides the data directory.
const HomeEnv = "WEB4P2P_HOME"

// Files inside the data directory.
const (
	IdentityFile = "identity.key"
	EventsFile   = "events.jsonl"
)

// Reachability values of Config.Reachability.
const (
	ReachabilityPublic  = "public"
	ReachabilityPrivate = "private"
)

// Config is everything a node needs. Zero values are filled by
// DefaultConfig; New validates the result and reports the first bad field.
type Config struct {
	// DataDir holds the identity key, the store and (later) the API token.
	// Default: $WEB4P2P_HOME or ~/.web4p2p.
	DataDir string
	// Identity, if set, is used instead of the key file (tests, demo).
	// Must be Ed25519.
	Identity crypto.PrivKey
	// AgentID is the operator-chosen name; default "agent-" + last 8 chars of the PeerID.
	AgentID string
	// ListenAddrs are multiaddrs to listen on. Always explicit: the libp2p
	// defaults open sockets on every interface.
	ListenAddrs []string
	// Bootstrap peers (multiaddrs with /p2p/<id>) dialled at start and
	// re-dialled with backoff while unreachable.
	Bootstrap []string
	// NATTraversal turns on the reachability services for operation across
	// real networks (SPEC §2.1): AutoNAT v2, the Circuit Relay v2 client
	// (AutoRelay with the bootstrap peers as static relays) and DCUtR hole
	// punching. Off by default (tests and demo stay on loopback); `start`
	// turns it on.
	NATTraversal bool
	// DHT, if set, runs the /web4 Kademlia DHT in this mode (auto, server
	// or client; SPEC §2.2); Mesh, if set, finds the other members of the
	// mesh through the DHT rendezvous namespace web4/mesh/<Mesh>.
	DHT, Mesh string
	// RelayService offers Circuit Relay v2 (with go-libp2p's resource
	// limits) to other peers; for publicly reachable nodes, so it also
	// declares the node's reachability public (AutoNAT is not consulted).
	RelayService bool
	// Reachability, if set, states the node's reachability instead of
	// asking AutoNAT: ReachabilityPublic or ReachabilityPrivate (a node
	// that knows it is behind a NAT starts reserving relay slots at once).
	Reachability string
	// PublicCIDRs are address ranges declared publicly routable although
	// go-multiaddr counts them as not public (a lab network such as
	// 198.18.0.0/15): relay reservations, circuit addresses and hole
	// punching then use addresses in them (SPEC §2.1, package publicnet).
	PublicCIDRs publicnet.Ranges
	// MDNS turns on local discovery; MDNSService scopes it (tests use a
	// unique name so parallel test processes do not find each other).
	MDNS        bool
	MDNSService string
	// TrustAnchors are PeerIDs that start trusted (SPEC §5).
	TrustAnchors []string
	// Capabilities are what the operator declares this agent can do
	// (`start --capability`, names checked by card.CheckCapability): sent
	// in HELLO and every envelope's sender.capabilities after the protocol
	// ones, listed as skills on the agent card, and advertised in the DHT
	// under web4/capability/<name> when the DHT runs (SPEC §2.2, §13.3).
	Capabilities []string
	// EventsFile, if set, receives every event as JSON lines. It is
	// rotated past EventsFileMaxBytes (0 = events.DefaultRotateBytes),
	// keeping EventsFileKeep old files (0 = events.DefaultRotateKeep) as
	// EventsFile.1 … .N (SPEC §11).
	EventsFile         string
	EventsFileMaxBytes int64
	EventsFileKeep     int
	// Sinks receive every event too (stderr printer, test ring, API stream).
	Sinks []events.Sink
	// ConnLow/ConnHigh bound the connection manager; ConnGrace protects new
	// connections from trimming.
	ConnLow, ConnHigh int
	ConnGrace         time.Duration
	// BootstrapRetryMin/Max bound the bootstrap redial backoff.
	BootstrapRetryMin, BootstrapRetryMax time.Duration
	// RTT configures the transport tunnel; the zero value means
	// rtt.DefaultConfig() (Events, Registerer and OnSession are set by the node).
	RTT rtt.Config
	// APIAddr, if set, starts the control API there (host:port, port 0 =
	// any); APIAllowRemote permits a non-loopback address.
	APIAddr        string
	APIAllowRemote bool
	// HandshakeTimeout bounds each CIP handshake step (default 10 s).
	HandshakeTimeout time.Duration
	// Gossip tunes GossipSub (queue sizes, heartbeat); the zero value means
	// gossip.DefaultConfig() (hooks are set by the node).
	Gossip gossip.Config
	// LIP configures the LIP runtime (fetch allow-list, source tiers,
	// claim TTL); zero fields take learn.DefaultConfig's values.
	LIP LIPConfig
	// Human configures the HCP runtime and the AgentLoop (mission, pacing,
	// thresholds); zero fields take human.DefaultConfig's values.
	Human HumanConfig
	// Sync tunes anti-entropy (interval, retention, session budgets); zero
	// fields take reconcile.DefaultConfig's values.
	Sync reconcile.Config
	// A2A tunes the A2A gateway (task bounds, deadlines, retry); zero
	// fields take node/a2a's defaults.
	A2A a2a.Config
	// Trust tunes the trust FSM (cooldown, windows, promotion rule); zero
	// fields take the SPEC defaults.
	Trust trust.Config
	// Deny, if set, refuses connections to and from the peers it names,
	// besides the blacklisted ones: an operator's block list, or a test's
	// network partition.
	Deny func(peer.ID) bool
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// DefaultConfig returns a config for a node listening on loopback TCP and
// QUIC with random ports, mDNS off, data dir from the environment.
func DefaultConfig() Config {
	return Config{
		DataDir:           DefaultDataDir(),
		ListenAddrs:       []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"},
		MDNSService:       "web4p2p",
		ConnLow:           64,
		ConnHigh:          256,
		ConnGrace:         30 * time.Second,
		BootstrapRetryMin: 500 * time.Millisecond,
		BootstrapRetryMax: 30 * time.Second,
	}
}

// DefaultDataDir is $WEB4P2P_HOME, else ~/.web4p2p.
func DefaultDataDir() string {
	if d := os.Getenv(HomeEnv); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".web4p2p"
	}
	return filepath.Join(home, ".web4p2p")
}

// ErrConfig marks an invalid configuration; the message names the field.
var ErrConfig = errors.New("invalid config")

func (c *Config) fill() {
	d := DefaultConfig()
	if c.DataDir == "" && c.Identity == nil {
		c.DataDir = d.DataDir
	}
	if c.ListenAddrs == nil {
		c.ListenAddrs = d.ListenAddrs
	}
	if c.MDNSService == "" {
		c.MDNSService = d.MDNSService
	}
	if c.ConnLow == 0 {
		c.ConnLow = d.ConnLow
	}
	if c.ConnHigh == 0 {
		c.ConnHigh = d.ConnHigh
	}
	if c.ConnGrace == 0 {
		c.ConnGrace = d.ConnGrace
	}
	if c.BootstrapRetryMin == 0 {
		c.BootstrapRetryMin = d.BootstrapRetryMin
	}
	if c.BootstrapRetryMax == 0 {
		c.BootstrapRetryMax = d.BootstrapRetryMax
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.EventsFileMaxBytes == 0 {
		c.EventsFileMaxBytes = events.DefaultRotateBytes
	}
	if c.EventsFileKeep == 0 {
		c.EventsFileKeep = events.DefaultRotateKeep
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
}

// parsed holds the validated, parsed forms of Config fields.
type parsed struct {
	listen    []ma.Multiaddr
	bootstrap []peer.AddrInfo
	anchors   []peer.ID
}

func (c *Config) parse() (parsed, error) {
	var p parsed
	for i, s := range c.ListenAddrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return p, fmt.Errorf("%w: listen[%d] %q: %v", ErrConfig, i, s, err)
		}
		p.listen = append(p.listen, a)
	}
	switch c.DHT {
	case "", "auto", "server", "client":
	default:
		return p, fmt.Errorf("%w: dht %q: must be auto, server or client", ErrConfig, c.DHT)
	}
	switch c.Reachability {
	case "", ReachabilityPublic:
	case ReachabilityPrivate:
		if c.RelayService {
			return p, fmt.Errorf("%w: reachability %q: a relay service is public by definition", ErrConfig, c.Reachability)
		}
	default:
		return p, fmt.Errorf("%w: reachability %q: must be public or private (or empty for AutoNAT)", ErrConfig, c.Reachability)
	}
	if c.Mesh != "" && c.DHT == "" {
		return p, fmt.Errorf("%w: mesh %q: needs the DHT (set dht)", ErrConfig, c.Mesh)
	}
	for i, s := range c.Bootstrap {
		ai, err := peer.AddrInfoFromString(s)
		if err != nil {
			return p, fmt.Errorf("%w: bootstrap[%d] %q: must be a multiaddr ending in /p2p/<PeerID>: %v", ErrConfig, i, s, err)
		}
		p.bootstrap = append(p.bootstrap, *ai)
	}
	for i, s := range c.TrustAnchors {
		id, err := peer.Decode(s)
		if err != nil {
			return p, fmt.Errorf("%w: trust_anchor[%d] %q: not a PeerID: %v", ErrConfig, i, s, err)
		}
		p.anchors = append(p.anchors, id)
	}
	if err := checkCapabilities(c.Capabilities); err != nil {
		return p, err
	}
	if c.ConnLow < 0 || c.ConnHigh < c.ConnLow {
		return p, fmt.Errorf("%w: conn limits low=%d high=%d: need 0 ≤ low ≤ high", ErrConfig, c.ConnLow, c.ConnHigh)
	}
	if c.Identity != nil && c.Identity.Type() != crypto.Ed25519 {
		return p, fmt.Errorf("%w: identity: must be Ed25519, got %v", ErrConfig, c.Identity.Type())
	}
	return p, nil
}

// checkCapabilities validates Config.Capabilities: well-formed names, at
// most card.MaxCapabilities, no repeats, none of the protocol capabilities
// (those are the node's own, not the operator's to declare).
func checkCapabilities(caps []string) error {
	if len(caps) > card.MaxCapabilities {
		return fmt.Errorf("%w: capability: %d given, at most %d", ErrConfig, len(caps), card.MaxCapabilities)
	}
	for i, c := range caps {
		if err := card.CheckCapability(c); err != nil {
			return fmt.Errorf("%w: capability[%d]: %v", ErrConfig, i, err)
		}
		if slices.Contains(peers.Capabilities, c) {
			return fmt.Errorf("%w: capability[%d] %q: a protocol capability of every node, not one to declare", ErrConfig, i, c)
		}
		if slices.Contains(caps[:i], c) {
			return fmt.Errorf("%w: capability[%d] %q: given twice", ErrConfig, i, c)
		}
	}
	return nil
}
