package knowledge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/trust"
)

func tracedProposeJSON(statement, domain string, links []string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"fact": map[string]any{"statement": statement, "domain": domain, "confidence": 0.8,
			"sources": []string{"https://example.org/a", "https://example.org/b"}, "context": "read two sources"},
		"dmp_trace": map[string]any{"decision_id": "dec-7", "steps": []string{"fetch", "compare", "conclude"},
			"counterfactuals": []string{"sources disagree"}, "evidence": []string{"sha256:abc"}},
		"causal_links": links,
	})
	return b
}

func decisionJSON(id, choice string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"decision":      map[string]any{"choice": choice, "outcome": "ok", "context": "mission"},
		"dmp_trace":     map[string]any{"decision_id": id, "steps": []string{"weigh"}, "counterfactuals": []string{"wait"}, "evidence": []string{}},
		"retrospective": "would do again",
	})
	return b
}

// handle is the wiring's knowledge route: decode once, apply.
func handle(t *testing.T, s *Store, sender, typ, msgID string, at time.Time, payload json.RawMessage) error {
	t.Helper()
	k, err := envelope.ParseType(typ)
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeMessage(Incoming{Type: k, Sender: sender, MsgID: msgID, Time: at, Payload: payload})
	if err != nil {
		return err
	}
	_, err = s.Apply(context.Background(), m)
	return err
}

func TestProvenanceRoundTripAndRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	tv := &trustView{m: map[string]trust.State{}}
	clk := &fakeClock{t: t0}
	h := openHarness(t, path, tv, clk)
	stmt, dom := "the bridge opened in 1932", "history"
	id := mustID(t, dom, stmt)

	if err := handle(t, h.s, "t1", "FACT_PROPOSE", "m-1", t0, tracedProposeJSON(stmt, dom, []string{"fact:earlier", "decision:dec-1"})); err != nil {
		t.Fatal(err)
	}
	// A second agent proposes the same statement: one fact, two provenances.
	if err := handle(t, h.s, "t2", "FACT_PROPOSE", "m-2", t0.Add(time.Second), tracedProposeJSON(stmt, dom, nil)); err != nil {
		t.Fatal(err)
	}
	// Redelivery is idempotent: no new record, no new event.
	before := h.ring.Count(EventProvenanceRecorded)
	if err := handle(t, h.s, "t1", "FACT_PROPOSE", "m-1", t0, tracedProposeJSON(stmt, dom, []string{"fact:earlier", "decision:dec-1"})); err != nil {
		t.Fatal(err)
	}
	if h.ring.Count(EventProvenanceRecorded) != before || before != 2 {
		t.Fatalf("provenance events: %d then %d", before, h.ring.Count(EventProvenanceRecorded))
	}
	if err := handle(t, h.s, "t3", "DECISION_SHARE", "m-3", t0, decisionJSON("dec-1", "publish")); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.ring.WaitFor(nil, func(e events.Event) bool {
		return e.Type == EventDecisionShared && e.Subject == "dec-1" && len(e.Causes) == 1 && e.Causes[0] == "m-3"
	}); !ok {
		t.Fatal("no decision_shared event")
	}

	check := func(s *Store) {
		t.Helper()
		ps, err := s.Provenance(id)
		if err != nil || len(ps) != 2 {
			t.Fatalf("provenance: %+v %v", ps, err)
		}
		want := Provenance{FactID: id, MsgID: "m-1", Proposer: "t1", At: t0,
			Sources: []string{"https://example.org/a", "https://example.org/b"}, Context: "read two sources",
			Trace:       DMPTrace{DecisionID: "dec-7", Steps: []string{"fetch", "compare", "conclude"}, Counterfactuals: []string{"sources disagree"}, Evidence: []string{"sha256:abc"}},
			CausalLinks: []string{"fact:earlier", "decision:dec-1"}}
		if !reflect.DeepEqual(ps[0], want) {
			t.Fatalf("provenance[0]\n got %+v\nwant %+v", ps[0], want)
		}
		if ps[1].Proposer != "t2" || len(ps[1].CausalLinks) != 0 || ps[1].CausalLinks == nil {
			t.Fatalf("provenance[1] %+v", ps[1])
		}
		ds, err := s.Decision("dec-1")
		if err != nil || len(ds) != 1 || ds[0].Choice != "publish" || ds[0].Sender != "t3" || ds[0].Retrospective != "would do again" || ds[0].Trace.Counterfactuals[0] != "wait" {
			t.Fatalf("decision: %+v %v", ds, err)
		}
		if ps, _ := s.Provenance(mustID(t, "x", "never")); len(ps) != 0 {
			t.Fatal("provenance for an unknown fact")
		}
	}
	check(h.s)
	if err := h.db.Close(); err != nil {
		t.Fatal(err)
	}
	h2 := openHarness(t, path, tv, clk)
	check(h2.s)
	if _, _, ok := h2.s.Fact(id); !ok {
		t.Fatal("fact lost")
	}
}

