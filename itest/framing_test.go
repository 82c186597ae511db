package itest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/node/gossip"
	"github.com/web4p2p/web4p2p/node/peers"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/trust"
)

// signerOf is a CIP builder signing as a's node identity.
func signerOf(t *testing.T, a *agent) *cip.Builder {
	t.Helper()
	raw, err := a.n.Key().Raw()
	if err != nil {
		t.Fatal(err)
	}
	return &cip.Builder{Key: ed25519.PrivateKey(raw), AgentID: a.cfg.AgentID, Capabilities: peers.Capabilities}
}

// fence has h publish a proposal and waits until n has it: whatever h
// would have forwarded to n before is at n by then.
func fence(ctx context.Context, t *testing.T, h, n *agent, what string) {
	t.Helper()
	id, err := h.n.Mesh().ProposeFact(ctx, cip.Fact{Statement: "fence " + what, Domain: "itest", Confidence: 0.5}, cip.DMPTrace{})
	if err != nil {
		t.Fatal(err)
	}
	if !eventually(ctx, func() bool { _, _, ok := n.n.Knowledge().Fact(id); return ok }) {
		t.Fatalf("fence %q never reached %s", what, n.cfg.AgentID)
	}
}

// An untrusted newcomer M cannot get an honest relay H — here a trust
// anchor of its neighbour N — charged at N: H refuses, and does not
// forward, what N would refuse (an envelope addressed to H, a forged
// proof), and the forgery is charged to M, who signed it. Line M—H—N.
func TestNewcomerCannotFrameHonestRelay(t *testing.T) {
	ctx := ctxFor(t, 60*time.Second)
	nodes := meshAgents(t, 3, 1, func(i int) []int {
		switch i {
		case 1:
			return []int{0} // M—H
		case 2:
			return []int{0} // H—N
		}
		return nil
	})
	h, m, n := nodes[0], nodes[1], nodes[2]
	waitMeshFormed(ctx, t, nodes)
	mKey := signerOf(t, m)
	hAtN := func() trust.PeerState { ps, _ := n.n.Trust().Peer(h.n.Fingerprint()); return ps }
	before := hAtN()
	if before.State != trust.Trusted {
		t.Fatalf("H at N is %v, want trusted (anchor)", before.State)
	}
	mg := m.n.Mesh().Gossip() // M's raw gossip layer: it publishes what its own node would refuse

	// 1. An envelope addressed to H, published on the knowledge topic.
	addressed, err := mKey.FactPropose(cip.Peer{Fingerprint: h.n.Fingerprint()}, cip.FactPropose{
		Fact:     cip.Fact{Statement: "addressed to H", Domain: "itest", Confidence: 0.5},
		DMPTrace: cip.DMPTrace{DecisionID: "d1", Steps: []string{"framing"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := mg.Publish(ctx, gossip.TopicKnowledge, addressed.Wire); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.ring.WaitFor(ctx.Done(), func(e events.Event) bool {
		return e.Type == "web4.envelope.rejected" && e.Subject == addressed.Env.MsgID
	}); !ok {
		t.Fatal("H accepted an envelope addressed to itself on gossip")
	}
	fence(ctx, t, h, n, "after the addressed envelope")

	// 2. A forged proof: X's contradicting votes offered as evidence that
	// someone else, Z, equivocated.
	zPub, _, _ := ed25519.GenerateKey(rand.Reader)
	_, xKey, _ := ed25519.GenerateKey(rand.Reader)
	x := &cip.Builder{Key: xKey, AgentID: "x"}
	factRef := envelope.MustFactID("itest", "fence after the addressed envelope")
	c1, err := x.FactConfirm(cip.Broadcast, cip.FactVote{FactRef: factRef, Confidence: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	r1, err := x.FactReject(cip.Broadcast, cip.FactVote{FactRef: factRef, Confidence: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := trust.ProofAttestation(envelope.Fingerprint(zPub), c1.Wire, r1.Wire, c1.Env.MsgID, r1.Env.MsgID)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := mKey.Build(envelope.TrustAttest, cip.Broadcast, json.RawMessage(payload))
	if err != nil {
		t.Fatal(err)
	}
	if err := mg.Publish(ctx, gossip.TopicTrust, forged.Wire); err != nil {
		t.Fatal(err)
	}
	// H checks the proof itself and blacklists its signer, M.
	h.waitTrust(ctx, m.n.ID(), trust.Blacklisted)
	fence(ctx, t, h, n, "after the forged proof")

	// N never saw either: its view of H is what it was.
	after := hAtN()
	if after.State != trust.Trusted || len(after.Invalid) != len(before.Invalid) || !after.LastFailure.Equal(before.LastFailure) {
		t.Fatalf("H at N changed: before %+v, after %+v", before, after)
	}
	if ps, ok := n.n.Trust().Peer(envelope.Fingerprint(zPub)); ok {
		t.Fatalf("N acted on the forged proof: Z is %v", ps.State)
	}
	for _, e := range n.ring.Events() {
		if e.Type == "web4.envelope.rejected" && (e.Subject == addressed.Env.MsgID || e.Subject == forged.Env.MsgID) {
			t.Fatalf("H forwarded M's envelope to N: %+v", e)
		}
		if e.Data["msg_id"] == forged.Env.MsgID {
			t.Fatalf("H forwarded the forged proof to N: %+v", e)
		}
	}
	// N never met M: had the forged proof reached it, N would have charged M.
	if ps, ok := n.n.Trust().Peer(m.n.Fingerprint()); ok {
		t.Fatalf("N has a record of M (%v): H forwarded what it should have refused", ps.State)
	}
}
