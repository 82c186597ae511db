package router

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/store"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/trust"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testPeerID = "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf"
	fpPeer     = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	fpRelay    = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// fixedTrust is a TrustSource with fixed answers.
type fixedTrust struct {
	states map[string]trust.State
	cooled map[string]bool
}

func (f fixedTrust) Standing(fp string) (trust.State, bool) {
	st, ok := f.states[fp]
	if !ok {
		return trust.Unknown, true
	}
	c, ok := f.cooled[fp]
	if !ok {
		c = true
	}
	return st, c
}

// recorder is a handler per route that remembers what it got.
type recorder struct {
	mu   sync.Mutex
	got  map[Route][]Message
	fail error
}

func (r *recorder) handler(route Route) Handler {
	return HandlerFunc(func(ctx context.Context, m *Message) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.got == nil {
			r.got = map[Route][]Message{}
		}
		r.got[route] = append(r.got[route], *m)
		return r.fail
	})
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ms := range r.got {
		n += len(ms)
	}
	return n
}

type harness struct {
	r     *Router
	rec   *recorder
	ring  *events.Ring
	check *events.CheckingSink
}

func newHarness(t *testing.T, ts TrustSource) *harness {
	t.Helper()
	ring := events.NewRing(512)
	chk := &events.CheckingSink{Next: ring}
	em := events.NewEmitter(testPeerID, chk, nil)
	h := &harness{r: New(Config{Trust: ts, Events: em}), rec: &recorder{}, ring: ring, check: chk}
	for _, rt := range Routes() {
		if _, err := h.r.Register(rt, h.rec.handler(rt)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if f := chk.Failures(); len(f) != 0 {
			t.Errorf("schema failures: %v", f)
		}
	})
	return h
}

func errorEvents(ring *events.Ring, kind string) int {
	n := 0
	for _, e := range ring.Events() {
		if e.Type == "web4.error" && e.Data["kind"] == kind && e.Data["area"] == "router" {
			n++
		}
	}
	return n
}

// TestRoutingMatrix checks every row of SPEC §9, in both spellings, written
// out independently of the package's own table.
func TestRoutingMatrix(t *testing.T) {
	rows := []struct {
		typ   string
		route Route
		local bool // HCP comes from the local human session
	}{
		{"HELLO", Handshake, false},
		{"VERIFY", Handshake, false},
		{"STATE_UPDATE", PeerState, false},
		{"INTENT", AgentLoop, false},
		{"FACT_PROPOSE", Knowledge, false},
		{"FACT_CHALLENGE", Knowledge, false},
		{"FACT_CONFIRM", Knowledge, false},
		{"FACT_REJECT", Knowledge, false},
		{"DECISION_SHARE", Knowledge, false},
		{"TRUST_ATTEST", TrustPropagation, false},
		{"HCP_INTENT", ConsentGate, true},
		{"HCP_DECISION", ConsentGate, true},
		{"HCP_FEEDBACK", ConsentGate, true},
		{"HCP_CONTEXT", ConsentGate, true},
		{"HCP_HELLO", HumanState, true},
		{"HCP_STATE_UPDATE", HumanState, true},
		{"LIP_FETCH", LIPFetcher, false},
		{"LIP_EVIDENCE", Knowledge, false},
		{"LIP_CONFLICT", Knowledge, false},
		{"LIP_ACCEPT", Knowledge, false},
		{"LIP_REJECT", Knowledge, false},
	}
	if len(rows) != len(Matrix()) {
		t.Fatalf("matrix has %d rows, test lists %d", len(Matrix()), len(rows))
	}
	h := newHarness(t, fixedTrust{states: map[string]trust.State{fpPeer: trust.Trusted}})
	ctx := context.Background()
	for i, row := range rows {
		for j, spelling := range []string{row.typ, strings.ReplaceAll(row.typ, "_", "")} {
			msg := &Message{Type: spelling, MsgID: "m-" + row.typ + string(rune('a'+j)), Channel: "knowledge", Raw: []byte("{}")}
			if row.local {
				msg.Local = true
			} else {
				msg.Peer, msg.PeerID = fpPeer, testPeerID
			}
			if err := h.r.Route(ctx, msg); err != nil {
				t.Fatalf("row %d %s: %v", i, spelling, err)
			}
			got := h.rec.got[row.route]
			last := got[len(got)-1]
			if last.MsgID != msg.MsgID || last.Kind.String() != row.typ || string(last.Raw) != "{}" {
				t.Fatalf("%s: handler %s got %+v", spelling, row.route, last)
			}
			ev, ok := h.ring.WaitFor(nil, func(e events.Event) bool { return e.Type == EventRouted && e.Subject == msg.MsgID })
			if !ok || ev.Data["route"] != row.route.String() || ev.Data["type"] != row.typ || ev.Data["msg_id"] != msg.MsgID {
				t.Fatalf("%s: routed event %+v", spelling, ev)
			}
			if !row.local && ev.Data["peer"] != fpPeer {
				t.Fatalf("routed event lacks the peer: %+v", ev.Data)
			}
		}
	}
	if h.rec.count() != 2*len(rows) {
		t.Fatalf("%d handler calls, want %d", h.rec.count(), 2*len(rows))
	}
	// Every envelope type has exactly one route.
	for _, f := range []envelope.Family{envelope.CIP, envelope.HCP, envelope.LIP} {
		for _, typ := range envelope.Types(f) {
			if _, ok := RouteFor(typ); !ok {
				t.Errorf("type %s has no route", typ)
			}
		}
	}
}

