package node

import (
	"context"
	"slices"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/node/card"
	"github.com/web4p2p/web4p2p/node/peers"
	"github.com/web4p2p/web4p2p/trust"
)

// capabilities are what this node sends in HELLO and sender.capabilities:
// the protocol ones, then the operator's (Config.Capabilities).
func (n *Node) capabilities() []string {
	return append(slices.Clone(peers.Capabilities), n.cfg.Capabilities...)
}

// buildCards makes the card publisher and service (SPEC §13.3): the card
// is signed with the node's key and lists the host's current addresses.
func (n *Node) buildCards(h host.Host, ledger *trust.Ledger) (*card.Service, error) {
	pub, err := card.NewPublisher(n.key, card.Info{
		AgentID: n.cfg.AgentID, Mission: n.cfg.Human.Loop.Mission, Version: Version,
		Capabilities: n.cfg.Capabilities, Protocols: peers.Capabilities,
	}, h.Addrs, n.em)
	if err != nil {
		return nil, configError{err}
	}
	return card.NewService(h, pub, cardDeps{n: n, ledger: ledger}, n.em), nil
}

// Cards returns the card service: the signed agent card (add to it with
// Cards().Publisher().Add) and capability discovery.
func (n *Node) Cards() *card.Service { return n.runtimes().cards }

// cardDeps is node/card's view of the node.
type cardDeps struct {
	n      *Node
	ledger *trust.Ledger
}

func (d cardDeps) Providers(ctx context.Context, ns string, limit int) (<-chan peer.AddrInfo, error) {
	d.n.mu.Lock()
	r := d.n.dht
	d.n.mu.Unlock()
	if r == nil {
		return nil, card.ErrNoDHT
	}
	return r.FindProviders(ctx, ns, limit)
}

func (d cardDeps) Connect(ctx context.Context, ai peer.AddrInfo) error { return d.n.Connect(ctx, ai) }

func (d cardDeps) Trust(p peer.ID) string {
	fp, err := FingerprintOf(p)
	if err != nil {
		return trust.Unknown.String()
	}
	return d.ledger.State(fp).String()
}

// capabilityNamespaces are the DHT namespaces this node advertises.
func (n *Node) capabilityNamespaces() []string {
	out := make([]string, 0, len(n.cfg.Capabilities))
	for _, c := range n.cfg.Capabilities {
		out = append(out, card.Namespace(c))
	}
	return out
}
