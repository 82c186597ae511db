package knowledge

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/store"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/router"
	"github.com/web4p2p/web4p2p/trust"
)

func proposeJSON(statement, domain string, conf float64, factID string) json.RawMessage {
	p := map[string]any{
		"fact":         map[string]any{"statement": statement, "domain": domain, "confidence": conf, "sources": []string{}, "context": ""},
		"dmp_trace":    map[string]any{"decision_id": "d1", "steps": []string{}, "counterfactuals": []string{}, "evidence": []string{}},
		"causal_links": []string{},
	}
	if factID != "" {
		p["fact_id"] = factID
	}
	b, _ := json.Marshal(p)
	return b
}

func voteJSON(ref, decision string, conf float64) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"fact_ref": ref, "decision": decision, "confidence": conf, "notes": ""})
	return b
}

func TestDecode(t *testing.T) {
	id := mustID(t, "astro", "the sky is blue")
	in := Incoming{Type: "FACTPROPOSE", Sender: "alice", MsgID: "m1", Time: t0, Payload: proposeJSON("the sky is blue", "astro", 0.7, id)}
	f, v, err := Decode(in)
	if err != nil || v != nil || f.ID != id || f.Proposer != "alice" || f.Confidence != 0.7 || !f.ProposedAt.Equal(t0) || f.MsgID != "m1" {
		t.Fatalf("propose: %+v %+v %v", f, v, err)
	}
	in.Payload = proposeJSON("the sky is blue", "astro", 0.7, "")
	if f, _, err = Decode(in); err != nil || f.ID != id {
		t.Fatalf("propose without fact_id: %+v %v", f, err)
	}
	for typ, kind := range map[string]VoteKind{"FACT_CONFIRM": Confirm, "FACT_REJECT": Reject, "FACTCHALLENGE": Challenge} {
		payload := voteJSON(id, map[VoteKind]string{Confirm: "confirm", Reject: "reject"}[kind], 0.5)
		if kind == Challenge {
			payload, _ = json.Marshal(map[string]any{"fact_ref": id, "reason": "conflict", "notes": "x"})
		}
		_, v, err := Decode(Incoming{Type: typ, Sender: "bob", MsgID: "v1", Time: t0, Payload: payload})
		if err != nil || v.Kind != kind || v.FactID != id || v.Voter != "bob" {
			t.Fatalf("%s: %+v %v", typ, v, err)
		}
	}

	bad := []struct {
		name string
		in   Incoming
		want error
	}{
		{"fact_id mismatch", Incoming{Type: "FACT_PROPOSE", Sender: "a", Time: t0, Payload: proposeJSON("s", "d", 0.5, id)}, ErrInvalidFact},
		{"no fact", Incoming{Type: "FACT_PROPOSE", Sender: "a", Time: t0, Payload: json.RawMessage(`{}`)}, ErrInvalidFact},
		{"no confidence", Incoming{Type: "FACT_PROPOSE", Sender: "a", Time: t0, Payload: json.RawMessage(`{"fact":{"statement":"s","domain":"d"}}`)}, ErrInvalidFact},
		{"confidence out of range", Incoming{Type: "FACT_PROPOSE", Sender: "a", Time: t0, Payload: proposeJSON("s", "d", 1.5, "")}, ErrInvalidFact},
		{"trailing data", Incoming{Type: "FACT_PROPOSE", Sender: "a", Time: t0, Payload: append(proposeJSON("s", "d", 0.5, ""), []byte(" {}")...)}, ErrInvalidFact},
		{"not JSON", Incoming{Type: "FACT_CONFIRM", Sender: "a", MsgID: "m", Time: t0, Payload: json.RawMessage(`{`)}, ErrInvalidVote},
		{"decision mismatch", Incoming{Type: "FACT_CONFIRM", Sender: "a", MsgID: "m", Time: t0, Payload: voteJSON(id, "reject", 0.5)}, ErrInvalidVote},
		{"vote without confidence", Incoming{Type: "FACT_REJECT", Sender: "a", MsgID: "m", Time: t0, Payload: json.RawMessage(`{"fact_ref":"` + id + `","decision":"reject"}`)}, ErrInvalidVote},
		{"bad fact_ref", Incoming{Type: "FACT_CONFIRM", Sender: "a", MsgID: "m", Time: t0, Payload: voteJSON("abc", "confirm", 0.5)}, ErrInvalidVote},
		{"no msg_id", Incoming{Type: "FACT_CONFIRM", Sender: "a", Time: t0, Payload: voteJSON(id, "confirm", 0.5)}, ErrInvalidVote},
		{"not a knowledge type", Incoming{Type: "DECISION_SHARE", Payload: json.RawMessage(`{}`)}, ErrUnsupportedType},
		{"unknown type", Incoming{Type: "FACT_MAYBE"}, ErrUnsupportedType},
	}
	for _, b := range bad {
		if f, v, err := Decode(b.in); !errors.Is(err, b.want) || f != nil || v != nil {
			t.Errorf("%s: %v (want %v)", b.name, err, b.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	id := mustID(f, "d", "s")
	f.Add("FACT_PROPOSE", []byte(proposeJSON("s", "d", 0.5, id)))
	f.Add("FACT_CONFIRM", []byte(voteJSON(id, "confirm", 1)))
	f.Add("FACT_CHALLENGE", []byte(`{"fact_ref":"`+id+`","reason":"conflict","notes":""}`))
	f.Add("FACT_REJECT", []byte(`{"fact_ref":1}`))
	f.Add("HELLO", []byte(`null`))
	f.Fuzz(func(t *testing.T, typ string, payload []byte) {
		fact, vote, err := Decode(Incoming{Type: typ, Sender: "s", MsgID: "m", Time: t0, Payload: payload})
		if err != nil {
			if fact != nil || vote != nil {
				t.Fatal("result with error")
			}
			return
		}
		if (fact == nil) == (vote == nil) {
			t.Fatal("want exactly one result")
		}
		if fact != nil {
			if err := fact.Validate(); err != nil || fact.ID == "" {
				t.Fatalf("decoded invalid fact %+v: %v", fact, err)
			}
		}
		if vote != nil {
			if err := vote.Validate(); err != nil {
				t.Fatalf("decoded invalid vote %+v: %v", vote, err)
			}
		}
	})
}

// TestHandlerThroughRouter runs FACT_* messages through the real router
// (trust gate, routing matrix, TypeMux) into the Store with a real Ledger:
// a probing newcomer proposes, two anchors confirm, the fact is accepted;
// a probing peer's vote is gated in but not counted; an untrusted peer's
// vote never reaches the store.
func TestHandlerThroughRouter(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ring := events.NewRing(256)
	chk := &events.CheckingSink{Next: ring}
	em := events.NewEmitter(testPeerID, chk, nil)
	anchorA, anchorB, newcomer, prober, outcast := fp('1'), fp('2'), fp('3'), fp('4'), fp('5')
	l, err := trust.OpenLedger(db, trust.LedgerConfig{Anchors: []string{anchorA, anchorB}, Events: em})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{newcomer, prober} {
		if _, err := l.Apply(p, trust.ValidHandshake, "hello"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Apply(outcast, trust.BadSignature, "hello"); err != nil {
		t.Fatal(err)
	}
	ks, err := OpenStore(db, StoreConfig{View: l.State, Events: em})
	if err != nil {
		t.Fatal(err)
	}
	r := router.New(router.Config{Trust: l, Events: em})
	kh := Handler{Store: ks}
	mux := router.TypeMux{}
	for _, typ := range kh.Types() {
		mux[typ] = kh
	}
	if _, err := r.Register(router.Knowledge, mux); err != nil {
		t.Fatal(err)
	}
	id := mustID(t, "geo", "Paris is the capital of France")
	now := time.Now()
	send := func(peer, typ, msgID string, payload json.RawMessage) error {
		return r.Route(ctx, &router.Message{Peer: peer, Type: typ, MsgID: msgID, Time: now, Channel: "knowledge", Payload: payload})
	}
	if err := send(newcomer, "FACT_PROPOSE", "p1", proposeJSON("Paris is the capital of France", "geo", 0.9, id)); err != nil {
		t.Fatal(err)
	}
	if err := send(prober, "FACT_CONFIRM", "v0", voteJSON(id, "confirm", 0.9)); err != nil {
		t.Fatal(err)
	}
	if err := send(outcast, "FACT_CONFIRM", "vx", voteJSON(id, "confirm", 0.9)); !errors.Is(err, envelope.ErrTrustViolation) {
		t.Fatalf("untrusted vote: %v", err)
	}
	if err := send(anchorA, "FACT_CONFIRM", "v1", voteJSON(id, "confirm", 0.9)); err != nil {
		t.Fatal(err)
	}
	if _, r, _ := ks.Fact(id); r.Status != Pending || r.Uncounted != 1 {
		t.Fatalf("after one anchor: %+v", r)
	}
	if err := send(anchorB, "FACTCONFIRM", "v2", voteJSON(id, "confirm", 0.9)); err != nil {
		t.Fatal(err)
	}
	if _, r, _ := ks.Fact(id); r.Status != Accepted {
		t.Fatalf("after two anchors: %+v", r)
	}
	if len(ks.Votes(id)) != 3 {
		t.Fatalf("votes %+v", ks.Votes(id))
	}
	// A malformed vote fails in the handler: error returned, event emitted.
	if err := send(anchorA, "FACT_REJECT", "v3", voteJSON(id, "confirm", 0.9)); !errors.Is(err, ErrInvalidVote) {
		t.Fatalf("malformed vote: %v", err)
	}
	if ring.Count(EventFactAccepted) != 1 || ring.Count(router.EventRouted) != 5 {
		t.Fatalf("events: accepted=%d routed=%d", ring.Count(EventFactAccepted), ring.Count(router.EventRouted))
	}
	if f := chk.Failures(); len(f) != 0 {
		t.Fatal(f)
	}
}
