package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/internal/store"
	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/node/api"
	"github.com/web4p2p/web4p2p/node/human"
	"github.com/web4p2p/web4p2p/node/learn"
	"github.com/web4p2p/web4p2p/node/mesh"
	"github.com/web4p2p/web4p2p/node/peers"
	"github.com/web4p2p/web4p2p/node/reconcile"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/lip"
	"github.com/web4p2p/web4p2p/protocols/router"
	"github.com/web4p2p/web4p2p/trust"
)

// build makes every component and connects them; nothing is reachable
// from outside yet. The order follows the dependencies: the router and the
// validators need the ledger; the runtimes need the router; the human
// runtime needs the peers (to ask them), the peers need the human runtime
// (the agent that answers INTENTs and gives the node its presence), so the
// agent is bound after both exist; the LIP runtime publishes through the
// mesh and records in the human's causal memory.
func (n *Node) build(h host.Host, db *store.DB, ledger *trust.Ledger) (*runtimes, error) {
	rt := &runtimes{trust: ledger}
	rt.router = router.New(router.Config{Trust: ledger, Self: n.fp, Events: n.em})
	// One replay window for everything that arrives directly (RTT
	// channels, the CIP handshake, the human's envelopes); gossip keeps
	// its own (node/mesh).
	replay := envelope.NewReplayCache(envelope.DefaultReplayWindow, envelope.DefaultReplayCapacity)
	direct := envelope.NewValidator(envelope.Config{
		Now: n.cfg.Now, LocalFingerprint: n.fp, Replay: replay,
		Policy: rt.router.Policy().Envelope, Events: n.em,
	})
	ks, err := knowledge.OpenStore(db, knowledge.StoreConfig{
		Now: n.cfg.Now, Events: n.em, View: ledger.State,
		// Gossip has no order across publishers: a vote may overtake its
		// proposal, so it is held until the proposal arrives.
		HoldUnknown: true,
	})
	if err != nil {
		return nil, err
	}
	rt.knowledge = ks
	if rt.peers, err = peers.New(peers.Config{
		RTT: n.cfg.RTT, Registerer: n.reg, HandshakeTimeout: n.cfg.HandshakeTimeout, Now: n.cfg.Now,
	}, peers.Deps{
		Host: h, Trust: ledger, Router: rt.router, Validator: direct, Replay: replay,
		Sign: func() *cip.Builder { return n.cipBuilder(rt.peers) }, Events: n.em, Group: n.group,
	}); err != nil {
		return nil, err
	}
	// Anti-entropy keeps what the mesh accepts and hands what peers send
	// back to the mesh's receive path.
	if rt.reconcile, err = reconcile.New(n.cfg.Sync, reconcile.Deps{
		Host: h, Store: db, Events: n.em, Group: n.group,
		Apply: func(ctx context.Context, from peer.ID, raw []byte) error { return rt.mesh.ApplySynced(ctx, from, raw) },
		Ready: rt.peers.IsReady, Peers: rt.peers.ReadyPeers,
	}); err != nil {
		return nil, err
	}
	if rt.mesh, err = mesh.New(mesh.Config{Gossip: n.cfg.Gossip, Registerer: n.reg, Now: n.cfg.Now, SyncMaxAge: rt.reconcile.MaxAge()}, mesh.Deps{
		Host: h, Fingerprint: n.fp, Trust: ledger, Router: rt.router, Store: ks,
		Sign: func() *cip.Builder { return n.cipBuilder(rt.peers) }, Penaliser: rt.peers, Events: n.em, Group: n.group,
		Record: rt.reconcile.Record,
	}); err != nil {
		return nil, err
	}
	// A session that becomes ready is reconciled at once by the side that
	// opened it (so the two do not both start one).
	rt.peers.OnReady(func(p peer.ID, initiator bool) {
		if !initiator {
			return
		}
		n.group.Go(func(ctx context.Context) {
			if _, err := rt.reconcile.Sync(ctx, p); err != nil && ctx.Err() == nil {
				n.em.Error("sync", "on_connect", p.String(), err, nil)
			}
		})
	})
	if rt.human, err = human.New(n.cfg.Human, human.Deps{
		Store: db, DataDir: n.cfg.DataDir, AgentID: n.cfg.AgentID, Fingerprint: n.fp,
		Router: rt.router, Replay: replay, Peers: rt.peers, Provenance: ks,
		Events: n.em, Group: n.group, Now: n.cfg.Now,
	}); err != nil {
		return nil, err
	}
	n.closers = append(n.closers, rt.human.Close)
	rt.peers.BindAgent(rt.human)
	if err := n.buildA2A(h, rt); err != nil {
		return nil, err
	}
	if rt.learn, err = learn.New(n.cfg.LIP, learn.Deps{
		Store: db, Fingerprint: n.fp, Router: rt.router, Publisher: rt.mesh, Facts: ks, Trust: ledger,
		Recorder: rt.human, Overloaded: rt.peers.Overloaded,
		Sign:   func() *lip.Builder { return n.lipBuilder(rt.peers) },
		Events: n.em, Group: n.group, Now: n.cfg.Now,
	}); err != nil {
		if errors.Is(err, learn.ErrConfig) {
			return nil, configError{err}
		}
		return nil, err
	}
	n.closers = append(n.closers, rt.learn.Close)
	// The Knowledge route carries the knowledge store's FACT_* and
	// DECISION_SHARE and the LIP runtime's LIP_EVIDENCE and verdicts.
	mux := router.TypeMux{}
	for _, t := range knowledge.Types() {
		mux[t] = rt.mesh.KnowledgeHandler()
	}
	for _, t := range learn.Types() {
		mux[t] = rt.learn.Handler()
	}
	if _, err := rt.router.Register(router.Knowledge, mux); err != nil {
		return nil, err
	}
	// A trust change re-evaluates the peer's facts and its gossip score;
	// a blacklisted peer's connection is closed (SPEC §4.3), whatever made
	// it blacklisted (handshake, message, proof, detector, attestations).
	ledger.OnChange(func(tr trust.Transition) {
		rt.mesh.TrustChanged(tr)
		if tr.To != trust.Blacklisted || tr.PeerID == "" {
			return
		}
		if p, err := peer.Decode(tr.PeerID); err == nil && p != n.id {
			n.group.Go(func(context.Context) { rt.peers.Disconnect(p, "blacklisted: "+tr.Event.String()) })
		}
	})
	if rt.cards, err = n.buildCards(h, ledger); err != nil {
		return nil, err
	}
	if err := rt.human.Start(); err != nil {
		return nil, err
	}
	rt.learn.Start()
	return rt, nil
}