// TestGatingTable checks every (state, type) cell of SPEC §4.3 against an
// independently written expectation, through Allowed and through Route.
func TestGatingTable(t *testing.T) {
	probing := "HELLO VERIFY STATE_UPDATE INTENT FACT_PROPOSE FACT_CHALLENGE FACT_CONFIRM FACT_REJECT DECISION_SHARE TRUST_ATTEST LIP_EVIDENCE LIP_CONFLICT LIP_ACCEPT LIP_REJECT"
	trustedAll := "HELLO VERIFY INTENT FACT_PROPOSE FACT_CHALLENGE FACT_CONFIRM FACT_REJECT DECISION_SHARE STATE_UPDATE TRUST_ATTEST LIP_FETCH LIP_EVIDENCE LIP_CONFLICT LIP_ACCEPT LIP_REJECT"
	want := map[trust.State]string{
		trust.Unknown:     "HELLO VERIFY",
		trust.Untrusted:   "HELLO VERIFY", // after cooldown
		trust.Probing:     probing,
		trust.Trusted:     trustedAll,
		trust.Blacklisted: "",
	}
	var all []envelope.Type
	for _, f := range []envelope.Family{envelope.CIP, envelope.HCP, envelope.LIP} {
		all = append(all, envelope.Types(f)...)
	}
	ctx := context.Background()
	for st, list := range want {
		allowedSet := map[string]bool{}
		for _, n := range strings.Fields(list) {
			allowedSet[n] = true
		}
		h := newHarness(t, fixedTrust{states: map[string]trust.State{fpPeer: st}})
		for _, typ := range all {
			exp := allowedSet[typ.String()]
			if got := Allowed(st, typ.String(), true); got != exp {
				t.Errorf("Allowed(%s, %s) = %v, want %v", st, typ, got, exp)
			}
			if got := Allowed(st, strings.ReplaceAll(typ.String(), "_", ""), true); got != exp {
				t.Errorf("Allowed(%s, %s without underscores) = %v", st, typ, got)
			}
			before := h.rec.count()
			err := h.r.Route(ctx, &Message{Peer: fpPeer, Type: typ.String(), MsgID: "g-" + typ.String()})
			if exp {
				if err != nil || h.rec.count() != before+1 {
					t.Errorf("%s %s: routed err=%v", st, typ, err)
				}
				continue
			}
			if !errors.Is(err, ErrTrustViolation) || !errors.Is(err, envelope.ErrTrustViolation) {
				t.Errorf("%s %s: err %v, want trust violation", st, typ, err)
			}
			if h.rec.count() != before {
				t.Errorf("%s %s: handler called despite the gate", st, typ)
			}
		}
		denied := len(all) - len(allowedSet)
		if n := errorEvents(h.ring, KindTrustViolation); n != denied {
			t.Errorf("%s: %d trust_violation events, want %d", st, n, denied)
		}
	}
	if Allowed(trust.State(0), "HELLO", true) || Allowed(trust.Trusted, "NOPE", true) {
		t.Fatal("invalid state or type allowed")
	}
}

