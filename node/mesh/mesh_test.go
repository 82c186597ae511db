package mesh

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/goleak"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/lifecycle"
	"github.com/web4p2p/web4p2p/internal/store"
	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/node/gossip"
	"github.com/web4p2p/web4p2p/node/peers"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/router"
	"github.com/web4p2p/web4p2p/trust"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// identity is a signer in the test mesh.
type identity struct {
	key ed25519.PrivateKey
	fp  string
	id  peer.ID
}

func newIdentity(t *testing.T) identity {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := k.Raw()
	id, _ := peer.IDFromPrivateKey(k)
	key := ed25519.PrivateKey(raw)
	return identity{key: key, fp: envelope.Fingerprint(key.Public().(ed25519.PublicKey)), id: id}
}

func (i identity) builder() *cip.Builder {
	return &cip.Builder{Key: i.key, AgentID: "agent-" + i.fp[:6], Capabilities: peers.Capabilities}
}

// recorder counts penalties charged to delivering peers.
type recorder struct{ charged []string }

func (r *recorder) Penalise(fp string, _ peer.ID, _ error, _ string) {
	r.charged = append(r.charged, fp)
}

type fixture struct {
	r      *Runtime
	ledger *trust.Ledger
	store  *knowledge.Store
	ring   *events.Ring
	pen    *recorder
	self   identity
}

func newFixture(t *testing.T, anchors ...string) *fixture {
	t.Helper()
	self := newIdentity(t)
	k, _ := crypto.UnmarshalEd25519PrivateKey(self.key)
	h, err := libp2p.New(libp2p.Identity(k), libp2p.NoListenAddrs, libp2p.DisableRelay(), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	ring := events.NewRing(4096)
	em := events.NewEmitter(h.ID().String(), &events.CheckingSink{Next: ring}, nil)
	ledger, err := trust.OpenLedger(db, trust.LedgerConfig{Anchors: anchors, Events: em})
	if err != nil {
		t.Fatal(err)
	}
	ks, err := knowledge.OpenStore(db, knowledge.StoreConfig{View: ledger.State, Events: em, HoldUnknown: true})
	if err != nil {
		t.Fatal(err)
	}
	rtr := router.New(router.Config{Trust: ledger, Self: self.fp, Events: em})
	g := lifecycle.New(context.Background())
	f := &fixture{ledger: ledger, store: ks, ring: ring, pen: &recorder{}, self: self}
	f.r, err = New(Config{}, Deps{Host: h, Fingerprint: self.fp, Trust: ledger, Router: rtr, Store: ks,
		Sign: self.builder, Penaliser: f.pen, Events: em, Group: g})
	if err != nil {
		t.Fatal(err)
	}
	mux := router.TypeMux{}
	for _, typ := range knowledge.Types() {
		mux[typ] = f.r.KnowledgeHandler()
	}
	if _, err := rtr.Register(router.Knowledge, mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		g.Close()
		_ = h.Close()
		_ = ledger.Flush()
		_ = db.Close()
	})
	return f
}

// gossip takes raw down the gossip receive path as relayed by relay:
// the topic validator, then deliver (which routes).
func (f *fixture) gossip(t *testing.T, relay identity, raw []byte) error {
	t.Helper()
	data, err := f.r.validateGossip(context.Background(), gossip.TopicKnowledge, relay.id, raw)
	if err != nil {
		return err
	}
	f.r.deliver(gossip.TopicKnowledge, relay.id, data)
	return nil
}

