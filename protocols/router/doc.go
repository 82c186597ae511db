// Package router is the ProtocolRouter (SPEC §9): one routing matrix from
// every CIP, HCP and LIP message type to the runtime that handles it, behind
// one trust gate (SPEC §4.3).
//
// It is pure policy and dispatch: no networking, no persistence. Transports
// (RTT channels, GossipSub topics, the local control API) verify envelopes
// first (protocols/envelope, checks 1–7 and 9), then hand a Message to
// Router.Route, which
//
//  1. normalises the type (both spellings, FACT_PROPOSE and FACTPROPOSE),
//  2. applies the trust gate for (sender state, type) before any handler
//     runs — the same table the envelope validator uses as check 8 through
//     Policy.Envelope,
//  3. finds the route in the matrix and calls the handler registered for it.
//
// Runtimes plug in by registering a Handler per Route (knowledge, LIP, HCP,
// AgentLoop, handshake, ...) without editing this package. Every outcome is
// an event: web4.router.routed for each dispatched message, web4.error with
// kind unknown_type, trust_violation, no_handler or handler_failed for the
// rest.
//
// The router never lowers anyone's trust by itself; a caller that wants to
// penalise a gate violation applies trust.InvalidMessage to the delivering
// peer (Message.Peer), never to an identity named in the envelope.
package router
