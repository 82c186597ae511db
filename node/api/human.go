package api

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/web4p2p/web4p2p/node/human"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/hcp"
)

// humanRoutes are the human's endpoints (SPEC §6): each is a thin layer
// over the human runtime, which signs an HCP envelope with the human key,
// verifies it as any envelope and routes it through the consent gate.
func (s *Server) humanRoutes() {
	h := s.be.Human
	// add registers a human route that answers 503 without a runtime.
	add := func(pattern string, fn http.HandlerFunc) {
		s.Handle(pattern, func(w http.ResponseWriter, r *http.Request) {
			if need(w, h, "the human runtime") {
				fn(w, r)
			}
		})
	}
	status := func(w http.ResponseWriter) {
		st, err := h.Status()
		reply(w, st, mapErr(err))
	}
	add("GET /v1/human/state", func(w http.ResponseWriter, r *http.Request) { status(w) })
	add("POST /v1/human/state", func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			writeError(w, Errorf(http.StatusRequestEntityTooLarge, "body_too_large", "%v", err))
			return
		}
		st, err := hcp.ParseState(raw)
		if err == nil {
			err = h.SetState(r.Context(), st)
		}
		if err != nil {
			writeError(w, mapErr(err))
			return
		}
		status(w)
	})
	add("POST /v1/human/consent", func(w http.ResponseWriter, r *http.Request) {
		c, scope, exp, err := parseConsentBody(r)
		if err == nil {
			_, err = h.SetConsent(r.Context(), c, scope, exp)
		}
		if err != nil {
			writeError(w, mapErr(err))
			return
		}
		status(w)
	})
	add("POST /v1/human/intent", func(w http.ResponseWriter, r *http.Request) {
		in, err := parseIntentBody(r)
		if err != nil {
			writeError(w, err)
			return
		}
		res, err := h.Intent(r.Context(), in)
		reply(w, res, mapErr(err))
	})
	add("GET /v1/human/decisions", func(w http.ResponseWriter, r *http.Request) {
		pd, err := h.PendingDecisions()
		reply(w, map[string]any{"decisions": nonNil[human.PendingDecision](pd)}, mapErr(err))
	})
	add("POST /v1/human/decisions/{id}", func(w http.ResponseWriter, r *http.Request) {
		d, err := parseDecisionBody(r)
		if err != nil {
			writeError(w, err)
			return
		}
		id, err := h.Decide(r.Context(), r.PathValue("id"), d)
		reply(w, map[string]string{"msg_id": id}, mapErr(err))
	})
	add("POST /v1/human/feedback", func(w http.ResponseWriter, r *http.Request) {
		var body hcp.Feedback
		if !decode(w, r, &body) {
			return
		}
		id, err := h.Feedback(r.Context(), body)
		reply(w, map[string]string{"msg_id": id}, mapErr(err))
	})
	add("GET /v1/human/held", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"held": nonNil(h.Held())})
	})
	add("POST /v1/human/held/{id}", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Action string `json:"action"`
		}
		if !decode(w, r, &body) {
			return
		}
		id := r.PathValue("id")
		err := heldAction(r.Context(), h, id, body.Action)
		reply(w, map[string]string{"id": id, "action": body.Action}, mapErr(err))
	})
	add("GET /v1/why/{id}", func(w http.ResponseWriter, r *http.Request) {
		chain, err := h.Why(r.PathValue("id"))
		reply(w, map[string]any{"id": r.PathValue("id"), "chain": chain}, mapErr(err))
	})
}

// heldAction applies the human's release|drop to the held action id.
func heldAction(ctx context.Context, h Human, id, action string) error {
	switch action {
	case "release":
		return h.ReleaseHeld(ctx, id)
	case "drop":
		return h.DropHeld(ctx, id)
	}
	return Errorf(http.StatusBadRequest, "bad_request", "field \"action\": must be release|drop (got %q)", action)
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
	if err := Decode(r, &body); err != nil {
		return hcp.Intent{}, err
	}
	if body.Priority == "" {
		body.Priority = hcp.PriorityNormal.String()
	}
	in := hcp.Intent{Topic: body.Topic, Context: body.Context}
	if err := in.Goal.UnmarshalText([]byte(body.Goal)); err != nil {
		return hcp.Intent{}, Errorf(http.StatusBadRequest, "bad_request", "field \"goal\": must be align|request|clarify|decide|resolve_conflict (got %q)", body.Goal)
	}
	if err := in.Priority.UnmarshalText([]byte(body.Priority)); err != nil {
		return hcp.Intent{}, Errorf(http.StatusBadRequest, "bad_request", "field \"priority\": must be low|normal|high|safety (got %q)", body.Priority)
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
	if err := Decode(r, &body); err != nil {
		return 0, nil, time.Time{}, err
	}
	var c envelope.Consent
	if err := c.UnmarshalText([]byte(body.Consent)); err != nil {
		return 0, nil, time.Time{}, Errorf(http.StatusBadRequest, "invalid_state", "field \"consent\": must be granted|limited|revoked (got %q)", body.Consent)
	}
	var exp time.Time
	if body.Expires != "" {
		var err error
		if exp, err = time.Parse(time.RFC3339, body.Expires); err != nil {
			return 0, nil, time.Time{}, Errorf(http.StatusBadRequest, "invalid_state", "field \"expires\": must be an RFC 3339 timestamp: %v", err)
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
	if err := Decode(r, &body); err != nil {
		return hcp.Decision{}, err
	}
	if body.Choice != "approve" && body.Choice != "reject" {
		return hcp.Decision{}, Errorf(http.StatusBadRequest, "bad_request", "field \"choice\": must be approve|reject (got %q)", body.Choice)
	}
	return hcp.Decision{Choice: body.Choice, Rationale: body.Rationale, Alternatives: body.Alternatives}, nil
}
