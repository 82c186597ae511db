package node

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// remoteInfo is what the node knows of a peer from its CIP handshake and
// STATE_UPDATEs (the SPEC §9 "peer state table").
type remoteInfo struct {
	agentID      string
	fingerprint  string
	capabilities []string
	presence     string
	lri          int
	intent       string
	updated      time.Time
}

type peerTable struct {
	mu sync.Mutex
	m  map[peer.ID]remoteInfo
}

func (n *Node) peerInfo(p peer.ID) (remoteInfo, bool) {
	n.peers.mu.Lock()
	defer n.peers.mu.Unlock()
	ri, ok := n.peers.m[p]
	return ri, ok
}

func (n *Node) updatePeerInfo(p peer.ID, fn func(*remoteInfo)) {
	n.peers.mu.Lock()
	defer n.peers.mu.Unlock()
	if n.peers.m == nil {
		n.peers.m = map[peer.ID]remoteInfo{}
	}
	ri := n.peers.m[p]
	fn(&ri)
	ri.updated = n.cfg.Now()
	n.peers.m[p] = ri
}

// presence returns this node's presence and LRI (load/readiness index,
// 0–100): the AgentLoop's (real CPU, memory, inbox depth, latency, with
// hysteresis). Without a running loop, the LRI is measured from the node's
// protocol backlog — the fill level of its sessions' envelope queues — and
// presence follows SPEC §10 with no active intent: overloaded at LRI ≥ 80,
// else diffuse. loadOverride (tests) replaces both.
func (n *Node) presence() (string, int) {
	if n.human != nil && n.loadOverride == nil {
		if p, l, ok := n.human.presence(); ok {
			return p, l
		}
	}
	n.sess.mu.Lock()
	depth, capacity := 0, 0
	for _, ps := range n.sess.m {
		depth += len(ps.envIn)
		capacity += cap(ps.envIn)
	}
	n.sess.mu.Unlock()
	lri := 0
	if capacity > 0 {
		lri = depth * 100 / capacity
	}
	if n.loadOverride != nil {
		lri = n.loadOverride()
	}
	if lri >= 80 {
		return "overloaded", lri
	}
	return "diffuse", lri
}
