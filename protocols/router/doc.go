// Package router is the ProtocolRouter (SPEC §9): one routing matrix from
// every CIP, HCP and LIP message type to the runtime that handles it, and
// the one trust gate in front of them (SPEC §4.3).
//
// It is pure policy and dispatch: no networking, no persistence. Every
// inbound path takes the same straight line:
//
//  1. the transport (an RTT channel, a GossipSub topic, the local control
//     API) runs an envelope.Validator over the bytes: all nine checks of
//     SPEC §3.3, with check 8 being this package's gate — Policy.Envelope
//     for peers, Policy.Local for the node's own side. The gate runs there
//     and only there, before the payload schema, and the type is parsed
//     there once;
//  2. the transport hands the verified *envelope.Envelope to Router.Route
//     in a Message, which finds the route in the matrix and calls the
//     handler registered for it. Route refuses envelopes that did not come
//     out of a validator (envelope.Envelope.Verified), so no path can
//     bypass the gate.
//
// Runtimes plug in by registering a Handler per Route (knowledge, LIP, HCP,
// AgentLoop, handshake, ...) without editing this package. Every outcome is
// an event: web4.router.routed for each dispatched message, web4.error with
// kind unknown_type, invalid_message, no_handler or handler_failed for the
// rest (trust violations are reported by the validator as
// web4.envelope.rejected).
//
// The router never lowers anyone's trust by itself; a caller that wants to
// penalise a gate violation applies trust.InvalidMessage to the delivering
// peer (Message.Peer), never to an identity named in the envelope.
package router
