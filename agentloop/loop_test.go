package agentloop

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// recorder is a Delegate that records phase order.
type recorder struct {
	NopDelegate
	mu      sync.Mutex
	phases  []string
	reflect chan Reflection
}

func (r *recorder) add(p string) {
	r.mu.Lock()
	r.phases = append(r.phases, p)
	r.mu.Unlock()
}
func (r *recorder) Perceive(ctx context.Context, b []Item) []Item {
	r.add(fmt.Sprintf("perceive:%d", len(b)))
	return b
}
func (r *recorder) Orient(ctx context.Context, o Orientation) { r.add("orient") }
func (r *recorder) Decide(ctx context.Context, it Item, o Orientation, p []Action) []Action {
	r.add("decide:" + it.ID)
	return p
}
func (r *recorder) Acted(ctx context.Context, a Action, err error) { r.add("acted:" + a.To) }
func (r *recorder) Reflect(ctx context.Context, x Reflection) {
	r.add("reflect")
	r.reflect <- x
}

func TestPhasesInOrderOnRunningLoop(t *testing.T) {
	c := newClock()
	em, _ := emitter(t, c.now)
	mem, db := openMemory(t, t.TempDir())
	defer db.Close()
	rec := &recorder{reflect: make(chan Reflection, 16)}
	act := &actions{}
	peers := []Peer{{Fingerprint: "p1", Capabilities: []string{"work"}}, {Fingerprint: "p2", Capabilities: []string{"music"}}}
	l, err := New(Config{Tick: time.Hour, Now: c.now, Events: em},
		Deps{Actor: act, Memory: mem, Sampler: &load{}, Delegate: rec, Peers: PeersFunc(func() []Peer { return peers })})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatalf("second Start: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Submit(ctx, Item{Kind: ItemHumanIntent, ID: "i1", Topic: "work", Goal: "request", Priority: "high"}); err != nil {
		t.Fatal(err)
	}
	var r Reflection
	select {
	case r = <-rec.reflect:
	case <-ctx.Done():
		t.Fatal("no cycle ran")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	want := []string{"perceive:1", "orient", "decide:i1", "acted:p1", "reflect"}
	rec.mu.Lock()
	got := rec.phases
	rec.mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("phases = %v, want %v", got, want)
	}
	if r.Processed != 1 || r.Acted != 1 || r.Recorded != 3 {
		t.Fatalf("reflection = %+v", r)
	}
	a := act.all()
	if len(a) != 1 || a[0].Kind != ActSendIntent || a[0].To != "p1" || a[0].Goal != "ask" || a[0].Priority != "high" || a[0].Decision != "decision:i1" {
		t.Fatalf("actions = %+v", a)
	}
	if err := l.Start(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
	if err := l.TrySubmit(Item{Kind: ItemMessage, ID: "late"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("TrySubmit after Close: %v", err)
	}
}

func TestSubmitBackpressure(t *testing.T) {
	h := newHarness(t, Config{InboxSize: 2, MaxBatch: 1}, nil)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := h.loop.TrySubmit(Item{Kind: ItemMessage, ID: fmt.Sprint("m", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.loop.TrySubmit(Item{Kind: ItemMessage, ID: "m2"}); !errors.Is(err, ErrBackpressure) {
		t.Fatalf("TrySubmit on full inbox: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := h.loop.Submit(cctx, Item{Kind: ItemMessage, ID: "m2"}); !errors.Is(err, ErrBackpressure) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Submit with done ctx on full inbox: %v", err)
	}
	// A blocked Submit goes through once a cycle makes room.
	res := make(chan error, 1)
	go func() { res <- h.loop.Submit(ctx, Item{Kind: ItemMessage, ID: "m3"}) }()
	h.loop.Cycle(ctx)
	select {
	case err := <-res:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blocked Submit not released by a cycle")
	}
	// A Submit blocked on a full inbox is released by Close.
	go func() { res <- h.loop.Submit(ctx, Item{Kind: ItemMessage, ID: "m4"}) }()
	h.loop.Close()
	select {
	case err := <-res:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Submit during Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blocked Submit not released by Close")
	}
	// Bad items are refused with ErrItem and an event.
	for _, it := range []Item{{ID: "x"}, {Kind: ItemMessage}, {Kind: ItemPeerIntent, ID: "y"}, {Kind: ItemIntentReply, ID: "z"}, {Kind: ItemMessage, ID: "c", Causes: make([]string, MaxCauses+1)}} {
		if err := h.loop.TrySubmit(it); !errors.Is(err, ErrItem) {
			t.Errorf("%+v: %v, want ErrItem", it, err)
		}
	}
	if h.ring.Count("web4.error") != 5 {
		t.Fatalf("error events = %d", h.ring.Count("web4.error"))
	}
}

// TestOverloadHysteresisAndDefer builds a real inbox backlog with high
// process load, checks that LRI crosses 80 and presence turns overloaded,
// that a peer intent is deferred meanwhile, that presence holds while LRI
// is between 65 and 80, and that it recovers below 65 — with OnPresence and
// events at each change.
func TestOverloadHysteresisAndDefer(t *testing.T) {
	type change struct {
		from, to envelope.Presence
		lri      int
	}
	var changes []change
	var h *harness
	cfg := Config{InboxSize: 10, MaxBatch: 1, OnPresence: func(o, n envelope.Presence, lri int) {
		// State is readable from the callback (no lock held against it).
		if p, l := h.loop.State(); p != n || l != lri {
			t.Errorf("State() in OnPresence = %v/%d, want %v/%d", p, l, n, lri)
		}
		changes = append(changes, change{o, n, lri})
	}}
	h = newHarness(t, cfg, nil)
	ctx := context.Background()
	h.load.set(1, 1) // CPU and memory saturated: 50 of the 100 points
	if err := h.loop.TrySubmit(Item{Kind: ItemPeerIntent, ID: "ask-1", From: "peerA", Topic: "work", Goal: "ask", Priority: "normal"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 9; i++ {
		if err := h.loop.TrySubmit(Item{Kind: ItemMessage, ID: fmt.Sprint("bg", i)}); err != nil {
			t.Fatal(err)
		}
	}
	var lris []int
	var pres []envelope.Presence
	for i := 0; i < 7; i++ {
		h.loop.Cycle(ctx)
		p, lri := h.loop.State()
		lris, pres = append(lris, lri), append(pres, p)
	}
	// Backlog 10,9,…,4 of 10 → LRI 80,77,74,71,68,65,62.
	wantLRI := []int{80, 77, 74, 71, 68, 65, 62}
	if fmt.Sprint(lris) != fmt.Sprint(wantLRI) {
		t.Fatalf("LRI = %v, want %v", lris, wantLRI)
	}
	for i, p := range pres {
		want := envelope.Overloaded
		if i == 6 {
			want = envelope.Diffuse
		}
		if p != want {
			t.Fatalf("cycle %d (lri %d): presence %v, want %v", i, lris[i], p, want)
		}
	}
	if len(changes) != 2 || changes[0] != (change{envelope.Diffuse, envelope.Overloaded, 80}) || changes[1] != (change{envelope.Overloaded, envelope.Diffuse, 62}) {
		t.Fatalf("OnPresence calls = %v", changes)
	}
	if h.ring.Count(EventPresence) != 2 {
		t.Fatalf("presence events = %d", h.ring.Count(EventPresence))
	}
	a := h.act.all()
	if len(a) != 1 || a[0].Kind != ActReplyIntent || a[0].Reply != Defer || a[0].To != "peerA" || a[0].ReplyTo != "ask-1" {
		t.Fatalf("reply while overloaded = %+v", a)
	}
	// Once recovered, a peer intent is accepted.
	h.load.set(0.1, 0.1)
	for h.loop.InboxDepth() > 0 {
		h.loop.Cycle(ctx)
	}
	if err := h.loop.TrySubmit(Item{Kind: ItemPeerIntent, ID: "ask-2", From: "peerA", Topic: "work"}); err != nil {
		t.Fatal(err)
	}
	h.loop.Cycle(ctx)
	a = h.act.all()
	if last := a[len(a)-1]; last.Reply != Accept || last.ReplyTo != "ask-2" {
		t.Fatalf("reply after recovery = %+v", last)
	}
	// The decision is explained in causal memory.
	chain, err := h.mem.Why("decision:ask-1", 0)
	if err != nil || len(chain) != 2 || chain[0].ID != "ask-1" || chain[1].Trace == nil || chain[1].Trace.Decision != "defer peer intent on work" {
		t.Fatalf("why(decision:ask-1) = %+v, %v", chain, err)
	}
}

// TestLatencyRaisesLRI: items that waited long count as load, and idle
// cycles let it decay.
func TestLatencyRaisesLRI(t *testing.T) {
	h := newHarness(t, Config{InboxSize: 100, LatencyAlpha: 1}, nil)
	ctx := context.Background()
	if err := h.loop.TrySubmit(Item{Kind: ItemMessage, ID: "old"}); err != nil {
		t.Fatal(err)
	}
	h.clock.add(10 * time.Second)
	h.loop.Cycle(ctx) // processes "old" with 10 s latency
	h.loop.Cycle(ctx) // orients with that latency
	if _, lri := h.loop.State(); lri != 20 {
		t.Fatalf("LRI with latency at the ceiling = %d, want 20", lri)
	}
	h.loop.Cycle(ctx)
	if _, lri := h.loop.State(); lri != 0 {
		t.Fatalf("LRI after an idle cycle = %d, want 0", lri)
	}
}

func TestPresenceFollowsIntents(t *testing.T) {
	h := newHarness(t, Config{IntentTTL: time.Minute}, nil)
	ctx := context.Background()
	submit := func(it Item) {
		t.Helper()
		if err := h.loop.TrySubmit(it); err != nil {
			t.Fatal(err)
		}
	}
	submit(Item{Kind: ItemHumanIntent, ID: "i1", Topic: "work"})
	h.loop.Cycle(ctx) // accepted during this cycle
	h.loop.Cycle(ctx)
	if p, _ := h.loop.State(); p != envelope.Focused {
		t.Fatalf("one intent: %v", p)
	}
	submit(Item{Kind: ItemHumanIntent, ID: "i2", Topic: "work"})
	h.loop.Cycle(ctx)
	h.loop.Cycle(ctx)
	if p, _ := h.loop.State(); p != envelope.Engaged {
		t.Fatalf("two intents: %v", p)
	}
	submit(Item{Kind: ItemIntentDone, ID: "d1", Ref: "i2"})
	h.loop.Cycle(ctx)
	h.loop.Cycle(ctx)
	if p, _ := h.loop.State(); p != envelope.Focused {
		t.Fatalf("after done: %v", p)
	}
	h.clock.add(time.Minute)
	h.loop.Cycle(ctx)
	if p, _ := h.loop.State(); p != envelope.Diffuse {
		t.Fatalf("after intent TTL: %v", p)
	}
}

func TestMissionDrift(t *testing.T) {
	peers := []Peer{{Fingerprint: "p1", Capabilities: []string{"*"}}}
	h := newHarness(t, Config{Mission: []string{"work"}, DriftWindow: 4, DriftThreshold: 0.5}, peers)
	ctx := context.Background()
	topics := []string{"work/papers", "work", "games", "music"} // drift 0.5: not above
	for i, tp := range topics {
		if err := h.loop.TrySubmit(Item{Kind: ItemHumanIntent, ID: fmt.Sprint("h", i), Topic: tp}); err != nil {
			t.Fatal(err)
		}
	}
	r := h.loop.Cycle(ctx)
	if r.Drift != 0.5 || r.Drifting || h.ring.Count(EventDrift) != 0 {
		t.Fatalf("at threshold: %+v", r)
	}
	if err := h.loop.TrySubmit(Item{Kind: ItemHumanIntent, ID: "h4", Topic: "sports"}); err != nil {
		t.Fatal(err)
	}
	r = h.loop.Cycle(ctx)
	if r.Drift != 0.75 || !r.Drifting {
		t.Fatalf("after off-mission intent: %+v", r)
	}
	ev, ok := h.ring.WaitFor(ctx.Done(), events.OfType(EventDrift))
	if !ok || ev.Data["drift"] != 0.75 || fmt.Sprint(ev.Causes) != "[h2 h3 h4]" {
		t.Fatalf("drift event = %+v", ev)
	}
	var req []Action
	for _, a := range h.act.all() {
		if a.Kind == ActRequestDecision {
			req = append(req, a)
		}
	}
	if len(req) != 1 || req[0].Topic != "mission" || len(req[0].Alternatives) < 2 {
		t.Fatalf("decision requests = %+v", req)
	}
	// The alarm is edge-triggered: more drift does not repeat it…
	if err := h.loop.TrySubmit(Item{Kind: ItemHumanIntent, ID: "h5", Topic: "travel"}); err != nil {
		t.Fatal(err)
	}
	h.loop.Cycle(ctx)
	if h.ring.Count(EventDrift) != 1 {
		t.Fatal("drift alarm repeated while still drifting")
	}
	// …until the agent is back on mission and drifts again.
	for i := 0; i < 4; i++ {
		_ = h.loop.TrySubmit(Item{Kind: ItemHumanIntent, ID: fmt.Sprint("w", i), Topic: "work"})
	}
	if r := h.loop.Cycle(ctx); r.Drifting {
		t.Fatalf("back on mission still drifting: %+v", r)
	}
	for i := 0; i < 3; i++ {
		_ = h.loop.TrySubmit(Item{Kind: ItemHumanIntent, ID: fmt.Sprint("x", i), Topic: "games"})
	}
	h.loop.Cycle(ctx)
	if h.ring.Count(EventDrift) != 2 {
		t.Fatalf("second drift episode: %d events", h.ring.Count(EventDrift))
	}
	// The drift decision is in causal memory, caused by the off-mission intents.
	chain, err := h.mem.Why(req[0].Decision, 0)
	if err != nil || chain[len(chain)-1].ID != req[0].Decision || len(chain) != 4 {
		t.Fatalf("why(drift) = %+v, %v", chain, err)
	}
}

func TestActorFailureIsRecorded(t *testing.T) {
	h := newHarness(t, Config{}, []Peer{{Fingerprint: "p1", Capabilities: []string{"*"}}})
	h.act.err = errors.New("consent held")
	if err := h.loop.TrySubmit(Item{Kind: ItemHumanIntent, ID: "i1", Topic: "t"}); err != nil {
		t.Fatal(err)
	}
	r := h.loop.Cycle(context.Background())
	if r.Failed != 1 || r.Acted != 0 || h.ring.Count(EventActFailed) != 1 {
		t.Fatalf("reflection %+v, act_failed events %d", r, h.ring.Count(EventActFailed))
	}
	n, err := h.mem.Get("decision:i1")
	if err != nil || len(n.Trace.Consequences) != 1 {
		t.Fatalf("decision node = %+v, %v", n, err)
	}
}

func TestNewRequiresDeps(t *testing.T) {
	if _, err := New(Config{}, Deps{}); err == nil {
		t.Fatal("missing Actor accepted")
	}
	if _, err := New(Config{}, Deps{Actor: &actions{}}); err == nil {
		t.Fatal("missing Memory accepted")
	}
}

// dropper is a Delegate whose Decide replaces the proposal.
type dropper struct {
	NopDelegate
	out []Action
}

func (d dropper) Decide(context.Context, Item, Orientation, []Action) []Action { return d.out }

func TestDecideHookOverridesPolicy(t *testing.T) {
	c := newClock()
	em, ring := emitter(t, c.now)
	mem, db := openMemory(t, t.TempDir())
	defer db.Close()
	act := &actions{}
	d := dropper{out: []Action{{Kind: 0, To: "bad"}, {Kind: ActSendIntent, To: "chosen", Topic: "x"}}}
	l, err := New(Config{Now: c.now, Events: em}, Deps{Actor: act, Memory: mem, Sampler: &load{}, Delegate: d})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.TrySubmit(Item{Kind: ItemPeerIntent, ID: "p1", From: "peer", Topic: "x"}); err != nil {
		t.Fatal(err)
	}
	l.Cycle(context.Background())
	a := act.all()
	if len(a) != 1 || a[0].To != "chosen" || a[0].Decision != "decision:p1" || a[0].ID == "" {
		t.Fatalf("actions = %+v", a)
	}
	if ring.Count("web4.error") != 1 {
		t.Fatal("invalid action from the hook not reported")
	}
}
