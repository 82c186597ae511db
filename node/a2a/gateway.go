package a2a

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/agentloop"
	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/lifecycle"
	"github.com/web4p2p/web4p2p/node/human"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/hcp"
	"github.com/web4p2p/web4p2p/trust"
)

// Event types of the gateway.
const (
	EventTask     = "web4.a2a.task"       // a task was created (data: method, topic, goal, peer/forward)
	EventState    = "web4.a2a.task_state" // a task changed state (data: from, to, reason)
	EventRefused  = "web4.a2a.request_refused"
	EventForward  = "web4.a2a.forwarded"
	EventInbound  = "web4.a2a.inbound_refused"
	eventSubject  = "a2a"
	questionAllow = "allow"
)

// Candidate is a ready mesh peer as the AgentLoop sees it.
type Candidate struct {
	ID peer.ID
	agentloop.Peer
}

// Mesh is what the gateway needs of the mesh (node/peers, node/human).
type Mesh interface {
	// SendIntent sends a CIP INTENT to p and waits for its reply.
	SendIntent(ctx context.Context, p peer.ID, req cip.IntentRequest) (cip.IntentReply, error)
	// Candidates lists the ready peers with their capabilities and
	// presence, as the AgentLoop matches them.
	Candidates() []Candidate
	// TrustState is this node's trust in p.
	TrustState(p peer.ID) trust.State
}

// Human is what the gateway needs of the human (node/human.Runtime).
type Human interface {
	// Permits is the consent rule (hcp.Permits) on the human's current
	// state for topic.
	Permits(topic string) error
	// Ask puts a question to the human through the consent gate.
	Ask(ctx context.Context, q human.Question) (human.AskResult, error)
}

// Forwarder runs a task on another node's gateway (Binding.Forward).
type Forwarder interface {
	Forward(ctx context.Context, p peer.ID, sp *SendParams, report func(Event)) error
}

// Config tunes the gateway; zero fields take the defaults of limits.go.
type Config struct {
	MaxTasks     int
	TaskDeadline time.Duration
	IntentWait   time.Duration
	Retry        time.Duration
	BlockWait    time.Duration
}

func (c Config) withDefaults() Config {
	if c.MaxTasks <= 0 {
		c.MaxTasks = DefaultMaxTasks
	}
	if c.TaskDeadline <= 0 {
		c.TaskDeadline = DefaultTaskDeadline
	}
	if c.IntentWait <= 0 {
		c.IntentWait = DefaultIntentWait
	}
	if c.Retry <= 0 {
		c.Retry = DefaultRetry
	}
	if c.BlockWait <= 0 {
		c.BlockWait = DefaultBlockWait
	}
	return c
}

// Deps are the gateway's collaborators. Forward may be set after New
// (SetForwarder) since the binding is built over the gateway.
type Deps struct {
	Mesh   Mesh
	Human  Human
	Events *events.Emitter
	Group  *lifecycle.Group
	Now    func() time.Time
}

// Gateway serves A2A requests. Safe for concurrent use.
type Gateway struct {
	cfg   Config
	deps  Deps
	tasks *store
	fwd   Forwarder
}

