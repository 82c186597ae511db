package peers

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"go.uber.org/goleak"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/lifecycle"
	"github.com/web4p2p/web4p2p/internal/store"
	"github.com/web4p2p/web4p2p/node/rtt"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/router"
	"github.com/web4p2p/web4p2p/trust"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// tpeer is one peers.Runtime on a real libp2p host, wired as the node
// wires it (ledger, router, direct validator, shared replay cache).
type tpeer struct {
	h      host.Host
	r      *Runtime
	router *router.Router
	ring   *events.Ring
	fp     string
	agent  *testAgent
}

// testAgent is an Agent whose INTENT answers the test controls: a request
// with topic "slow" waits for release; anything else is accepted at once.
type testAgent struct {
	entered chan string
	release chan struct{}
}

func (a *testAgent) Presence() (envelope.Presence, int) { return envelope.Diffuse, 0 }

func (a *testAgent) DecideIntent(ctx context.Context, _ string, req cip.IntentRequest) (cip.Decision, string) {
	if req.Topic != "slow" {
		return cip.Accept, "fast"
	}
	a.entered <- req.Topic
	select {
	case <-a.release:
		return cip.Accept, "slow"
	case <-ctx.Done():
		return cip.Defer, "closing"
	}
}

func newPeer(t *testing.T) *tpeer {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h, err := libp2p.New(libp2p.Identity(k),
		libp2p.Security(noise.ID, noise.New), libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.NoTransports, libp2p.Transport(tcp.NewTCPTransport),
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay(), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	ring := events.NewRing(4096)
	em := events.NewEmitter(h.ID().String(), &events.CheckingSink{Next: ring}, nil)
	ledger, err := trust.OpenLedger(db, trust.LedgerConfig{Events: em})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := k.Raw()
	key := ed25519.PrivateKey(raw)
	fp := envelope.Fingerprint(key.Public().(ed25519.PublicKey))
	rtr := router.New(router.Config{Trust: ledger, Self: fp, Events: em})
	replay := envelope.NewReplayCache(envelope.DefaultReplayWindow, envelope.DefaultReplayCapacity)
	val := envelope.NewValidator(envelope.Config{LocalFingerprint: fp, Replay: replay, Policy: rtr.Policy().Envelope, Events: em})
	g := lifecycle.New(context.Background())
	p := &tpeer{h: h, router: rtr, ring: ring, fp: fp, agent: &testAgent{entered: make(chan string, 16), release: make(chan struct{})}}
	p.r, err = New(Config{}, Deps{Host: h, Trust: ledger, Router: rtr, Validator: val, Replay: replay, Events: em, Group: g,
		Sign: func() *cip.Builder { return &cip.Builder{Key: key, AgentID: "t-" + fp[:6], Capabilities: Capabilities} }})
	if err != nil {
		t.Fatal(err)
	}
	p.r.BindAgent(p.agent)
	if err := p.r.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		close(p.agent.release)
		g.Close()
		_ = p.r.Close()
		_ = h.Close()
		_ = ledger.Flush()
		_ = db.Close()
	})
	return p
}

