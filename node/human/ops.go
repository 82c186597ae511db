package human

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/web4p2p/web4p2p/agentloop"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/hcp"
)

// The human's operations. The control API (/v1/human/..., /v1/why, in
// node/api) is a thin layer over these; each builds an HCP envelope signed with the human
// key, verifies it as any envelope is verified and routes it (consent gate
// → AgentLoop), so the API, the CLI and tests all take the same path.

// IntentResult says what became of a human intent.
type IntentResult struct {
	// MsgID of the HCP_INTENT; it names the intent in causal memory.
	MsgID string `json:"msg_id"`
	// Status is "accepted" (handed to the AgentLoop) or "held" (consent
	// blocks it; it comes back when consent admits it, or expires).
	Status string `json:"status"`
}

// Status is the human-facing state of the node.
type Status struct {
	// Human is the current human-state vector (nil before any was given).
	Human json.RawMessage `json:"human"`
	// Fingerprint of the human key.
	Fingerprint string `json:"fingerprint"`
	// Presence and LRI of the agent (the AgentLoop).
	Presence string `json:"presence"`
	LRI      int    `json:"lri"`
	// Held is the number of actions the consent gate holds.
	Held int `json:"held"`
	// Pending is the number of decision requests awaiting the human.
	Pending int `json:"pending"`
}

// Status returns the human-state vector and the agent's presence.
func (h *Runtime) Status() (Status, error) {
	var err error
	pres, lri := h.loop.State()
	st := Status{Fingerprint: h.fp, Presence: pres.String(), LRI: lri, Held: len(h.gate.Held())}
	if cur := h.gate.Human(); cur != nil {
		if st.Human, err = hcp.MarshalState(*cur); err != nil {
			return Status{}, err
		}
	}
	pd, err := h.pending()
	if err != nil {
		return Status{}, err
	}
	st.Pending = len(pd)
	return st, nil
}

// SetState sends an HCP_STATE_UPDATE with st: the consent gate adopts
// it and releases what it now admits. Invalid states are refused
// (hcp.ErrInvalidState naming the field).
func (h *Runtime) SetState(ctx context.Context, st envelope.Human) error {
	if err := hcp.ValidateState(st); err != nil {
		return err
	}
	msg, err := h.builder().StateUpdate(h.to(), st)
	if err != nil {
		return err
	}
	if _, err = h.route(ctx, msg); err != nil {
		return err
	}
	return h.saveState(st)
}

// SetConsent changes only the consent part of the human state.
func (h *Runtime) SetConsent(ctx context.Context, c envelope.Consent, scope []string, expires time.Time) (envelope.Human, error) {
	st := h.human()
	st.Consent, st.ConsentScope, st.ConsentExpires = c, scope, expires
	if st.ConsentScope == nil {
		st.ConsentScope = []string{}
	}
	return st, h.SetState(ctx, st)
}

// Intent sends an HCP_INTENT from the human: through the consent gate
// to the AgentLoop, which turns it into CIP INTENTs to capable peers.
func (h *Runtime) Intent(ctx context.Context, in hcp.Intent) (IntentResult, error) {
	msg, err := h.builder().Intent(h.to(), in)
	if err != nil {
		return IntentResult{}, err
	}
	env, err := h.route(ctx, msg)
	if err != nil {
		return IntentResult{}, err
	}
	res := IntentResult{MsgID: env.MsgID, Status: "accepted"}
	if slices.ContainsFunc(h.gate.Held(), func(a hcp.Action) bool { return a.ID == env.MsgID }) {
		res.Status = "held"
	}
	return res, nil
}

// PendingDecisions returns the decisions the agent asked the human for.
func (h *Runtime) PendingDecisions() ([]PendingDecision, error) {
	return h.pending()
}

// Decide answers the pending decision id with an HCP_DECISION. Rationale
// and alternatives are mandatory (envelope.ErrPayloadSchema otherwise).
// It returns the HCP_DECISION's msg_id.
func (h *Runtime) Decide(ctx context.Context, id string, d hcp.Decision) (string, error) {
	var pd PendingDecision
	if err := h.deps.Store.GetJSON(bucketDecisions, []byte(id), &pd); err != nil {
		return "", fmt.Errorf("%w: %q", ErrUnknownDecision, id)
	}
	d.ReplyTo = id
	if d.Topic == "" {
		d.Topic = pd.Topic
	}
	msg, err := h.builder().Decision(h.to(), d)
	if err != nil {
		return "", err
	}
	env, err := h.route(ctx, msg)
	if err != nil {
		return "", err
	}
	h.pmu.Lock()
	err = h.deps.Store.Delete(bucketDecisions, []byte(id))
	h.pmu.Unlock()
	if err != nil {
		return "", err
	}
	h.dmu.Lock()
	listeners := slices.Clone(h.decided)
	h.dmu.Unlock()
	for _, fn := range listeners {
		fn(pd.Cause, d.Choice)
	}
	return env.MsgID, nil
}

// OnDecided registers fn, called with the cause of a question (Question.Cause)
// and the human's choice each time the human answers one with Decide —
// how a part of the node that asked learns the answer (the A2A gateway).
// fn runs on the caller's goroutine and must not block.
func (h *Runtime) OnDecided(fn func(cause, choice string)) {
	h.dmu.Lock()
	defer h.dmu.Unlock()
	h.decided = append(h.decided, fn)
}