func TestProvenanceRejectsBadInput(t *testing.T) {
	h := openHarness(t, filepath.Join(t.TempDir(), "db"), &trustView{m: map[string]trust.State{}}, &fakeClock{t: t0})
	stmt, dom := "s", "d"
	bad := map[string]any{
		"fact":         map[string]any{"statement": stmt, "domain": dom, "confidence": 0.5, "sources": []string{}, "context": ""},
		"dmp_trace":    map[string]any{"decision_id": "", "steps": []string{}, "counterfactuals": []string{}, "evidence": []string{}},
		"causal_links": []string{},
	}
	raw, _ := json.Marshal(bad)
	if err := handle(t, h.s, "t1", "FACT_PROPOSE", "m-1", t0, raw); !errors.Is(err, ErrInvalidProvenance) || !strings.Contains(err.Error(), "dmp_trace.decision_id") {
		t.Fatalf("empty decision id: %v", err)
	}
	if _, _, ok := h.s.Fact(mustID(t, dom, stmt)); ok {
		t.Fatal("fact stored although its provenance was refused")
	}
	steps := make([]string, MaxProvenanceItems+1)
	bad["dmp_trace"] = map[string]any{"decision_id": "x", "steps": steps, "counterfactuals": []string{}, "evidence": []string{}}
	raw, _ = json.Marshal(bad)
	if err := handle(t, h.s, "t1", "FACT_PROPOSE", "m-1", t0, raw); !errors.Is(err, ErrInvalidProvenance) {
		t.Fatalf("too many steps: %v", err)
	}
	if err := handle(t, h.s, "t1", "DECISION_SHARE", "m-2", t0, json.RawMessage(`{"decision":{"choice":"","outcome":"","context":""},"dmp_trace":{"decision_id":"a","steps":[],"counterfactuals":[],"evidence":[]},"retrospective":""}`)); !errors.Is(err, ErrInvalidProvenance) {
		t.Fatalf("empty choice: %v", err)
	}
	if err := handle(t, h.s, "t1", "DECISION_SHARE", "m-2", t0, decisionJSON("a\x00b", "c")); !errors.Is(err, ErrInvalidProvenance) {
		t.Fatalf("NUL in decision id: %v", err)
	}
	if _, _, err := DecodeProvenance(Incoming{Type: ty("FACT_CONFIRM")}); !errors.Is(err, ErrUnsupportedType) {
		t.Fatal(err)
	}
	if err := h.s.RecordProvenance(context.Background(), []Provenance{{FactID: "nope"}}, nil); !errors.Is(err, ErrInvalidProvenance) {
		t.Fatal(err)
	}
}

