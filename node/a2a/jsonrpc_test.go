package a2a

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/web4p2p/web4p2p/protocols/cip"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const peerB = "12D3KooWHHzSeKaY8xuZVzkLbKFfvNgPPeKhFBGrMbNzbm5akpqu"

func send(method, message string) string {
	return `{"jsonrpc":"2.0","id":7,"method":"` + method + `","params":{"message":` + message + `}}`
}

// TestParseRequest: the v1.0 and v0.3 forms the official clients send
// are read into the same request.
func TestParseRequest(t *testing.T) {
	v1 := send("SendMessage", `{"messageId":"m1","role":"ROLE_USER","parts":[{"text":"find papers"},{"data":{"n":1}}],
		"metadata":{"topic":"research","goal":"learn","priority":"high","peer":"`+peerB+`"}}`)
	v03 := send("message/send", `{"kind":"message","messageId":"m1","role":"user","parts":[{"kind":"text","text":"find papers"},{"kind":"data","data":{"n":1}}],
		"metadata":{"topic":"research","goal":"learn","priority":"high","peer":"`+peerB+`"}}`)
	for name, raw := range map[string]string{"v1.0": v1, "v0.3": v03} {
		t.Run(name, func(t *testing.T) {
			req, id, err := ParseRequest([]byte(raw))
			if err != nil {
				t.Fatal(err)
			}
			sp := req.Send
			if string(id) != "7" || req.Method != SendMessage || !sp.Blocking || sp.Text != "find papers\n{\"n\":1}" ||
				sp.Intent != (cip.IntentRequest{Goal: cip.GoalLearn, Topic: "research", Priority: cip.PriorityHigh, Context: sp.Text}) ||
				sp.Peer.String() != peerB || len(sp.Message.Parts) != 2 {
				t.Fatalf("%+v %+v", req, sp)
			}
		})
	}
	req, _, err := ParseRequest([]byte(`{"jsonrpc":"2.0","id":"x","method":"tasks/get","params":{"id":"t1","historyLength":3}}`))
	if err != nil || req.Method != GetTask || req.Dialect != V03 || req.TaskID != "t1" || req.HistoryLength != 3 {
		t.Fatalf("%+v %v", req, err)
	}
	req, _, err = ParseRequest([]byte(send("SendStreamingMessage", `{"messageId":"m","role":"ROLE_USER","parts":[{"text":"hi"}]}`)))
	if err != nil || !req.Method.Streaming() || req.Send.Intent.Topic != DefaultTopic || req.Send.Intent.Goal != cip.GoalAsk {
		t.Fatalf("defaults: %+v %v", req, err)
	}
}

