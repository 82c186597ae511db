package node

import (
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/trust"
)

// gater refuses connections to and from blacklisted peers (SPEC §4.3:
// blacklisted → none; connection closed), so a blacklisted peer cannot
// simply redial and keep gossiping until the handshake notices.
type gater struct {
	trust *trust.Ledger
	em    *events.Emitter
	deny  func(peer.ID) bool // Config.Deny; nil denies nobody
}

func (g gater) denied(p peer.ID) bool { return g.deny != nil && g.deny(p) }

func (g gater) blacklisted(p peer.ID) bool {
	fp, err := FingerprintOf(p)
	if err != nil {
		return false
	}
	return g.trust.State(fp) == trust.Blacklisted
}

// InterceptPeerDial refuses dialling a blacklisted peer.
func (g gater) InterceptPeerDial(p peer.ID) bool { return !g.blacklisted(p) && !g.denied(p) }

// InterceptAddrDial allows every address.
func (g gater) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }

// InterceptAccept allows every inbound connection until the peer is known.
func (g gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured refuses a denied or blacklisted peer once Noise/TLS has proven who it is.
func (g gater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	if g.denied(p) {
		g.em.Emit("web4.node.connection_refused", p.String(), map[string]any{"reason": "denied"})
		return false
	}
	if g.blacklisted(p) {
		g.em.Emit("web4.node.connection_refused", p.String(), map[string]any{"reason": "blacklisted"})
		return false
	}
	return true
}

// InterceptUpgraded allows the upgraded connection.
func (g gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
