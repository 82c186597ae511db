package router

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/store"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/trust"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testPeerID = "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf"

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
	h := &harness{r: New(Config{Trust: ts, Self: fpSelf, Events: em}), rec: &recorder{}, ring: ring, check: chk}
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

// receive is what a transport does with a peer's bytes: validate with the
// router's gate as check 8, then route.
func (h *harness) receive(ctx context.Context, raw []byte) error {
	env, err := validator(h.r.Policy().Envelope).Validate(raw)
	if err != nil {
		return err
	}
	return h.r.Route(ctx, &Message{Env: env, Peer: env.Sender.Fingerprint, PeerID: testPeerID, Channel: "knowledge"})
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

// TestRoutingMatrix checks every row of SPEC §9, written out independently
// of the package's own table.
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
		typ, err := envelope.ParseType(row.typ)
		if err != nil {
			t.Fatal(err)
		}
		env := verified(t, typ, peerKey)
		msg := &Message{Env: env, Channel: "knowledge"}
		if row.local {
			msg.Local = true
		} else {
			msg.Peer, msg.PeerID = fpPeer, testPeerID
		}
		if err := h.r.Route(ctx, msg); err != nil {
			t.Fatalf("row %d %s: %v", i, row.typ, err)
		}
		got := h.rec.got[row.route]
		last := got[len(got)-1]
		if last.Env != env {
			t.Fatalf("%s: handler %s got %+v", row.typ, row.route, last)
		}
		ev, ok := h.ring.WaitFor(nil, func(e events.Event) bool { return e.Type == EventRouted && e.Subject == env.MsgID })
		if !ok || ev.Data["route"] != row.route.String() || ev.Data["type"] != row.typ || ev.Data["msg_id"] != env.MsgID {
			t.Fatalf("%s: routed event %+v", row.typ, ev)
		}
		if !row.local && ev.Data["peer"] != fpPeer {
			t.Fatalf("routed event lacks the peer: %+v", ev.Data)
		}
	}
	if h.rec.count() != len(rows) {
		t.Fatalf("%d handler calls, want %d", h.rec.count(), len(rows))
	}
	// Every envelope type has exactly one route.
	for _, typ := range allTypes() {
		if _, ok := RouteFor(typ); !ok {
			t.Errorf("type %s has no route", typ)
		}
	}
}

// TestGatingTable checks every (state, type) cell of SPEC §4.3 against an
// independently written expectation, through Allowed and through the path
// every transport takes (validator with the gate as check 8, then Route).
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
	ctx := context.Background()
	for st, list := range want {
		allowedSet := map[string]bool{}
		for _, n := range strings.Fields(list) {
			allowedSet[n] = true
		}
		h := newHarness(t, fixedTrust{states: map[string]trust.State{fpPeer: st}})
		for _, typ := range allTypes() {
			exp := allowedSet[typ.String()]
			if got := Allowed(st, typ.String(), true); got != exp {
				t.Errorf("Allowed(%s, %s) = %v, want %v", st, typ, got, exp)
			}
			if got := Allowed(st, strings.ReplaceAll(typ.String(), "_", ""), true); got != exp {
				t.Errorf("Allowed(%s, %s without underscores) = %v", st, typ, got)
			}
			before := h.rec.count()
			err := h.receive(ctx, sealed(t, typ, peerKey))
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
	}
	if Allowed(trust.State(0), "HELLO", true) || Allowed(trust.Trusted, "NOPE", true) {
		t.Fatal("invalid state or type allowed")
	}
}

// TestGateRunsOnce counts the trust lookups of one message's whole
// receive path: the gate is check 8 of validation and Route does not
// consult trust again.
func TestGateRunsOnce(t *testing.T) {
	var lookups atomic.Int64
	h := newHarness(t, fixedTrust{states: map[string]trust.State{fpPeer: trust.Trusted}, lookups: &lookups})
	for _, typ := range []envelope.Type{envelope.FactPropose, envelope.Intent, envelope.TrustAttest, envelope.LIPEvidence} {
		lookups.Store(0)
		if err := h.receive(context.Background(), sealed(t, typ, peerKey)); err != nil {
			t.Fatal(err)
		}
		if n := lookups.Load(); n != 1 {
			t.Fatalf("%s: %d trust lookups on the receive path, want 1", typ, n)
		}
	}
}

