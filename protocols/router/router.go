package router

import (
	"context"
	"fmt"
	"sync"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// Event types emitted by the router.
const (
	EventRouted = "web4.router.routed"
	// Errors are "web4.error" events with area "router" and one of the
	// kinds below.
	KindUnknownType    = "unknown_type"
	KindTrustViolation = "trust_violation"
	KindNoHandler      = "no_handler"
	KindHandlerFailed  = "handler_failed"
	KindInvalid        = "invalid_message"
)

// Message is one verified envelope handed to the router, with where it
// came from. The router reads Env.Type to find the route; the rest is
// carried to the handler as is.
type Message struct {
	// Env is the envelope, verified by an envelope.Validator (all nine
	// checks of SPEC §3.3) whose check 8 was one of this router's gates
	// (Policy.Envelope, Policy.Local, or a transport's refinement of
	// them). Route refuses an envelope that did not pass a validator.
	Env *envelope.Envelope
	// Peer is the fingerprint of the authenticated peer that delivered the
	// message (the libp2p remote). Empty only when Local.
	Peer string
	// PeerID is the delivering peer's libp2p PeerID, for display.
	PeerID string
	// Local marks messages from this node's own side: the human session
	// (control API), its own LIP pipeline, its own gossip publications.
	Local bool
	// Channel is the RTT channel ("control", "state", "knowledge"), the
	// GossipSub topic, or "control_api" / "local" for local messages.
	Channel string
}

// Sender returns the verified signer's fingerprint.
func (m *Message) Sender() string { return m.Env.Sender.Fingerprint }

// Relayed reports whether the signer is not the peer that delivered the
// message (gossip forwarded by Peer).
func (m *Message) Relayed() bool { return !m.Local && m.Env.Sender.Fingerprint != m.Peer }

// Handler receives the messages of one route. Handle is called on the
// goroutine that called Route (the envelope's trust gate passed as check 8
// of its validation); it should hand
// long work to its own runtime (bounded inbox) rather than block the
// transport's reader. It must honour ctx. Its error is returned by Route.
type Handler interface {
	Handle(ctx context.Context, msg *Message) error
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, msg *Message) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, msg *Message) error { return f(ctx, msg) }

// Config configures a Router.
type Config struct {
	// Trust is where the gate looks up peers (normally *trust.Ledger).
	// nil treats every remote peer as unknown.
	Trust TrustSource
	// Self is this node's fingerprint: Policy.Local admits the node's own
	// signed envelopes (its gossip publications) besides HCP and LIP.
	Self string
	// Events receives web4.router.routed and web4.error; nil discards.
	Events *events.Emitter
}

// Router dispatches messages by the routing matrix. Safe for concurrent use;
// handlers may be registered at any time.
type Router struct {
	policy Policy
	em     *events.Emitter

	mu       sync.RWMutex
	handlers map[Route]*registration
}

// registration boxes a handler so unregistering compares identities, not
// handler values (a HandlerFunc is not comparable).
type registration struct{ h Handler }

// New returns a Router with no handlers.
func New(cfg Config) *Router {
	return &Router{policy: Policy{Trust: cfg.Trust, Self: cfg.Self}, em: cfg.Events, handlers: map[Route]*registration{}}
}

// Policy returns the router's trust gate, for use as the envelope
// validators' check 8: Policy().Envelope for peers' envelopes,
// Policy().Local for this node's own side.
func (r *Router) Policy() Policy { return r.policy }

// Register installs h for route. One handler per route; registering a
// second returns ErrDuplicateHandler. The returned function unregisters it
// (idempotent).
func (r *Router) Register(route Route, h Handler) (unregister func(), err error) {
	if !route.Valid() {
		return nil, fmt.Errorf("router: register: invalid route %d", uint8(route))
	}
	if h == nil {
		return nil, fmt.Errorf("router: register %s: nil handler", route)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.handlers[route]; ok {
		return nil, fmt.Errorf("%w: %s", ErrDuplicateHandler, route)
	}
	reg := &registration{h: h}
	r.handlers[route] = reg
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			if r.handlers[route] == reg {
				delete(r.handlers, route)
			}
			r.mu.Unlock()
		})
	}, nil
}

// Route dispatches one verified message: a message without a validated
// envelope yields ErrInvalidMessage, a type without a route ErrUnknownType,
// a route without a handler ErrNoHandler, each with an error event and no
// handler call; otherwise web4.router.routed is emitted and the route's
// handler called.
//
// Route does not gate: the trust gate ran exactly once, as check 8 of the
// validator that produced msg.Env (SPEC §3.3 runs it before the payload
// schema, so a peer's message is refused before its payload costs
// anything). The type was parsed once, by the validator.
func (r *Router) Route(ctx context.Context, msg *Message) error {
	if msg == nil || msg.Env == nil || !msg.Env.Verified() {
		err := fmt.Errorf("%w: no validated envelope", ErrInvalidMessage)
		id := ""
		if msg != nil && msg.Env != nil {
			id = msg.Env.MsgID
		}
		r.em.Error("router", KindInvalid, clip(id), err, nil)
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !msg.Local && msg.Peer == "" {
		err := fmt.Errorf("%w: remote message without an authenticated peer", ErrInvalidMessage)
		r.em.Error("router", KindInvalid, clip(msg.Env.MsgID), err, r.describe(msg, ""))
		return err
	}
	t := msg.Env.Type
	route, ok := RouteFor(t)
	if !ok {
		err := fmt.Errorf("%w: %s has no route", ErrUnknownType, t)
		r.em.Error("router", KindUnknownType, clip(msg.Env.MsgID), err, r.describe(msg, ""))
		return err
	}
	r.mu.RLock()
	reg := r.handlers[route]
	r.mu.RUnlock()
	if reg == nil {
		err := fmt.Errorf("%w: %s (type %s)", ErrNoHandler, route, t)
		r.em.Error("router", KindNoHandler, clip(msg.Env.MsgID), err, r.describe(msg, route.String()))
		return err
	}
	ev := r.em.Emit(EventRouted, clip(msg.Env.MsgID), r.describe(msg, route.String()))
	if err := reg.h.Handle(ctx, msg); err != nil {
		err = fmt.Errorf("router: %s handler for %s %s: %w", route, t, clip(msg.Env.MsgID), err)
		d := r.describe(msg, route.String())
		d["area"], d["kind"], d["detail"] = "router", KindHandlerFailed, err.Error()
		r.em.Emit("web4.error", clip(msg.Env.MsgID), d, ev.ID) // caused by the routing
		return err
	}
	return nil
}

func (r *Router) describe(msg *Message, route string) map[string]any {
	env := msg.Env
	d := map[string]any{
		"type":    env.Type.String(),
		"peer":    msg.Peer,
		"msg_id":  clip(env.MsgID),
		"channel": clip(msg.Channel),
		"local":   msg.Local,
	}
	if route != "" {
		d["route"] = route
	}
	if !msg.Local && env.Sender.Fingerprint != msg.Peer {
		d["sender"] = env.Sender.Fingerprint
	}
	if msg.PeerID != "" {
		d["peer_id"] = msg.PeerID
	}
	return d
}

// clip bounds attacker-chosen strings copied into events.
func clip(s string) string {
	if len(s) > maxEventString {
		return s[:maxEventString] + "…"
	}
	return s
}
