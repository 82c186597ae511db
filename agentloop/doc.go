// Package agentloop is the agent's cognitive cycle (SPEC §10): perceive →
// orient → decide → act → reflect, run on one goroutine over a bounded
// inbox.
//
//   - perceive drains up to Config.MaxBatch items from the inbox (human
//     intents that passed the HCP consent gate, CIP INTENTs from peers,
//     replies, decisions, feedback);
//   - orient computes the load index LRI (0–100) from real process load —
//     CPU and memory through a Sampler (ProcSampler reads getrusage and
//     /proc), inbox backlog and processing latency — and the presence
//     (focused|diffuse|overloaded|engaged) with hysteresis, calling
//     Config.OnPresence on every change (the node broadcasts STATE_UPDATE);
//   - decide applies the built-in policy (an accepted human intent becomes
//     CIP INTENT requests to peers whose capabilities match; a peer's INTENT
//     is deferred while overloaded, accepted otherwise) and then the
//     Delegate's Decide hook;
//   - act hands each Action to the injected Actor. The loop never touches the
//     network: the node's Actor sends through the router, under the HCP
//     consent gate and pacer;
//   - reflect measures mission drift over the last N acted intents (above
//     the threshold: event web4.agentloop.drift and a RequestDecision action
//     to the human) and writes every processed item, decision and action
//     into causal memory — a DAG persisted in internal/store whose Why
//     returns a node's causal chain.
//
// The Delegate interface hooks each phase (memberlist-Delegate style; its
// contract says which goroutine calls it and that it must not block for
// long). Everything that varies — clock, randomness, load sampler, peers,
// actor — is injected, so tests drive Loop.Cycle synchronously without
// sleeping. Defaults and limits live in config.go.
package agentloop
