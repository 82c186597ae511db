// Package node wires one web4p2p agent node together; it holds no protocol
// logic of its own. It owns the node's identity (Ed25519, from the data
// directory), the libp2p host (Noise, yamux, TCP and QUIC, an explicit
// resource manager and connection manager, identify, a gater refusing
// blacklisted peers), the embedded store, the event pipeline, discovery
// (mDNS, bootstrap with retry) and the lifecycle; everything else is a
// runtime of its own package, built from a small Deps struct:
//
//	node/peers  RTT sessions, CIP handshake and dispatch, penalties,
//	            INTENT, the peer state table        (SPEC §2, §4, §9)
//	node/mesh   GossipSub: fact consensus, trust propagation (SPEC §5, §8)
//	node/human  HCP runtime and the AgentLoop           (SPEC §6, §10)
//	node/learn  LIP runtime                              (SPEC §7)
//	node/api    every HTTP endpoint of the control API   (SPEC §12)
//
// over the pure cores (protocols/*, trust, knowledge, agentloop).
//
// # Lifecycle
//
// New validates the configuration and loads the identity (no sockets).
// Start builds everything — store, ledger, host, router, validators,
// knowledge store, the runtimes, the routes — and only then opens the
// doors: connection notifications, the RTT stream handlers, the GossipSub
// topics, the control API and discovery, so nothing from outside reaches a
// component that is not built. Every goroutine of the node and its
// runtimes runs in one lifecycle.Group, which refuses new goroutines once
// Close has begun; Close stops the group, then runs the closers in reverse
// order of creation, is idempotent, and returns only after every goroutine
// has exited. A Close during Start waits for Start, which then tears down.
//
// # Locks
//
// Node.mu guards the lifecycle flags and the fields accessors read (host,
// store, API address, start time); it is a leaf, never held while
// building, starting or closing anything. The runtimes are published once
// through an atomic pointer. Each runtime documents its own locks; none is
// held while calling into another runtime, so there is no lock order
// between packages.
//
// Security note: on TCP the connection is secured by Noise (XX, mutual
// authentication by PeerID); QUIC carries its own TLS 1.3 handshake as the
// libp2p QUIC spec requires, so on QUIC the same Ed25519 identity is
// authenticated through libp2p's TLS certificate extension instead of Noise.
package node
