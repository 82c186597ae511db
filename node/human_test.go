package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/agentloop"
	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/node/api"
	"github.com/web4p2p/web4p2p/node/human"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/hcp"
)

// humanNode is a node with its control API, for the human endpoints.
type humanNode struct {
	t     *testing.T
	dir   string
	hc    *HumanConfig
	n     *Node
	ring  *events.Ring
	chk   *events.CheckingSink
	token string
}

func startHumanNode(t *testing.T, dir string, hc *HumanConfig) *humanNode {
	t.Helper()
	h := &humanNode{t: t, dir: dir, hc: hc}
	h.start()
	t.Cleanup(h.stop)
	return h
}

func (h *humanNode) start() {
	h.t.Helper()
	h.ring = events.NewRing(2048)
	h.chk = &events.CheckingSink{Next: h.ring}
	cfg := Config{DataDir: h.dir, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, APIAddr: "127.0.0.1:0",
		Sinks: []events.Sink{h.chk}}
	if h.hc != nil {
		cfg.Human = *h.hc
	}
	n, err := New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		h.t.Fatal(err)
	}
	h.n = n
	if h.token, err = api.ReadToken(filepath.Join(h.dir, api.TokenFile)); err != nil {
		h.t.Fatal(err)
	}
}

func (h *humanNode) stop() {
	if h.n == nil {
		return
	}
	if err := h.n.Close(); err != nil {
		h.t.Errorf("close: %v", err)
	}
	if f := h.chk.Failures(); len(f) > 0 {
		h.t.Errorf("events failing the schema: %v", f)
	}
	h.n = nil
}

// call does one API request and decodes the JSON answer into out (may be
// nil); it returns the status code and the raw body.
func (h *humanNode) call(method, path string, body any, out any) (int, string) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			raw, err := json.Marshal(b)
			if err != nil {
				h.t.Fatal(err)
			}
			rd = bytes.NewReader(raw)
		}
	}
	req, err := http.NewRequest(method, "http://"+h.n.APIAddr()+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, out); err != nil {
			h.t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, string(raw)
}

// waitEvent waits for an event of type typ satisfying pred.
func (h *humanNode) waitEvent(ctx context.Context, typ string, pred func(events.Event) bool) events.Event {
	h.t.Helper()
	ev, ok := h.ring.WaitFor(ctx.Done(), func(e events.Event) bool { return e.Type == typ && (pred == nil || pred(e)) })
	if !ok {
		h.t.Fatalf("no %s event", typ)
	}
	return ev
}

// alreadyDone makes Ring.WaitFor look at what is there and return.
var alreadyDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// decided matches the AgentLoop's decision event about item id.
func decided(id string) func(events.Event) bool {
	return func(e events.Event) bool { return e.Data["item"] == id }
}

func humanCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

const stateJSON = `{"presence":"diffuse","affect":"calm","clarity":%s,"pressure":20,"intent":"work","consent":"granted","consent_scope":[]}`

