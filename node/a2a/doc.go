// Package a2a is the node's A2A (Agent2Agent) gateway: agents that speak
// A2A reach the mesh through it without knowing CIP (SPEC §13.3).
//
// It speaks A2A JSON-RPC 2.0 as the official clients do: the v1.0 method
// names (SendMessage, SendStreamingMessage, GetTask, CancelTask,
// SubscribeToTask) with the v1.0 ProtoJSON shapes (TASK_STATE_*, ROLE_*,
// parts as {"text": …}) that @a2a-js/sdk 1.3.0 sends by default, and the
// v0.3 names (message/send, message/stream, tasks/get, tasks/cancel,
// tasks/resubscribe) with the v0.3 shapes ("kind" discriminators,
// "auth-required") for older clients. ParseRequest checks a request
// strictly and names the offending field in its JSON-RPC error.
//
// An A2A message becomes a CIP INTENT to a capable mesh peer, chosen as
// the AgentLoop chooses (agentloop.MatchPeers over the ready peers), on
// the human's behalf and so under the human's consent; the outcome is the
// task's state:
//
//	consent missing, revoked or expired     → AUTH_REQUIRED
//	topic outside limited consent           → INPUT_REQUIRED (the human is asked;
//	                                          allow goes on, decline rejects)
//	INTENT in flight, or deferred (retried) → WORKING
//	INTENT accepted                         → COMPLETED (the answer is the artifact)
//	no capable peer, peer distrusted, the
//	human declined, the remote refused      → REJECTED
//	no answer, deferred past the deadline   → FAILED
//
// An interrupted task goes on with a follow-up message naming it
// (consent is checked again). A task belongs to the client that created
// it (Request.Owner).
//
// A message whose metadata names "forward": <PeerID> is not turned into an
// INTENT here: the task is forwarded to that node's gateway over the
// libp2p binding (Binding, protocol /web4/a2a/1.0), which runs it there
// under its own human's consent and streams its states back.
//
// Tasks live in memory, at most Config.MaxTasks (finished ones are
// forgotten oldest first). Gateway holds no HTTP: node/api frames its
// JSON-RPC over POST /a2a (JSON or SSE), Binding over libp2p streams.
// Every goroutine runs in the node's lifecycle group.
package a2a
