package card

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ErrNoDHT is returned by Find on a node without the DHT.
var ErrNoDHT = errors.New("capability discovery needs the DHT: start the node with --dht auto|server|client")

// Deps is what Find needs from the node. Its methods are called from
// Find's goroutines, concurrently, and must honour ctx.
type Deps interface {
	// Providers streams the peers that advertise the DHT namespace ns, at
	// most limit; the channel is closed when the lookup ends. ErrNoDHT
	// without a DHT.
	Providers(ctx context.Context, ns string, limit int) (<-chan peer.AddrInfo, error)
	// Connect dials ai (the node's gated connect, which finds addresses in
	// the DHT when ai has none).
	Connect(ctx context.Context, ai peer.AddrInfo) error
	// Trust is p's state in the node's trust ledger (unknown, probing, …).
	Trust(p peer.ID) string
}

// FindResult is what Find found: every provider of the capability, with
// whether its card verified.
type FindResult struct {
	Capability string  `json:"capability"`
	Agents     []Found `json:"agents"`
}

// Found is one provider. Its card's content (agent id, description,
// skills, addresses, the card) is filled only when the card verified; a
// provider whose card was refused or could not be fetched shows its
// PeerID, trust state and why.
type Found struct {
	PeerID      string          `json:"peer_id"`
	AgentID     string          `json:"agent_id,omitempty"`
	Description string          `json:"description,omitempty"`
	Trust       string          `json:"trust"`
	Verified    bool            `json:"verified"`
	Skills      []string        `json:"skills,omitempty"`
	Addrs       []string        `json:"addrs,omitempty"`
	Refused     string          `json:"refused,omitempty"` // the refusal reason (bad_signature, foreign_signer, …)
	Error       string          `json:"error,omitempty"`   // why the card is not shown
	Card        json.RawMessage `json:"card,omitempty"`    // the verified card as received
}

// Find looks up the providers of capability in the DHT (at most limit;
// 0 means DefaultFindResults), connects to each, fetches its card and
// checks it (Fetch), at most findParallel at once, until every provider
// is done or ctx ends. This node is left out. Events: web4.card.provider_found
// {capability} per provider, web4.card.verified {capability, agent_id} per
// verified card, the refusals of Fetch, and web4.card.find_done
// {capability, agents, verified} at the end.
func (s *Service) Find(ctx context.Context, capability string, limit int) (FindResult, error) {
	res := FindResult{Capability: capability, Agents: []Found{}}
	if err := CheckCapability(capability); err != nil {
		return res, err
	}
	if s.deps == nil {
		return res, ErrNoDHT
	}
	if limit <= 0 {
		limit = DefaultFindResults
	}
	limit = min(limit, MaxFindResults)
	ch, err := s.deps.Providers(ctx, Namespace(capability), limit)
	if err != nil {
		return res, err
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		sem  = make(chan struct{}, findParallel)
		seen = map[peer.ID]bool{}
	)
	for ai := range ch {
		if ai.ID == s.h.ID() || seen[ai.ID] {
			continue
		}
		seen[ai.ID] = true
		s.em.Emit("web4.card.provider_found", ai.ID.String(), map[string]any{"capability": capability, "addrs": len(ai.Addrs)})
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f := s.examine(ctx, ai, capability)
			mu.Lock()
			res.Agents = append(res.Agents, f)
			mu.Unlock()
		}()
	}
	// The lookup may end with ctx; the channel is then closed by the DHT.
	for range ch {
	}
	wg.Wait()
	sort.Slice(res.Agents, func(i, j int) bool {
		a, b := res.Agents[i], res.Agents[j]
		if a.Verified != b.Verified {
			return a.Verified
		}
		return a.PeerID < b.PeerID
	})
	verified := 0
	for _, f := range res.Agents {
		if f.Verified {
			verified++
		}
	}
	s.em.Emit("web4.card.find_done", capability, map[string]any{"capability": capability, "agents": len(res.Agents), "verified": verified})
	if err := ctx.Err(); err != nil && len(res.Agents) == 0 {
		return res, fmt.Errorf("find %q: no provider found before the deadline: %w", capability, err)
	}
	return res, nil
}

// examine connects to one provider and fetches and checks its card.
func (s *Service) examine(ctx context.Context, ai peer.AddrInfo, capability string) Found {
	f := Found{PeerID: ai.ID.String(), Trust: s.deps.Trust(ai.ID)}
	if s.h.Network().Connectedness(ai.ID) != network.Connected {
		if err := s.deps.Connect(ctx, ai); err != nil {
			f.Error = fmt.Sprintf("connect: %v", err)
			return f
		}
	}
	v, raw, err := s.Fetch(ctx, ai.ID)
	if err == nil && !slices.Contains(Skills(v.Card), capability) {
		err = fmt.Errorf("%w: %s advertises %q in the DHT but its card does not list it", ErrNotListed, ai.ID, capability)
		s.em.Error("card", Reason(err), ai.ID.String(), err, map[string]any{"capability": capability})
	}
	if err != nil {
		f.Error, f.Refused = err.Error(), Reason(err)
		return f
	}
	f.Verified = true
	f.AgentID, f.Description = v.Card.Name, v.Card.Description
	f.Skills, f.Addrs, f.Card = Skills(v.Card), Addrs(v.Card), raw
	s.em.Emit("web4.card.verified", ai.ID.String(), map[string]any{"capability": capability, "agent_id": v.Card.Name})
	return f
}