func TestHumanStateValidationNamesTheField(t *testing.T) {
	h := startHumanNode(t, t.TempDir(), nil)
	for _, tc := range []struct{ body, field string }{
		{strings.Replace(stateJSON, "%s", "120", 1), "clarity"},
		{strings.Replace(strings.Replace(stateJSON, "%s", "50", 1), `"diffuse"`, `"sleepy"`, 1), "presence"},
		{strings.Replace(strings.Replace(stateJSON, "%s", "50", 1), `"granted"`, `"maybe"`, 1), "consent"},
		{`{"presence":"diffuse"}`, "affect"},
	} {
		code, body := h.call("POST", "/v1/human/state", tc.body, nil)
		if code != http.StatusBadRequest || !strings.Contains(body, `"invalid_state"`) || !strings.Contains(body, tc.field) {
			t.Errorf("%s: got %d %s, want 400 invalid_state naming %q", tc.body, code, body, tc.field)
		}
	}
	code, body := h.call("POST", "/v1/human/consent", map[string]any{"consent": "perhaps"}, nil)
	if code != http.StatusBadRequest || !strings.Contains(body, "consent") {
		t.Errorf("bad consent: %d %s", code, body)
	}
	code, body = h.call("POST", "/v1/human/intent", map[string]any{"goal": "conquer", "topic": "work"}, nil)
	if code != http.StatusBadRequest || !strings.Contains(body, "goal") {
		t.Errorf("bad goal: %d %s", code, body)
	}
	code, body = h.call("POST", "/v1/human/intent", `{"goal":"request","topic":"work","extra":1}`, nil)
	if code != http.StatusBadRequest || !strings.Contains(body, "extra") {
		t.Errorf("unknown field: %d %s", code, body)
	}
	var st human.Status
	if code, body := h.call("POST", "/v1/human/state", strings.Replace(stateJSON, "%s", "55", 1), &st); code != http.StatusOK {
		t.Fatalf("valid state refused: %d %s", code, body)
	}
	if !strings.Contains(string(st.Human), `"clarity":55`) || st.Fingerprint == "" || st.Fingerprint == h.n.Fingerprint() {
		t.Fatalf("state not adopted or human key not separate: %+v", st)
	}
	// Without the token nothing happens.
	resp, err := http.Post("http://"+h.n.APIAddr()+"/v1/human/intent", "application/json", strings.NewReader(`{"goal":"request","topic":"work"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
}

func TestHumanConsentHoldsThenReleasesThroughAPI(t *testing.T) {
	ctx := humanCtx(t)
	h := startHumanNode(t, t.TempDir(), nil)

	// Before the human said anything, consent is not given: held.
	var res human.IntentResult
	if code, body := h.call("POST", "/v1/human/intent", map[string]any{"goal": "request", "topic": "work"}, &res); code != http.StatusOK {
		t.Fatalf("intent: %d %s", code, body)
	}
	if res.Status != "held" {
		t.Fatalf("intent without consent: %+v, want held", res)
	}
	first := res.MsgID

	if code, body := h.call("POST", "/v1/human/consent", map[string]any{"consent": "limited", "scope": []string{"topic:work"}}, nil); code != http.StatusOK {
		t.Fatalf("consent: %d %s", code, body)
	}
	// Limited to work: the held work intent is released and processed.
	h.waitEvent(ctx, hcp.EventActionReleased, func(e events.Event) bool { return e.Subject == first })
	h.waitEvent(ctx, agentloop.EventDecision, decided(first))

	// Out of scope: held, with an event; in scope: accepted.
	if code, body := h.call("POST", "/v1/human/intent", map[string]any{"goal": "request", "topic": "play"}, &res); code != http.StatusOK || res.Status != "held" {
		t.Fatalf("off-scope intent: %d %s %+v", code, body, res)
	}
	held := res.MsgID
	h.waitEvent(ctx, hcp.EventConsentBlocked, func(e events.Event) bool { return e.Subject == held })
	var st human.Status
	h.call("GET", "/v1/human/state", nil, &st)
	if st.Held != 1 {
		t.Fatalf("held = %d, want 1", st.Held)
	}
	if code, _ := h.call("POST", "/v1/human/intent", map[string]any{"goal": "request", "topic": "work"}, &res); code != http.StatusOK || res.Status != "accepted" {
		t.Fatalf("in-scope intent: %+v", res)
	}
	h.waitEvent(ctx, agentloop.EventDecision, decided(res.MsgID))
	if _, ok := h.ring.WaitFor(alreadyDone, func(e events.Event) bool { return e.Type == agentloop.EventDecision && e.Data["item"] == held }); ok {
		t.Fatal("held intent reached the AgentLoop before consent")
	}

	// Granted: released and processed; nothing held any more.
	if code, body := h.call("POST", "/v1/human/consent", map[string]any{"consent": "granted", "scope": []string{}}, nil); code != http.StatusOK {
		t.Fatalf("grant: %d %s", code, body)
	}
	h.waitEvent(ctx, hcp.EventActionReleased, func(e events.Event) bool { return e.Subject == held })
	h.waitEvent(ctx, agentloop.EventDecision, decided(held))
	h.call("GET", "/v1/human/state", nil, &st)
	if st.Held != 0 || !strings.Contains(string(st.Human), `"granted"`) {
		t.Fatalf("after grant: %+v", st)
	}
	waitWhy(ctx, t, h.n, held)
	chain, err := h.n.Human().Why(held)
	if err != nil || len(chain) == 0 || chain[len(chain)-1].ID != held {
		t.Fatalf("why %s: %v %+v", held, err, chain)
	}
}

func TestHumanDriftAsksForDecisionPacedAndWhySurvivesRestart(t *testing.T) {
	ctx := humanCtx(t)
	hc := DefaultHumanConfig()
	hc.Loop.Mission = []string{"work"}
	hc.Loop.DriftWindow = 3
	hc.Loop.DriftThreshold = 0.5
	dir := t.TempDir()
	h := startHumanNode(t, dir, &hc)

	// An overloaded human: pacing lets no decision prompt through, but the
	// request stays pending.
	busy := strings.Replace(strings.Replace(stateJSON, "%s", "60", 1), `"diffuse"`, `"overloaded"`, 1)
	if code, body := h.call("POST", "/v1/human/state", busy, nil); code != http.StatusOK {
		t.Fatalf("state: %d %s", code, body)
	}
	var offMission []string
	for _, topic := range []string{"play", "games", "travel"} {
		res, err := h.n.Human().Intent(ctx, hcp.Intent{Goal: hcp.GoalRequest, Topic: topic, Priority: hcp.PriorityNormal})
		if err != nil || res.Status != "accepted" {
			t.Fatalf("intent %s: %v %+v", topic, err, res)
		}
		offMission = append(offMission, res.MsgID)
	}
	drift := h.waitEvent(ctx, agentloop.EventDrift, nil)
	if d, _ := drift.Data["drift"].(float64); d != 1 {
		t.Fatalf("drift = %v, want 1", drift.Data["drift"])
	}
	h.waitEvent(ctx, human.EventDecisionRequested, nil)
	h.waitEvent(ctx, hcp.EventPromptPaced, nil)
	if _, ok := h.ring.WaitFor(alreadyDone, func(e events.Event) bool { return e.Type == human.EventPrompt }); ok {
		t.Fatal("an overloaded human was prompted")
	}

	var pend struct {
		Decisions []human.PendingDecision `json:"decisions"`
	}
	h.call("GET", "/v1/human/decisions", nil, &pend)
	if len(pend.Decisions) != 1 || pend.Decisions[0].Paced != hcp.Suppress.String() || len(pend.Decisions[0].Alternatives) == 0 {
		t.Fatalf("pending: %+v", pend)
	}
	pd := pend.Decisions[0]

	// HCP_DECISION must carry rationale and alternatives.
	for _, body := range []map[string]any{
		{"choice": "approve", "alternatives": pd.Alternatives},
		{"choice": "approve", "rationale": "back to work"},
	} {
		code, raw := h.call("POST", "/v1/human/decisions/"+pd.ID, body, nil)
		if code != http.StatusBadRequest || !strings.Contains(raw, `"payload_schema"`) {
			t.Fatalf("decision %v: %d %s, want 400 payload_schema", body, code, raw)
		}
	}
	if code, raw := h.call("POST", "/v1/human/decisions/nope", map[string]any{"choice": "approve", "rationale": "x", "alternatives": []string{"y"}}, nil); code != http.StatusNotFound {
		t.Fatalf("unknown decision: %d %s", code, raw)
	}
	var out struct {
		MsgID string `json:"msg_id"`
	}
	if code, raw := h.call("POST", "/v1/human/decisions/"+pd.ID, map[string]any{
		"choice": "approve", "rationale": "back to work", "alternatives": pd.Alternatives}, &out); code != http.StatusOK {
		t.Fatalf("decide: %d %s", code, raw)
	}
	h.waitEvent(ctx, agentloop.EventDecision, decided(out.MsgID))
	// The loop records the cycle in causal memory after its decision
	// events; wait for the record.
	waitWhy(ctx, t, h.n, out.MsgID)

	check := func(when string) {
		t.Helper()
		var why struct {
			Chain []agentloop.Node `json:"chain"`
		}
		if code, raw := h.call("GET", "/v1/why/"+out.MsgID, nil, &why); code != http.StatusOK {
			t.Fatalf("%s: why: %d %s", when, code, raw)
		}
		ids := map[string]bool{}
		for _, nd := range why.Chain {
			ids[nd.ID] = true
		}
		for _, want := range append([]string{out.MsgID, pd.ID, pd.Cause}, offMission...) {
			if !ids[want] {
				t.Fatalf("%s: why chain lacks %s: %+v", when, want, why.Chain)
			}
		}
		if last := why.Chain[len(why.Chain)-1]; last.ID != out.MsgID {
			t.Fatalf("%s: chain ends with %s", when, last.ID)
		}
		if code, _ := h.call("GET", "/v1/why/unknown-id", nil, nil); code != http.StatusNotFound {
			t.Fatalf("%s: unknown why id: %d", when, code)
		}
	}
	check("running")
	h.call("GET", "/v1/human/decisions", nil, &pend)
	if len(pend.Decisions) != 0 {
		t.Fatalf("decision still pending: %+v", pend)
	}

	h.stop()
	h.start()
	check("after restart")
	// The human's state (and so consent) survives the restart too.
	var st human.Status
	h.call("GET", "/v1/human/state", nil, &st)
	if !strings.Contains(string(st.Human), `"overloaded"`) || !strings.Contains(string(st.Human), `"granted"`) {
		t.Fatalf("state after restart: %s", st.Human)
	}
}

func TestRecordFactWhy(t *testing.T) {
	h := startHumanNode(t, t.TempDir(), nil)
	if err := h.n.Human().RecordFact("msg-proposal", nil, "proposal"); err != nil {
		t.Fatal(err)
	}
	if err := h.n.Human().RecordFact("fact-1", []string{"msg-proposal"}, "fact accepted"); err != nil {
		t.Fatal(err)
	}
	chain, err := h.n.Human().Why("fact-1")
	if err != nil || len(chain) != 2 || chain[0].ID != "msg-proposal" || chain[1].ID != "fact-1" {
		t.Fatalf("why fact: %v %+v", err, chain)
	}
}

// waitWhy polls causal memory until id is recorded (the loop writes a
// cycle's nodes after emitting its decision events).
func waitWhy(ctx context.Context, t *testing.T, n *Node, id string) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := n.Human().Why(id); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never recorded in causal memory", id)
		case <-tick.C:
		}
	}
}

func TestWhyFactFromKnowledgeProvenance(t *testing.T) {
	ctx := humanCtx(t)
	h := startHumanNode(t, t.TempDir(), nil)
	// The proposal was caused by a decision the human made earlier.
	if err := h.n.Human().RecordFact("human-decision-1", nil, "the human chose to verify the claim"); err != nil {
		t.Fatal(err)
	}
	factID := strings.Repeat("ab", 32)
	at := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	err := h.n.Knowledge().RecordProvenance(ctx, []knowledge.Provenance{{
		FactID: factID, MsgID: "msg-propose-1", Proposer: h.n.Fingerprint(), At: at, Sources: []string{"https://example.org/a"},
		Context: "checking", CausalLinks: []string{"human-decision-1"},
		Trace: knowledge.DMPTrace{DecisionID: "dec-1", Steps: []string{"read the source"}, Counterfactuals: []string{"ignore it"}, Evidence: []string{"page a"}},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := h.n.Human().Why(factID)
	if err != nil || len(chain) != 3 {
		t.Fatalf("why fact: %v %+v", err, chain)
	}
	if chain[0].ID != "human-decision-1" || chain[1].ID != "msg-propose-1" || chain[1].Trace == nil ||
		chain[1].Trace.Alternatives[0] != "ignore it" || chain[2].ID != factID || chain[2].Causes[0] != "msg-propose-1" {
		t.Fatalf("chain: %+v", chain)
	}
	if _, err := h.n.Human().Why(strings.Repeat("cd", 32)); !errors.Is(err, agentloop.ErrNotFound) {
		t.Fatalf("unknown fact: %v", err)
	}
}

// BenchmarkHumanIntent measures the whole human path of an intent — sign
// with the human key, verify like any envelope, route, consent gate,
// AgentLoop inbox (and the loop's cycles, as the inbox fills) — against
// signing the same HCP_INTENT alone, in the same run.
func BenchmarkHumanIntent(b *testing.B) {
	n, err := New(Config{DataDir: b.TempDir(), ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := n.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	if _, err := n.Human().SetConsent(ctx, envelope.ConsentGranted, nil, time.Time{}); err != nil {
		b.Fatal(err)
	}
	in := hcp.Intent{Goal: hcp.GoalRequest, Topic: "work", Priority: hcp.PriorityNormal}
	bld := n.Human().Builder()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := bld.Intent(n.Human().To(), in); err != nil {
			b.Fatal(err)
		}
	}
	base := time.Since(start)
	start = time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := n.Human().Intent(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	full := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(full.Nanoseconds())/float64(b.N), "path-ns/op")
	b.ReportMetric(float64(base.Nanoseconds())/float64(b.N), "sign-ns/op")
	b.ReportMetric(float64(full)/float64(base), "ratio")
}

// TestHumanDeferredPromptIsRetried: under strain only one decision prompt
// goes out per StrainInterval; a second drift alarm inside it is deferred,
// stays pending and is prompted once the interval has passed.
func TestHumanDeferredPromptIsRetried(t *testing.T) {
	ctx := humanCtx(t)
	hc := DefaultHumanConfig()
	hc.Loop.Mission = []string{"work"}
	hc.Loop.DriftWindow = 2
	hc.Loop.DriftThreshold = 0.5
	hc.Pacing.StrainInterval = 300 * time.Millisecond
	h := startHumanNode(t, t.TempDir(), &hc)
	strained := strings.Replace(strings.Replace(stateJSON, "%s", "60", 1), `"pressure":20`, `"pressure":90`, 1)
	if code, body := h.call("POST", "/v1/human/state", strained, nil); code != http.StatusOK {
		t.Fatalf("state: %d %s", code, body)
	}
	intents := func(topics ...string) {
		t.Helper()
		for _, topic := range topics {
			res, err := h.n.Human().Intent(ctx, hcp.Intent{Goal: hcp.GoalRequest, Topic: topic, Priority: hcp.PriorityNormal})
			if err != nil || res.Status != "accepted" {
				t.Fatalf("intent %s: %v %+v", topic, err, res)
			}
			h.waitEvent(ctx, agentloop.EventDecision, decided(res.MsgID))
		}
	}
	requested := func(n int) string {
		t.Helper()
		var ids []string
		// WaitFor rescans the ring on every change: count afresh each time.
		h.ring.WaitFor(ctx.Done(), func(events.Event) bool {
			ids = ids[:0]
			for _, e := range h.ring.Events() {
				if e.Type == human.EventDecisionRequested {
					ids = append(ids, e.Subject)
				}
			}
			return len(ids) >= n
		})
		if len(ids) < n {
			t.Fatalf("only %d decision requests", len(ids))
		}
		return ids[n-1]
	}
	intents("play", "games")
	first := requested(1)
	h.waitEvent(ctx, human.EventPrompt, func(e events.Event) bool { return e.Subject == first })
	intents("work", "work", "play", "games") // the alarm clears, then rises again
	second := requested(2)
	h.waitEvent(ctx, hcp.EventPromptPaced, func(e events.Event) bool { return e.Data["outcome"] == hcp.Defer.String() })
	h.waitEvent(ctx, human.EventPrompt, func(e events.Event) bool { return e.Subject == second })
	pend, err := h.n.Human().PendingDecisions()
	if err != nil || len(pend) != 2 || pend[1].ID != second || pend[1].Paced != hcp.Allow.String() {
		t.Fatalf("pending after retry: %v %+v", err, pend)
	}
}

// TestHumanHeldIntentSurvivesRestart: consent and the actions it holds
// are both on disk; after a restart the intent is still held under the
// restored consent and runs once the human grants it.
func TestHumanHeldIntentSurvivesRestart(t *testing.T) {
	ctx := humanCtx(t)
	h := startHumanNode(t, t.TempDir(), nil)
	if _, err := h.n.Human().SetConsent(ctx, envelope.ConsentLimited, []string{"topic:work"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	res, err := h.n.Human().Intent(ctx, hcp.Intent{Goal: hcp.GoalRequest, Topic: "play", Priority: hcp.PriorityLow})
	if err != nil || res.Status != "held" {
		t.Fatalf("intent: %v %+v", err, res)
	}
	h.stop()
	h.start()
	st, err := h.n.Human().Status()
	if err != nil || st.Held != 1 || !strings.Contains(string(st.Human), `"limited"`) {
		t.Fatalf("after restart: %v %+v %s", err, st, st.Human)
	}
	if _, err := h.n.Human().SetConsent(ctx, envelope.ConsentGranted, nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	h.waitEvent(ctx, hcp.EventActionReleased, func(e events.Event) bool { return e.Subject == res.MsgID })
	h.waitEvent(ctx, agentloop.EventDecision, decided(res.MsgID))
}
