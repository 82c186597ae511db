// Package human is the node's HCP runtime and AgentLoop (SPEC §6, §10):
// the human key, the consent gate and prompt pacing, pending decision
// requests, causal memory, and the loop that perceives (human intents,
// peers' INTENTs, intent replies), decides, acts (CIP INTENTs to capable
// peers, decision requests to the human) and reflects. Its presence and
// LRI, measured from real load, are the node's presence: node/peers asks
// it (Presence, DecideIntent), and every envelope the node signs carries
// it.
//
// Every operation of the human (Status, SetState, SetConsent, Intent,
// Decide, Feedback, Why) builds an HCP envelope signed with the human key,
// verifies it as any envelope is verified (check 8 = router.Policy.Local)
// and routes it: the consent gate decides what reaches the loop. The
// control API (node/api) is a thin layer over these.
//
// Lifecycle: New builds it and registers the ConsentGate and HumanState
// routes; Start starts the loop, restores the saved human state and starts
// the presence broadcast and the held-action sweep in Deps.Group; Close
// stops the loop after the group has stopped.
//
// Locks: pmu orders a retried prompt's rewrite of a pending decision
// against its removal by the human's answer; it is a leaf.
package human
