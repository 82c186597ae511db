package hcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/store"
	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// Consent errors. ErrConsentBlocked is the parent of every reason; compare
// with errors.Is.
var (
	ErrConsentBlocked = errors.New("hcp: blocked by consent")
	// ErrNoConsent: no human state has been received yet. Until the human
	// says otherwise, nothing is done on their behalf.
	ErrNoConsent = fmt.Errorf("%w: no consent given yet", ErrConsentBlocked)
	// ErrConsentRevoked: consent is revoked.
	ErrConsentRevoked = fmt.Errorf("%w: consent revoked", ErrConsentBlocked)
	// ErrConsentExpired: consent_expires has passed (counts as revoked).
	ErrConsentExpired = fmt.Errorf("%w: consent expired", ErrConsentBlocked)
	// ErrOutOfScope: consent is limited and the topic is not in scope.
	ErrOutOfScope = fmt.Errorf("%w: topic outside the consent scope", ErrConsentBlocked)

	// ErrHeld is returned by Gate.Pass for an action that was blocked and
	// is now held; it wraps the blocking reason as well.
	ErrHeld = errors.New("hcp: action held until consent returns")
	// ErrHoldFull: the action was blocked and could not be held because
	// MaxHeld actions are already waiting. The caller still owns it.
	ErrHoldFull = errors.New("hcp: held-action queue full")
	// ErrAction reports an action that is malformed (no id, no kind,
	// oversized payload).
	ErrAction = errors.New("hcp: invalid action")
	// ErrNotHeld: Take was asked for an action the gate does not hold
	// (never held, already released, dropped or expired).
	ErrNotHeld = errors.New("hcp: no such held action")
)

// ScopeAll in consent_scope makes limited consent cover every topic.
const ScopeAll = "topic:*"

// Permits is the consent rule of SPEC §6 as a pure function: may an action
// on topic be taken for or shown to a human in state h at time now? nil
// means yes; otherwise one of ErrNoConsent, ErrConsentRevoked,
// ErrConsentExpired, ErrOutOfScope. Limited consent admits a topic when
// consent_scope contains "topic:<topic>" or ScopeAll; granted consent admits
// everything; consent whose expiry is at or before now counts as revoked
// whatever it says.
func Permits(h *envelope.Human, topic string, now time.Time) error {
	if h == nil {
		return ErrNoConsent
	}
	if !h.ConsentExpires.IsZero() && !now.Before(h.ConsentExpires) {
		return ErrConsentExpired
	}
	switch h.Consent {
	case envelope.ConsentGranted:
		return nil
	case envelope.ConsentLimited:
		want := "topic:" + topic
		for _, s := range h.ConsentScope {
			if s == want || s == ScopeAll {
				return nil
			}
		}
		return ErrOutOfScope
	default:
		return ErrConsentRevoked
	}
}

// Action is something the agent wants to do for, or show to, the human:
// a prompt, a reply, an outgoing request made on their behalf. The Gate
// holds it when consent blocks it.
type Action struct {
	// ID identifies the action (unique; e.g. the msg_id it will carry).
	ID string `json:"id"`
	// Kind says what it is ("prompt", "send_intent", "request_decision", …);
	// the node interprets it when the action is released.
	Kind string `json:"kind"`
	// Topic is what consent scope is checked against.
	Topic string `json:"topic"`
	// Priority of the action (informational for the gate; pacing uses it).
	Priority Priority `json:"priority,omitempty"`
	// Payload is whatever the node needs to perform the action later.
	Payload json.RawMessage `json:"payload,omitempty"`
	// Causes are msg_ids/event ids that led to it (causal memory).
	Causes []string `json:"causes,omitempty"`
	// HeldAt and Expires are set by the Gate when it holds the action.
	HeldAt  time.Time `json:"held_at,omitzero"`
	Expires time.Time `json:"expires,omitzero"`
}

func (a *Action) check() error {
	switch {
	case a.ID == "":
		return fmt.Errorf("%w: id: required", ErrAction)
	case len(a.ID) > MaxLabelLen:
		return fmt.Errorf("%w: id: longer than %d bytes", ErrAction, MaxLabelLen)
	case a.Kind == "":
		return fmt.Errorf("%w: kind: required", ErrAction)
	case len(a.Payload) > MaxActionPayload:
		return fmt.Errorf("%w: payload: %d bytes, limit %d", ErrAction, len(a.Payload), MaxActionPayload)
	case len(a.Causes) > MaxScope:
		return fmt.Errorf("%w: causes: %d, limit %d", ErrAction, len(a.Causes), MaxScope)
	}
	for i, c := range a.Causes {
		if c == "" || len(c) > MaxLabelLen {
			return fmt.Errorf("%w: causes[%d]: must be 1..%d bytes", ErrAction, i, MaxLabelLen)
		}
	}
	if len(a.Payload) > 0 && !json.Valid(a.Payload) {
		return fmt.Errorf("%w: payload: not valid JSON", ErrAction)
	}
	return nil
}

