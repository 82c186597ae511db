package hcp

import (
	"context"
	"errors"
	"fmt"

	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/router"
)

// ErrNotHuman reports an HCP message that did not come from the local
// human: not marked Local by the transport, or signed by a key other than
// the human key.
var ErrNotHuman = errors.New("hcp: not from the local human")

// Handler connects the router's two HCP routes (SPEC §9) to a Gate:
//
//   - router.HumanState (HCP_HELLO, HCP_STATE_UPDATE) updates the human
//     state; HCP_STATE_UPDATE's payload is the new vector, HCP_HELLO's is
//     taken from state.human.
//   - router.ConsentGate (HCP_INTENT, HCP_DECISION, HCP_FEEDBACK,
//     HCP_CONTEXT) first adopts state.human (every HCP envelope carries the
//     human's current state), then decodes the payload. An HCP_INTENT
//     passes Gate.Pass as an Action of kind ActionHumanIntent on its topic:
//     acting on an intent is acting for the human, so a topic outside
//     limited consent is held, not lost. Decisions, feedback and context
//     are the human's own input and go straight to Deliver; whatever the
//     agent does in response passes the gate as its own action.
//
// Register it for both routes. Handle runs on the router's goroutine.
type Handler struct {
	// Gate is the consent gate.
	Gate *Gate
	// Human is the fingerprint of the human key; envelopes signed by any
	// other key are refused with ErrNotHuman.
	Human string
	// Deliver receives every message that may proceed, with its decoded
	// payload (*Intent, *Decision, *Feedback, *Context); it should submit
	// to the AgentLoop and not block for long. Required.
	Deliver func(ctx context.Context, msg *router.Message, payload any) error
	// Released receives held actions (human intents included, as
	// ActionHumanIntent with the envelope payload) released by a consent
	// change. May be nil.
	Released func(ctx context.Context, released []Action)
}

// ActionHumanIntent is the Action kind under which a held HCP_INTENT waits
// in the Gate; its Payload is the HCP_INTENT payload.
const ActionHumanIntent = "hcp_intent"

// Handle implements router.Handler.
func (h *Handler) Handle(ctx context.Context, msg *router.Message) error {
	if h.Gate == nil || h.Deliver == nil {
		return errors.New("hcp: Handler needs Gate and Deliver")
	}
	env := msg.Env
	if env == nil {
		return fmt.Errorf("%w: message carries no envelope", ErrPayload)
	}
	if !msg.Local || env.Sender.Fingerprint != h.Human {
		return fmt.Errorf("%w: sender %.16s…, local=%v", ErrNotHuman, env.Sender.Fingerprint, msg.Local)
	}
	kind := env.Type
	// HCP_STATE_UPDATE's payload is the authoritative new state; every
	// other HCP envelope carries the human's current state in state.human.
	if env.State.Human != nil && kind != envelope.HCPStateUpdate {
		if err := h.setHuman(ctx, *env.State.Human); err != nil {
			return err
		}
	}
	switch kind {
	case envelope.HCPStateUpdate:
		st, err := ParseState(env.Payload)
		if err != nil {
			return err
		}
		return h.setHuman(ctx, st)
	case envelope.HCPHello:
		return nil
	}
	p, err := ParsePayload(kind, env.Payload)
	if err != nil {
		return err
	}
	if in, ok := p.(*Intent); ok {
		err := h.Gate.Pass(ctx, Action{ID: env.MsgID, Kind: ActionHumanIntent, Topic: in.Topic,
			Priority: in.Priority, Payload: append([]byte(nil), env.Payload...)})
		if errors.Is(err, ErrHeld) {
			return nil // held with an event; comes back through Released
		}
		if err != nil {
			return err
		}
	}
	return h.Deliver(ctx, msg, p)
}

func (h *Handler) setHuman(ctx context.Context, st envelope.Human) error {
	rel, err := h.Gate.SetHuman(ctx, st)
	if len(rel) > 0 && h.Released != nil {
		h.Released(ctx, rel)
	}
	return err
}
