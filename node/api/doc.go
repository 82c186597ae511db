// Package api is the node's local control API: HTTP/JSON under /v1, an SSE
// stream of events, and Prometheus /metrics. The human operator, the CLI
// and the Python scripts reach a running node only through it (SPEC §12).
//
// Safety: it binds to loopback unless AllowRemote is set (and then says so
// loudly); every request must carry the bearer token kept 0600 in the data
// directory, and a request without it gets 401 with no side effect. Bodies
// are size-limited and decoded strictly (unknown fields and trailing data
// are errors). Every error is JSON {"error": kind, "detail": "..."} with the
// matching status code.
//
// The server knows nothing of libp2p: it calls a Backend, which package node
// implements, so the dependency points one way (node → api).
package api