// A fact proposed by a probing newcomer and confirmed by two trust anchors
// is accepted; the status change the store returns is applied to the
// proposer's trust record by the mesh (verified knowledge), and an
// untrusted signer's vote never reaches the store.
func TestKnowledgeThroughGossipPathAppliesChangesToTrust(t *testing.T) {
	anchorA, anchorB, newcomer, outcast, relay := newIdentity(t), newIdentity(t), newIdentity(t), newIdentity(t), newIdentity(t)
	f := newFixture(t, anchorA.fp, anchorB.fp)
	if _, err := f.ledger.Apply(newcomer.fp, trust.ValidHandshake, "hello"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ledger.Apply(outcast.fp, trust.BadSignature, "hello"); err != nil {
		t.Fatal(err)
	}
	prop, err := newcomer.builder().FactPropose(cip.Broadcast, cip.FactPropose{
		Fact:     cip.Fact{Statement: "Paris is the capital of France", Domain: "geo", Confidence: 0.9},
		DMPTrace: cip.DMPTrace{DecisionID: "d1", Steps: []string{"read it"}}})
	if err != nil {
		t.Fatal(err)
	}
	id := envelope.MustFactID("geo", "Paris is the capital of France")
	if err := f.gossip(t, relay, prop.Wire); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := f.store.Fact(id); !ok {
		t.Fatal("proposal not stored")
	}
	vote := func(who identity) []byte {
		m, err := who.builder().FactConfirm(cip.Broadcast, cip.FactVote{FactRef: id, Confidence: 0.9})
		if err != nil {
			t.Fatal(err)
		}
		return m.Wire
	}
	// The untrusted signer's vote is dropped at the gate, without charging
	// the relay that could not know our view of the signer.
	if err := f.gossip(t, relay, vote(outcast)); !errors.Is(err, gossip.ErrIgnore) {
		t.Fatalf("untrusted vote: %v, want an ignore", err)
	}
	if len(f.pen.charged) != 0 {
		t.Fatalf("relay charged for an untrusted signer's vote: %v", f.pen.charged)
	}
	if err := f.gossip(t, relay, vote(anchorA)); err != nil {
		t.Fatal(err)
	}
	if _, r, _ := f.store.Fact(id); r.Status != knowledge.Pending {
		t.Fatalf("after one anchor: %+v", r)
	}
	if err := f.gossip(t, relay, vote(anchorB)); err != nil {
		t.Fatal(err)
	}
	if _, r, _ := f.store.Fact(id); r.Status != knowledge.Accepted {
		t.Fatalf("after two anchors: %+v", r)
	}
	if ps, _ := f.ledger.Peer(newcomer.fp); ps.AcceptedFacts != 1 {
		t.Fatalf("proposer's accepted facts = %d, want 1 (the mesh applies the store's changes)", ps.AcceptedFacts)
	}
	// Every envelope went through the router.
	if n := f.ring.Count(router.EventRouted); n != 3 {
		t.Fatalf("%d routed events, want 3 (proposal, two votes)", n)
	}
}

// A broken envelope charges the relay that delivered it; a message whose
// verified envelope is missing is reported, not routed.
func TestGossipValidationChargesDelivererForForgery(t *testing.T) {
	signer, relay := newIdentity(t), newIdentity(t)
	f := newFixture(t)
	m, err := signer.builder().FactPropose(cip.Broadcast, cip.FactPropose{
		Fact:     cip.Fact{Statement: "water is wet", Domain: "phys", Confidence: 0.9},
		DMPTrace: cip.DMPTrace{DecisionID: "d1", Steps: []string{"touched it"}}})
	if err != nil {
		t.Fatal(err)
	}
	forged := append([]byte(nil), m.Wire...)
	forged[len(forged)-10] ^= 1 // inside the signature
	if err := f.gossip(t, relay, forged); err == nil || errors.Is(err, gossip.ErrIgnore) {
		t.Fatalf("forged envelope: %v, want a rejection", err)
	}
	if len(f.pen.charged) != 1 || f.pen.charged[0] != relay.fp {
		t.Fatalf("charged %v, want the relay %s", f.pen.charged, relay.fp)
	}
	f.r.deliver(gossip.TopicKnowledge, relay.id, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, ok := f.ring.WaitFor(ctx.Done(), func(e events.Event) bool { return e.Type == "web4.error" && e.Data["kind"] == "deliver" }); !ok {
		t.Fatal("a delivery without its envelope was not reported")
	}
}

// Publish refuses before Open (the mesh has no gossip layer yet).
func TestPublishRefuses(t *testing.T) {
	f := newFixture(t)
	other := newIdentity(t)
	m, err := other.builder().FactConfirm(cip.Broadcast, cip.FactVote{FactRef: envelope.MustFactID("a", "b"), Confidence: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.r.Publish(context.Background(), gossip.TopicKnowledge, m.Wire); !errors.Is(err, ErrNotOpen) {
		t.Fatalf("publish before Open: %v", err)
	}
}

// An envelope refused only because its signer is not known here yet is
// held, and taken down the receive path once the signer becomes known.
func TestUnknownSignerIsHeldThenReleased(t *testing.T) {
	stranger, relay := newIdentity(t), newIdentity(t)
	f := newFixture(t)
	m, err := stranger.builder().FactPropose(cip.Broadcast, cip.FactPropose{
		Fact:     cip.Fact{Statement: "from a stranger", Domain: "hold", Confidence: 0.9},
		DMPTrace: cip.DMPTrace{DecisionID: "d1", Steps: []string{"said so"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.gossip(t, relay, m.Wire); !errors.Is(err, gossip.ErrIgnore) {
		t.Fatalf("a stranger's proposal: %v, want an ignore", err)
	}
	if f.r.Held() != 1 || len(f.pen.charged) != 0 {
		t.Fatalf("held %d, charged %v", f.r.Held(), f.pen.charged)
	}
	id := envelope.MustFactID("hold", "from a stranger")
	if _, _, ok := f.store.Fact(id); ok {
		t.Fatal("stored before its signer was known")
	}
	// The stranger completes a handshake: probing now, the hold is released.
	tr, err := f.ledger.Apply(stranger.fp, trust.ValidHandshake, "hello")
	if err != nil || tr == nil {
		t.Fatalf("handshake: %+v %v", tr, err)
	}
	f.r.TrustChanged(*tr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, ok := f.ring.WaitFor(ctx.Done(), func(e events.Event) bool { return e.Type == "web4.mesh.released" }); !ok {
		t.Fatal("never released")
	}
	if _, _, ok := f.store.Fact(id); !ok || f.r.Held() != 0 {
		t.Fatalf("after release: stored %v, held %d", ok, f.r.Held())
	}
}