// Event types emitted by the Gate.
const (
	EventConsentBlocked = "web4.hcp.consent_blocked"
	EventActionReleased = "web4.hcp.action_released"
	EventActionExpired  = "web4.hcp.action_expired"
	EventConsentChanged = "web4.hcp.consent_changed"
	EventActionDropped  = "web4.hcp.action_dropped"
)

// heldBucket is the internal/store bucket of held actions (key = action id).
const heldBucket = "hcp_held_actions"

// Gate is the consent gate: every action for or toward the human passes
// Pass. Blocked actions are held — persisted in internal/store so they
// survive a restart — until SetHuman brings consent that admits them
// (released, returned to the caller and announced with
// web4.hcp.action_released) or their hold TTL passes (Sweep, or the next
// SetHuman/Pass; web4.hcp.action_expired). The Gate starts no goroutines;
// the node calls Sweep from its own ticker. Safe for concurrent use.
type Gate struct {
	db  *store.DB
	em  *events.Emitter
	now func() time.Time
	cfg GateConfig

	mu    sync.Mutex
	human *envelope.Human
	held  map[string]Action
}

// NewGate opens the gate over db, loading the actions held before a
// restart. now may be nil (time.Now); em may be nil. The human state starts
// unknown (nothing is permitted) until SetHuman.
func NewGate(db *store.DB, cfg GateConfig, em *events.Emitter, now func() time.Time) (*Gate, error) {
	if db == nil {
		return nil, errors.New("hcp: NewGate: nil store")
	}
	def := DefaultGateConfig()
	if cfg.HoldTTL <= 0 {
		cfg.HoldTTL = def.HoldTTL
	}
	if cfg.MaxHeld <= 0 {
		cfg.MaxHeld = def.MaxHeld
	}
	if now == nil {
		now = time.Now
	}
	g := &Gate{db: db, em: em, now: now, cfg: cfg, held: map[string]Action{}}
	err := db.ForEach(heldBucket, func(k, v []byte) error {
		var a Action
		if err := json.Unmarshal(v, &a); err != nil {
			return fmt.Errorf("hcp: held action %q: corrupt record: %w", k, err)
		}
		g.held[a.ID] = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// Human returns a copy of the current human state (nil before SetHuman).
func (g *Gate) Human() *envelope.Human {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.human == nil {
		return nil
	}
	h := *g.human
	return &h
}

// Pass asks whether action a may be performed now. nil: go ahead. An
// error wrapping ErrHeld (and the reason, e.g. ErrConsentRevoked): the
// action is held and will come back from SetHuman or expire. ErrHoldFull or
// ErrAction: it was refused and the caller still owns it.
func (g *Gate) Pass(ctx context.Context, a Action) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := a.check(); err != nil {
		g.em.Error("hcp", "invalid_action", a.ID, err, nil)
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	g.expireLocked(now)
	reason := Permits(g.human, a.Topic, now)
	if reason == nil {
		if _, held := g.held[a.ID]; held {
			// The caller performs it now; it must not come back later.
			if err := g.db.Delete(heldBucket, []byte(a.ID)); err != nil {
				return fmt.Errorf("hcp: unhold action %s: %w", a.ID, err)
			}
			delete(g.held, a.ID)
		}
		return nil
	}
	if _, dup := g.held[a.ID]; !dup && len(g.held) >= g.cfg.MaxHeld {
		err := fmt.Errorf("%w (%d held): %w", ErrHoldFull, len(g.held), reason)
		g.em.Error("hcp", "hold_full", a.ID, err, map[string]any{"topic": a.Topic})
		return err
	}
	a.HeldAt = now.UTC()
	a.Expires = now.Add(g.cfg.HoldTTL).UTC()
	if err := g.db.PutJSON(heldBucket, []byte(a.ID), a); err != nil {
		return fmt.Errorf("hcp: hold action %s: %w", a.ID, err)
	}
	g.held[a.ID] = a
	g.em.Emit(EventConsentBlocked, a.ID, map[string]any{
		"action": a.ID, "kind": a.Kind, "topic": a.Topic,
		"reason": reasonName(reason), "expires": envelope.FormatTime(a.Expires),
	}, a.Causes...)
	return fmt.Errorf("%w: %w", ErrHeld, reason)
}

// SetHuman installs a new human-state vector (from HCP_HELLO-derived
// defaults or HCP_STATE_UPDATE). Invalid states are refused with
// ErrInvalidState and change nothing. Held actions that the new state
// permits are released — removed from the store and returned in the order
// they were held — and held actions past their TTL expire.
func (g *Gate) SetHuman(ctx context.Context, h envelope.Human) ([]Action, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidateState(h); err != nil {
		g.em.Error("hcp", "invalid_state", "", err, nil)
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	old := g.human
	hc := h
	hc.ConsentScope = append([]string(nil), h.ConsentScope...)
	g.human = &hc
	if old == nil || old.Consent != hc.Consent || strings.Join(old.ConsentScope, "\x00") != strings.Join(hc.ConsentScope, "\x00") || !old.ConsentExpires.Equal(hc.ConsentExpires) {
		d := map[string]any{"consent": hc.Consent.String(), "consent_scope": toAny(hc.ConsentScope)}
		if !hc.ConsentExpires.IsZero() {
			d["consent_expires"] = envelope.FormatTime(hc.ConsentExpires)
		}
		g.em.Emit(EventConsentChanged, "", d)
	}
	now := g.now()
	g.expireLocked(now)
	var out []Action
	for _, a := range g.sortedLocked() {
		if Permits(g.human, a.Topic, now) != nil {
			continue
		}
		if err := g.db.Delete(heldBucket, []byte(a.ID)); err != nil {
			return out, fmt.Errorf("hcp: release %s: %w", a.ID, err)
		}
		delete(g.held, a.ID)
		g.em.Emit(EventActionReleased, a.ID, map[string]any{
			"action": a.ID, "kind": a.Kind, "topic": a.Topic,
			"held_for_ms": now.Sub(a.HeldAt).Milliseconds(),
		}, a.Causes...)
		out = append(out, a)
	}
	return out, nil
}

// Take removes the held action id on the human's own word: release true
// hands it back to be performed now (the human's explicit release is
// consent for that one action, whatever the standing consent says; event
// action_released with by=human), release false drops it for good (event
// action_dropped). ErrNotHeld if the gate does not hold it.
func (g *Gate) Take(ctx context.Context, id string, release bool) (Action, error) {
	if err := ctx.Err(); err != nil {
		return Action{}, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	g.expireLocked(now)
	a, ok := g.held[id]
	if !ok {
		return Action{}, fmt.Errorf("%w: %q", ErrNotHeld, id)
	}
	if err := g.db.Delete(heldBucket, []byte(id)); err != nil {
		return Action{}, fmt.Errorf("hcp: take %s: %w", id, err)
	}
	delete(g.held, id)
	typ := EventActionDropped
	if release {
		typ = EventActionReleased
	}
	g.em.Emit(typ, a.ID, map[string]any{
		"action": a.ID, "kind": a.Kind, "topic": a.Topic, "by": "human",
		"held_for_ms": now.Sub(a.HeldAt).Milliseconds(),
	}, a.Causes...)
	return a, nil
}

// Sweep expires held actions whose TTL has passed and returns them.
func (g *Gate) Sweep() []Action {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.expireLocked(g.now())
}

// Held returns the held actions in the order they were held.
func (g *Gate) Held() []Action {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sortedLocked()
}

func (g *Gate) expireLocked(now time.Time) []Action {
	due := false
	for _, a := range g.held {
		if !now.Before(a.Expires) {
			due = true
			break
		}
	}
	if !due {
		return nil // the common case: no sort, no allocation
	}
	var out []Action
	for _, a := range g.sortedLocked() {
		if now.Before(a.Expires) {
			continue
		}
		// A failed delete leaves the record for the next sweep; the
		// in-memory view still drops it so it is never released late.
		if err := g.db.Delete(heldBucket, []byte(a.ID)); err != nil {
			g.em.Error("hcp", "store", a.ID, err, nil)
		}
		delete(g.held, a.ID)
		g.em.Emit(EventActionExpired, a.ID, map[string]any{
			"action": a.ID, "kind": a.Kind, "topic": a.Topic,
			"held_for_ms": now.Sub(a.HeldAt).Milliseconds(),
		}, a.Causes...)
		out = append(out, a)
	}
	return out
}

func (g *Gate) sortedLocked() []Action {
	out := make([]Action, 0, len(g.held))
	for _, a := range g.held {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].HeldAt.Equal(out[j].HeldAt) {
			return out[i].HeldAt.Before(out[j].HeldAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func reasonName(err error) string {
	switch {
	case errors.Is(err, ErrNoConsent):
		return "no_consent"
	case errors.Is(err, ErrConsentExpired):
		return "expired"
	case errors.Is(err, ErrOutOfScope):
		return "out_of_scope"
	default:
		return "revoked"
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
