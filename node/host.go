package node

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	basicconnmgr "github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/web4p2p/web4p2p/node/publicnet"
)

// Resource limits (explicit, not auto-scaled from the machine): sized for an
// agent node with a few hundred peers. RTT keeps one long-lived stream per
// channel per peer, so per-peer stream limits for the RTT protocols are small
// but leave room for a resume that opens new streams before the old ones are
// reset.
const (
	limitMemory       = 1 << 30 // 1 GiB for the whole host
	limitFD           = 4096
	rttStreamsPerPeer = 16
)

// RTTProtocols are the protocol IDs the resource manager gives explicit
// per-peer stream limits (SPEC §2).
var RTTProtocols = []protocol.ID{"/web4/rtt/control/1.0", "/web4/rtt/state/1.0", "/web4/rtt/knowledge/1.0"}

// limiter returns the explicit resource limits: go-libp2p's defaults for its
// own services, RTT protocol limits, scaled to fixed memory and FD budgets.
func limiter() rcmgr.Limiter {
	scaling := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&scaling)
	for _, p := range RTTProtocols {
		scaling.AddProtocolLimit(p,
			rcmgr.BaseLimit{StreamsInbound: 1024, StreamsOutbound: 1024, Streams: 2048, Memory: 256 << 20},
			rcmgr.BaseLimitIncrease{})
		scaling.AddProtocolPeerLimit(p,
			rcmgr.BaseLimit{StreamsInbound: rttStreamsPerPeer, StreamsOutbound: rttStreamsPerPeer, Streams: 2 * rttStreamsPerPeer, Memory: 64 << 20},
			rcmgr.BaseLimitIncrease{})
	}
	return rcmgr.NewFixedLimiter(scaling.Scale(limitMemory, limitFD))
}

// buildHost creates the libp2p host: Ed25519 identity, Noise (TCP) and
// QUIC's TLS, yamux, explicit listen addresses, resource and connection
// managers, identify (always on in go-libp2p's basic host), metrics into reg.
func buildHost(key crypto.PrivKey, listen []ma.Multiaddr, relays []peer.AddrInfo, cfg *Config, reg prometheus.Registerer, g connmgr.ConnectionGater) (host.Host, error) {
	if err := preflightListen(listen); err != nil {
		return nil, err
	}
	rm, err := rcmgr.NewResourceManager(limiter())
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	cm, err := basicconnmgr.NewConnManager(cfg.ConnLow, cfg.ConnHigh, basicconnmgr.WithGracePeriod(cfg.ConnGrace))
	if err != nil {
		rm.Close()
		return nil, fmt.Errorf("connection manager: %w", err)
	}
	opts := []libp2p.Option{
		libp2p.Identity(key),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		// No SO_REUSEPORT on TCP: two nodes must not silently share a
		// port. QUIC keeps go-libp2p's reuse (its non-reuse dial path leaks
		// a socket reader per dial in v0.51); preflightListen reports a UDP
		// port in use before libp2p shares it.
		libp2p.Transport(tcp.NewTCPTransport, tcp.DisableReuseport()),
		libp2p.Transport(quic.NewTransport),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.ConnectionGater(g),
		libp2p.UserAgent("web4p2p/" + Version),
	}
	var built atomic.Pointer[host.Host]
	opts = append(opts, reachabilityOptions(cfg, relays, func() host.Host {
		if h := built.Load(); h != nil {
			return *h
		}
		return nil
	})...)
	if reg != nil {
		opts = append(opts, libp2p.PrometheusRegisterer(reg))
	} else {
		opts = append(opts, libp2p.DisableMetrics())
	}
	if len(listen) == 0 {
		opts = append(opts, libp2p.NoListenAddrs)
	} else {
		opts = append(opts, libp2p.ListenAddrs(listen...))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		// libp2p.New closes what it built on failure except the managers
		// we passed in.
		cm.Close()
		rm.Close()
		return nil, explainListenError(listen, err)
	}
	built.Store(&h)
	if cfg.NATTraversal && len(cfg.PublicCIDRs) > 0 {
		hp, err := publicnet.NewHolePunch(h, cfg.PublicCIDRs)
		if err != nil {
			h.Close()
			return nil, err
		}
		return withCloser{h, hp.Close}, nil
	}
	return h, nil
}

// withCloser is a host that also closes a service of its own (the
// hole-punch service for declared public ranges) before itself.
type withCloser struct {
	host.Host
	closeFirst func() error
}

