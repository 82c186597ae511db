// Package negentropy implements version 1 of the negentropy range-based set
// reconciliation protocol (protocol byte 0x61), as specified by
// github.com/hoytech/negentropy (docs/negentropy-protocol-v1.md, MIT,
// © 2023 Doug Hoyte) and byte-for-byte compatible with its reference
// implementations.
//
// Two peers each hold a set of items (a uint64 timestamp and a 32-byte id).
// The client sends Initiate's message, the server answers each message with
// Reconcile, and the client feeds each answer to ReconcileClient, which
// reports the ids only the client has (have) and those only the server has
// (need), until it returns a nil next message. The messages grow with the
// size of the difference, not of the sets: each splits the ranges whose
// fingerprints disagree and lists the ids of small ones.
//
// The package is a pure state machine: it does no I/O, starts no goroutine
// and reads no clock. A transport (an RTT channel, a libp2p stream) carries
// the messages; a store provides the items through the small Storage
// interface (Vector is the in-memory one). Every message from a peer is
// checked completely before it is acted on, and a malformed one fails with a
// *DecodeError (errors.Is ErrMalformed) naming what is wrong and where; every
// bound lives in limits.go.
package negentropy