// TestParseRequestRefuses: every malformed request is a JSON-RPC error
// whose message names the field.
func TestParseRequestRefuses(t *testing.T) {
	msg := func(s string) string { return send("SendMessage", s) }
	for name, tc := range map[string]struct {
		raw  string
		code int
		want string
	}{
		"not json":       {`{"jsonrpc":`, CodeParseError, "request"},
		"batch":          {`[{"jsonrpc":"2.0"}]`, CodeInvalidRequest, "batch"},
		"no id":          {`{"jsonrpc":"2.0","method":"GetTask","params":{"id":"t"}}`, CodeInvalidRequest, "id: required"},
		"object id":      {`{"jsonrpc":"2.0","id":{},"method":"GetTask","params":{"id":"t"}}`, CodeInvalidRequest, "id: must be"},
		"version":        {`{"jsonrpc":"1.0","id":1,"method":"GetTask","params":{"id":"t"}}`, CodeInvalidRequest, "jsonrpc"},
		"extra member":   {`{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"t"},"x":1}`, CodeInvalidRequest, `unknown member "x"`},
		"duplicate":      {`{"jsonrpc":"2.0","id":1,"method":"GetTask","method":"CancelTask","params":{"id":"t"}}`, CodeInvalidRequest, `"method" appears twice`},
		"method":         {`{"jsonrpc":"2.0","id":1,"method":"Nope","params":{}}`, CodeMethodNotFound, `"Nope"`},
		"push":           {`{"jsonrpc":"2.0","id":1,"method":"CreateTaskPushNotificationConfig","params":{}}`, CodePushNotSupported, "push"},
		"list":           {`{"jsonrpc":"2.0","id":1,"method":"ListTasks","params":{}}`, CodeUnsupportedOp, "ListTasks"},
		"no params":      {`{"jsonrpc":"2.0","id":1,"method":"GetTask"}`, CodeInvalidParams, "params: required"},
		"task no id":     {`{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{}}`, CodeInvalidParams, "params.id: required"},
		"history":        {`{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"t","historyLength":-1}}`, CodeInvalidParams, "params.historyLength"},
		"tenant":         {`{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"t","tenant":"x"}}`, CodeInvalidParams, "params.tenant"},
		"no message":     {`{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{}}`, CodeInvalidParams, "params.message: required"},
		"no message id":  {msg(`{"role":"ROLE_USER","parts":[{"text":"x"}]}`), CodeInvalidParams, "params.message.messageId: required"},
		"agent role":     {msg(`{"messageId":"m","role":"ROLE_AGENT","parts":[{"text":"x"}]}`), CodeInvalidParams, "params.message.role"},
		"v03 role in v1": {msg(`{"messageId":"m","role":"user","parts":[{"text":"x"}]}`), CodeInvalidParams, "params.message.role"},
		"no parts":       {msg(`{"messageId":"m","role":"ROLE_USER","parts":[]}`), CodeInvalidParams, "params.message.parts"},
		"two contents":   {msg(`{"messageId":"m","role":"ROLE_USER","parts":[{"text":"x","data":{}}]}`), CodeInvalidParams, "params.message.parts[0]"},
		"file part":      {msg(`{"messageId":"m","role":"ROLE_USER","parts":[{"text":"x"},{"url":"http://x"}]}`), CodeContentType, "params.message.parts[1].url"},
		"part member":    {msg(`{"messageId":"m","role":"ROLE_USER","parts":[{"text":"x","kind":"text"}]}`), CodeInvalidParams, `params.message.parts[0]: unknown member "kind"`},
		"blank text":     {msg(`{"messageId":"m","role":"ROLE_USER","parts":[{"text":"  "}]}`), CodeInvalidParams, "no text"},
		"long text":      {msg(`{"messageId":"m","role":"ROLE_USER","parts":[{"text":"` + strings.Repeat("a", MaxText+1) + `"}]}`), CodeInvalidParams, "limit"},
		"bad goal":       {msg(`{"messageId":"m","role":"ROLE_USER","parts":[{"text":"x"}],"metadata":{"goal":"conquer"}}`), CodeInvalidParams, "params.message.metadata.goal"},
		"bad priority":   {msg(`{"messageId":"m","role":"ROLE_USER","parts":[{"text":"x"}],"metadata":{"priority":7}}`), CodeInvalidParams, "params.message.metadata.priority"},
		"bad peer":       {msg(`{"messageId":"m","role":"ROLE_USER","parts":[{"text":"x"}],"metadata":{"peer":"bob"}}`), CodeInvalidParams, "params.message.metadata.peer"},
		"peer and fwd":   {msg(`{"messageId":"m","role":"ROLE_USER","parts":[{"text":"x"}],"metadata":{"peer":"` + peerB + `","forward":"` + peerB + `"}}`), CodeInvalidParams, "not both"},
		"extension":      {msg(`{"messageId":"m","role":"ROLE_USER","parts":[{"text":"x"}],"extensions":["urn:x"]}`), CodeInvalidParams, "params.message.extensions"},
		"push config":    {`{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"configuration":{"taskPushNotificationConfig":{}},"message":{}}}`, CodePushNotSupported, "params.configuration.taskPushNotificationConfig"},
		"output modes":   {`{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"configuration":{"acceptedOutputModes":["image/png"]},"message":{}}}`, CodeContentType, "acceptedOutputModes"},
		"v03 kind":       {send("message/send", `{"kind":"task","messageId":"m","role":"user","parts":[{"kind":"text","text":"x"}]}`), CodeInvalidParams, "params.message.kind"},
		"v03 part kind":  {send("message/send", `{"messageId":"m","role":"user","parts":[{"kind":"data","text":"x"}]}`), CodeInvalidParams, "params.message.parts[0]"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := ParseRequest([]byte(tc.raw))
			if err == nil || err.Code != tc.code || !strings.Contains(err.Message, tc.want) {
				t.Fatalf("got %v, want code %d naming %q", err, tc.code, tc.want)
			}
		})
	}
}