// TestVotesOnUnknownOrExpiredFacts: such votes are refused with typed
// errors and an event, and the store — memory and disk — is untouched.
func TestVotesOnUnknownOrExpiredFacts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	tv := &trustView{m: map[string]trust.State{}}
	clk := &fakeClock{t: t0}
	h := openHarness(t, path, tv, clk)
	f := testFact(t) // expires t0+1h
	if _, _, err := h.s.Propose(ctx, f); err != nil {
		t.Fatal(err)
	}
	unknown := mustID(t, "d", "nobody proposed this")
	snapshot := func() string {
		var b strings.Builder
		if err := h.db.View(func(tx *bolt.Tx) error {
			for _, name := range []string{BucketFacts, BucketVotes} {
				if bk := tx.Bucket([]byte(name)); bk != nil {
					if err := bk.ForEach(func(k, v []byte) error { fmt.Fprintf(&b, "%q=%s\n", k, v); return nil }); err != nil {
						return err
					}
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	disk := snapshot()

	_, _, err := h.s.Vote(ctx, Vote{Voter: "t1", FactID: unknown, Kind: Confirm, MsgID: "u1", Time: t0})
	if !errors.Is(err, ErrUnknownFact) {
		t.Fatalf("unknown fact: %v", err)
	}
	late := vote(f, "t1", Confirm, time.Hour+time.Millisecond, "late")
	if _, _, err := h.s.Vote(ctx, late); !errors.Is(err, ErrExpired) {
		t.Fatalf("vote after expiry: %v", err)
	}
	// One bad vote refuses the whole batch.
	good := vote(f, "t2", Confirm, time.Minute, "good")
	if _, _, err := h.s.Ingest(ctx, nil, []Vote{good, late}); !errors.Is(err, ErrExpired) {
		t.Fatalf("batch: %v", err)
	}
	if snapshot() != disk || len(h.s.Votes(f.ID)) != 0 || len(h.s.Votes(unknown)) != 0 {
		t.Fatal("store touched by refused votes")
	}
	for _, reason := range []string{"unknown_fact", "expired"} {
		if _, ok := h.ring.WaitFor(nil, func(e events.Event) bool { return e.Type == EventVoteRejected && e.Data["reason"] == reason }); !ok {
			t.Fatalf("no vote_rejected event for %s", reason)
		}
	}
	// A vote naming a fact proposed in the same batch is fine, and so is a
	// vote cast exactly at the expiry.
	g := Fact{Statement: "same batch", Domain: "d", Proposer: "prop", ProposedAt: t0, Expires: t0.Add(time.Minute)}
	g.ID = mustID(t, g.Domain, g.Statement)
	if _, _, err := h.s.Ingest(ctx, []Fact{g}, []Vote{vote(g, "t1", Confirm, time.Minute, "edge")}); err != nil {
		t.Fatal(err)
	}
	// Through the Handler the typed errors reach the caller.
	if err := handle(t, h.s, "t1", "FACT_CONFIRM", "h1", t0, voteJSON(unknown, "confirm", 0.5)); !errors.Is(err, ErrUnknownFact) {
		t.Fatalf("handler: %v", err)
	}
	if err := h.db.Close(); err != nil {
		t.Fatal(err)
	}
	h2 := openHarness(t, path, tv, clk)
	if len(h2.s.Votes(f.ID)) != 0 || len(h2.s.Votes(unknown)) != 0 {
		t.Fatal("refused votes found after restart")
	}
}

func TestExpireDue(t *testing.T) {
	ctx := context.Background()
	tv := &trustView{m: map[string]trust.State{}}
	clk := &fakeClock{t: t0}
	h := openHarness(t, filepath.Join(t.TempDir(), "db"), tv, clk)
	pending := testFact(t) // expires t0+1h
	accepted := Fact{Statement: "accepted", Domain: "d", Proposer: "prop", ProposedAt: t0, Expires: t0.Add(time.Hour)}
	accepted.ID = mustID(t, accepted.Domain, accepted.Statement)
	lasting := Fact{Statement: "lasting", Domain: "d", Proposer: "prop", ProposedAt: t0, Expires: t0.Add(3 * time.Hour)}
	lasting.ID = mustID(t, lasting.Domain, lasting.Statement)
	if _, _, err := h.s.Ingest(ctx, []Fact{pending, accepted, lasting}, []Vote{
		vote(pending, "t1", Confirm, time.Minute, "a"),
		vote(accepted, "t1", Confirm, time.Minute, "b"), vote(accepted, "t2", Confirm, time.Minute, "c"),
	}); err != nil {
		t.Fatal(err)
	}
	if got := h.s.ExpireDue(t0.Add(59 * time.Minute)); len(got) != 0 {
		t.Fatalf("expired early: %+v", got)
	}
	got := h.s.ExpireDue(t0.Add(time.Hour))
	if len(got) != 1 || got[0].Fact.ID != pending.ID || got[0].From != Pending || got[0].Result.Status != Rejected || got[0].Result.Reason != ReasonExpired {
		t.Fatalf("ExpireDue: %+v", got)
	}
	if _, ok := h.ring.WaitFor(nil, func(e events.Event) bool {
		return e.Type == EventFactRejected && e.Subject == pending.ID && e.Data["reason"] == ReasonExpired
	}); !ok {
		t.Fatal("no fact_rejected event")
	}
	if again := h.s.ExpireDue(t0.Add(2 * time.Hour)); len(again) != 0 {
		t.Fatalf("second tick: %+v", again)
	}
	if _, r, _ := h.s.Fact(accepted.ID); r.Status != Accepted {
		t.Fatalf("accepted fact expired: %+v", r)
	}
	if _, r, _ := h.s.Fact(lasting.ID); r.Status != Proposed {
		t.Fatalf("lasting fact: %+v", r)
	}
	// Order independence survives: a vote cast before the expiry but
	// delivered after the tick still counts, exactly as Tally says.
	lateDelivered := vote(pending, "t2", Confirm, 30*time.Minute, "d")
	res, _, err := h.s.Vote(ctx, lateDelivered)
	if err != nil || res.Status != Accepted {
		t.Fatalf("late-delivered vote: %+v %v", res, err)
	}
	want := DefaultRules().Tally(pending, h.s.Votes(pending.ID), tv.State, t0.Add(2*time.Hour))
	if res.Status != want.Status {
		t.Fatalf("store %v, tally %v", res.Status, want.Status)
	}
}

// TestStoreStatusOrderIndependentWithRefusals: whatever order the votes of
// a fact arrive in — including votes cast after its expiry, which are now
// refused — and whenever ExpireDue ticks in between, the stored status is
// the pure Tally of all the votes.
func TestStoreStatusOrderIndependentWithRefusals(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewSource(7))
	tv := &trustView{m: map[string]trust.State{}}
	for round := 0; round < 20; round++ {
		f := testFact(t)
		all := randomVotes(r, f, 12)
		for i := range all {
			if r.Intn(4) == 0 {
				all[i].Time = f.Expires.Add(time.Duration(1+r.Intn(600)) * time.Second)
			}
		}
		end := f.Expires.Add(time.Hour)
		want := DefaultRules().Tally(f, all, tv.State, end)
		clk := &fakeClock{t: t0}
		h := openHarness(t, filepath.Join(t.TempDir(), "db"), tv, clk)
		if _, _, err := h.s.Propose(ctx, f); err != nil {
			t.Fatal(err)
		}
		r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		for i, v := range all {
			if i == len(all)/2 {
				clk.Set(end)
				h.s.ExpireDue(end)
			}
			if _, _, err := h.s.Vote(ctx, v); err != nil && !errors.Is(err, ErrExpired) {
				t.Fatal(err)
			}
		}
		clk.Set(end)
		h.s.ExpireDue(end)
		if _, got, _ := h.s.Fact(f.ID); got.Status != want.Status || got.Reason != want.Reason {
			t.Fatalf("round %d: store %v/%s, tally %v/%s", round, got.Status, got.Reason, want.Status, want.Reason)
		}
	}
}

func FuzzDecodeProvenance(f *testing.F) {
	f.Add("FACT_PROPOSE", []byte(tracedProposeJSON("s", "d", []string{"x"})))
	f.Add("DECISION_SHARE", []byte(decisionJSON("dec", "go")))
	f.Add("FACT_PROPOSE", []byte(`{"fact":{"statement":"s","domain":"d"},"dmp_trace":{"decision_id":"d","steps":null}}`))
	f.Add("DECISION_SHARE", []byte(`{"decision":null}`))
	f.Add("FACT_CONFIRM", []byte(`{}`))
	f.Fuzz(func(t *testing.T, typ string, payload []byte) {
		p, d, err := DecodeProvenance(Incoming{Type: ty(typ), Sender: "t1", MsgID: "m", Time: t0, Payload: payload})
		if err != nil {
			if p != nil || d != nil {
				t.Fatal("result with error")
			}
			return
		}
		if (p == nil) == (d == nil) {
			t.Fatal("want exactly one result")
		}
		if p != nil {
			if err := p.Validate(); err != nil {
				t.Fatalf("accepted invalid provenance: %v", err)
			}
			if p.Trace.Steps == nil || p.CausalLinks == nil || p.Sources == nil {
				t.Fatal("nil list in accepted provenance")
			}
		}
		if d != nil {
			if err := d.Validate(); err != nil {
				t.Fatalf("accepted invalid decision: %v", err)
			}
		}
	})
}
