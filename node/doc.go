// Package node builds one web4p2p agent node: the libp2p host (Ed25519
// identity from the data directory, Noise, yamux, TCP and QUIC, an explicit
// resource manager and connection manager, identify), peer discovery (mDNS and
// bootstrap with retry), the embedded store, the event pipeline and the
// runtimes stacked on the host (RTT, CIP handshake, trust ledger, router).
//
// node only wires: the protocol logic lives in node/rtt, protocols/*, trust
// and knowledge, which know nothing of each other beyond small interfaces.
//
// Lifecycle: New validates the configuration and loads the identity (no
// sockets yet); Start opens the store, builds the host, starts discovery and
// the runtimes; Close stops all of it, is idempotent, and returns only after
// every goroutine the node started has exited.
//
// Security note: on TCP the connection is secured by Noise (XX, mutual
// authentication by PeerID); QUIC carries its own TLS 1.3 handshake as the
// libp2p QUIC spec requires, so on QUIC the same Ed25519 identity is
// authenticated through libp2p's TLS certificate extension instead of Noise.
package node
