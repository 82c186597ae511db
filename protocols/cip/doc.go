// Package cip is the agent ↔ agent protocol of web4p2p (SPEC §4): builders
// that produce signed envelopes for every CIP type, and the deterministic
// HELLO/VERIFY/STATE_UPDATE/INTENT handshake of §4.2.
//
// The package is pure: it imports no libp2p and no trust code. A handshake
// runs over a two-method Conn (the node adapts its RTT control channel) and
// is told the remote's authenticated key by the caller, since only the
// transport knows it. The trust decision is the caller's: the handshake
// reports an Outcome (ok, bad signature, fingerprint mismatch) through the
// TrustGate hook, which the node wires to trust.FSM, and aborts if the gate
// refuses. Envelope checks come from protocols/envelope.
//
// Every source of variation — key, clock, randomness for msg_ids, nonces
// and challenges — is injected through Builder, so two runs with the same
// inputs produce byte-identical transcripts (testdata/handshake.golden).
//
// The initiator's HELLO may leave before Initiate runs: BuildHello makes
// it exactly as step 1 would, and Config.SentHello tells Initiate it is
// already on its way. The node sends it inside the RTT session handshake
// (rtt.Service.DialEarly), so the responder can answer it as soon as its
// side of the session is up. SPEC §4.2 orders the messages, not what
// carries them; the transcript is the same byte for byte.
//
// Decided where the SPEC is silent: the initiator sends its STATE_UPDATE
// and INTENT right behind VERIFY (each side's order is kept; those two
// envelopes carry trust.sender_view "untrusted", the responder's view not
// being known yet).
package cip
