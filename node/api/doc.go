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
// Every HTTP handler of the node lives here. The server parses and checks
// each request (PeerIDs, fingerprints, channels, enums, bodies) and calls
// one small area interface of its Backend (Node, Channels, Facts, Human,
// Learn), each implemented by the runtime that owns it; it maps the
// areas' typed errors to statuses and kinds (errors.go). The runtimes
// never see HTTP; package node only hands the server its areas.
package api