// open opens the doors, each once everything behind it is built.
func (n *Node) open(ctx context.Context, h host.Host, rt *runtimes) error {
	h.Network().Notify(&network.NotifyBundle{
		ConnectedF: func(_ network.Network, c network.Conn) {
			n.em.Emit("web4.node.peer_connected", c.RemotePeer().String(), map[string]any{
				"addr": c.RemoteMultiaddr().String(), "direction": c.Stat().Direction.String()})
		},
		DisconnectedF: func(_ network.Network, c network.Conn) {
			n.em.Emit("web4.node.peer_disconnected", c.RemotePeer().String(), map[string]any{
				"addr": c.RemoteMultiaddr().String()})
		},
	})
	if err := rt.peers.Open(); err != nil {
		return err
	}
	n.closers = append(n.closers, rt.peers.Close)
	rt.a2aLink.Open()
	n.closers = append(n.closers, rt.a2aLink.Close)
	if err := rt.mesh.Open(n.group.Context()); err != nil {
		return err
	}
	n.closers = append(n.closers, rt.mesh.Close)
	rt.reconcile.Open()
	n.closers = append(n.closers, rt.reconcile.Close)
	// Signed once now, so a card that cannot be signed fails the start
	// and web4.card.signed tells what the node publishes.
	if _, err := rt.cards.Signed(); err != nil {
		return err
	}
	rt.cards.Open()
	n.closers = append(n.closers, rt.cards.Close)
	if err := n.startAPI(rt); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return n.startDiscovery()
}