// New builds a gateway.
func New(cfg Config, deps Deps) (*Gateway, error) {
	if deps.Mesh == nil || deps.Human == nil || deps.Group == nil {
		return nil, errors.New("a2a: New needs Mesh, Human and Group")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	cfg = cfg.withDefaults()
	return &Gateway{cfg: cfg, deps: deps, tasks: newStore(cfg.MaxTasks, deps.Now)}, nil
}

// SetForwarder enables "forward" (the libp2p binding); call before the
// gateway serves.
func (g *Gateway) SetForwarder(f Forwarder) { g.fwd = f }

// Handle answers a non-streaming request (SendMessage, GetTask,
// CancelTask): the result object, or the JSON-RPC error.
func (g *Gateway) Handle(ctx context.Context, req *Request) (any, *Error) {
	switch req.Method {
	case SendMessage:
		id, err := g.submit(req)
		if err != nil {
			return nil, err
		}
		t, _ := g.tasks.get(id)
		if req.Send.Blocking {
			wctx, cancel := context.WithTimeout(ctx, g.cfg.BlockWait)
			t, _ = g.tasks.wait(wctx, id)
			cancel()
		}
		return sendResult(&t, req.Dialect, req.Send.HistoryLength), nil
	case GetTask:
		t, ok := g.tasks.get(req.TaskID)
		if !ok || !g.tasks.owned(req.TaskID, req.Owner) {
			return nil, errf(CodeTaskNotFound, "params.id: no task %q (unknown, or forgotten)", req.TaskID)
		}
		return t.wire(req.Dialect, req.HistoryLength), nil
	case CancelTask:
		if !g.tasks.owned(req.TaskID, req.Owner) {
			return nil, errf(CodeTaskNotFound, "params.id: no task %q (unknown, or forgotten)", req.TaskID)
		}
		t, err := g.cancel(req.TaskID)
		if err != nil {
			return nil, err
		}
		return t.wire(req.Dialect, -1), nil
	default:
		return nil, errf(CodeInvalidRequest, "method: %s answers with a stream", methodName(req))
	}
}

// Stream answers a streaming request (SendStreamingMessage,
// SubscribeToTask): emit is called with each response's result until the
// task is terminal or interrupted. An error before the first emit is the
// request's JSON-RPC error.
func (g *Gateway) Stream(ctx context.Context, req *Request, emit func(result any) error) *Error {
	id := req.TaskID
	hl := req.HistoryLength
	if req.Method == SendStreamingMessage {
		var err *Error
		if id, err = g.submit(req); err != nil {
			return err
		}
		hl = req.Send.HistoryLength
	} else {
		t, ok := g.tasks.get(id)
		if !ok || !g.tasks.owned(id, req.Owner) {
			return errf(CodeTaskNotFound, "params.id: no task %q (unknown, or forgotten)", id)
		}
		if t.State.Terminal() {
			return errf(CodeUnsupportedOp, "params.id: task %q is %s; there is nothing to subscribe to", id, t.State)
		}
	}
	err := g.tasks.follow(ctx, id, func(e Event) error { return emit(e.wire(req.Dialect, hl)) })
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	return nil
}

// submit creates a task for a SendMessage (or continues the interrupted
// task the message names) and starts working on it.
func (g *Gateway) submit(req *Request) (string, *Error) {
	sp := req.Send
	msg := sp.Message
	if msg.TaskID != "" {
		return g.resume(req)
	}
	id := newID()
	if msg.ContextID == "" {
		msg.ContextID = newID()
	}
	msg.TaskID = id
	t := Task{ID: id, ContextID: msg.ContextID, State: Submitted, Timestamp: g.deps.Now(), History: []Message{msg},
		Metadata: map[string]any{"topic": sp.Intent.Topic, "goal": sp.Intent.Goal.String()}}
	if !g.tasks.add(t, sp, req.Owner) {
		err := errf(CodeInternal, "too many tasks in flight (%d); try again later", g.cfg.MaxTasks)
		g.refused(req, err)
		return "", err
	}
	data := map[string]any{"task": id, "topic": sp.Intent.Topic, "goal": sp.Intent.Goal.String(), "message_id": msg.MessageID}
	if sp.Peer != "" {
		data["peer"] = sp.Peer.String()
	}
	if sp.Forward != "" {
		data["forward"] = sp.Forward.String()
	}
	g.deps.Events.Emit(EventTask, id, data)
	g.start(id)
	return id, nil
}

// resume continues an interrupted task with a follow-up message: the
// consent is checked again (the human may have granted it meanwhile).
func (g *Gateway) resume(req *Request) (string, *Error) {
	msg := req.Send.Message
	var rerr *Error
	var from State
	g.tasks.update(msg.TaskID, func(t *task) []Event {
		from = t.snap.State
		switch {
		case t.owner != req.Owner:
			rerr = errf(CodeTaskNotFound, "params.message.taskId: no task %q (unknown, or forgotten)", msg.TaskID)
		case msg.ContextID != "" && msg.ContextID != t.snap.ContextID:
			rerr = invalid("params.message.contextId", "task %q belongs to context %q", msg.TaskID, t.snap.ContextID)
		case !t.snap.State.Interrupted() || t.running:
			rerr = invalid("params.message.taskId", "task %q is %s; only a task waiting for input or authorization takes a follow-up message", msg.TaskID, t.snap.State)
		default:
			msg.ContextID = t.snap.ContextID
			t.snap.History = appendHistory(t.snap.History, msg)
			sp := *t.send
			sp.Text = strings.TrimSpace(sp.Text + "\n" + req.Send.Text)
			if len(sp.Text) > MaxText {
				sp.Text = sp.Text[len(sp.Text)-MaxText:]
			}
			sp.Intent.Context = sp.Text
			t.send = &sp
			// Back to work before the caller waits on it.
			t.snap.State = Submitted
			t.snap.Status = agentMessage(t.snap, "follow-up message received")
			return []Event{{Status: &Task{}}}
		}
		return nil
	})
	if _, ok := g.tasks.get(msg.TaskID); !ok {
		rerr = errf(CodeTaskNotFound, "params.message.taskId: no task %q (unknown, or forgotten)", msg.TaskID)
	}
	if rerr != nil {
		g.refused(req, rerr)
		return "", rerr
	}
	g.deps.Events.Emit(EventState, msg.TaskID, map[string]any{"from": from.String(), "to": Submitted.String(), "reason": "follow-up message received"})
	g.start(msg.TaskID)
	return msg.TaskID, nil
}

func appendHistory(h []Message, m Message) []Message {
	h = append(h, m)
	if len(h) > MaxHistory {
		h = append(h[:1:1], h[len(h)-MaxHistory+1:]...)
	}
	return h
}

// start runs the task's work on a goroutine of the group.
func (g *Gateway) start(id string) {
	var sp *SendParams
	var run uint64
	ctx, cancel := context.WithTimeout(g.deps.Group.Context(), g.cfg.TaskDeadline)
	g.tasks.update(id, func(t *task) []Event {
		t.run++
		t.cancel, t.running, sp, run = cancel, true, t.send, t.run
		return nil
	})
	if !g.deps.Group.Go(func(context.Context) {
		defer cancel()
		defer g.tasks.update(id, func(t *task) []Event {
			if t.run == run { // not resumed meanwhile by a newer run
				t.running, t.cancel = false, nil
			}
			return nil
		})
		g.work(ctx, id, sp)
	}) {
		cancel()
		g.setState(id, Failed, "the node is shutting down")
	}
}

// cancel ends a task that is not finished.
func (g *Gateway) cancel(id string) (Task, *Error) {
	var stop context.CancelFunc
	var rerr *Error
	var from State
	snap, ok := g.tasks.update(id, func(t *task) []Event {
		if t.snap.State.Terminal() {
			rerr = errf(CodeTaskNotCancelable, "params.id: task %q is already %s", id, t.snap.State)
			return nil
		}
		stop, from = t.cancel, t.snap.State
		t.snap.State = Canceled
		t.snap.Status = agentMessage(t.snap, "canceled by the client")
		return []Event{{Status: &Task{}}}
	})
	if rerr != nil {
		return Task{}, rerr
	}
	if !ok {
		return Task{}, errf(CodeTaskNotFound, "params.id: no task %q (unknown, or forgotten)", id)
	}
	g.deps.Events.Emit(EventState, id, map[string]any{"from": from.String(), "to": Canceled.String(), "reason": "canceled by the client"})
	if stop != nil {
		stop()
	}
	return snap, nil
}

func (g *Gateway) setState(id string, st State, reason string) {
	if from, changed := g.tasks.setState(id, st, reason); changed {
		g.deps.Events.Emit(EventState, id, map[string]any{"from": from.String(), "to": st.String(), "reason": reason})
	}
}

func (g *Gateway) refused(req *Request, err *Error) {
	g.deps.Events.Emit(EventRefused, eventSubject, map[string]any{"method": methodName(req), "code": err.Code, "message": err.Message})
}

// Refused records a request that failed to parse (node/api calls it).
func (g *Gateway) Refused(err *Error) {
	g.deps.Events.Emit(EventRefused, eventSubject, map[string]any{"method": "", "code": err.Code, "message": err.Message})
}

func methodName(req *Request) string {
	for name, m := range methodNames {
		if m.m == req.Method && m.d == req.Dialect {
			return name
		}
	}
	return ""
}

// work does the task: consent, then the INTENT (or the forward), retried
// while the peer defers.
func (g *Gateway) work(ctx context.Context, id string, sp *SendParams) {
	topic := sp.Intent.Topic
	if err := g.deps.Human.Permits(topic); err != nil && !g.consentHeld(ctx, id, topic, sp, err) {
		return
	}
	if sp.Forward != "" {
		g.forward(ctx, id, sp)
		return
	}
	wait := g.cfg.Retry
	for {
		p, reason, st := g.choose(sp)
		if st == Rejected {
			g.setState(id, Rejected, reason)
			return
		}
		if st == Working {
			// Every capable peer is overloaded: wait and look again.
			g.setState(id, Working, reason)
		} else {
			g.setState(id, Working, fmt.Sprintf("asking %s (INTENT %s on %q)", p, sp.Intent.Goal, topic))
			ictx, cancel := context.WithTimeout(ctx, g.cfg.IntentWait)
			rep, err := g.deps.Mesh.SendIntent(ictx, p, sp.Intent)
			cancel()
			switch {
			case ctx.Err() != nil:
				g.ended(ctx, id)
				return
			case err != nil:
				g.setState(id, Failed, fmt.Sprintf("no answer from %s: %v", p, err))
				return
			case rep.Decision == cip.Accept:
				g.complete(id, p, rep)
				return
			}
			g.setState(id, Working, fmt.Sprintf("deferred by %s: %s; asking again in %v", p, orNone(rep.Reason), wait))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			g.ended(ctx, id)
			return
		case <-t.C:
		}
		wait = min(2*wait, MaxRetry)
	}
}

// ended reports a task whose context ended: canceled (already recorded),
// the node closing, or the deadline.
func (g *Gateway) ended(ctx context.Context, id string) {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		g.setState(id, Failed, fmt.Sprintf("not done within the task deadline (%v)", g.cfg.TaskDeadline))
		return
	}
	g.setState(id, Failed, "the node is shutting down") // no-op after a cancel (terminal)
}

