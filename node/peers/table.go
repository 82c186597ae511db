package peers

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/node/rtt"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/router"
)

// Info is what the node knows of a peer from its CIP handshake and
// STATE_UPDATEs (the SPEC §9 "peer state table").
type Info struct {
	AgentID      string
	Fingerprint  string
	Capabilities []string
	Presence     string
	LRI          int
	Intent       string
	Updated      time.Time
}

// Info returns the peer state table's entry for p.
func (r *Runtime) Info(p peer.ID) (Info, bool) {
	r.tableMu.Lock()
	defer r.tableMu.Unlock()
	in, ok := r.table[p]
	return in, ok
}

func (r *Runtime) updateInfo(p peer.ID, fn func(*Info)) {
	r.tableMu.Lock()
	defer r.tableMu.Unlock()
	in := r.table[p]
	fn(&in)
	in.Updated = r.cfg.Now()
	r.table[p] = in
}

// statePayload is the CIP STATE_UPDATE payload (SPEC §4.1), read as the
// table keeps it.
type statePayload struct {
	Presence      string   `json:"presence"`
	LRI           int      `json:"lri"`
	TrustState    string   `json:"trust_state"`
	KernelSignals []string `json:"kernel_signals"`
	Intent        string   `json:"intent"`
}

// handleStateUpdate is the §9 "peer state table" route.
func (r *Runtime) handleStateUpdate(_ context.Context, m *router.Message) error {
	var p statePayload
	if err := json.Unmarshal(m.Env.Payload, &p); err != nil {
		return fmt.Errorf("STATE_UPDATE payload: %w", err)
	}
	id, err := peerOf(m)
	if err != nil {
		return err
	}
	r.updateInfo(id, func(in *Info) {
		in.Presence, in.LRI, in.Intent = p.Presence, p.LRI, p.Intent
		in.Fingerprint = m.Peer
		in.AgentID = m.Env.Sender.AgentID
		in.Capabilities = m.Env.Sender.Capabilities
	})
	r.deps.Events.Emit("web4.cip.state_update", m.PeerID, map[string]any{
		"presence": p.Presence, "lri": p.LRI, "trust_state": p.TrustState, "intent": p.Intent, "msg_id": m.Env.MsgID})
	return nil
}

// Ready is a peer past the CIP handshake, as the AgentLoop sees it.
type Ready struct {
	PeerID       peer.ID
	Fingerprint  string
	AgentID      string
	Capabilities []string
	// Presence is the peer's last reported presence (zero if unknown).
	Presence envelope.Presence
}

// Ready lists the peers past the CIP handshake, by fingerprint, with the
// capabilities from their latest STATE_UPDATE (else their HELLO).
func (r *Runtime) Ready() []Ready {
	var out []Ready
	for _, s := range r.readySessions() {
		p := Ready{PeerID: s.t.RemotePeer(), Fingerprint: s.fp}
		if s.hs != nil {
			p.AgentID = s.hs.Peer.AgentID
			p.Capabilities = append([]string(nil), s.hs.Peer.Capabilities...)
		}
		if in, ok := r.Info(p.PeerID); ok {
			if len(in.Capabilities) > 0 {
				p.Capabilities = append([]string(nil), in.Capabilities...)
			}
			var pr envelope.Presence
			if pr.UnmarshalText([]byte(in.Presence)) == nil {
				p.Presence = pr
			}
		}
		out = append(out, p)
	}
	return out
}

// SendState sends a CIP STATE_UPDATE with the agent's presence and LRI to
// the ready peer p on the state channel.
func (r *Runtime) SendState(ctx context.Context, p peer.ID, pres envelope.Presence, lri int) error {
	s := r.session(p)
	if s == nil || !s.isReady() {
		return fmt.Errorf("%w: no ready session with %s", ErrUnknownPeer, p)
	}
	msg, err := r.deps.Sign().StateUpdate(r.cipPeer(s), cip.StateUpdatePayload{
		Presence: pres, LRI: lri, TrustState: r.ViewOf(s.fp), KernelSignals: []string{}})
	if err != nil {
		return err
	}
	return s.send(ctx, rtt.State, msg.Wire)
}
