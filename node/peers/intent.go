package peers

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/node/rtt"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/router"
)

// intentMsg is either CIP INTENT form (SPEC §4.1): a request or a reply.
type intentMsg struct {
	cip.IntentRequest
	ReplyTo  string       `json:"reply_to"`
	Decision cip.Decision `json:"decision"`
	Reason   string       `json:"reason"`
}

// handleIntent is the §9 AgentLoop route for CIP INTENT. A reply wakes
// the SendIntent call waiting for it. A request is answered on a goroutine
// of its own, so the control dispatcher never waits for the agent: accept,
// or defer while this node is overloaded (SPEC §4.2 step 6, §10), or
// whatever the agent decides. More than MaxIntentsInFlight requests of one
// peer at once are deferred at once.
func (r *Runtime) handleIntent(ctx context.Context, m *router.Message) error {
	var in intentMsg
	if err := json.Unmarshal(m.Env.Payload, &in); err != nil {
		return fmt.Errorf("INTENT payload: %w", err)
	}
	if in.ReplyTo != "" {
		r.deps.Events.Emit("web4.cip.intent_reply", m.PeerID, map[string]any{"reply_to": in.ReplyTo, "decision": in.Decision.String(), "msg_id": m.Env.MsgID})
		if ch, ok := r.intentWaiters.LoadAndDelete(in.ReplyTo); ok {
			ch.(chan cip.IntentReply) <- cip.IntentReply{ReplyTo: in.ReplyTo, Decision: in.Decision, Reason: in.Reason}
		}
		return nil
	}
	p, err := peerOf(m)
	if err != nil {
		return err
	}
	s := r.session(p)
	if s == nil {
		return fmt.Errorf("%w: reply to %s", ErrUnknownPeer, p)
	}
	msgID := m.Env.MsgID
	select {
	case s.intents <- struct{}{}:
	default:
		// Too many of this peer's requests are waiting for the agent:
		// defer without waiting, and without blocking the dispatcher on
		// a full send queue either.
		return r.replyIntent(ctx, s, msgID, in.IntentRequest, cip.Defer, "busy: too many intents in flight", false)
	}
	if !r.deps.Group.Go(func(ctx context.Context) {
		defer func() { <-s.intents }()
		decision, reason := cip.Accept, ""
		switch {
		case r.Overloaded():
			decision, reason = cip.Defer, "overloaded"
		case r.agent != nil:
			decision, reason = r.agent.DecideIntent(ctx, s.fp, in.IntentRequest)
		}
		if err := r.replyIntent(ctx, s, msgID, in.IntentRequest, decision, reason, true); err != nil && ctx.Err() == nil {
			r.deps.Events.Error("cip", "intent_reply", p.String(), err, map[string]any{"msg_id": msgID})
		}
	}) {
		<-s.intents
		return ErrNotOpen
	}
	return nil
}

// replyIntent reports the decision on request msgID and sends the reply;
// block false sends it only if the control queue has room.
func (r *Runtime) replyIntent(ctx context.Context, s *session, msgID string, req cip.IntentRequest, d cip.Decision, reason string, block bool) error {
	r.deps.Events.Emit("web4.cip.intent", s.t.RemotePeer().String(), map[string]any{
		"goal": req.Goal.String(), "topic": req.Topic, "priority": req.Priority.String(), "decision": d.String(), "msg_id": msgID})
	msg, err := r.deps.Sign().IntentReply(r.cipPeer(s), cip.IntentReply{ReplyTo: msgID, Decision: d, Reason: reason})
	if err != nil {
		return err
	}
	if !block {
		return s.t.TrySend(rtt.Control, EnvelopeFrame(msg.Wire))
	}
	return s.send(ctx, rtt.Control, msg.Wire)
}

// SendIntent sends a CIP INTENT to p and waits for its accept/defer reply.
func (r *Runtime) SendIntent(ctx context.Context, p peer.ID, req cip.IntentRequest) (cip.IntentReply, error) {
	s, err := r.readySession(ctx, p)
	if err != nil {
		return cip.IntentReply{}, err
	}
	msg, err := r.deps.Sign().Intent(r.cipPeer(s), req)
	if err != nil {
		return cip.IntentReply{}, err
	}
	ch := make(chan cip.IntentReply, 1)
	r.intentWaiters.Store(msg.Env.MsgID, ch)
	defer r.intentWaiters.Delete(msg.Env.MsgID)
	if err := s.send(ctx, rtt.Control, msg.Wire); err != nil {
		return cip.IntentReply{}, err
	}
	select {
	case rep := <-ch:
		return rep, nil
	case <-ctx.Done():
		return cip.IntentReply{}, ctx.Err()
	case <-s.t.Done():
		return cip.IntentReply{}, fmt.Errorf("%w: session with %s ended", rtt.ErrClosed, p)
	}
}