func orNone(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}

// choose picks the peer for the INTENT: the named one (it must be ready
// and not distrusted), else the first capable one as the AgentLoop
// matches them. Working: capable peers exist but all are overloaded.
func (g *Gateway) choose(sp *SendParams) (peer.ID, string, State) {
	cands := g.deps.Mesh.Candidates()
	if sp.Peer != "" {
		if st := g.deps.Mesh.TrustState(sp.Peer); st != trust.Probing && st != trust.Trusted {
			return "", fmt.Sprintf("peer %s is %s here: no INTENT is sent to it", sp.Peer, st), Rejected
		}
		for _, c := range cands {
			if c.ID == sp.Peer {
				return c.ID, "", Submitted
			}
		}
		return "", fmt.Sprintf("no ready CIP session with %s", sp.Peer), Rejected
	}
	peers := make([]agentloop.Peer, 0, len(cands))
	byFP := map[string]peer.ID{}
	busy := 0
	for _, c := range cands {
		if st := g.deps.Mesh.TrustState(c.ID); st != trust.Probing && st != trust.Trusted {
			continue
		}
		peers = append(peers, c.Peer)
		byFP[c.Fingerprint] = c.ID
		if agentloop.Matches(c.Capabilities, sp.Intent.Topic) {
			busy++
		}
	}
	if m := agentloop.MatchPeers(peers, sp.Intent.Topic, 1); len(m) == 1 {
		return byFP[m[0].Fingerprint], "", Submitted
	}
	if busy > 0 {
		return "", fmt.Sprintf("all %d capable peers for %q are overloaded; waiting", busy, sp.Intent.Topic), Working
	}
	return "", fmt.Sprintf("no ready mesh peer can take topic %q", sp.Intent.Topic), Rejected
}

