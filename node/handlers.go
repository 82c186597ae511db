package node

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/node/rtt"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/router"
)

// statePayload is the CIP STATE_UPDATE payload (SPEC §4.1).
type statePayload struct {
	Presence      string   `json:"presence"`
	LRI           int      `json:"lri"`
	TrustState    string   `json:"trust_state"`
	KernelSignals []string `json:"kernel_signals"`
	Intent        string   `json:"intent"`
}

// handleStateUpdate is the §9 "peer state table" route.
func (n *Node) handleStateUpdate(ctx context.Context, m *router.Message) error {
	var p statePayload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return fmt.Errorf("STATE_UPDATE payload: %w", err)
	}
	env, _ := m.Envelope.(*envelope.Envelope)
	id, err := peer.Decode(m.PeerID)
	if err != nil {
		return err
	}
	n.updatePeerInfo(id, func(ri *remoteInfo) {
		ri.presence, ri.lri, ri.intent = p.Presence, p.LRI, p.Intent
		ri.fingerprint = m.Peer
		if env != nil {
			ri.agentID = env.Sender.AgentID
			ri.capabilities = env.Sender.Capabilities
		}
	})
	n.em.Emit("web4.cip.state_update", m.PeerID, map[string]any{
		"presence": p.Presence, "lri": p.LRI, "trust_state": p.TrustState, "intent": p.Intent, "msg_id": m.MsgID})
	return nil
}

// intentMsg is either CIP INTENT form (SPEC §4.1): a request or a reply.
type intentMsg struct {
	cip.IntentRequest
	ReplyTo  string       `json:"reply_to"`
	Decision cip.Decision `json:"decision"`
	Reason   string       `json:"reason"`
}

// handleIntent is the §9 AgentLoop route for CIP INTENT. A request is
// answered accept, or defer while this node is overloaded (SPEC §4.2 step
// 6, §10); a reply wakes the SendIntent call waiting for it.
func (n *Node) handleIntent(ctx context.Context, m *router.Message) error {
	var in intentMsg
	if err := json.Unmarshal(m.Payload, &in); err != nil {
		return fmt.Errorf("INTENT payload: %w", err)
	}
	if in.ReplyTo != "" {
		n.em.Emit("web4.cip.intent_reply", m.PeerID, map[string]any{"reply_to": in.ReplyTo, "decision": in.Decision.String(), "msg_id": m.MsgID})
		if ch, ok := n.intentWaiters.LoadAndDelete(in.ReplyTo); ok {
			ch.(chan cip.IntentReply) <- cip.IntentReply{ReplyTo: in.ReplyTo, Decision: in.Decision, Reason: in.Reason}
		}
		return nil
	}
	decision, reason := cip.Accept, ""
	if n.overloaded() {
		decision, reason = cip.Defer, "overloaded"
	} else if hook := n.intentHook; hook != nil {
		decision, reason = hook(ctx, m.PeerID, in.IntentRequest)
	}
	n.em.Emit("web4.cip.intent", m.PeerID, map[string]any{
		"goal": in.Goal.String(), "topic": in.Topic, "priority": in.Priority.String(), "decision": decision.String(), "msg_id": m.MsgID})
	id, err := peer.Decode(m.PeerID)
	if err != nil {
		return err
	}
	ps := n.peerSession(id)
	if ps == nil {
		return fmt.Errorf("%w: reply to %s", ErrUnknownPeer, id)
	}
	msg, err := n.builder().IntentReply(n.cipPeer(ps), cip.IntentReply{ReplyTo: m.MsgID, Decision: decision, Reason: reason})
	if err != nil {
		return err
	}
	return ps.sendEnvelope(ctx, rtt.Control, msg.Wire)
}

// cipPeer addresses an envelope to the session's peer.
func (n *Node) cipPeer(ps *peerSession) cip.Peer {
	p := cip.Peer{Fingerprint: ps.fp, View: n.viewOf(ps.fp)}
	if ps.hs != nil {
		p.AgentID = ps.hs.Peer.AgentID
	}
	return p
}

// SendIntent sends a CIP INTENT to p and waits for its accept/defer reply.
func (n *Node) SendIntent(ctx context.Context, p peer.ID, req cip.IntentRequest) (cip.IntentReply, error) {
	ps, err := n.readySession(ctx, p)
	if err != nil {
		return cip.IntentReply{}, err
	}
	msg, err := n.builder().Intent(n.cipPeer(ps), req)
	if err != nil {
		return cip.IntentReply{}, err
	}
	ch := make(chan cip.IntentReply, 1)
	n.intentWaiters.Store(msg.Env.MsgID, ch)
	defer n.intentWaiters.Delete(msg.Env.MsgID)
	if err := ps.sendEnvelope(ctx, rtt.Control, msg.Wire); err != nil {
		return cip.IntentReply{}, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return cip.IntentReply{}, ctx.Err()
	case <-ps.t.Done():
		return cip.IntentReply{}, fmt.Errorf("%w: session with %s ended", rtt.ErrClosed, p)
	}
}

// readySession returns the session with p once its CIP handshake is done.
func (n *Node) readySession(ctx context.Context, p peer.ID) (*peerSession, error) {
	if _, err := n.Session(ctx, p); err != nil {
		return nil, err
	}
	ps := n.peerSession(p)
	if ps == nil {
		return nil, fmt.Errorf("%w: no session with %s", ErrUnknownPeer, p)
	}
	select {
	case <-ps.ready:
		return ps, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("CIP handshake with %s not complete: %w", p, ctx.Err())
	case <-ps.t.Done():
		return nil, fmt.Errorf("%w: session with %s ended before the CIP handshake completed", ErrUnknownPeer, p)
	}
}

// SendEnvelope sends an already sealed envelope to p on ch (tests and
// tools use it to inject exactly the bytes they want to check).
func (n *Node) SendEnvelope(ctx context.Context, p peer.ID, ch rtt.Channel, raw []byte) error {
	ps := n.peerSession(p)
	if ps == nil {
		return fmt.Errorf("%w: no session with %s", ErrUnknownPeer, p)
	}
	return ps.sendEnvelope(ctx, ch, raw)
}