func TestUntrustedCooldown(t *testing.T) {
	if Allowed(trust.Untrusted, "HELLO", false) {
		t.Fatal("HELLO allowed inside the cooldown")
	}
	ts := fixedTrust{states: map[string]trust.State{fpPeer: trust.Untrusted}, cooled: map[string]bool{fpPeer: false}}
	h := newHarness(t, ts)
	err := h.receive(context.Background(), sealed(t, envelope.Hello, peerKey))
	if !errors.Is(err, ErrTrustViolation) || !strings.Contains(err.Error(), "cooldown") || h.rec.count() != 0 {
		t.Fatalf("inside cooldown: %v", err)
	}
	ts.cooled[fpPeer] = true
	if err := h.receive(context.Background(), sealed(t, envelope.Hello, peerKey)); err != nil {
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
	now := t0
	clock := func() time.Time { return now }
	l, err := trust.OpenLedger(db, trust.LedgerConfig{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, l)
	ctx := context.Background()
	route := func(typ envelope.Type) error { return h.receive(ctx, sealed(t, typ, peerKey)) }
	if err := route(envelope.FactPropose); !errors.Is(err, ErrTrustViolation) {
		t.Fatalf("unknown peer proposed a fact: %v", err)
	}
	if _, err := l.Apply(fpPeer, trust.BadSignature, "h1"); err != nil {
		t.Fatal(err)
	}
	if err := route(envelope.Hello); !errors.Is(err, ErrTrustViolation) {
		t.Fatalf("HELLO inside cooldown: %v", err)
	}
	now = now.Add(trust.DefaultCooldown)
	if err := route(envelope.Hello); err != nil {
		t.Fatalf("HELLO after cooldown: %v", err)
	}
	if _, err := l.Apply(fpPeer, trust.ValidHandshake, "h2"); err != nil {
		t.Fatal(err)
	}
	if err := route(envelope.FactPropose); err != nil {
		t.Fatalf("probing peer proposing: %v", err)
	}
	if err := route(envelope.TrustAttest); err != nil {
		t.Fatalf("probing peer attesting (proofs are checked by the receiver): %v", err)
	}
	if err := route(envelope.LIPFetch); !errors.Is(err, ErrTrustViolation) {
		t.Fatalf("probing peer asking us to fetch: %v", err)
	}
}

// TestLocalPolicy: the node's own side may inject HCP, LIP and its own
// signed envelopes; CIP signed by anyone else comes only from peers, and
// HCP never comes from a peer.
func TestLocalPolicy(t *testing.T) {
	h := newHarness(t, fixedTrust{states: map[string]trust.State{fpPeer: trust.Trusted}})
	p := h.r.Policy()
	cases := []struct {
		name  string
		typ   envelope.Type
		k     []byte
		local bool
		ok    bool
	}{
		{"human intent from the control API", envelope.HCPIntent, peerKey, true, true},
		{"own LIP evidence", envelope.LIPEvidence, peerKey, true, true},
		{"own fact proposal", envelope.FactPropose, selfKey, true, true},
		{"someone else's fact from the local side", envelope.FactPropose, peerKey, true, false},
		{"HCP from a trusted peer", envelope.HCPIntent, peerKey, false, false},
	}
	for _, c := range cases {
		gate := p.Envelope
		if c.local {
			gate = p.Local
		}
		env, err := validator(gate).Validate(sealed(t, c.typ, c.k))
		if c.ok != (err == nil) {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err != nil && !errors.Is(err, ErrTrustViolation) {
			t.Fatalf("%s: %v, want a trust violation", c.name, err)
		}
		if err == nil {
			if err := h.r.Route(context.Background(), &Message{Env: env, Local: true, Channel: "local"}); err != nil {
				t.Fatalf("%s: route: %v", c.name, err)
			}
		}
	}
	if err := p.Local(nil); !errors.Is(err, ErrInvalidMessage) {
		t.Fatal("nil envelope")
	}
}

func TestRouteErrors(t *testing.T) {
	h := newHarness(t, fixedTrust{states: map[string]trust.State{fpPeer: trust.Trusted}})
	ctx := context.Background()
	unverified, err := envelope.Parse(sealed(t, envelope.Intent, peerKey))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		msg  *Message
		want error
	}{
		{"nil message", nil, ErrInvalidMessage},
		{"no envelope", &Message{Peer: fpPeer}, ErrInvalidMessage},
		{"envelope that skipped validation", &Message{Env: unverified, Peer: fpPeer}, ErrInvalidMessage},
		{"remote without peer", &Message{Env: verified(t, envelope.Hello, peerKey)}, ErrInvalidMessage},
	}
	for _, c := range cases {
		if err := h.r.Route(ctx, c.msg); !errors.Is(err, c.want) {
			t.Fatalf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if h.rec.count() != 0 || errorEvents(h.ring, KindInvalid) != len(cases) {
		t.Fatalf("a refused message reached a handler, or was not reported (%d events)", errorEvents(h.ring, KindInvalid))
	}
	// Relayed gossip: the routed event names both the relay and the signer.
	env := verified(t, envelope.FactConfirm, peerKey)
	if err := h.r.Route(ctx, &Message{Env: env, Peer: fpRelay}); err != nil {
		t.Fatalf("relayed: %v", err)
	}
	ev, _ := h.ring.WaitFor(nil, func(e events.Event) bool { return e.Type == EventRouted && e.Subject == env.MsgID })
	if ev.Data["sender"] != fpPeer || ev.Data["peer"] != fpRelay {
		t.Fatalf("relayed routed event %+v", ev.Data)
	}

	// Cancelled context: nothing routed.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := h.r.Route(cctx, &Message{Env: verified(t, envelope.Hello, peerKey), Peer: fpPeer}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}

	// Handler failure is returned wrapped, with an error event caused by the routing.
	boom := errors.New("boom")
	h.rec.fail = boom
	env = verified(t, envelope.Intent, peerKey)
	err = h.r.Route(ctx, &Message{Env: env, Peer: fpPeer})
	if !errors.Is(err, boom) {
		t.Fatalf("handler error: %v", err)
	}
	fe, ok := h.ring.WaitFor(nil, func(e events.Event) bool { return e.Type == "web4.error" && e.Data["kind"] == KindHandlerFailed })
	routed, _ := h.ring.WaitFor(nil, func(e events.Event) bool { return e.Type == EventRouted && e.Subject == env.MsgID })
	if !ok || len(fe.Causes) != 1 || fe.Causes[0] != routed.ID {
		t.Fatalf("handler_failed event %+v", fe)
	}
}

func TestRegister(t *testing.T) {
	ring := events.NewRing(16)
	chk := &events.CheckingSink{Next: ring}
	r := New(Config{Trust: fixedTrust{states: map[string]trust.State{fpPeer: trust.Trusted}}, Events: events.NewEmitter(testPeerID, chk, nil)})
	ctx := context.Background()
	intent := func() *Message { return &Message{Env: verified(t, envelope.Intent, peerKey), Peer: fpPeer} }
	if err := r.Route(ctx, intent()); !errors.Is(err, ErrNoHandler) {
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
	if err := r.Route(ctx, intent()); err != nil || calls != 1 {
		t.Fatalf("route: %v calls=%d", err, calls)
	}
	unreg()
	unreg()
	if err := r.Route(ctx, intent()); !errors.Is(err, ErrNoHandler) || calls != 1 {
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
	env := verified(t, envelope.FactPropose, peerKey)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				_ = h.r.Route(context.Background(), &Message{Env: env, Peer: fpPeer})
			}
		}()
	}
	wg.Wait()
	if h.rec.count() != 400 {
		t.Fatalf("%d calls", h.rec.count())
	}
}

// FuzzRoute drives the whole receive path with any type, trust state and
// side: a handler runs exactly when validation (with the gate) passed, and
// never for a type the state may not send.
func FuzzRoute(f *testing.F) {
	for i := range allTypes() {
		f.Add(uint8(i), uint8(4), false)
	}
	f.Add(uint8(10), uint8(3), true)
	all := allTypes()
	f.Fuzz(func(t *testing.T, ti uint8, st uint8, local bool) {
		typ := all[int(ti)%len(all)]
		state := trust.State(st % 7)
		called := false
		r := New(Config{Trust: fixedTrust{states: map[string]trust.State{fpPeer: state}}, Self: fpSelf})
		for _, rt := range Routes() {
			if _, err := r.Register(rt, HandlerFunc(func(_ context.Context, m *Message) error {
				called = true
				if m.Env.Type != typ {
					t.Fatalf("handler got %s for %s", m.Env.Type, typ)
				}
				return nil
			})); err != nil {
				t.Fatal(err)
			}
		}
		gate := r.Policy().Envelope
		if local {
			gate = r.Policy().Local
		}
		env, err := validator(gate).Validate(sealed(t, typ, peerKey))
		if err == nil {
			err = r.Route(context.Background(), &Message{Env: env, Peer: fpPeer, Local: local})
		}
		if (err == nil) != called {
			t.Fatalf("err=%v called=%v", err, called)
		}
		if err == nil && !local && !Allowed(state, typ.String(), true) {
			t.Fatalf("routed %s from %s", typ, state)
		}
		if err == nil && local && !allowedLocal(typ) {
			t.Fatalf("routed %s from the local side", typ)
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
	for _, typ := range []envelope.Type{envelope.FactPropose, envelope.LIPEvidence, envelope.FactPropose} {
		if err := r.Route(ctx, &Message{Env: verified(t, typ, peerKey), Peer: fpPeer}); err != nil {
			t.Fatal(err)
		}
	}
	if facts != 2 || lips != 1 {
		t.Fatalf("facts=%d lips=%d", facts, lips)
	}
	if err := r.Route(ctx, &Message{Env: verified(t, envelope.DecisionShare, peerKey), Peer: fpPeer}); !errors.Is(err, ErrNoHandler) {
		t.Fatalf("unmapped type: %v", err)
	}
	if errorEvents(ring, KindHandlerFailed) != 1 || len(chk.Failures()) != 0 {
		t.Fatal("unmapped type not reported")
	}
}