// complete records an accepted INTENT: the answer is the task's artifact.
func (g *Gateway) complete(id string, p peer.ID, rep cip.IntentReply) {
	text := fmt.Sprintf("%s accepted the INTENT", p)
	if rep.Reason != "" {
		text += ": " + rep.Reason
	}
	data, _ := json.Marshal(map[string]string{"peer": p.String(), "decision": rep.Decision.String(), "reason": rep.Reason, "reply_to": rep.ReplyTo})
	art := Artifact{ArtifactID: newID(), Name: "intent_reply", Description: "the mesh peer's answer to the CIP INTENT",
		Parts: []Part{{Text: text}, {Data: data, MediaType: "application/json"}}}
	g.finish(id, art, text)
}

// finish adds art and completes the task, in one change so a stream sees
// the artifact before the final status.
func (g *Gateway) finish(id string, art Artifact, text string) {
	var from State
	_, changed := g.tasks.update(id, func(t *task) []Event {
		from = t.snap.State
		if from.Terminal() {
			return nil
		}
		t.snap.Artifacts = append(t.snap.Artifacts, art)
		t.snap.State = Completed
		t.snap.Status = agentMessage(t.snap, text)
		a := art
		return []Event{{Artifact: &a}, {Status: &Task{}}}
	})
	if changed {
		g.deps.Events.Emit(EventState, id, map[string]any{"from": from.String(), "to": Completed.String(), "reason": text})
	}
}