// configError marks a runtime's configuration error as ErrConfig, keeping
// the runtime's message (which names the field).
type configError struct{ err error }

func (e configError) Error() string        { return e.err.Error() }
func (e configError) Unwrap() error        { return e.err }
func (e configError) Is(target error) bool { return target == ErrConfig }

// cipBuilder returns a CIP envelope builder for this node's identity; the
// state block carries the agent's presence (SPEC §3.1).
func (n *Node) cipBuilder(p *peers.Runtime) *cip.Builder {
	return &cip.Builder{Key: n.edKey, AgentID: n.cfg.AgentID, Capabilities: n.capabilities(), Now: n.cfg.Now,
		State: func() envelope.State { return stateBlock(p) }}
}

// lipBuilder signs LIP envelopes as this node.
func (n *Node) lipBuilder(p *peers.Runtime) *lip.Builder {
	return &lip.Builder{Key: n.edKey, AgentID: n.cfg.AgentID, Capabilities: n.capabilities(), Now: n.cfg.Now,
		State: func() envelope.State { return stateBlock(p) }}
}

// stateBlock is the state block of every envelope this node signs.
func stateBlock(p *peers.Runtime) envelope.State {
	pres, lri := p.Presence()
	return envelope.State{Presence: pres, LRI: lri, KernelSignals: []string{}}
}

// APIAddrFile is written into the data dir with the bound control API
// address, so the CLI and scripts find a node started on port 0.
const APIAddrFile = "api.addr"

// startAPI starts the control API if configured.
func (n *Node) startAPI(rt *runtimes) error {
	if n.cfg.APIAddr == "" {
		return nil
	}
	if n.cfg.DataDir == "" {
		return errors.New("control API needs a data dir for its token")
	}
	tok, err := api.LoadOrCreateToken(filepath.Join(n.cfg.DataDir, api.TokenFile))
	if err != nil {
		return err
	}
	srv, err := api.New(api.Config{Addr: n.cfg.APIAddr, AllowRemote: n.cfg.APIAllowRemote, Token: tok, Events: n.em}, api.Backend{
		Node: apiNode{n: n, rt: rt}, Channels: rt.peers, Facts: facts{rt.mesh, rt.knowledge},
		Human: rt.human, Learn: rt.learn, Events: n.broker, Metrics: n.reg,
		Agent: agentArea{rt}, A2A: rt.a2a, Cards: rt.cards,
	})
	if err != nil {
		return err
	}
	mountAgentEndpoints(srv, tok)
	addr, err := srv.Start()
	if err != nil {
		return err
	}
	// Before api.addr is written, so a client that finds the API finds
	// the A2A endpoint on the card.
	rt.cards.Publisher().Add(a2aCard(addr))
	n.mu.Lock()
	n.apiAddr = addr
	n.mu.Unlock()
	addrFile := filepath.Join(n.cfg.DataDir, APIAddrFile)
	// Written aside and renamed, so a client that sees the file (scripts
	// wait for it to appear) never reads it empty or half written.
	tmp := addrFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(addr+"\n"), 0o600); err != nil {
		srv.Close()
		return err
	}
	if err := os.Rename(tmp, addrFile); err != nil {
		os.Remove(tmp)
		srv.Close()
		return err
	}
	n.closers = append(n.closers, func() error {
		err := srv.Close()
		os.Remove(addrFile)
		return err
	})
	return nil
}

// facts is the control API's knowledge area: the mesh proposes and votes,
// the store answers.
type facts struct {
	*mesh.Runtime
	*knowledge.Store
}
