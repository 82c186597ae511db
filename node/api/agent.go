package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/node/human"
	"github.com/web4p2p/web4p2p/protocols/cip"
)

// Agent is what agents built on the node (MCP and A2A clients, scripts)
// do through it beyond the human's own operations: ask a mesh peer with a
// CIP INTENT and wait for its answer, and put a question to the human
// through the consent gate and pacing.
type Agent interface {
	// SendIntent sends a CIP INTENT to p and waits for its reply.
	SendIntent(ctx context.Context, p peer.ID, req cip.IntentRequest) (cip.IntentReply, error)
	// Ask puts a question to the human (node/human.Runtime.Ask).
	Ask(ctx context.Context, q human.Question) (human.AskResult, error)
}

// Limits of the agent endpoints.
const (
	// DefaultIntentWait bounds an INTENT round trip when the request
	// names no timeout_ms; MaxIntentWait is the most it may name.
	DefaultIntentWait = 10 * time.Second
	MaxIntentWait     = 60 * time.Second
)

// IntentReplyView is the reply of POST /v1/cip/{peer}/intent.
type IntentReplyView struct {
	Peer     string `json:"peer"`
	Decision string `json:"decision"` // accept | defer
	Reason   string `json:"reason,omitempty"`
	ReplyTo  string `json:"reply_to"`
}

func (s *Server) agentRoutes() {
	a := s.be.Agent
	s.Handle("POST /v1/cip/{peer}/intent", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Goal      string `json:"goal"`
			Topic     string `json:"topic"`
			Priority  string `json:"priority"`
			Context   string `json:"context"`
			TimeoutMS int    `json:"timeout_ms"`
		}
		if !decode(w, r, &body) || !need(w, a, "the agent runtime") {
			return
		}
		p, err := peerOf(r)
		if err != nil {
			writeError(w, err)
			return
		}
		if body.Priority == "" {
			body.Priority = cip.PriorityNormal.String()
		}
		req := cip.IntentRequest{Topic: body.Topic, Context: body.Context}
		if err := req.Goal.UnmarshalText([]byte(body.Goal)); err != nil {
			writeError(w, Errorf(http.StatusBadRequest, "bad_request", "field \"goal\": must be verify_knowledge|ask|learn|propose_solution|test_hypothesis (got %q)", body.Goal))
			return
		}
		if err := req.Priority.UnmarshalText([]byte(body.Priority)); err != nil {
			writeError(w, Errorf(http.StatusBadRequest, "bad_request", "field \"priority\": must be low|normal|high (got %q)", body.Priority))
			return
		}
		if body.Topic == "" {
			writeError(w, Errorf(http.StatusBadRequest, "bad_request", "field \"topic\": required"))
			return
		}
		wait, err := timeoutOf(body.TimeoutMS, DefaultIntentWait, MaxIntentWait)
		if err != nil {
			writeError(w, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		defer cancel()
		rep, err := a.SendIntent(ctx, p, req)
		if err != nil && ctx.Err() == context.DeadlineExceeded && r.Context().Err() == nil {
			err = Errorf(http.StatusGatewayTimeout, "timeout", "%s did not answer the INTENT within %v", p, wait)
		}
		reply(w, IntentReplyView{Peer: p.String(), Decision: rep.Decision.String(), Reason: rep.Reason, ReplyTo: rep.ReplyTo}, mapErr(err))
	})
	s.Handle("POST /v1/human/ask", func(w http.ResponseWriter, r *http.Request) {
		var q human.Question
		if !decode(w, r, &q) || !need(w, a, "the agent runtime") {
			return
		}
		res, err := a.Ask(r.Context(), q)
		if errors.Is(err, human.ErrQuestion) {
			err = Errorf(http.StatusBadRequest, "bad_request", "%v", err)
		}
		reply(w, res, mapErr(err))
	})
}

// timeoutOf reads a request's timeout_ms: 0 means def, more than max or
// negative is refused.
func timeoutOf(ms int, def, max time.Duration) (time.Duration, error) {
	if ms < 0 || time.Duration(ms)*time.Millisecond > max {
		return 0, Errorf(http.StatusBadRequest, "bad_request", "field \"timeout_ms\": must be within [0,%d]", max.Milliseconds())
	}
	if ms == 0 {
		return def, nil
	}
	return time.Duration(ms) * time.Millisecond, nil
}