func (w withCloser) Close() error { return errors.Join(w.closeFirst(), w.Host.Close()) }

// reachabilityOptions are the libp2p services of SPEC §2.1: without
// NATTraversal and RelayService the host neither dials nor accepts relayed
// connections; with NATTraversal it runs AutoNAT v2, reserves slots on the
// static relays (the bootstrap peers) when AutoNAT finds it unreachable, and
// upgrades relayed connections to direct ones by DCUtR hole punching;
// RelayService makes it a relay for others and declares it publicly
// reachable; Reachability states it instead of asking AutoNAT. With
// PublicCIDRs the relay service, AutoRelay's circuit addresses and hole
// punching count those ranges as public (package publicnet; h returns the
// host once built).
func reachabilityOptions(cfg *Config, relays []peer.AddrInfo, h func() host.Host) []libp2p.Option {
	if !cfg.NATTraversal && !cfg.RelayService {
		return []libp2p.Option{libp2p.DisableRelay()}
	}
	lab := cfg.PublicCIDRs
	opts := []libp2p.Option{libp2p.EnableRelay()}
	if cfg.RelayService {
		// go-libp2p starts the relay only once it believes itself public;
		// an operator offering the service asserts that it is.
		opts = append(opts, libp2p.EnableRelayService(relay.WithReservationAddressFilter(lab.Public)), libp2p.ForceReachabilityPublic())
	}
	switch cfg.Reachability {
	case ReachabilityPublic:
		if !cfg.RelayService {
			opts = append(opts, libp2p.ForceReachabilityPublic())
		}
	case ReachabilityPrivate:
		opts = append(opts, libp2p.ForceReachabilityPrivate())
	}
	if cfg.NATTraversal {
		opts = append(opts, libp2p.EnableAutoNATv2())
		if len(lab) == 0 {
			opts = append(opts, libp2p.EnableHolePunching())
		} // else buildHost runs publicnet's hole-punch service
		if len(relays) > 0 {
			// WithStaticRelays waits for every static relay to prove a
			// candidate before reserving anywhere (else for its 3-minute
			// boot delay); bootstrap peers that do not relay never do, so
			// reserve as soon as one of them offers the service.
			opts = append(opts, libp2p.EnableAutoRelayWithStaticRelays(relays, autorelay.WithMinCandidates(1)))
			if len(lab) > 0 {
				ids := make([]peer.ID, len(relays))
				for i, r := range relays {
					ids[i] = r.ID
				}
				opts = append(opts, libp2p.AddrsFactory(lab.CircuitAddrs(h, ids)))
			}
		}
	}
	return opts
}

// explainListenError turns libp2p's listen failure into one line a person
// can act on.
func explainListenError(listen []ma.Multiaddr, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "address already in use") {
		return fmt.Errorf("listen %v: port already in use (another web4p2p or program holds it; pick another port or 0): %w", listen, errors.Unwrap(err))
	}
	if strings.Contains(msg, "failed to listen") || strings.Contains(msg, "cannot assign requested address") {
		return fmt.Errorf("listen %v: %v", listen, err)
	}
	return fmt.Errorf("libp2p host: %w", err)
}

// preflightListen binds and releases every listen address that names a
// fixed port, so a port already in use is reported as one clear line before
// libp2p starts (a failed libp2p.New also leaves some of its background
// goroutines running).
func preflightListen(listen []ma.Multiaddr) error {
	for _, a := range listen {
		network, hostport, err := manet.DialArgs(a)
		if err != nil {
			continue // not ip/tcp or ip/udp: let libp2p judge it
		}
		if strings.HasSuffix(hostport, ":0") {
			continue
		}
		var closeErr error
		switch {
		case strings.HasPrefix(network, "tcp"):
			l, err := net.Listen(network, hostport)
			if err != nil {
				return listenErr(a, err)
			}
			closeErr = l.Close()
		case strings.HasPrefix(network, "udp"):
			c, err := net.ListenPacket(network, hostport)
			if err != nil {
				return listenErr(a, err)
			}
			closeErr = c.Close()
		}
		if closeErr != nil {
			return listenErr(a, closeErr)
		}
	}
	return nil
}

func listenErr(a ma.Multiaddr, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("listen %s: port already in use (another web4p2p or program holds it; pick another port, or 0 for any)", a)
	}
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		return fmt.Errorf("listen %s: address not available on this machine", a)
	}
	return fmt.Errorf("listen %s: %v", a, err)
}

// Version is the node software version reported in the libp2p user agent.
var Version = "0.1.0-dev"
