// Package hcp is the Human Cognition Protocol runtime core (SPEC §6): how the
// human who owns a node talks to their agent, and what the agent may do on
// the human's behalf.
//
// It provides four things, all free of networking so that the node, the
// control API and tests can drive them directly:
//
//   - Payload types and JSON Schemas for the six HCP message types
//     (HCP_HELLO, HCP_INTENT, HCP_CONTEXT, HCP_DECISION, HCP_FEEDBACK,
//     HCP_STATE_UPDATE). The schemas are embedded and registered with
//     envelope.RegisterPayloadSchema when the package loads, so envelope
//     check 9 rejects, for example, an HCP_DECISION without rationale and
//     alternatives with envelope.ErrPayloadSchema.
//   - The human-state vector (presence, affect, clarity, pressure, intent,
//     consent, consent scope and expiry) with a strict parser and a validator
//     whose errors name the offending field (ErrInvalidState, *FieldError).
//   - A Builder that signs HCP envelopes with the human's own key — a key
//     separate from the node's libp2p key, kept as human.key (0600) in the
//     data directory (LoadOrCreateHumanKey).
//   - The two guards every agent action toward the human passes: the consent
//     Gate (revoked blocks all, limited allows in-scope topics only, expired
//     consent counts as revoked; blocked actions are held in internal/store,
//     survive restart, and are released or expired with an event) and the
//     Pacer (token bucket plus the pressure/clarity/presence/affect rules),
//     whose core is the pure function Pace with an injected clock.
//
// The router sends HCP_INTENT, HCP_DECISION, HCP_FEEDBACK and HCP_CONTEXT to
// the ConsentGate route and HCP_HELLO / HCP_STATE_UPDATE to the HumanState
// route (SPEC §9); Handler serves both routes over a Gate (an intent on a
// topic outside consent is held and comes back through Handler.Released),
// and the node connects Handler.Deliver to the AgentLoop. The agent's own
// actions toward the human — the AgentLoop's Actor in the node — pass
// Gate.Pass and then Pacer.Decide. All thresholds live in limits.go.
package hcp
