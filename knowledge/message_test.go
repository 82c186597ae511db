package knowledge

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/web4p2p/web4p2p/protocols/envelope"
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
	in := Incoming{Type: ty("FACTPROPOSE"), Sender: "alice", MsgID: "m1", Time: t0, Payload: proposeJSON("the sky is blue", "astro", 0.7, id)}
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
		_, v, err := Decode(Incoming{Type: ty(typ), Sender: "bob", MsgID: "v1", Time: t0, Payload: payload})
		if err != nil || v.Kind != kind || v.FactID != id || v.Voter != "bob" {
			t.Fatalf("%s: %+v %v", typ, v, err)
		}
	}

	bad := []struct {
		name string
		in   Incoming
		want error
	}{
		{"fact_id mismatch", Incoming{Type: ty("FACT_PROPOSE"), Sender: "a", Time: t0, Payload: proposeJSON("s", "d", 0.5, id)}, ErrInvalidFact},
		{"no fact", Incoming{Type: ty("FACT_PROPOSE"), Sender: "a", Time: t0, Payload: json.RawMessage(`{}`)}, ErrInvalidFact},
		{"no confidence", Incoming{Type: ty("FACT_PROPOSE"), Sender: "a", Time: t0, Payload: json.RawMessage(`{"fact":{"statement":"s","domain":"d"}}`)}, ErrInvalidFact},
		{"confidence out of range", Incoming{Type: ty("FACT_PROPOSE"), Sender: "a", Time: t0, Payload: proposeJSON("s", "d", 1.5, "")}, ErrInvalidFact},
		{"trailing data", Incoming{Type: ty("FACT_PROPOSE"), Sender: "a", Time: t0, Payload: append(proposeJSON("s", "d", 0.5, ""), []byte(" {}")...)}, ErrInvalidFact},
		{"not JSON", Incoming{Type: ty("FACT_CONFIRM"), Sender: "a", MsgID: "m", Time: t0, Payload: json.RawMessage(`{`)}, ErrInvalidVote},
		{"decision mismatch", Incoming{Type: ty("FACT_CONFIRM"), Sender: "a", MsgID: "m", Time: t0, Payload: voteJSON(id, "reject", 0.5)}, ErrInvalidVote},
		{"vote without confidence", Incoming{Type: ty("FACT_REJECT"), Sender: "a", MsgID: "m", Time: t0, Payload: json.RawMessage(`{"fact_ref":"` + id + `","decision":"reject"}`)}, ErrInvalidVote},
		{"bad fact_ref", Incoming{Type: ty("FACT_CONFIRM"), Sender: "a", MsgID: "m", Time: t0, Payload: voteJSON("abc", "confirm", 0.5)}, ErrInvalidVote},
		{"no msg_id", Incoming{Type: ty("FACT_CONFIRM"), Sender: "a", Time: t0, Payload: voteJSON(id, "confirm", 0.5)}, ErrInvalidVote},
		{"not a knowledge type", Incoming{Type: ty("DECISION_SHARE"), Payload: json.RawMessage(`{}`)}, ErrUnsupportedType},
		{"unknown type", Incoming{Type: ty("FACT_MAYBE")}, ErrUnsupportedType},
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
		fact, vote, err := Decode(Incoming{Type: ty(typ), Sender: "s", MsgID: "m", Time: t0, Payload: payload})
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

// ty parses a type name (either spelling); unknown names are the invalid
// type 0, which every decoder refuses.
func ty(name string) envelope.Type {
	t, _ := envelope.ParseType(name)
	return t
}

// TestDecodeMessageOnce: a proposal decodes into its fact and provenance
// together; a malformed trace refuses both.
func TestDecodeMessageOnce(t *testing.T) {
	id := mustID(t, "astro", "the sky is blue")
	m, err := DecodeMessage(Incoming{Type: envelope.FactPropose, Sender: "alice", MsgID: "m1", Time: t0, Payload: proposeJSON("the sky is blue", "astro", 0.7, id)})
	if err != nil || m.Fact == nil || m.Provenance == nil || m.Vote != nil || m.Fact.ID != id || m.Provenance.FactID != id || m.Provenance.Proposer != "alice" {
		t.Fatalf("propose: %+v %v", m, err)
	}
	noTrace := json.RawMessage(`{"fact":{"statement":"s","domain":"d","confidence":0.5}}`)
	if m, err := DecodeMessage(Incoming{Type: envelope.FactPropose, Sender: "a", MsgID: "m", Time: t0, Payload: noTrace}); !errors.Is(err, ErrInvalidProvenance) || m.Fact != nil {
		t.Fatalf("proposal without trace: %+v %v", m, err)
	}
	if m, err := DecodeMessage(Incoming{Type: envelope.FactConfirm, Sender: "b", MsgID: "v", Time: t0, Payload: voteJSON(id, "confirm", 1)}); err != nil || m.Vote == nil || m.Fact != nil {
		t.Fatalf("vote: %+v %v", m, err)
	}
	if _, err := DecodeMessage(Incoming{Type: envelope.Hello, Payload: json.RawMessage(`{}`)}); !errors.Is(err, ErrUnsupportedType) {
		t.Fatalf("hello: %v", err)
	}
}

// TestApplyReturnsChanges: the store hands its status changes back to the
// caller instead of calling out.
func TestApplyReturnsChanges(t *testing.T) {
	ctx := context.Background()
	tv := &trustView{m: map[string]trust.State{"t1": trust.Trusted, "t2": trust.Trusted}}
	h := openHarness(t, filepath.Join(t.TempDir(), "db"), tv, &fakeClock{t: t0})
	id := mustID(t, "astro", "the sky is blue")
	apply := func(typ envelope.Type, sender, msgID string, payload json.RawMessage) []Change {
		t.Helper()
		m, err := DecodeMessage(Incoming{Type: typ, Sender: sender, MsgID: msgID, Time: t0, Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		c, err := h.s.Apply(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := apply(envelope.FactPropose, "prop", "p", proposeJSON("the sky is blue", "astro", 0.7, id)); len(c) != 1 || c[0].Result.Status != Proposed {
		t.Fatalf("proposal changes %+v", c)
	}
	if p, err := h.s.Provenance(id); err != nil || len(p) != 1 {
		t.Fatalf("provenance %+v %v", p, err)
	}
	apply(envelope.FactConfirm, "t1", "v1", voteJSON(id, "confirm", 1))
	c := apply(envelope.FactConfirm, "t2", "v2", voteJSON(id, "confirm", 1))
	if len(c) != 1 || c[0].Result.Status != Accepted || c[0].From != Pending || len(c[0].Result.Confirmers) != 2 {
		t.Fatalf("quorum changes %+v", c)
	}
}
