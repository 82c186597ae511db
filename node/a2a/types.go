package a2a

import (
	"encoding/json"
	"time"
)

// State is a task's state. The zero value is invalid.
type State uint8

// Task states (A2A §4.1.3).
const (
	Submitted State = iota + 1
	Working
	InputRequired
	AuthRequired
	Completed
	Canceled
	Failed
	Rejected
)

var (
	stateV1  = []string{"", "TASK_STATE_SUBMITTED", "TASK_STATE_WORKING", "TASK_STATE_INPUT_REQUIRED", "TASK_STATE_AUTH_REQUIRED", "TASK_STATE_COMPLETED", "TASK_STATE_CANCELED", "TASK_STATE_FAILED", "TASK_STATE_REJECTED"}
	stateV03 = []string{"", "submitted", "working", "input-required", "auth-required", "completed", "canceled", "failed", "rejected"}
)

// String is the v1.0 wire name (TASK_STATE_…).
func (s State) String() string {
	if int(s) < len(stateV1) && s != 0 {
		return stateV1[s]
	}
	return "TASK_STATE_UNSPECIFIED"
}

// wire is the state's name in dialect d.
func (s State) wire(d Dialect) string {
	if d == V03 && int(s) < len(stateV03) {
		return stateV03[s]
	}
	return s.String()
}

// Terminal states end a task: it can no longer change or be canceled.
func (s State) Terminal() bool { return s >= Completed }

// Interrupted states wait for someone else (the human, a follow-up
// message); a blocking send and a stream return on them.
func (s State) Interrupted() bool { return s == InputRequired || s == AuthRequired }

// Dialect is the A2A protocol version a request was written in; the
// answer is written in the same one.
type Dialect uint8

// Dialects.
const (
	V10 Dialect = iota + 1 // A2A v1.0: SendMessage, TASK_STATE_COMPLETED
	V03                    // A2A v0.3: message/send, "completed"
)