// TestWireShapes: a task renders in the v1.0 ProtoJSON shape and the
// v0.3 shape, and a v1.0 stream response reads back into the same event.
func TestWireShapes(t *testing.T) {
	tk := &Task{ID: "t", ContextID: "c", State: AuthRequired, Timestamp: time.Unix(0, 0),
		Status:    &Message{MessageID: "s", FromAgent: true, Parts: []Part{{Text: "consent revoked"}}},
		Artifacts: []Artifact{{ArtifactID: "a", Parts: []Part{{Text: "x"}, {Data: json.RawMessage(`{"k":1}`)}}}}}
	v1, _ := json.Marshal(sendResult(tk, V10, -1))
	v03, _ := json.Marshal(sendResult(tk, V03, -1))
	for _, want := range []string{`"task":{`, `"state":"TASK_STATE_AUTH_REQUIRED"`, `"role":"ROLE_AGENT"`, `{"text":"x"}`} {
		if !strings.Contains(string(v1), want) {
			t.Errorf("v1.0 %s lacks %s", v1, want)
		}
	}
	for _, want := range []string{`"kind":"task"`, `"state":"auth-required"`, `"role":"agent"`, `{"kind":"text","text":"x"}`, `{"data":{"k":1},"kind":"data"}`} {
		if !strings.Contains(string(v03), want) {
			t.Errorf("v0.3 %s lacks %s", v03, want)
		}
	}
	for _, e := range []Event{{Task: tk}, {Status: tk, TaskID: "t"}, {Artifact: &tk.Artifacts[0], TaskID: "t"}} {
		raw, _ := json.Marshal(Reply(json.RawMessage("1"), e.wire(V10, -1), nil))
		got, err := parseResponse(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		switch {
		case e.Task != nil && (got.Task == nil || got.Task.State != AuthRequired || statusText(got.Task.Status) != "consent revoked"):
			t.Fatalf("task %s → %+v", raw, got)
		case e.Status != nil && (got.Status == nil || got.Status.State != AuthRequired || !got.final()):
			t.Fatalf("status %s → %+v", raw, got)
		case e.Artifact != nil && (got.Artifact == nil || len(got.Artifact.Parts) != 2 || string(got.Artifact.Parts[1].Data) != `{"k":1}`):
			t.Fatalf("artifact %s → %+v", raw, got)
		}
	}
	raw, _ := json.Marshal(Reply(json.RawMessage("1"), nil, errf(CodeRefused, "no")))
	if _, err := parseResponse(raw); err == nil || err.(*Error).Code != CodeRefused {
		t.Fatalf("error response → %v", err)
	}
}

// TestStoreFollow: a stream sees the task as it is, then every change in
// order, and ends on an interrupted state; a store that is full of
// running tasks refuses a new one, and a full one forgets the oldest
// finished task.
func TestStoreFollow(t *testing.T) {
	now := func() time.Time { return time.Unix(1, 0) }
	s := newStore(2, now)
	if !s.add(Task{ID: "a", State: Submitted}, nil, "") || !s.add(Task{ID: "b", State: Submitted}, nil, "") {
		t.Fatal("add")
	}
	if s.add(Task{ID: "c", State: Submitted}, nil, "") {
		t.Fatal("a full store of running tasks took another")
	}
	s.setState("a", Working, "asking")
	done := make(chan []State)
	following := make(chan struct{})
	go func() {
		var seen []State
		_ = s.follow(context.Background(), "a", func(e Event) error {
			switch {
			case e.Task != nil:
				seen = append(seen, e.Task.State)
				close(following)
			case e.Status != nil:
				seen = append(seen, e.Status.State)
			}
			return nil
		})
		done <- seen
	}()
	<-following
	for i := range MaxEvents + 5 { // more than a task keeps
		s.setState("a", Working, "deferred "+string(rune('a'+i%26))+string(rune('0'+i/26)))
	}
	s.setState("a", AuthRequired, "consent revoked")
	seen := <-done
	if seen[0] != Working || seen[len(seen)-1] != AuthRequired || len(seen) < MaxEvents {
		t.Fatalf("stream saw %v", seen)
	}
	s.setState("b", Completed, "done")
	if !s.add(Task{ID: "c", State: Submitted}, nil, "") {
		t.Fatal("a full store did not forget its finished task")
	}
	if _, ok := s.get("b"); ok {
		t.Fatal("finished task b kept")
	}
	if from, changed := s.setState("b", Working, ""); changed || from != 0 {
		t.Fatal("a forgotten task changed")
	}
}

func TestCheckVersion(t *testing.T) {
	for v, ok := range map[string]bool{"": true, "1.0": true, "0.3": true, "0.3.0": true, "1.0.1": true, "2.0": false, "1": false, "0.2": false, "1.01": false} {
		if err := CheckVersion(v); (err == nil) != ok || (err != nil && (err.Code != CodeVersionNotSupported || !strings.Contains(err.Message, VersionHeader))) {
			t.Errorf("%q: %v", v, err)
		}
	}
}
