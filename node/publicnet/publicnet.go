// Package publicnet lets an operator declare address ranges publicly
// routable that go-multiaddr classifies as not public — a lab or test
// network such as the benchmarking range 198.18.0.0/15 (SPEC §2.1).
//
// go-libp2p decides with manet.IsPublicAddr, which has no extension point,
// which addresses it relays and hole-punches with: the relay service puts
// only public addresses into reservations, AutoRelay builds circuit
// addresses only from a relay's public addresses, and the DCUtR service
// starts only once the host has a public address and sends only public
// ones. With declared ranges the node supplies the same three pieces
// through go-libp2p's public options, counting the declared ranges as
// public:
//
//   - Public is the relay service's reservation address filter;
//   - CircuitAddrs is an AddrsFactory step that adds
//     <relay addr>/p2p/<relay>/p2p-circuit for each static relay AutoRelay
//     holds a reservation on (it protects those connections with the tag
//     "autorelay");
//   - NewHolePunch runs go-libp2p's DCUtR service with the host's own and
//     observed (identify) addresses in public or declared ranges.
//
// Nothing else changes: AutoNAT v2 still refuses to test non-public
// addresses, so on such a network the operator also states reachability
// (start --reachability).
package publicnet

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// Ranges are the address ranges declared publicly routable.
type Ranges []netip.Prefix

// Parse reads CIDRs ("198.18.0.0/15"); each must be a valid prefix.
func Parse(vals []string) (Ranges, error) {
	var r Ranges
	for _, v := range vals {
		p, err := netip.ParsePrefix(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("%q: want a prefix such as 198.18.0.0/15: %v", v, err)
		}
		r = append(r, p.Masked())
	}
	return r, nil
}

// Declared reports whether a's leading IP is in one of the ranges.
func (r Ranges) Declared(a ma.Multiaddr) bool {
	if len(r) == 0 || len(a) == 0 {
		return false
	}
	c := a[0]
	if c.Protocol().Code != ma.P_IP4 && c.Protocol().Code != ma.P_IP6 {
		return false
	}
	ip, ok := netip.AddrFromSlice(c.RawValue())
	if !ok {
		return false
	}
	ip = ip.Unmap()
	return slices.ContainsFunc(r, func(p netip.Prefix) bool { return p.Contains(ip) })
}

// Public reports whether a is publicly routable or in a declared range.
func (r Ranges) Public(a ma.Multiaddr) bool { return manet.IsPublicAddr(a) || r.Declared(a) }

// autorelayTag is the connection-manager tag AutoRelay protects a relay's
// connection with once it holds a reservation there (go-libp2p
// p2p/host/autorelay).
const autorelayTag = "autorelay"

// CircuitAddrs returns an AddrsFactory step that appends a circuit address
// through each of relays on which AutoRelay holds a reservation, built from
// the relay's addresses in declared ranges (AutoRelay adds those with
// public addresses itself). h returns the host, nil while it is built.
func (r Ranges) CircuitAddrs(h func() host.Host, relays []peer.ID) func([]ma.Multiaddr) []ma.Multiaddr {
	return func(addrs []ma.Multiaddr) []ma.Multiaddr {
		hh := h()
		if hh == nil {
			return addrs
		}
		for _, id := range relays {
			if !hh.ConnManager().IsProtected(id, autorelayTag) {
				continue
			}
			circuit := ma.StringCast("/p2p/" + id.String() + "/p2p-circuit")
			for _, ra := range hh.Peerstore().Addrs(id) {
				if r.Declared(ra) && !isRelayed(ra) {
					addrs = append(addrs, ra.Encapsulate(circuit))
				}
			}
		}
		return ma.Unique(addrs)
	}
}

func isRelayed(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

// maxObserved bounds the observed addresses kept (most recent first).
const maxObserved = 16

// HolePunch is go-libp2p's DCUtR service fed with addresses in public or
// declared ranges.
type HolePunch struct {
	svc  *holepunch.Service
	sub  event.Subscription
	done chan struct{}
	once sync.Once

	mu       sync.Mutex
	observed []ma.Multiaddr // as peers observed us (identify), newest first
}

// NewHolePunch starts the DCUtR service on h (which must offer identify:
// go-libp2p's basic host does). The hole-punch addresses are h's direct
// addresses and the addresses peers observed for it, each public or in r.
func NewHolePunch(h host.Host, r Ranges) (*HolePunch, error) {
	idh, ok := h.(interface{ IDService() identify.IDService })
	if !ok {
		return nil, fmt.Errorf("publicnet: host %T has no identify service", h)
	}
	sub, err := h.EventBus().Subscribe(new(event.EvtPeerIdentificationCompleted))
	if err != nil {
		return nil, fmt.Errorf("publicnet: %w", err)
	}
	hp := &HolePunch{sub: sub, done: make(chan struct{})}
	go hp.watch(r)
	listen := func() []ma.Multiaddr {
		addrs := slices.DeleteFunc(h.Addrs(), func(a ma.Multiaddr) bool { return isRelayed(a) || !r.Public(a) })
		hp.mu.Lock()
		addrs = append(addrs, hp.observed...)
		hp.mu.Unlock()
		return ma.Unique(addrs)
	}
	svc, err := holepunch.NewService(h, idh.IDService(), listen)
	if err != nil {
		sub.Close()
		<-hp.done
		return nil, fmt.Errorf("publicnet: hole punching: %w", err)
	}
	hp.svc = svc
	return hp, nil
}

func (hp *HolePunch) watch(r Ranges) {
	defer close(hp.done)
	for e := range hp.sub.Out() {
		obs := e.(event.EvtPeerIdentificationCompleted).ObservedAddr
		if obs == nil || isRelayed(obs) || !r.Public(obs) {
			continue
		}
		hp.mu.Lock()
		hp.observed = slices.DeleteFunc(hp.observed, obs.Equal)
		hp.observed = append([]ma.Multiaddr{obs}, hp.observed...)
		if len(hp.observed) > maxObserved {
			hp.observed = hp.observed[:maxObserved]
		}
		hp.mu.Unlock()
	}
}

// Close stops the service; idempotent.
func (hp *HolePunch) Close() error {
	var err error
	hp.once.Do(func() {
		err = hp.svc.Close()
		hp.sub.Close()
		<-hp.done
	})
	return err
}