// Part is one part of a message or artifact: text, or structured data.
type Part struct {
	Text      string          `json:"text,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
	MediaType string          `json:"mediaType,omitempty"`
	Metadata  map[string]any  `json:"metadata,omitempty"`
}

// Message is an A2A message (user → agent, or the agent's status text).
type Message struct {
	MessageID        string
	ContextID        string
	TaskID           string
	FromAgent        bool // role agent; false = user
	Parts            []Part
	Metadata         map[string]any
	ReferenceTaskIDs []string
}

// Artifact is an output of a task.
type Artifact struct {
	ArtifactID  string
	Name        string
	Description string
	Parts       []Part
}

// Task is a snapshot of one task.
type Task struct {
	ID        string
	ContextID string
	State     State
	// Status is the agent's message about the current state (why it is
	// waiting, what the peer said).
	Status    *Message
	Timestamp time.Time
	Artifacts []Artifact
	History   []Message
	Metadata  map[string]any
}

// Event is one step of a task's stream: the task itself (first), a status
// change, or a new artifact.
type Event struct {
	Task     *Task     // first event of a stream
	Status   *Task     // state changed (Task snapshot after the change)
	Artifact *Artifact // artifact added
	TaskID   string
	Context  string
}

// final reports whether e ends a stream: a status event in a terminal or
// interrupted state.
func (e Event) final() bool {
	t := e.Status
	if t == nil {
		t = e.Task
	}
	return t != nil && (t.State.Terminal() || t.State.Interrupted())
}

// The JSON shapes of both dialects. v1.0 follows the ProtoJSON of
// a2a.proto (camelCase, enums by name, oneof members by field name);
// v0.3 follows the v0.3 JSON Schema ("kind" discriminators).

func (p Part) wire(d Dialect) map[string]any {
	m := map[string]any{}
	switch {
	case p.Data != nil && d == V03:
		m["kind"], m["data"] = "data", p.Data
	case p.Data != nil:
		m["data"] = p.Data
	case d == V03:
		m["kind"], m["text"] = "text", p.Text
	default:
		m["text"] = p.Text
	}
	if p.MediaType != "" && d == V10 {
		m["mediaType"] = p.MediaType
	}
	if len(p.Metadata) > 0 {
		m["metadata"] = p.Metadata
	}
	return m
}

func parts(ps []Part, d Dialect) []map[string]any {
	out := make([]map[string]any, len(ps))
	for i, p := range ps {
		out[i] = p.wire(d)
	}
	return out
}

func (m Message) wire(d Dialect) map[string]any {
	o := map[string]any{"messageId": m.MessageID, "parts": parts(m.Parts, d)}
	switch {
	case d == V03 && m.FromAgent:
		o["kind"], o["role"] = "message", "agent"
	case d == V03:
		o["kind"], o["role"] = "message", "user"
	case m.FromAgent:
		o["role"] = "ROLE_AGENT"
	default:
		o["role"] = "ROLE_USER"
	}
	if m.ContextID != "" {
		o["contextId"] = m.ContextID
	}
	if m.TaskID != "" {
		o["taskId"] = m.TaskID
	}
	if len(m.Metadata) > 0 {
		o["metadata"] = m.Metadata
	}
	if len(m.ReferenceTaskIDs) > 0 {
		o["referenceTaskIds"] = m.ReferenceTaskIDs
	}
	return o
}

func (a Artifact) wire(d Dialect) map[string]any {
	o := map[string]any{"artifactId": a.ArtifactID, "parts": parts(a.Parts, d)}
	if a.Name != "" {
		o["name"] = a.Name
	}
	if a.Description != "" {
		o["description"] = a.Description
	}
	return o
}

func (t *Task) status(d Dialect) map[string]any {
	st := map[string]any{"state": t.State.wire(d), "timestamp": t.Timestamp.UTC().Format(time.RFC3339Nano)}
	if t.Status != nil {
		st["message"] = t.Status.wire(d)
	}
	return st
}

// wire renders t; history is cut to the last historyLength messages
// (negative: all).
func (t *Task) wire(d Dialect, historyLength int) map[string]any {
	o := map[string]any{"id": t.ID, "contextId": t.ContextID, "status": t.status(d)}
	if d == V03 {
		o["kind"] = "task"
	}
	if len(t.Artifacts) > 0 {
		as := make([]map[string]any, len(t.Artifacts))
		for i, a := range t.Artifacts {
			as[i] = a.wire(d)
		}
		o["artifacts"] = as
	}
	h := t.History
	if historyLength >= 0 && len(h) > historyLength {
		h = h[len(h)-historyLength:]
	}
	if len(h) > 0 {
		ms := make([]map[string]any, len(h))
		for i, m := range h {
			ms[i] = m.wire(d)
		}
		o["history"] = ms
	}
	if len(t.Metadata) > 0 {
		o["metadata"] = t.Metadata
	}
	return o
}

// wire renders a stream event as the result of one JSON-RPC response:
// v1.0 wraps it in a StreamResponse ({"task"}, {"statusUpdate"},
// {"artifactUpdate"}), v0.3 sends the object with its "kind".
func (e Event) wire(d Dialect, historyLength int) map[string]any {
	switch {
	case e.Task != nil && d == V03:
		return e.Task.wire(d, historyLength)
	case e.Task != nil:
		return map[string]any{"task": e.Task.wire(d, historyLength)}
	case e.Status != nil:
		u := map[string]any{"taskId": e.TaskID, "contextId": e.Context, "status": e.Status.status(d)}
		if d == V03 {
			u["kind"], u["final"] = "status-update", e.final()
			return u
		}
		return map[string]any{"statusUpdate": u}
	default:
		u := map[string]any{"taskId": e.TaskID, "contextId": e.Context, "artifact": e.Artifact.wire(d), "lastChunk": true}
		if d == V03 {
			u["kind"] = "artifact-update"
			return u
		}
		return map[string]any{"artifactUpdate": u}
	}
}

// sendResult renders the result of SendMessage / message/send: v1.0 wraps
// the task in {"task": …}, v0.3 returns it bare.
func sendResult(t *Task, d Dialect, historyLength int) map[string]any {
	if d == V03 {
		return t.wire(d, historyLength)
	}
	return map[string]any{"task": t.wire(d, historyLength)}
}
