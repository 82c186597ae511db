package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/trust"
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

// Message is one verified message handed to the router. The router reads
// Peer, Sender, Local and Type; the rest is carried to the handler as is.
type Message struct {
	// Peer is the fingerprint of the authenticated peer that delivered the
	// message (the libp2p remote). Empty only when Local.
	Peer string
	// PeerID is the delivering peer's libp2p PeerID, for display.
	PeerID string
	// Sender is the verified envelope signer's fingerprint when it differs
	// from Peer (gossip relayed by Peer). Empty means Peer.
	Sender string
	// Local marks messages from this node's own side: the human session
	// (control API) or its own LIP pipeline.
	Local bool
	// Channel is the RTT channel ("control", "state", "knowledge") or the
	// GossipSub topic the message arrived on.
	Channel string
	// Type is the message type as received, either spelling.
	Type string
	// Kind is the normalised type; Route sets it before calling the handler.
	Kind envelope.Type
	// MsgID is the envelope's msg_id.
	MsgID string
	// Time is the envelope's (verified, skew-checked) timestamp.
	Time time.Time
	// Raw is the envelope's bytes as received.
	Raw []byte
	// Envelope is the decoded envelope (normally *envelope.Envelope); the
	// router does not look inside.
	Envelope any
	// Payload is the envelope's payload.
	Payload json.RawMessage
}

// sender returns whose trust state gates the message.
func (m *Message) sender() string {
	if m.Sender != "" {
		return m.Sender
	}
	return m.Peer
}

// Handler receives the messages of one route. Handle is called on the
// goroutine that called Route, after the trust gate passed; it should hand
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
	return &Router{policy: Policy{Trust: cfg.Trust}, em: cfg.Events, handlers: map[Route]*registration{}}
}

// Policy returns the router's trust gate, for use as the envelope
// validator's check 8 (Policy().Envelope).
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

// Route gates and dispatches one message: unknown types and gate failures
// yield an error event and an error (ErrUnknownType, ErrTrustViolation) and
// no handler call; otherwise web4.router.routed is emitted and the route's
// handler called with a copy of msg whose Kind is set.
func (r *Router) Route(ctx context.Context, msg *Message) error {
	if msg == nil {
		err := fmt.Errorf("%w: nil", ErrInvalidMessage)
		r.em.Error("router", KindInvalid, "", err, nil)
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := ParseType(msg.Type)
	if err != nil {
		r.em.Error("router", KindUnknownType, clip(msg.MsgID), err, r.describe(msg, "", ""))
		return err
	}
	if err := r.gate(msg, t); err != nil {
		kind := KindTrustViolation
		if errors.Is(err, ErrInvalidMessage) {
			kind = KindInvalid
		}
		r.em.Error("router", kind, clip(msg.MsgID), err, r.describe(msg, t.String(), ""))
		return err
	}
	route, ok := RouteFor(t)
	if !ok {
		// Only reachable if envelope grows a type the matrix lacks; the
		// matrix test guards against that.
		err := fmt.Errorf("%w: %s has no route", ErrUnknownType, t)
		r.em.Error("router", KindUnknownType, clip(msg.MsgID), err, r.describe(msg, t.String(), ""))
		return err
	}
	r.mu.RLock()
	reg := r.handlers[route]
	r.mu.RUnlock()
	if reg == nil {
		err := fmt.Errorf("%w: %s (type %s)", ErrNoHandler, route, t)
		r.em.Error("router", KindNoHandler, clip(msg.MsgID), err, r.describe(msg, t.String(), route.String()))
		return err
	}
	ev := r.em.Emit(EventRouted, clip(msg.MsgID), r.describe(msg, t.String(), route.String()))
	m := *msg
	m.Kind = t
	if err := reg.h.Handle(ctx, &m); err != nil {
		err = fmt.Errorf("router: %s handler for %s %s: %w", route, t, clip(msg.MsgID), err)
		d := r.describe(msg, t.String(), route.String())
		d["area"], d["kind"], d["detail"] = "router", KindHandlerFailed, err.Error()
		r.em.Emit("web4.error", clip(msg.MsgID), d, ev.ID) // caused by the routing
		return err
	}
	return nil
}

// gate applies the trust policy before any handler runs.
func (r *Router) gate(msg *Message, t envelope.Type) error {
	if msg.Local {
		if allowedLocal(t) {
			return nil
		}
		return fmt.Errorf("%w: type %s is only accepted from peers", ErrTrustViolation, t)
	}
	if msg.Peer == "" {
		return fmt.Errorf("%w: remote message without an authenticated peer", ErrInvalidMessage)
	}
	if msg.Sender != "" && msg.Sender != msg.Peer {
		// Relayed gossip: a blacklisted relay is ignored whatever it carries.
		if st, _ := r.policy.standing(msg.Peer); st == trust.Blacklisted {
			return fmt.Errorf("%w: relaying peer is blacklisted", ErrTrustViolation)
		}
	}
	return r.policy.Check(msg.sender(), t)
}

func (r *Router) describe(msg *Message, typ, route string) map[string]any {
	d := map[string]any{
		"type":    clip(msg.Type),
		"peer":    msg.Peer,
		"msg_id":  clip(msg.MsgID),
		"channel": clip(msg.Channel),
		"local":   msg.Local,
	}
	if typ != "" {
		d["type"] = typ
	}
	if route != "" {
		d["route"] = route
	}
	if msg.Sender != "" && msg.Sender != msg.Peer {
		d["sender"] = msg.Sender
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