// consentHeld maps a consent refusal to the task state: missing, revoked
// or expired consent is AUTH_REQUIRED (the human must authorize); a
// topic outside limited consent is INPUT_REQUIRED, and the human is asked
// (once per task) whether to allow it. It reports true when the task may
// go on all the same: the human allowed this task.
func (g *Gateway) consentHeld(ctx context.Context, id, topic string, sp *SendParams, err error) bool {
	if !errors.Is(err, hcp.ErrOutOfScope) {
		g.setState(id, AuthRequired, fmt.Sprintf("the human's authorization is needed: %v; send a follow-up message on this task once consent is given", err))
		return false
	}
	var asked, answer string
	g.tasks.update(id, func(t *task) []Event { asked, answer = t.asked, t.answer; return nil })
	if asked == "" {
		res, aerr := g.deps.Human.Ask(ctx, human.Question{Topic: topic, Cause: causePrefix + id,
			Question:     fmt.Sprintf("An A2A client asks the mesh (%s on %q): %q. Allow this task, outside your consent scope, or decline it?", sp.Intent.Goal, topic, clip(sp.Text, 200)),
			Alternatives: []string{questionAllow, questionDecline}})
		if aerr != nil {
			g.setState(id, Failed, fmt.Sprintf("could not ask the human: %v", aerr))
			return false
		}
		asked = res.ID
	}
	// Read the answer and wait in one step, so an answer arriving now is
	// either seen here or finds the task waiting (and resumes it).
	text := fmt.Sprintf("waiting for the human: topic %q is outside the consent scope; they are asked to allow or decline (question %s)", topic, asked)
	var from State
	g.tasks.update(id, func(t *task) []Event {
		t.asked, answer = asked, t.answer
		if answer != "" || t.snap.State.Terminal() {
			return nil
		}
		from = t.snap.State
		t.snap.State, t.snap.Status = InputRequired, agentMessage(t.snap, text)
		t.running = false // HumanDecided or a follow-up may resume it from here on
		return []Event{{Status: &Task{}}}
	})
	switch {
	case answer == questionAllow:
		return true
	case answer != "":
		g.setState(id, Rejected, fmt.Sprintf("the human declined (question %s: %q)", asked, answer))
	case from != 0:
		g.deps.Events.Emit(EventState, id, map[string]any{"from": from.String(), "to": InputRequired.String(), "reason": text})
	}
	return false
}

