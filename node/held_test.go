package node

import (
	"net/http"
	"strings"
	"testing"

	"github.com/web4p2p/web4p2p/agentloop"
	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/protocols/hcp"
)

// TestHumanHeldListReleaseDropThroughAPI: GET /v1/human/held lists what
// the consent gate holds; POST /v1/human/held/{id} releases one (it reaches
// the AgentLoop though consent is still revoked) or drops one; bad input
// names the field.
func TestHumanHeldListReleaseDropThroughAPI(t *testing.T) {
	ctx := humanCtx(t)
	h := startHumanNode(t, t.TempDir(), nil)
	var ids []string
	for _, topic := range []string{"work", "play"} {
		var res struct {
			MsgID  string `json:"msg_id"`
			Status string `json:"status"`
		}
		if code, body := h.call("POST", "/v1/human/intent", map[string]any{"goal": "request", "topic": topic}, &res); code != http.StatusOK || res.Status != "held" {
			t.Fatalf("intent: %d %s", code, body)
		}
		ids = append(ids, res.MsgID)
	}
	var list struct {
		Held []hcp.Action `json:"held"`
	}
	if code, body := h.call("GET", "/v1/human/held", nil, &list); code != http.StatusOK || len(list.Held) != 2 || list.Held[0].ID != ids[0] || list.Held[1].Topic != "play" {
		t.Fatalf("held: %d %s", code, body)
	}
	for _, c := range []struct {
		path, body string
		code       int
		want       string
	}{
		{"/v1/human/held/" + ids[0], `{"action":"keep"}`, http.StatusBadRequest, `field \"action\": must be release|drop`},
		{"/v1/human/held/" + ids[0], `{}`, http.StatusBadRequest, `field \"action\"`},
		{"/v1/human/held/" + ids[0], `{"action":"drop","x":1}`, http.StatusBadRequest, `unknown field`},
		{"/v1/human/held/nope", `{"action":"release"}`, http.StatusNotFound, `no such held action`},
	} {
		if code, body := h.call("POST", c.path, c.body, nil); code != c.code || !strings.Contains(body, c.want) {
			t.Fatalf("%s %s: %d %s, want %d %q", c.path, c.body, code, body, c.code, c.want)
		}
	}
	if code, body := h.call("POST", "/v1/human/held/"+ids[1], map[string]string{"action": "drop"}, nil); code != http.StatusOK {
		t.Fatalf("drop: %d %s", code, body)
	}
	h.waitEvent(ctx, hcp.EventActionDropped, func(e events.Event) bool { return e.Subject == ids[1] })
	if code, body := h.call("POST", "/v1/human/held/"+ids[0], map[string]string{"action": "release"}, nil); code != http.StatusOK {
		t.Fatalf("release: %d %s", code, body)
	}
	h.waitEvent(ctx, hcp.EventActionReleased, func(e events.Event) bool { return e.Subject == ids[0] && e.Data["by"] == "human" })
	h.waitEvent(ctx, agentloop.EventDecision, decided(ids[0]))
	if _, ok := h.ring.WaitFor(alreadyDone, func(e events.Event) bool { return e.Type == agentloop.EventDecision && e.Data["item"] == ids[1] }); ok {
		t.Fatal("the dropped intent reached the AgentLoop")
	}
	if code, body := h.call("POST", "/v1/human/held/"+ids[0], map[string]string{"action": "drop"}, nil); code != http.StatusNotFound {
		t.Fatalf("drop after release: %d %s", code, body)
	}
	h.call("GET", "/v1/human/held", nil, &list)
	if len(list.Held) != 0 {
		t.Fatalf("still held: %+v", list.Held)
	}
}