// Feedback sends an HCP_FEEDBACK; it returns its msg_id.
func (h *Runtime) Feedback(ctx context.Context, f hcp.Feedback) (string, error) {
	if f.Corrections == nil {
		f.Corrections = []string{}
	}
	msg, err := h.builder().Feedback(h.to(), f)
	if err != nil {
		return "", err
	}
	env, err := h.route(ctx, msg)
	if err != nil {
		return "", err
	}
	return env.MsgID, nil
}

// Why returns the causal chain of id (a message, decision or fact) from
// causal memory, causes first and id last. For an id not in causal memory
// it tries "decision:<id>" (the loop's decision about that message).
func (h *Runtime) Why(id string) ([]agentloop.Node, error) {
	chain, err := h.mem.Why(id, 0)
	if errors.Is(err, agentloop.ErrNotFound) {
		chain, err = h.mem.Why("decision:"+id, 0)
	}
	if errors.Is(err, agentloop.ErrNotFound) {
		if chain, err = h.factChain(id); err == nil && len(chain) == 0 {
			err = fmt.Errorf("%w: %q", agentloop.ErrNotFound, id)
		}
	}
	return chain, err
}

// factChain answers Why for a fact that was never recorded in causal
// memory (RecordFact) but whose proposals the knowledge store keeps: the
// chains of each proposal's causal links, then one node per proposal with
// its DMP trace, then the fact. Empty when the store knows no proposal.
func (h *Runtime) factChain(factID string) ([]agentloop.Node, error) {
	if h.deps.Provenance == nil {
		return nil, nil
	}
	provs, err := h.deps.Provenance.Provenance(factID)
	if err != nil || len(provs) == 0 {
		return nil, err
	}
	var out []agentloop.Node
	seen := map[string]bool{}
	fact := agentloop.Node{ID: factID, Kind: agentloop.NodeMessage, Type: "fact", Summary: "fact " + factID}
	for _, p := range provs {
		for _, l := range p.CausalLinks {
			ch, err := h.mem.Why(l, 0)
			if err != nil {
				continue // a link to something this node never processed
			}
			for _, nd := range ch {
				if !seen[nd.ID] {
					seen[nd.ID] = true
					out = append(out, nd)
				}
			}
		}
		if seen[p.MsgID] {
			continue
		}
		seen[p.MsgID] = true
		out = append(out, agentloop.Node{ID: p.MsgID, Kind: agentloop.NodeDecision, Type: "fact_proposal",
			Summary: fmt.Sprintf("%.16s… proposed %s", p.Proposer, factID), Causes: p.CausalLinks, Time: p.At,
			Trace: &agentloop.Trace{Decision: p.Trace.DecisionID, Alternatives: p.Trace.Counterfactuals,
				Reasons: append(append([]string(nil), p.Trace.Steps...), p.Trace.Evidence...), Context: p.Context}})
		fact.Causes = append(fact.Causes, p.MsgID)
		fact.Time = p.At
	}
	return append(out, fact), nil
}

// RecordFact records an accepted fact in causal memory with edges to its
// causes (the msg_ids of its proposal and votes, the decisions it came
// from), so Why(factID) returns its chain. Recording twice is harmless.
func (h *Runtime) RecordFact(factID string, causes []string, summary string) error {
	if len(causes) > agentloop.MaxCauses {
		causes = causes[len(causes)-agentloop.MaxCauses:]
	}
	if len(summary) > agentloop.MaxTextLen {
		summary = summary[:agentloop.MaxTextLen]
	}
	return h.mem.Record(agentloop.Node{ID: factID, Kind: agentloop.NodeMessage, Type: "fact",
		Summary: summary, Causes: append([]string(nil), causes...), Time: h.deps.Now()})
}

// Held lists the actions the consent gate holds, oldest first.
func (h *Runtime) Held() []hcp.Action { return h.gate.Held() }

// ReleaseHeld performs the held action id now, on the human's explicit
// word (hcp.Gate.Take); DropHeld discards it. Both return an error
// wrapping hcp.ErrNotHeld for an action the gate does not hold.
func (h *Runtime) ReleaseHeld(ctx context.Context, id string) error {
	a, err := h.gate.Take(ctx, id, true)
	if err != nil {
		return err
	}
	h.released(ctx, []hcp.Action{a})
	return nil
}

// DropHeld discards the held action id (see ReleaseHeld).
func (h *Runtime) DropHeld(ctx context.Context, id string) error {
	_, err := h.gate.Take(ctx, id, false)
	return err
}

// Permits is the consent rule (hcp.Permits) on the human's current state
// for topic: nil, or why consent blocks an action on it.
func (h *Runtime) Permits(topic string) error {
	return hcp.Permits(h.gate.Human(), topic, h.deps.Now())
}

// MeshPeers are the ready peers as the AgentLoop matches intents against
// them (a peer naming no topic is a generalist), for agents that act
// through the node (the A2A gateway).
func (h *Runtime) MeshPeers() []agentloop.Peer { return h.peers() }
