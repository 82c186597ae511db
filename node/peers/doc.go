// Package peers is the node's runtime for its direct peers: the RTT
// sessions (SPEC §2) as the node uses them, the CIP handshake over each
// session's control channel (SPEC §4.2), the receive path of every
// envelope a peer sends directly, the penalties that follow a bad one, the
// peer state table (SPEC §9) and CIP INTENT requests and replies.
//
// # Receive path
//
// Each session has one dispatcher goroutine per RTT channel. The control
// dispatcher first runs the CIP handshake (it reads control itself, so the
// handshake costs no goroutine hand-off); the state and knowledge
// dispatchers start once the handshake has succeeded, so nothing a peer
// sends is dispatched before it is an authenticated agent. A dispatcher
// reads its channel, hands application payloads ('A') to the channel's
// inbox and takes every envelope ('E') straight down one path:
//
//	envelope.Validator.Validate (SPEC §3.3, check 8 = router.Policy.Envelope)
//	→ checkDirectSender (SPEC §1: signer = the connection's key)
//	→ router.Route (one handler per route)
//
// so the trust gate runs once, the type is parsed once, and a failure
// charges the authenticated delivering peer, never a name inside the
// envelope. Because the channels have separate dispatchers, a slow
// knowledge handler holds up only the knowledge channel (whose RTT credit
// then pushes back on that channel's sender); control and state keep
// moving. A CIP INTENT request is answered off the dispatcher, on a
// goroutine of its own (at most MaxIntentsInFlight per session; beyond
// that it is deferred at once), because the agent's answer can take
// seconds.
//
// # Lifecycle
//
// New builds the runtime and registers its routes; nothing reaches it
// until Open, which creates the RTT service (its stream handlers are the
// runtime's doors) and watches the host's connections. Every goroutine runs
// in the lifecycle.Group of Deps; the node closes the group before it
// closes the RTT service and the host.
//
// # Locks
//
// Runtime.mu guards the session table, Runtime.tableMu the peer state
// table, session.mu a session's application-channel flags. Each is a leaf:
// none is held while calling out or while taking another.
package peers