func TestUntrustedCooldown(t *testing.T) {
	if Allowed(trust.Untrusted, "HELLO", false) {
		t.Fatal("HELLO allowed inside the cooldown")
	}
	ts := fixedTrust{states: map[string]trust.State{fpPeer: trust.Untrusted}, cooled: map[string]bool{fpPeer: false}}
	h := newHarness(t, ts)
	err := h.r.Route(context.Background(), &Message{Peer: fpPeer, Type: "HELLO", MsgID: "c1"})
	if !errors.Is(err, ErrTrustViolation) || !strings.Contains(err.Error(), "cooldown") || h.rec.count() != 0 {
		t.Fatalf("inside cooldown: %v", err)
	}
	ts.cooled[fpPeer] = true
	if err := h.r.Route(context.Background(), &Message{Peer: fpPeer, Type: "HELLO", MsgID: "c2"}); err != nil {
		t.Fatalf("after cooldown: %v", err)
	}
}

// TestWithLedger wires the real trust.Ledger as the gate's source: a peer
// that fails a handshake is kept out until its cooldown is over.
func TestWithLedger(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	l, err := trust.OpenLedger(db, trust.LedgerConfig{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, l)
	ctx := context.Background()
	route := func(typ string) error { return h.r.Route(ctx, &Message{Peer: fpPeer, Type: typ, MsgID: typ}) }
	if err := route("FACT_PROPOSE"); !errors.Is(err, ErrTrustViolation) {
		t.Fatalf("unknown peer proposed a fact: %v", err)
	}
	if _, err := l.Apply(fpPeer, trust.BadSignature, "h1"); err != nil {
		t.Fatal(err)
	}
	if err := route("HELLO"); !errors.Is(err, ErrTrustViolation) {
		t.Fatalf("HELLO inside cooldown: %v", err)
	}
	now = now.Add(trust.DefaultCooldown)
	if err := route("HELLO"); err != nil {
		t.Fatalf("HELLO after cooldown: %v", err)
	}
	if _, err := l.Apply(fpPeer, trust.ValidHandshake, "h2"); err != nil {
		t.Fatal(err)
	}
	if err := route("FACT_PROPOSE"); err != nil {
		t.Fatalf("probing peer proposing: %v", err)
	}
	if err := route("TRUST_ATTEST"); err != nil {
		t.Fatalf("probing peer attesting (proofs are checked by the receiver): %v", err)
	}
	if err := route("LIP_FETCH"); !errors.Is(err, ErrTrustViolation) {
		t.Fatalf("probing peer asking us to fetch: %v", err)
	}
}

func TestRouteErrors(t *testing.T) {
	ts := fixedTrust{states: map[string]trust.State{fpPeer: trust.Trusted, fpRelay: trust.Blacklisted}}
	h := newHarness(t, ts)
	ctx := context.Background()

	// Unknown type: error event, no handler call.
	for _, typ := range []string{"", "FACT-PROPOSE", "hello", "HCP_FOO", strings.Repeat("X", 10000)} {
		err := h.r.Route(ctx, &Message{Peer: fpPeer, Type: typ, MsgID: "u"})
		if !errors.Is(err, ErrUnknownType) {
			t.Fatalf("type %.20q: %v", typ, err)
		}
	}
	if n := errorEvents(h.ring, KindUnknownType); n != 5 || h.rec.count() != 0 {
		t.Fatalf("%d unknown_type events, %d handler calls", n, h.rec.count())
	}
	for _, e := range h.ring.Events() {
		if s, _ := e.Data["type"].(string); len(s) > maxEventString+4 {
			t.Fatalf("event carries a %d-byte type", len(s))
		}
	}

	cases := []struct {
		name string
		msg  *Message
		want error
	}{
		{"nil message", nil, ErrInvalidMessage},
		{"remote without peer", &Message{Type: "HELLO"}, ErrInvalidMessage},
		{"CIP from local side", &Message{Local: true, Type: "FACT_PROPOSE"}, ErrTrustViolation},
		{"HCP from a trusted peer", &Message{Peer: fpPeer, Type: "HCP_INTENT"}, ErrTrustViolation},
		{"gossip relayed by blacklisted peer", &Message{Peer: fpRelay, Sender: fpPeer, Type: "FACT_CONFIRM"}, ErrTrustViolation},
		{"gossip from blacklisted sender", &Message{Peer: fpPeer, Sender: fpRelay, Type: "FACT_CONFIRM"}, ErrTrustViolation},
	}
	for _, c := range cases {
		if err := h.r.Route(ctx, c.msg); !errors.Is(err, c.want) {
			t.Fatalf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if h.rec.count() != 0 {
		t.Fatal("a rejected message reached a handler")
	}
	// Relayed gossip from a trusted sender through an unknown relay is fine.
	if err := h.r.Route(ctx, &Message{Peer: "cccc", Sender: fpPeer, Type: "FACT_CONFIRM", MsgID: "r1"}); err != nil {
		t.Fatalf("relayed: %v", err)
	}
	ev, _ := h.ring.WaitFor(nil, func(e events.Event) bool { return e.Type == EventRouted && e.Subject == "r1" })
	if ev.Data["sender"] != fpPeer || ev.Data["peer"] != "cccc" {
		t.Fatalf("relayed routed event %+v", ev.Data)
	}

	// Cancelled context: nothing routed.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := h.r.Route(cctx, &Message{Peer: fpPeer, Type: "HELLO"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}

	// Handler failure is returned wrapped, with an error event caused by the routing.
	boom := errors.New("boom")
	h.rec.fail = boom
	err := h.r.Route(ctx, &Message{Peer: fpPeer, Type: "INTENT", MsgID: "f1"})
	if !errors.Is(err, boom) {
		t.Fatalf("handler error: %v", err)
	}
	fe, ok := h.ring.WaitFor(nil, func(e events.Event) bool { return e.Type == "web4.error" && e.Data["kind"] == KindHandlerFailed })
	routed, _ := h.ring.WaitFor(nil, func(e events.Event) bool { return e.Type == EventRouted && e.Subject == "f1" })
	if !ok || len(fe.Causes) != 1 || fe.Causes[0] != routed.ID {
		t.Fatalf("handler_failed event %+v", fe)
	}
}

func TestRegister(t *testing.T) {
	ring := events.NewRing(16)
	chk := &events.CheckingSink{Next: ring}
	r := New(Config{Trust: fixedTrust{states: map[string]trust.State{fpPeer: trust.Trusted}}, Events: events.NewEmitter(testPeerID, chk, nil)})
	ctx := context.Background()
	if err := r.Route(ctx, &Message{Peer: fpPeer, Type: "INTENT", MsgID: "n1"}); !errors.Is(err, ErrNoHandler) {
		t.Fatalf("no handler: %v", err)
	}
	if errorEvents(ring, KindNoHandler) != 1 || ring.Count(EventRouted) != 0 {
		t.Fatal("no_handler not reported")
	}
	calls := 0
	h := HandlerFunc(func(context.Context, *Message) error { calls++; return nil })
	unreg, err := r.Register(AgentLoop, h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Register(AgentLoop, h); !errors.Is(err, ErrDuplicateHandler) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := r.Register(Route(0), h); err == nil {
		t.Fatal("registered route 0")
	}
	if _, err := r.Register(Knowledge, nil); err == nil {
		t.Fatal("registered nil handler")
	}
	if err := r.Route(ctx, &Message{Peer: fpPeer, Type: "INTENT", MsgID: "n2"}); err != nil || calls != 1 {
		t.Fatalf("route: %v calls=%d", err, calls)
	}
	unreg()
	unreg()
	if err := r.Route(ctx, &Message{Peer: fpPeer, Type: "INTENT", MsgID: "n3"}); !errors.Is(err, ErrNoHandler) || calls != 1 {
		t.Fatalf("after unregister: %v", err)
	}
	if f := chk.Failures(); len(f) != 0 {
		t.Fatal(f)
	}
	for r := Route(0); r <= numRoutes; r++ {
		if r.Valid() == strings.HasPrefix(r.String(), "invalid") {
			t.Fatalf("route %d: %s", r, r)
		}
	}
}

func TestPolicyEnvelope(t *testing.T) {
	p := Policy{Trust: fixedTrust{states: map[string]trust.State{fpPeer: trust.Probing}}}
	env := &envelope.Envelope{Family: envelope.CIP, Type: envelope.FactConfirm, Sender: envelope.Sender{Fingerprint: fpPeer}}
	if err := p.Envelope(env); err != nil {
		t.Fatalf("probing confirm: %v", err)
	}
	env.Family, env.Type = envelope.LIP, envelope.LIPFetch
	if err := p.Envelope(env); !errors.Is(err, envelope.ErrTrustViolation) {
		t.Fatalf("probing fetch request: %v", err)
	}
	if err := p.Envelope(nil); !errors.Is(err, ErrInvalidMessage) {
		t.Fatal("nil envelope")
	}
	if err := (Policy{}).Check(fpPeer, envelope.Hello); err != nil {
		t.Fatalf("nil trust source treats peers as unknown: %v", err)
	}
}

func TestConcurrentRouting(t *testing.T) {
	h := newHarness(t, fixedTrust{states: map[string]trust.State{fpPeer: trust.Trusted}})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				_ = h.r.Route(context.Background(), &Message{Peer: fpPeer, Type: "FACT_PROPOSE", MsgID: "x"})
			}
		}()
	}
	wg.Wait()
	if h.rec.count() != 400 {
		t.Fatalf("%d calls", h.rec.count())
	}
}

func FuzzRoute(f *testing.F) {
	for _, s := range []string{"HELLO", "FACTPROPOSE", "HCP_INTENT", "LIP_FETCH", "", "FACT__PROPOSE", "\xff"} {
		f.Add(s, uint8(4), false)
	}
	f.Fuzz(func(t *testing.T, typ string, st uint8, local bool) {
		state := trust.State(st % 7)
		ts := fixedTrust{states: map[string]trust.State{fpPeer: state}}
		called := false
		r := New(Config{Trust: ts})
		for _, rt := range Routes() {
			if _, err := r.Register(rt, HandlerFunc(func(_ context.Context, m *Message) error {
				called = true
				if !m.Kind.Valid() {
					t.Fatalf("handler got invalid kind for %q", typ)
				}
				return nil
			})); err != nil {
				t.Fatal(err)
			}
		}
		msg := &Message{Peer: fpPeer, Type: typ, Local: local}
		err := r.Route(context.Background(), msg)
		if (err == nil) != called {
			t.Fatalf("err=%v called=%v", err, called)
		}
		if err == nil && !local && !Allowed(state, typ, true) {
			t.Fatalf("routed %q from %s", typ, state)
		}
		if _, perr := ParseType(typ); perr != nil && !errors.Is(err, ErrUnknownType) {
			t.Fatalf("unknown %q: %v", typ, err)
		}
	})
}

func TestTypeMux(t *testing.T) {
	ring := events.NewRing(16)
	chk := &events.CheckingSink{Next: ring}
	r := New(Config{Trust: fixedTrust{states: map[string]trust.State{fpPeer: trust.Trusted}}, Events: events.NewEmitter(testPeerID, chk, nil)})
	var facts, lips int
	mux := TypeMux{
		envelope.FactPropose: HandlerFunc(func(context.Context, *Message) error { facts++; return nil }),
		envelope.LIPEvidence: HandlerFunc(func(context.Context, *Message) error { lips++; return nil }),
	}
	if _, err := r.Register(Knowledge, mux); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, typ := range []string{"FACT_PROPOSE", "LIPEVIDENCE", "FACT_PROPOSE"} {
		if err := r.Route(ctx, &Message{Peer: fpPeer, Type: typ, MsgID: typ}); err != nil {
			t.Fatal(err)
		}
	}
	if facts != 2 || lips != 1 {
		t.Fatalf("facts=%d lips=%d", facts, lips)
	}
	if err := r.Route(ctx, &Message{Peer: fpPeer, Type: "DECISION_SHARE", MsgID: "d"}); !errors.Is(err, ErrNoHandler) {
		t.Fatalf("unmapped type: %v", err)
	}
	if errorEvents(ring, KindHandlerFailed) != 1 || len(chk.Failures()) != 0 {
		t.Fatal("unmapped type not reported")
	}
}