// pair connects a to b and waits until both sides are past the handshake.
func pair(t *testing.T, ctx context.Context) (a, b *tpeer) {
	t.Helper()
	a, b = newPeer(t), newPeer(t)
	if err := a.h.Connect(ctx, peer.AddrInfo{ID: b.h.ID(), Addrs: b.h.Addrs()}); err != nil {
		t.Fatal(err)
	}
	if err := a.r.WaitReady(ctx, b.h.ID()); err != nil {
		t.Fatal(err)
	}
	if err := b.r.WaitReady(ctx, a.h.ID()); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// A knowledge handler that stalls holds up only the knowledge channel: the
// peer's STATE_UPDATE (state channel) reaches the peer state table and its
// INTENT (control channel) is answered while the handler is stuck.
func TestStalledKnowledgeHandlerDoesNotDelayControlOrState(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b := pair(t, ctx)
	entered, release := make(chan string, 4), make(chan struct{})
	if _, err := b.router.Register(router.Knowledge, router.HandlerFunc(func(ctx context.Context, m *router.Message) error {
		entered <- m.Env.MsgID
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	defer close(release)
	s := a.r.session(b.h.ID())
	fact, err := a.r.deps.Sign().FactPropose(a.r.cipPeer(s), cip.FactPropose{Fact: cip.Fact{Statement: "the sky is blue", Domain: "test", Confidence: 0.9},
		DMPTrace: cip.DMPTrace{DecisionID: "d1", Steps: []string{"looked up"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.r.SendEnvelope(ctx, b.h.ID(), rtt.Knowledge, fact.Wire); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-entered:
		if id != fact.Env.MsgID {
			t.Fatalf("knowledge handler got %s, want %s", id, fact.Env.MsgID)
		}
	case <-ctx.Done():
		t.Fatal("the knowledge handler never ran")
	}
	// The knowledge dispatcher is now stuck. State and control are not.
	if err := a.r.SendState(ctx, b.h.ID(), envelope.Focused, 42); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.ring.WaitFor(ctx.Done(), func(e events.Event) bool {
		return e.Type == "web4.cip.state_update" && e.Data["lri"] == 42
	}); !ok {
		t.Fatal("STATE_UPDATE not handled while the knowledge handler is stalled")
	}
	if in, ok := b.r.Info(a.h.ID()); !ok || in.Presence != "focused" || in.LRI != 42 {
		t.Fatalf("peer state table: %+v %v", in, ok)
	}
	rep, err := a.r.SendIntent(ctx, b.h.ID(), cip.IntentRequest{Goal: cip.GoalAsk, Topic: "weather", Priority: cip.PriorityNormal})
	if err != nil || rep.Decision != cip.Accept {
		t.Fatalf("INTENT while the knowledge handler is stalled: %+v %v", rep, err)
	}
}

// An INTENT the agent takes long to answer does not hold up the control
// channel: a later INTENT is answered first. Past MaxIntentsInFlight, a
// request is deferred at once ("busy").
func TestIntentsAreAnsweredAsynchronously(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b := pair(t, ctx)
	slow := cip.IntentRequest{Goal: cip.GoalAsk, Topic: "slow", Priority: cip.PriorityNormal}
	var wg sync.WaitGroup
	slowReplies := make(chan cip.IntentReply, MaxIntentsInFlight)
	for range MaxIntentsInFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep, err := a.r.SendIntent(ctx, b.h.ID(), slow)
			if err != nil {
				t.Error(err)
				return
			}
			slowReplies <- rep
		}()
	}
	for range MaxIntentsInFlight {
		select {
		case <-b.agent.entered:
		case <-ctx.Done():
			t.Fatal("the agent was not asked")
		}
	}
	// All of b's intent slots for a are taken: the next request is
	// deferred without waiting for the agent.
	rep, err := a.r.SendIntent(ctx, b.h.ID(), cip.IntentRequest{Goal: cip.GoalAsk, Topic: "weather", Priority: cip.PriorityNormal})
	if err != nil || rep.Decision != cip.Defer || rep.Reason == "" {
		t.Fatalf("request past the in-flight bound: %+v %v", rep, err)
	}
	for range MaxIntentsInFlight {
		b.agent.release <- struct{}{}
	}
	wg.Wait()
	close(slowReplies)
	n := 0
	for r := range slowReplies {
		if r.Decision != cip.Accept || r.Reason != "slow" {
			t.Errorf("slow reply %+v", r)
		}
		n++
	}
	if n != MaxIntentsInFlight {
		t.Fatalf("%d slow replies, want %d", n, MaxIntentsInFlight)
	}
	// The slots are free again.
	rep, err = a.r.SendIntent(ctx, b.h.ID(), cip.IntentRequest{Goal: cip.GoalAsk, Topic: "weather", Priority: cip.PriorityNormal})
	if err != nil || rep.Decision != cip.Accept {
		t.Fatalf("after the slow ones: %+v %v", rep, err)
	}
}

// A HELLO after the handshake reaches the Handshake route and is refused
// there; the session carries on.
func TestLateHelloIsRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b := pair(t, ctx)
	pub := b.h.ID()
	bk, ok := edKey(pub)
	if !ok {
		t.Fatal("no key")
	}
	hello, err := cip.BuildHello(a.r.deps.Sign(), bk, Features)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.r.SendEnvelope(ctx, b.h.ID(), rtt.Control, hello); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.ring.WaitFor(ctx.Done(), func(e events.Event) bool {
		d, _ := e.Data["detail"].(string)
		return e.Type == "web4.error" && e.Data["kind"] == router.KindHandlerFailed && strings.Contains(d, errHandshakeDone.Error())
	}); !ok {
		t.Fatal("late HELLO not refused")
	}
	rep, err := a.r.SendIntent(ctx, b.h.ID(), cip.IntentRequest{Goal: cip.GoalAsk, Topic: "weather", Priority: cip.PriorityNormal})
	if err != nil || rep.Decision != cip.Accept {
		t.Fatalf("session after a late HELLO: %+v %v", rep, err)
	}
}