// Questions the gateway asks the human: the cause names the task, the
// alternatives are allow and decline.
const (
	causePrefix     = "a2a:"
	questionDecline = "decline"
)

// HumanDecided takes the human's answer to a question (human.Runtime
// OnDecided): for a task the gateway asked about, allow lets that task go
// on outside the consent scope, any other choice rejects it.
func (g *Gateway) HumanDecided(cause, choice string) {
	id, ok := strings.CutPrefix(cause, causePrefix)
	if !ok {
		return
	}
	waiting := false
	g.tasks.update(id, func(t *task) []Event {
		if t.answer != "" {
			return nil
		}
		t.answer = choice
		waiting = t.snap.State == InputRequired && !t.running
		if waiting {
			t.running = true // claimed: a follow-up message cannot start it twice
		}
		return nil
	})
	if !waiting {
		return // still being worked on: consentHeld reads the answer
	}
	if choice != questionAllow {
		g.setState(id, Rejected, fmt.Sprintf("the human declined (%q)", choice))
		g.tasks.update(id, func(t *task) []Event { t.running = false; return nil })
		return
	}
	g.deps.Events.Emit(EventState, id, map[string]any{"from": InputRequired.String(), "to": Submitted.String(), "reason": "the human allowed it"})
	g.tasks.setState(id, Submitted, "the human allowed it")
	g.start(id)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// forward runs the task on another node's gateway and mirrors its events.
func (g *Gateway) forward(ctx context.Context, id string, sp *SendParams) {
	if g.fwd == nil {
		g.setState(id, Rejected, "this node has no libp2p A2A binding to forward with")
		return
	}
	if st := g.deps.Mesh.TrustState(sp.Forward); st != trust.Probing && st != trust.Trusted {
		g.setState(id, Rejected, fmt.Sprintf("node %s is %s here: no task is forwarded to it", sp.Forward, st))
		return
	}
	g.deps.Events.Emit(EventForward, id, map[string]any{"peer": sp.Forward.String(), "topic": sp.Intent.Topic})
	g.setState(id, Working, fmt.Sprintf("forwarded to the A2A gateway of %s", sp.Forward))
	var last State
	err := g.fwd.Forward(ctx, sp.Forward, sp, func(e Event) {
		switch {
		case e.Artifact != nil:
			art := *e.Artifact
			g.tasks.update(id, func(t *task) []Event {
				t.snap.Artifacts = append(t.snap.Artifacts, art)
				return []Event{{Artifact: &art}}
			})
		case e.Status != nil || e.Task != nil:
			t := e.Status
			if t == nil {
				t = e.Task
			}
			last = t.State
			if t.State == Submitted {
				return
			}
			g.setState(id, t.State, fmt.Sprintf("%s: %s", sp.Forward, orNone(statusText(t.Status))))
		}
	})
	switch {
	case ctx.Err() != nil:
		g.ended(ctx, id)
	case err != nil:
		var ae *Error
		if errors.As(err, &ae) && ae.Code == CodeRefused {
			g.setState(id, Rejected, fmt.Sprintf("%s refused the task: %s", sp.Forward, ae.Message))
			return
		}
		g.setState(id, Failed, fmt.Sprintf("forwarding to %s: %v", sp.Forward, err))
	case !last.Terminal() && !last.Interrupted():
		g.setState(id, Failed, fmt.Sprintf("%s ended the stream with the task %s", sp.Forward, last))
	}
}

func newID() string { return uuid.NewString() }
