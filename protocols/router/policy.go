package router

import (
	"errors"
	"fmt"

	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/trust"
)

// Errors of the router. Trust violations wrap envelope.ErrTrustViolation so
// that a caller sees one sentinel whether check 8 failed in the envelope
// validator or in Route.
var (
	// ErrTrustViolation is envelope.ErrTrustViolation (SPEC §3.3 check 8).
	ErrTrustViolation = envelope.ErrTrustViolation
	// ErrUnknownType: the message type is not in the routing matrix.
	ErrUnknownType = errors.New("router: unknown message type")
	// ErrNoHandler: no handler is registered for the type's route.
	ErrNoHandler = errors.New("router: no handler for route")
	// ErrInvalidMessage: the Message itself is malformed (nil, no peer).
	ErrInvalidMessage = errors.New("router: invalid message")
	// ErrDuplicateHandler: a handler is already registered for the route.
	ErrDuplicateHandler = errors.New("router: handler already registered")
)

// TrustSource tells the gate where a peer stands. trust.Ledger implements
// it. Standing returns the peer's state and whether its cooldown is over
// (true unless untrusted).
type TrustSource interface {
	Standing(fingerprint string) (trust.State, bool)
}

// Policy is the trust gate over a TrustSource. A nil Trust treats every
// peer as unknown.
type Policy struct {
	Trust TrustSource
	// Self is this node's fingerprint (see Local).
	Self string
}

func (p Policy) standing(fp string) (trust.State, bool) {
	if p.Trust == nil {
		return trust.Unknown, true
	}
	return p.Trust.Standing(fp)
}

// Check applies SPEC §4.3 to a message of type t from the remote peer with
// fingerprint sender. The error wraps ErrTrustViolation and names the state
// and the type.
func (p Policy) Check(sender string, t envelope.Type) error {
	st, cooled := p.standing(sender)
	if allowed(st, t, cooled) {
		return nil
	}
	reason := fmt.Sprintf("peer is %s", st)
	if st == trust.Untrusted && gatingSet[st][t] {
		reason = "peer is untrusted and its cooldown is not over"
	}
	return fmt.Errorf("%w: type %s: %s", ErrTrustViolation, t, reason)
}

// Envelope adapts the policy to envelope.Config.Policy (check 8 of the
// envelope validator). It gates by the envelope's sender, which check 4 has
// already verified by then. Use it for envelopes from remote peers; this
// node's own side uses Local.
func (p Policy) Envelope(env *envelope.Envelope) error {
	if env == nil {
		return fmt.Errorf("%w: nil envelope", ErrInvalidMessage)
	}
	return p.Check(env.Sender.Fingerprint, env.Type)
}

// Local is check 8 for envelopes from this node's own side (Message.Local):
// HCP envelopes (the human session through the control API; the HCP
// handler checks they are signed by the human key), LIP envelopes (the
// node's own LIP pipeline), and any envelope signed by this node itself
// (its own gossip publications, applied locally before they are sent).
// CIP envelopes signed by anyone else come only from peers.
func (p Policy) Local(env *envelope.Envelope) error {
	if env == nil {
		return fmt.Errorf("%w: nil envelope", ErrInvalidMessage)
	}
	if allowedLocal(env.Type) || (p.Self != "" && env.Sender.Fingerprint == p.Self) {
		return nil
	}
	return fmt.Errorf("%w: type %s is only accepted from peers", ErrTrustViolation, env.Type)
}
