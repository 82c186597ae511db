// Package events implements the web4p2p event contract v1.0 (SPEC §11).
//
// Every observable thing a node does — a session coming up, a trust
// transition, a routed message, a rejected replay — is one Event: a
// CloudEvents 1.0-shaped JSON object with two web4 extensions
// (`web4contract`, `causes`). Components emit through an *Emitter, which
// stamps id, source and time and hands the event to a Sink. Sinks are small
// (JSON lines file, human-readable writer, in-memory ring for tests, fan-out)
// and must not block for long: they are called on the emitting goroutine.
//
// The JSON Schema of the contract ships embedded (schema/event-v1.0.json);
// Validate checks an encoded event against it, and tests validate every
// event they see.
package events
