package human

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/web4p2p/web4p2p/agentloop"
	"github.com/web4p2p/web4p2p/protocols/hcp"
)

// Question is an agent's question to the human, asked from outside the
// AgentLoop (an MCP or A2A client acting through the node).
type Question struct {
	Topic        string   `json:"topic"`
	Question     string   `json:"question"`
	Alternatives []string `json:"alternatives"`
	// Cause names what raised it in causal memory (optional).
	Cause string `json:"cause,omitempty"`
}

// AskResult says what became of a question: it is never "answered" here —
// the human answers later with an HCP_DECISION replying to ID.
type AskResult struct {
	ID string `json:"id"`
	// Status is "held" (the consent gate holds it until consent admits
	// it, or it expires) or "pending" (asked; the human has not answered).
	Status string `json:"status"`
	// Paced is the pacing outcome of the prompt for a pending question
	// (allow, defer, suppress, check_in) and PacedReason why.
	Paced       string `json:"paced,omitempty"`
	PacedReason string `json:"paced_reason,omitempty"`
}

// ErrQuestion is wrapped by the errors of a malformed Question; the message
// names the field.
var ErrQuestion = errors.New("human: invalid question")

// Ask puts q to the human exactly as the AgentLoop's decision requests are
// put: through the consent gate (held while consent blocks it) and the
// prompt pacer (a suppressed or deferred prompt stays pending).
func (h *Runtime) Ask(ctx context.Context, q Question) (AskResult, error) {
	switch {
	case strings.TrimSpace(q.Topic) == "":
		return AskResult{}, fmt.Errorf("%w: topic: required", ErrQuestion)
	case strings.TrimSpace(q.Question) == "":
		return AskResult{}, fmt.Errorf("%w: question: required", ErrQuestion)
	case len(q.Alternatives) < 2:
		return AskResult{}, fmt.Errorf("%w: alternatives: at least two are required (the human chooses between them)", ErrQuestion)
	}
	id := uuid.NewString()
	if q.Cause == "" {
		// The gate needs a cause; an outside question is its own.
		q.Cause = "question:" + id
	}
	err := h.act(ctx, agentloop.Action{Kind: agentloop.ActRequestDecision, ID: id, Topic: q.Topic,
		Context: q.Question, Alternatives: q.Alternatives, Decision: q.Cause})
	if err != nil {
		return AskResult{}, err
	}
	if slices.ContainsFunc(h.gate.Held(), func(a hcp.Action) bool { return a.ID == id }) {
		return AskResult{ID: id, Status: "held"}, nil
	}
	var pd PendingDecision
	if err := h.deps.Store.GetJSON(bucketDecisions, []byte(id), &pd); err != nil {
		return AskResult{}, fmt.Errorf("question %s: not pending after asking: %w", id, err)
	}
	return AskResult{ID: id, Status: "pending", Paced: pd.Paced, PacedReason: pd.PacedReason}, nil
}
