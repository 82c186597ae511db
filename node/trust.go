package node

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/internal/store"
	"github.com/web4p2p/web4p2p/node/peers"
	"github.com/web4p2p/web4p2p/trust"
)

// FingerprintOf returns the SPEC §1 fingerprint (hex SHA-256 of the raw
// Ed25519 public key) of an Ed25519 PeerID, which embeds its key.
func FingerprintOf(p peer.ID) (string, error) { return peers.FingerprintOf(p) }

// openTrust opens the persisted ledger; anchors are given as PeerIDs.
func (n *Node) openTrust(db *store.DB) (*trust.Ledger, error) {
	var anchors []string
	for _, id := range n.parsed.anchors {
		fp, err := FingerprintOf(id)
		if err != nil {
			return nil, fmt.Errorf("%w: trust anchor %s: %v", ErrConfig, id, err)
		}
		anchors = append(anchors, fp)
	}
	l, err := trust.OpenLedger(db, trust.LedgerConfig{Anchors: anchors, Now: n.cfg.Now, Events: n.em, FSM: n.cfg.Trust})
	if err != nil {
		return nil, err
	}
	for _, id := range n.parsed.anchors {
		fp, _ := FingerprintOf(id)
		if err := l.BindPeerID(fp, id.String()); err != nil {
			return nil, err
		}
	}
	// Runs before the store closes (closers run last-in first-out): a
	// change staged by a handshake still in flight reaches the disk.
	n.closers = append(n.closers, l.Flush)
	return l, nil
}
