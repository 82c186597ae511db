// Package card is the node's capability card runtime (SPEC §2.2 and §13.3):
// it builds and signs this node's A2A v1.0 AgentCard (protocols/agentcard)
// from what the node is — its agent id, mission, version, the capabilities
// the operator declared (as skills), its PeerID and listen addresses (a
// libp2p binding interface) — serves it on the libp2p stream protocol
// /web4/card/1.0 (the control API serves the same card at
// /.well-known/agent-card.json), and finds other agents by capability:
// providers of the DHT key web4/capability/<name> are dialled, their cards
// fetched over /web4/card/1.0 and verified against the PeerID the stream
// came from before anything of them is shown.
//
// The package knows nothing of the DHT or the trust ledger: the node hands
// it a Publisher's inputs and, for Find, a small Deps interface.
package card
