package knowledge

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/trust"
)

// An identity that has not proven itself cannot make the node store more
// than its quota of unaccepted facts or votes; a trusted one can; expiry
// evicts the unproven identity's facts and frees its quota; a restart
// recounts.
func TestQuotasBoundUnprovenIdentities(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	tv := &trustView{m: map[string]trust.State{}}
	clk := &fakeClock{t: t0}
	h := openHarness(t, path, tv, clk)
	prober, anchor := fp('4'), "t-anchor"
	tv.Set(prober, trust.Probing)
	fact := func(who string, i int) Fact {
		st := fmt.Sprintf("claim %d of %s", i, who)
		return Fact{ID: mustID(t, "q", st), Statement: st, Domain: "q", Confidence: 0.5, Proposer: who,
			MsgID: fmt.Sprintf("m-%s-%d", who, i), ProposedAt: t0, Expires: t0.Add(time.Hour)}
	}
	var ids []string
	var batch []Fact
	for i := range MaxUnacceptedPerIdentity {
		f := fact(prober, i)
		batch = append(batch, f)
		ids = append(ids, f.ID)
	}
	if _, _, err := h.s.Ingest(ctx, batch, nil); err != nil {
		t.Fatalf("proposals up to the quota: %v", err)
	}
	if _, _, err := h.s.Propose(ctx, fact(prober, MaxUnacceptedPerIdentity)); !errors.Is(err, ErrLimit) {
		t.Fatalf("proposal past the quota: %v, want ErrLimit", err)
	}
	// A trusted proposer is not held back by the prober's quota.
	if _, _, err := h.s.Propose(ctx, fact(anchor, 0)); err != nil {
		t.Fatalf("trusted proposer: %v", err)
	}
	// Votes: the prober's quota of votes is also bounded.
	var facts []Fact
	var votes []Vote
	for i := 0; i < MaxVotesPerIdentity; i++ {
		f := fact(anchor, i+1)
		facts = append(facts, f)
		votes = append(votes, Vote{Voter: prober, FactID: f.ID, Kind: Confirm, MsgID: fmt.Sprintf("v%d", i), Time: t0, Confidence: 0.5})
	}
	if _, _, err := h.s.Ingest(ctx, facts, votes); err != nil {
		t.Fatalf("votes up to the quota: %v", err)
	}
	extra := fact(anchor, MaxVotesPerIdentity+1)
	if _, _, err := h.s.Propose(ctx, extra); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.s.Vote(ctx, Vote{Voter: prober, FactID: extra.ID, Kind: Confirm, MsgID: "v-over", Time: t0, Confidence: 0.5}); !errors.Is(err, ErrLimit) {
		t.Fatalf("vote past the quota: %v, want ErrLimit", err)
	}
	// The quota survives a restart: the store recounts what it loads.
	if err := h.db.Close(); err != nil {
		t.Fatal(err)
	}
	h = openHarness(t, path, tv, clk)
	if _, _, err := h.s.Propose(ctx, fact(prober, MaxUnacceptedPerIdentity)); !errors.Is(err, ErrLimit) {
		t.Fatalf("after restart: %v, want ErrLimit", err)
	}
	// Expiry rejects and evicts the prober's facts, with their votes; its
	// quota is free again.
	clk.Set(t0.Add(2 * time.Hour))
	h.s.ExpireDue(clk.Now())
	for _, id := range ids {
		if _, _, ok := h.s.Fact(id); ok {
			t.Fatalf("expired fact %s of an unproven proposer kept", id)
		}
	}
	if n := h.ring.Count(EventFactEvicted); n < MaxUnacceptedPerIdentity {
		t.Fatalf("%d eviction events, want ≥ %d", n, MaxUnacceptedPerIdentity)
	}
	late := fact(prober, 500)
	late.ProposedAt, late.Expires = clk.Now(), clk.Now().Add(time.Hour)
	if _, _, err := h.s.Propose(ctx, late); err != nil {
		t.Fatalf("after eviction: %v", err)
	}
}
