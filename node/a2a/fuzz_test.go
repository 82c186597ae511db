package a2a

import (
	"encoding/json"
	"testing"
)

// FuzzParseRequest: any bytes give a request or a JSON-RPC error, never
// a panic; an accepted SendMessage respects the limits.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(send("SendMessage", `{"messageId":"m1","role":"ROLE_USER","parts":[{"text":"find papers"}],"metadata":{"topic":"research"}}`)))
	f.Add([]byte(send("message/stream", `{"kind":"message","messageId":"m1","role":"user","parts":[{"kind":"data","data":[1,2]}]}`)))
	f.Add([]byte(`{"jsonrpc":"2.0","id":"x","method":"tasks/cancel","params":{"id":"t1"}}`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"t","historyLength":2,"metadata":{}}}`))
	f.Add([]byte(`[1]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, id, err := ParseRequest(raw)
		if err != nil {
			if req != nil || err.Message == "" || !json.Valid(id) {
				t.Fatalf("error %v with request %+v id %q", err, req, id)
			}
			return
		}
		if sp := req.Send; sp != nil {
			if len(sp.Text) > MaxText || len(sp.Message.Parts) == 0 || len(sp.Message.Parts) > MaxParts || sp.Intent.Topic == "" {
				t.Fatalf("accepted %+v", sp)
			}
			if _, err := json.Marshal(sp.Message.wire(req.Dialect)); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzParseResponse: what another node's gateway streams back is read
// into an event or refused, never a panic.
func FuzzParseResponse(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"result":{"statusUpdate":{"taskId":"t","status":{"state":"TASK_STATE_WORKING","message":{"parts":[{"text":"x"}]}}}}}`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"result":{"artifactUpdate":{"artifact":{"artifactId":"a","parts":[{"data":{}}]}}}}`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"error":{"code":-32040,"message":"refused"}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := parseResponse(raw)
		if err == nil && e.Task == nil && e.Status == nil && e.Artifact == nil {
			t.Fatalf("accepted %q as an empty event", raw)
		}
	})
}
