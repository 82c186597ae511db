package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/web4p2p/web4p2p/agentloop"
	"github.com/web4p2p/web4p2p/node/api"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/hcp"
)

// The human's operations. The control API (/v1/human/..., /v1/why) is a
// thin layer over these; each builds an HCP envelope signed with the human
// key, verifies it as any envelope is verified and routes it (consent gate
// → AgentLoop), so the API, the CLI and tests all take the same path.

// HumanIntentResult says what became of a human intent.
type HumanIntentResult struct {
	// MsgID of the HCP_INTENT; it names the intent in causal memory.
	MsgID string `json:"msg_id"`
	// Status is "accepted" (handed to the AgentLoop) or "held" (consent
	// blocks it; it comes back when consent admits it, or expires).
	Status string `json:"status"`
}

// HumanStatus is the human-facing state of the node.
type HumanStatus struct {
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

func (n *Node) humanRT() (*humanRuntime, error) {
	if n.human == nil {
		return nil, ErrNoHuman
	}
	return n.human, nil
}

// HumanStatus returns the human-state vector and the agent's presence.
func (n *Node) HumanStatus() (HumanStatus, error) {
	h, err := n.humanRT()
	if err != nil {
		return HumanStatus{}, err
	}
	pres, lri := h.loop.State()
	st := HumanStatus{Fingerprint: h.fp, Presence: pres.String(), LRI: lri, Held: len(h.gate.Held())}
	if cur := h.gate.Human(); cur != nil {
		if st.Human, err = hcp.MarshalState(*cur); err != nil {
			return HumanStatus{}, err
		}
	}
	pd, err := h.pending()
	if err != nil {
		return HumanStatus{}, err
	}
	st.Pending = len(pd)
	return st, nil
}

// SetHumanState sends an HCP_STATE_UPDATE with st: the consent gate adopts
// it and releases what it now admits. Invalid states are refused
// (hcp.ErrInvalidState naming the field).
func (n *Node) SetHumanState(ctx context.Context, st envelope.Human) error {
	h, err := n.humanRT()
	if err != nil {
		return err
	}
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
func (n *Node) SetConsent(ctx context.Context, c envelope.Consent, scope []string, expires time.Time) (envelope.Human, error) {
	h, err := n.humanRT()
	if err != nil {
		return envelope.Human{}, err
	}
	st := h.human()
	st.Consent, st.ConsentScope, st.ConsentExpires = c, scope, expires
	if st.ConsentScope == nil {
		st.ConsentScope = []string{}
	}
	return st, n.SetHumanState(ctx, st)
}

// HumanIntent sends an HCP_INTENT from the human: through the consent gate
// to the AgentLoop, which turns it into CIP INTENTs to capable peers.
func (n *Node) HumanIntent(ctx context.Context, in hcp.Intent) (HumanIntentResult, error) {
	h, err := n.humanRT()
	if err != nil {
		return HumanIntentResult{}, err
	}
	msg, err := h.builder().Intent(h.to(), in)
	if err != nil {
		return HumanIntentResult{}, err
	}
	env, err := h.route(ctx, msg)
	if err != nil {
		return HumanIntentResult{}, err
	}
	res := HumanIntentResult{MsgID: env.MsgID, Status: "accepted"}
	if slices.ContainsFunc(h.gate.Held(), func(a hcp.Action) bool { return a.ID == env.MsgID }) {
		res.Status = "held"
	}
	return res, nil
}

// PendingDecisions returns the decisions the agent asked the human for.
func (n *Node) PendingDecisions() ([]PendingDecision, error) {
	h, err := n.humanRT()
	if err != nil {
		return nil, err
	}
	return h.pending()
}

// Decide answers the pending decision id with an HCP_DECISION. Rationale
// and alternatives are mandatory (envelope.ErrPayloadSchema otherwise).
// It returns the HCP_DECISION's msg_id.
func (n *Node) Decide(ctx context.Context, id string, d hcp.Decision) (string, error) {
	h, err := n.humanRT()
	if err != nil {
		return "", err
	}
	var pd PendingDecision
	if err := n.db.GetJSON(bucketDecisions, []byte(id), &pd); err != nil {
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
	err = n.db.Delete(bucketDecisions, []byte(id))
	h.pmu.Unlock()
	if err != nil {
		return "", err
	}
	return env.MsgID, nil
}

// HumanFeedback sends an HCP_FEEDBACK; it returns its msg_id.
func (n *Node) HumanFeedback(ctx context.Context, f hcp.Feedback) (string, error) {
	h, err := n.humanRT()
	if err != nil {
		return "", err
	}
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
func (n *Node) Why(id string) ([]agentloop.Node, error) {
	h, err := n.humanRT()
	if err != nil {
		return nil, err
	}
	chain, err := h.mem.Why(id, 0)
	if errors.Is(err, agentloop.ErrNotFound) {
		chain, err = h.mem.Why("decision:"+id, 0)
	}
	if errors.Is(err, agentloop.ErrNotFound) {
		if chain, err = n.factChain(h, id); err == nil && len(chain) == 0 {
			err = fmt.Errorf("%w: %q", agentloop.ErrNotFound, id)
		}
	}
	return chain, err
}

// factChain answers Why for a fact that was never recorded in causal
// memory (RecordFact) but whose proposals the knowledge store keeps: the
// chains of each proposal's causal links, then one node per proposal with
// its DMP trace, then the fact. Empty when the store knows no proposal.
func (n *Node) factChain(h *humanRuntime, factID string) ([]agentloop.Node, error) {
	if n.knowledge == nil {
		return nil, nil
	}
	provs, err := n.knowledge.Provenance(factID)
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
func (n *Node) RecordFact(factID string, causes []string, summary string) error {
	h, err := n.humanRT()
	if err != nil {
		return err
	}
	if len(causes) > agentloop.MaxCauses {
		causes = causes[len(causes)-agentloop.MaxCauses:]
	}
	if len(summary) > agentloop.MaxTextLen {
		summary = summary[:agentloop.MaxTextLen]
	}
	return h.mem.Record(agentloop.Node{ID: factID, Kind: agentloop.NodeMessage, Type: "fact",
		Summary: summary, Causes: append([]string(nil), causes...), Time: n.cfg.Now()})
}

// addHumanRoutes appends the human endpoints to the control API.
func (n *Node) addHumanRoutes() {
	add := func(pattern string, h http.HandlerFunc) {
		n.apiRoutes = append(n.apiRoutes, apiRoute{pattern, h})
	}
	add("GET /v1/human/state", func(w http.ResponseWriter, r *http.Request) {
		st, err := n.HumanStatus()
		humanReply(w, st, err)
	})
	add("POST /v1/human/state", func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			humanReply(w, nil, api.Errorf(http.StatusRequestEntityTooLarge, "body_too_large", "%v", err))
			return
		}
		st, err := hcp.ParseState(raw)
		if err == nil {
			err = n.SetHumanState(r.Context(), st)
		}
		if err != nil {
			humanReply(w, nil, err)
			return
		}
		out, err := n.HumanStatus()
		humanReply(w, out, err)
	})
	add("POST /v1/human/consent", func(w http.ResponseWriter, r *http.Request) {
		c, scope, exp, err := parseConsentBody(r)
		if err != nil {
			humanReply(w, nil, err)
			return
		}
		if _, err := n.SetConsent(r.Context(), c, scope, exp); err != nil {
			humanReply(w, nil, err)
			return
		}
		out, err := n.HumanStatus()
		humanReply(w, out, err)
	})
	add("POST /v1/human/intent", func(w http.ResponseWriter, r *http.Request) {
		in, err := parseIntentBody(r)
		if err != nil {
			humanReply(w, nil, err)
			return
		}
		res, err := n.HumanIntent(r.Context(), in)
		humanReply(w, res, err)
	})
	add("GET /v1/human/decisions", func(w http.ResponseWriter, r *http.Request) {
		pd, err := n.PendingDecisions()
		if pd == nil {
			pd = []PendingDecision{}
		}
		humanReply(w, map[string]any{"decisions": pd}, err)
	})
	add("POST /v1/human/decisions/{id}", func(w http.ResponseWriter, r *http.Request) {
		d, err := parseDecisionBody(r)
		if err != nil {
			humanReply(w, nil, err)
			return
		}
		id, err := n.Decide(r.Context(), r.PathValue("id"), d)
		humanReply(w, map[string]string{"msg_id": id}, err)
	})
	add("POST /v1/human/feedback", func(w http.ResponseWriter, r *http.Request) {
		var body hcp.Feedback
		if !decodeBody(w, r, &body) {
			return
		}
		id, err := n.HumanFeedback(r.Context(), body)
		humanReply(w, map[string]string{"msg_id": id}, err)
	})
	add("GET /v1/why/{id}", func(w http.ResponseWriter, r *http.Request) {
		chain, err := n.Why(r.PathValue("id"))
		humanReply(w, map[string]any{"id": r.PathValue("id"), "chain": chain}, err)
	})
}

// parseIntentBody reads POST /v1/human/intent: {goal, topic, priority
// (default normal), context}.
func parseIntentBody(r *http.Request) (hcp.Intent, error) {
	var body struct {
		Goal     string `json:"goal"`
		Topic    string `json:"topic"`
		Priority string `json:"priority"`
		Context  string `json:"context"`
	}
	if err := api.Decode(r, &body); err != nil {
		return hcp.Intent{}, err
	}
	if body.Priority == "" {
		body.Priority = hcp.PriorityNormal.String()
	}
	in := hcp.Intent{Topic: body.Topic, Context: body.Context}
	if err := in.Goal.UnmarshalText([]byte(body.Goal)); err != nil {
		return hcp.Intent{}, api.Errorf(http.StatusBadRequest, "bad_request", "goal: must be align|request|clarify|decide|resolve_conflict (got %q)", body.Goal)
	}
	if err := in.Priority.UnmarshalText([]byte(body.Priority)); err != nil {
		return hcp.Intent{}, api.Errorf(http.StatusBadRequest, "bad_request", "priority: must be low|normal|high|safety (got %q)", body.Priority)
	}
	return in, nil
}

// parseConsentBody reads POST /v1/human/consent: {consent, scope, expires
// (RFC 3339, optional)}.
func parseConsentBody(r *http.Request) (envelope.Consent, []string, time.Time, error) {
	var body struct {
		Consent string   `json:"consent"`
		Scope   []string `json:"scope"`
		Expires string   `json:"expires"`
	}
	if err := api.Decode(r, &body); err != nil {
		return 0, nil, time.Time{}, err
	}
	var c envelope.Consent
	if err := c.UnmarshalText([]byte(body.Consent)); err != nil {
		return 0, nil, time.Time{}, api.Errorf(http.StatusBadRequest, "invalid_state", "consent: must be granted|limited|revoked (got %q)", body.Consent)
	}
	var exp time.Time
	if body.Expires != "" {
		var err error
		if exp, err = time.Parse(time.RFC3339, body.Expires); err != nil {
			return 0, nil, time.Time{}, api.Errorf(http.StatusBadRequest, "invalid_state", "expires: must be an RFC 3339 timestamp: %v", err)
		}
	}
	return c, body.Scope, exp, nil
}

// parseDecisionBody reads POST /v1/human/decisions/{id}: {choice
// approve|reject, rationale, alternatives}. Missing rationale or
// alternatives are left for the HCP_DECISION schema to refuse
// (payload_schema), the same check a peer's envelope meets.
func parseDecisionBody(r *http.Request) (hcp.Decision, error) {
	var body struct {
		Choice       string   `json:"choice"`
		Rationale    string   `json:"rationale"`
		Alternatives []string `json:"alternatives"`
	}
	if err := api.Decode(r, &body); err != nil {
		return hcp.Decision{}, err
	}
	if body.Choice != "approve" && body.Choice != "reject" {
		return hcp.Decision{}, api.Errorf(http.StatusBadRequest, "bad_request", "choice: must be approve|reject (got %q)", body.Choice)
	}
	return hcp.Decision{Choice: body.Choice, Rationale: body.Rationale, Alternatives: body.Alternatives}, nil
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := api.Decode(r, v); err != nil {
		humanReply(w, nil, err)
		return false
	}
	return true
}

// humanReply writes v, or err as the API's JSON error with the status its
// kind calls for.
func humanReply(w http.ResponseWriter, v any, err error) {
	status := http.StatusOK
	if err != nil {
		ae := humanAPIError(err)
		status, v = ae.Status, ae
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func humanAPIError(err error) *api.Error {
	var ae *api.Error
	var fe *hcp.FieldError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &fe):
		return api.Errorf(http.StatusBadRequest, "invalid_state", "%s: %s", fe.Field, fe.Reason)
	case errors.Is(err, hcp.ErrInvalidState):
		return api.Errorf(http.StatusBadRequest, "invalid_state", "%v", err)
	case errors.Is(err, envelope.ErrPayloadSchema):
		return api.Errorf(http.StatusBadRequest, "payload_schema", "%v", err)
	case errors.Is(err, ErrUnknownDecision), errors.Is(err, agentloop.ErrNotFound):
		return api.Errorf(http.StatusNotFound, "not_found", "%v", err)
	case errors.Is(err, hcp.ErrBuild), errors.Is(err, hcp.ErrPayload):
		return api.Errorf(http.StatusBadRequest, "bad_request", "%v", err)
	case errors.Is(err, hcp.ErrHoldFull):
		return api.Errorf(http.StatusTooManyRequests, "hold_full", "%v", err)
	case errors.Is(err, agentloop.ErrBackpressure):
		return api.Errorf(http.StatusTooManyRequests, "backpressure", "%v", err)
	case errors.Is(err, ErrNoHuman), errors.Is(err, agentloop.ErrClosed):
		return api.Errorf(http.StatusServiceUnavailable, "unavailable", "%v", err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return api.Errorf(http.StatusGatewayTimeout, "timeout", "%v", err)
	default:
		return api.Errorf(http.StatusInternalServerError, "internal", "%v", err)
	}
}
