package node

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/agentloop"
	"github.com/web4p2p/web4p2p/internal/store"
	"github.com/web4p2p/web4p2p/node/rtt"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/hcp"
	"github.com/web4p2p/web4p2p/protocols/router"
)

// HumanConfig holds the knobs of the HCP runtime and the AgentLoop of a
// node. DefaultHumanConfig returns the defaults; zero fields take them.
type HumanConfig struct {
	// Loop configures the AgentLoop: mission topics, drift window and
	// threshold, tick, LRI weights, presence thresholds. OnPresence, Events
	// and Now are set by the node.
	Loop agentloop.Config
	// Sampler measures load for the LRI; nil means the real process
	// (agentloop.NewProcSampler(MemLimit)).
	Sampler agentloop.Sampler
	// MemLimit is the memory budget of the ProcSampler (0: detect).
	MemLimit uint64
	// Gate and Pacing configure the consent gate and the prompt pacer.
	Gate   hcp.GateConfig
	Pacing hcp.PacingConfig
	// SendTimeout bounds one CIP INTENT round trip made on the human's
	// behalf (send and wait for accept/defer).
	SendTimeout time.Duration
	// PeerIntentWait is how long a peer's INTENT waits for the AgentLoop's
	// answer before it is deferred.
	PeerIntentWait time.Duration
	// BroadcastTimeout bounds sending one STATE_UPDATE to one peer.
	BroadcastTimeout time.Duration
	// SweepEvery is how often held actions past their TTL are expired.
	SweepEvery time.Duration
}

// DefaultHumanConfig returns the SPEC §6/§10 defaults.
func DefaultHumanConfig() HumanConfig {
	return HumanConfig{
		Loop:             agentloop.DefaultConfig(),
		Gate:             hcp.DefaultGateConfig(),
		Pacing:           hcp.DefaultPacingConfig(),
		SendTimeout:      15 * time.Second,
		PeerIntentWait:   5 * time.Second,
		BroadcastTimeout: 5 * time.Second,
		SweepEvery:       time.Minute,
	}
}

func (c HumanConfig) withDefaults() HumanConfig {
	d := DefaultHumanConfig()
	if c.Gate.HoldTTL <= 0 {
		c.Gate.HoldTTL = d.Gate.HoldTTL
	}
	if c.Gate.MaxHeld <= 0 {
		c.Gate.MaxHeld = d.Gate.MaxHeld
	}
	if c.SendTimeout <= 0 {
		c.SendTimeout = d.SendTimeout
	}
	if c.PeerIntentWait <= 0 {
		c.PeerIntentWait = d.PeerIntentWait
	}
	if c.BroadcastTimeout <= 0 {
		c.BroadcastTimeout = d.BroadcastTimeout
	}
	if c.SweepEvery <= 0 {
		c.SweepEvery = d.SweepEvery
	}
	// agentloop.New and hcp.NewPacer fill the zero fields of Loop and Pacing.
	return c
}

// SetHumanConfig sets the HCP/AgentLoop configuration (Config.Human); call
// it between New and Start.
func (n *Node) SetHumanConfig(c HumanConfig) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cfg.Human = c
}

func (n *Node) takeHumanConfig() HumanConfig { return n.cfg.Human.withDefaults() }

// Event types of the node's human runtime.
const (
	// EventDecisionRequested: the agent asks the human for an HCP_DECISION
	// (it is now pending, GET /v1/human/decisions).
	EventDecisionRequested = "web4.hcp.decision_requested"
	// EventPrompt: a prompt was put in front of the human (pacing allowed it).
	EventPrompt = "web4.hcp.prompt"
	// EventStateBroadcast: a presence change was sent to the peers as CIP
	// STATE_UPDATE.
	EventStateBroadcast = "web4.agentloop.state_broadcast"
)

// actionRequestDecision is the hcp.Action kind under which a decision
// request to the human waits in the consent gate; its payload is the
// pendingDecision.
const actionRequestDecision = "request_decision"

// bucketHuman keeps the last human-state vector the human set (key
// keyHumanState), so consent given survives a restart.
const (
	bucketHuman   = "human_state"
	keyHumanState = "current"
)

// bucketDecisions holds the decisions the agent asked the human for and
// that are not answered yet (request id → pendingDecision).
const bucketDecisions = "human_decisions"

// ErrNoHuman is returned by the human operations of a node that is not
// started (or already closed).
var ErrNoHuman = errors.New("node: human runtime not running")

// ErrUnknownDecision: no pending decision request with that id.
var ErrUnknownDecision = errors.New("node: no such pending decision")

// PendingDecision is a decision the agent asked the human for.
type PendingDecision struct {
	// ID is the request's id (the AgentLoop action id); an HCP_DECISION
	// answers it with reply_to = ID.
	ID string `json:"id"`
	// Topic and Question say what it is about.
	Topic    string `json:"topic"`
	Question string `json:"question"`
	// Alternatives the agent offers.
	Alternatives []string `json:"alternatives"`
	// Cause is the causal-memory id of the decision that raised it.
	Cause string `json:"cause"`
	// Requested is when it was raised.
	Requested time.Time `json:"requested"`
	// Paced is the pacing outcome of prompting the human about it
	// (allow, defer, suppress, check_in); Reason says why.
	Paced       string `json:"paced"`
	PacedReason string `json:"paced_reason,omitempty"`
}

// humanRuntime holds the HCP runtime and the AgentLoop of the node.
type humanRuntime struct {
	n         *Node
	cfg       HumanConfig
	key       ed25519.PrivateKey
	fp        string // the human key's fingerprint
	gate      *hcp.Gate
	pacer     *hcp.Pacer
	mem       *agentloop.Memory
	loop      *agentloop.Loop
	validator *envelope.Validator
	presCh    chan struct{} // presence changed (coalescing)

	waiters sync.Map // peer-intent item id → chan agentloop.Action

	// pmu orders a retried prompt's read-and-rewrite of a pending
	// decision against its removal by the human's answer, so an answered
	// request is never written back.
	pmu sync.Mutex

	// life guards goroutines started per action after Start, which
	// cannot use Node.Go (Close may already be waiting on it).
	life   sync.Mutex
	closed bool
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

// startHuman starts the HCP runtime and the AgentLoop. It needs the store,
// the router and the replay cache (startProtocols) and runs before the
// control API, so it may append API routes. It writes n.human and
// n.intentHook, which session and runtime goroutines read: it must run
// before the first of those starts (directly after startProtocols).
func (n *Node) startHuman() error {
	cfg := n.takeHumanConfig()
	if err := hcp.RegisterSchemas(); err != nil {
		return fmt.Errorf("hcp schemas: %w", err)
	}
	h := &humanRuntime{n: n, cfg: cfg, presCh: make(chan struct{}, 1)}
	var err error
	if n.cfg.DataDir == "" {
		// No data dir: a throw-away human key, as the store is.
		_, h.key, err = ed25519.GenerateKey(rand.Reader)
	} else {
		h.key, err = hcp.LoadOrCreateHumanKey(n.cfg.DataDir)
	}
	if err != nil {
		return err
	}
	h.fp = envelope.Fingerprint(h.key.Public().(ed25519.PublicKey))
	if h.gate, err = hcp.NewGate(n.db, cfg.Gate, n.em, n.cfg.Now); err != nil {
		return err
	}
	h.pacer = hcp.NewPacer(cfg.Pacing, h.gate.Human, n.em, n.cfg.Now)
	if h.mem, err = agentloop.NewMemory(n.db); err != nil {
		return err
	}
	// The human's envelopes arrive through the control API, not from a
	// peer: they are verified (signature, time, replay, addressee, schema)
	// without the peer trust gate, as router.Policy documents.
	h.validator = envelope.NewValidator(envelope.Config{
		Now: n.cfg.Now, LocalFingerprint: n.fp, Replay: n.replay, Events: n.em,
	})
	lc := cfg.Loop
	lc.Events, lc.Now = n.em, n.cfg.Now
	lc.OnPresence = func(_, _ envelope.Presence, _ int) {
		select {
		case h.presCh <- struct{}{}:
		default: // a broadcast is already due; it reads the latest state
		}
	}
	sampler := cfg.Sampler
	if sampler == nil {
		sampler = agentloop.NewProcSampler(cfg.MemLimit)
	}
	h.loop, err = agentloop.New(lc, agentloop.Deps{
		Actor: agentloop.ActorFunc(h.act), Memory: h.mem, Peers: agentloop.PeersFunc(h.peers), Sampler: sampler,
	})
	if err != nil {
		return err
	}
	handler := &hcp.Handler{Gate: h.gate, Human: h.fp, Deliver: h.deliver, Released: h.released}
	for _, route := range []router.Route{router.HumanState, router.ConsentGate} {
		if _, err := n.router.Register(route, handler); err != nil {
			return err
		}
	}
	h.ctx, h.cancel = context.WithCancel(n.ctx)
	if err := h.loop.Start(); err != nil {
		h.cancel()
		return err
	}
	if err := h.restoreState(); err != nil {
		h.cancel()
		_ = h.loop.Close()
		return err
	}
	n.human = h
	n.intentHook = h.peerIntent
	n.closers = append(n.closers, h.close)
	n.Go(h.broadcastLoop)
	n.Go(h.sweepLoop)
	n.addHumanRoutes()
	return nil
}

// restoreState gives the gate the human state saved before a restart;
// held actions it admits are released to the (running) loop, and expired
// consent counts as revoked as always.
func (h *humanRuntime) restoreState() error {
	raw, err := h.n.db.Get(bucketHuman, []byte(keyHumanState))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	st, err := hcp.ParseState(raw)
	if err != nil {
		return fmt.Errorf("saved human state: %w", err)
	}
	rel, err := h.gate.SetHuman(h.ctx, st)
	if err != nil {
		return err
	}
	h.released(h.ctx, rel)
	return nil
}

// saveState persists st as the human's current state.
func (h *humanRuntime) saveState(st envelope.Human) error {
	raw, err := hcp.MarshalState(st)
	if err != nil {
		return err
	}
	return h.n.db.Put(bucketHuman, []byte(keyHumanState), raw)
}

// close stops the loop first (no more actions), then the goroutines the
// actions started. Idempotent.
func (h *humanRuntime) close() error {
	err := h.loop.Close()
	h.life.Lock()
	h.closed = true
	h.life.Unlock()
	h.cancel()
	h.wg.Wait()
	return err
}

// spawn runs fn on a goroutine that close waits for; false once closed.
func (h *humanRuntime) spawn(fn func(ctx context.Context)) bool {
	h.life.Lock()
	defer h.life.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		fn(h.ctx)
	}()
	return true
}

// presence reports the AgentLoop's presence and LRI (ok is false when the
// loop is not running). Node.presence uses it once wired.
func (h *humanRuntime) presence() (string, int, bool) {
	if h == nil || h.loop == nil {
		return "", 0, false
	}
	p, lri := h.loop.State()
	return p.String(), lri, true
}

// human returns the current human-state vector, or the default before the
// human said anything: consent revoked, so nothing is done on their behalf
// until they give it.
func (h *humanRuntime) human() envelope.Human {
	if st := h.gate.Human(); st != nil {
		return *st
	}
	return envelope.Human{Presence: envelope.Diffuse, Affect: envelope.Neutral, Clarity: 100, Pressure: 0,
		Consent: envelope.ConsentRevoked, ConsentScope: []string{}}
}

func (h *humanRuntime) builder() *hcp.Builder {
	return &hcp.Builder{Key: h.key, AgentID: "human@" + h.n.cfg.AgentID, Now: h.n.cfg.Now, Human: h.human}
}

func (h *humanRuntime) to() hcp.To { return hcp.To{AgentID: h.n.cfg.AgentID, Fingerprint: h.n.fp} }

// route verifies a human envelope like any other and hands it to the
// router as a local message (ConsentGate or HumanState route).
func (h *humanRuntime) route(ctx context.Context, msg *hcp.Message) (*envelope.Envelope, error) {
	env, err := h.validator.Validate(msg.Wire)
	if err != nil {
		return nil, err
	}
	rm := &router.Message{Local: true, Channel: "control_api", Type: env.Type.String(), MsgID: env.MsgID,
		Raw: env.Raw(), Envelope: env, Payload: env.Payload, Time: env.Timestamp}
	return env, h.n.router.Route(ctx, rm)
}

// deliver hands a human message that passed the consent gate to the loop.
func (h *humanRuntime) deliver(ctx context.Context, msg *router.Message, p any) error {
	var it agentloop.Item
	switch v := p.(type) {
	case *hcp.Intent:
		it = agentloop.Item{Kind: agentloop.ItemHumanIntent, Topic: v.Topic, Goal: v.Goal.String(), Priority: v.Priority.String(), Text: v.Context}
	case *hcp.Decision:
		it = agentloop.Item{Kind: agentloop.ItemHumanDecision, Topic: v.Topic, Text: v.Choice, Rationale: v.Rationale,
			Alternatives: v.Alternatives, Ref: v.ReplyTo}
	case *hcp.Feedback:
		it = agentloop.Item{Kind: agentloop.ItemHumanFeedback, Ref: v.ReplyTo,
			Text: fmt.Sprintf("%s (satisfaction %d; corrections: %s)", v.Feedback, v.Satisfaction, strings.Join(v.Corrections, "; "))}
	case *hcp.Context:
		it = agentloop.Item{Kind: agentloop.ItemHumanContext, Topic: v.Topic, Text: v.Context, Causes: v.Refs}
	default:
		return fmt.Errorf("%w: no AgentLoop item for %T", hcp.ErrPayload, p)
	}
	it.ID = msg.MsgID
	return h.loop.Submit(ctx, it)
}

// released takes back what the consent gate held once consent admits it.
func (h *humanRuntime) released(ctx context.Context, acts []hcp.Action) {
	for _, a := range acts {
		switch a.Kind {
		case hcp.ActionHumanIntent:
			p, err := hcp.ParsePayload(envelope.HCPIntent, a.Payload)
			if err != nil {
				h.n.em.Error("hcp", "released_intent", a.ID, err, nil)
				continue
			}
			in := p.(*hcp.Intent)
			it := agentloop.Item{Kind: agentloop.ItemHumanIntent, ID: a.ID, Topic: in.Topic, Goal: in.Goal.String(),
				Priority: in.Priority.String(), Text: in.Context, Causes: a.Causes}
			if err := h.loop.Submit(ctx, it); err != nil {
				h.n.em.Error("hcp", "released_intent", a.ID, err, nil)
			}
		case actionRequestDecision:
			var pd PendingDecision
			if err := json.Unmarshal(a.Payload, &pd); err != nil {
				h.n.em.Error("hcp", "released_decision", a.ID, err, nil)
				continue
			}
			if err := h.requestDecision(pd); err != nil {
				h.n.em.Error("hcp", "released_decision", a.ID, err, nil)
			}
		default:
			h.n.em.Error("hcp", "released_unknown", a.ID, fmt.Errorf("held action of unknown kind %q", a.Kind), nil)
		}
	}
}

// act is the AgentLoop's Actor.
func (h *humanRuntime) act(ctx context.Context, a agentloop.Action) error {
	switch a.Kind {
	case agentloop.ActSendIntent:
		return h.sendIntent(a)
	case agentloop.ActReplyIntent:
		v, ok := h.waiters.Load(a.ReplyTo)
		if !ok {
			return fmt.Errorf("peer intent %s: nobody waits for the answer any more (gave up after %v)", a.ReplyTo, h.cfg.PeerIntentWait)
		}
		select {
		case v.(chan agentloop.Action) <- a:
			return nil
		default:
			return fmt.Errorf("peer intent %s answered twice", a.ReplyTo)
		}
	case agentloop.ActRequestDecision:
		pd := PendingDecision{ID: a.ID, Topic: a.Topic, Question: a.Context, Alternatives: a.Alternatives,
			Cause: a.Decision, Requested: h.n.cfg.Now()}
		payload, err := json.Marshal(pd)
		if err != nil {
			return err
		}
		// Asking the human is an action toward them: consent first.
		err = h.gate.Pass(ctx, hcp.Action{ID: a.ID, Kind: actionRequestDecision, Topic: a.Topic,
			Priority: hcp.PriorityHigh, Payload: payload, Causes: []string{a.Decision}})
		if errors.Is(err, hcp.ErrHeld) {
			return nil // held with an event; released by a consent change
		}
		if err != nil {
			return err
		}
		return h.requestDecision(pd)
	default:
		return fmt.Errorf("action kind %v not supported by the node", a.Kind)
	}
}

// requestDecision makes pd pending (persisted) and prompts the human as
// far as pacing allows. Pacing never drops the request: a suppressed
// prompt stays pending for the human to pull, a deferred one is prompted
// again when the pacer's RetryAfter has passed.
func (h *humanRuntime) requestDecision(pd PendingDecision) error {
	v, err := h.pace(&pd)
	if err != nil {
		return err
	}
	h.n.em.Emit(EventDecisionRequested, pd.ID, map[string]any{
		"topic": pd.Topic, "question": pd.Question, "alternatives": toAnySlice(pd.Alternatives), "paced": pd.Paced}, pd.Cause)
	h.announce(pd, v)
	return nil
}

// minPromptRetry bounds how soon a deferred prompt is tried again.
const minPromptRetry = 10 * time.Millisecond

// pace asks the pacer about a decision prompt for pd and persists pd with
// the outcome, before anything announces it.
func (h *humanRuntime) pace(pd *PendingDecision) (hcp.Verdict, error) {
	v := h.pacer.Decide(hcp.Prompt{Kind: hcp.PromptDecision, Priority: hcp.PriorityHigh})
	pd.Paced, pd.PacedReason = v.Outcome.String(), v.Reason
	return v, h.n.db.PutJSON(bucketDecisions, []byte(pd.ID), pd)
}

// announce prompts the human about pd as v allows; a deferred prompt is
// tried again after v.RetryAfter while pd is still pending.
func (h *humanRuntime) announce(pd PendingDecision, v hcp.Verdict) {
	switch v.Outcome {
	case hcp.Allow:
		h.n.em.Emit(EventPrompt, pd.ID, map[string]any{"kind": hcp.PromptDecision.String(), "topic": pd.Topic, "question": pd.Question}, pd.ID)
	case hcp.CheckIn:
		h.n.em.Emit(EventPrompt, pd.ID, map[string]any{"kind": hcp.PromptCheckIn.String(), "topic": pd.Topic,
			"question": "before deciding: how are you doing?"}, pd.ID)
	case hcp.Defer:
		id := pd.ID
		h.spawn(func(ctx context.Context) {
			t := time.NewTimer(max(v.RetryAfter, minPromptRetry))
			defer t.Stop()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			h.pmu.Lock()
			var cur PendingDecision
			if err := h.n.db.GetJSON(bucketDecisions, []byte(id), &cur); err != nil {
				h.pmu.Unlock()
				return // answered meanwhile
			}
			v, err := h.pace(&cur)
			h.pmu.Unlock()
			if err != nil {
				if ctx.Err() == nil {
					h.n.em.Error("hcp", "prompt_retry", id, err, nil)
				}
				return
			}
			h.announce(cur, v)
		})
	}
}

// sendIntent sends a CIP INTENT to the peer on the human's behalf, in the
// background so that the loop never waits on the network, and feeds the
// peer's answer back to the loop as an intent reply.
func (h *humanRuntime) sendIntent(a agentloop.Action) error {
	pid, ok := h.peerByFingerprint(a.To)
	if !ok {
		return fmt.Errorf("%w: no ready session with fingerprint %.16s…", ErrUnknownPeer, a.To)
	}
	var req cip.IntentRequest
	req.Topic, req.Context = a.Topic, a.Context
	if err := req.Goal.UnmarshalText([]byte(a.Goal)); err != nil {
		return fmt.Errorf("intent goal: %w", err)
	}
	if err := req.Priority.UnmarshalText([]byte(a.Priority)); err != nil {
		return fmt.Errorf("intent priority: %w", err)
	}
	started := h.spawn(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, h.cfg.SendTimeout)
		defer cancel()
		r, err := h.n.SendIntent(ctx, pid, req)
		text := ""
		if err != nil {
			if h.ctx.Err() != nil {
				return // closing
			}
			text = "no answer: " + err.Error()
		} else {
			text = r.Decision.String()
			if r.Reason != "" {
				text += ": " + r.Reason
			}
		}
		it := agentloop.Item{Kind: agentloop.ItemIntentReply, ID: "reply:" + a.ID, From: a.To, Topic: a.Topic, Text: text, Ref: a.ID}
		if err := h.loop.Submit(ctx, it); err != nil && h.ctx.Err() == nil {
			h.n.em.Error("agentloop", "intent_reply", a.ID, err, nil)
		}
	})
	if !started {
		return agentloop.ErrClosed
	}
	return nil
}

// peerIntent is the node's intentHook: a peer's CIP INTENT request goes to
// the AgentLoop, which accepts or defers it (and records it in causal
// memory). A full inbox is overload: defer.
func (h *humanRuntime) peerIntent(ctx context.Context, from string, req cip.IntentRequest) (cip.Decision, string) {
	fp := ""
	if pid, err := peer.Decode(from); err == nil {
		fp, _ = FingerprintOf(pid)
	}
	id := "peer-intent:" + uuid.NewString()
	ch := make(chan agentloop.Action, 1)
	h.waiters.Store(id, ch)
	defer h.waiters.Delete(id)
	it := agentloop.Item{Kind: agentloop.ItemPeerIntent, ID: id, From: fp, Topic: req.Topic,
		Goal: req.Goal.String(), Priority: req.Priority.String(), Text: req.Context}
	if err := h.loop.TrySubmit(it); err != nil {
		return cip.Defer, "agent inbox full"
	}
	t := time.NewTimer(h.cfg.PeerIntentWait)
	defer t.Stop()
	select {
	case a := <-ch:
		if a.Reply == agentloop.Accept {
			return cip.Accept, a.Reason
		}
		return cip.Defer, a.Reason
	case <-t.C:
		return cip.Defer, fmt.Sprintf("agent loop did not decide within %v", h.cfg.PeerIntentWait)
	case <-ctx.Done():
		return cip.Defer, "node closing"
	}
}

// readySessions returns the sessions whose CIP handshake succeeded.
func (n *Node) readySessions() []*peerSession {
	n.sess.mu.Lock()
	defer n.sess.mu.Unlock()
	var out []*peerSession
	for _, ps := range n.sess.m {
		select {
		case <-ps.ready:
		default:
			continue
		}
		select {
		case <-ps.t.Done():
			continue
		default:
		}
		out = append(out, ps)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].fp < out[j].fp })
	return out
}

func (h *humanRuntime) peerByFingerprint(fp string) (peer.ID, bool) {
	for _, ps := range h.n.readySessions() {
		if ps.fp == fp {
			return ps.t.RemotePeer(), true
		}
	}
	return "", false
}

// peers lists the peers past the CIP handshake for intent propagation.
// A peer that advertises no "topic:" capability is taken as a generalist
// (agentloop.CapabilityAll): the SPEC's capability list names protocols,
// not topics, and a node that does not narrow its topics takes any.
func (h *humanRuntime) peers() []agentloop.Peer {
	var out []agentloop.Peer
	for _, ps := range h.n.readySessions() {
		p := agentloop.Peer{Fingerprint: ps.fp}
		if ps.hs != nil {
			p.AgentID = ps.hs.Peer.AgentID
			p.Capabilities = append([]string(nil), ps.hs.Peer.Capabilities...)
		}
		if ri, ok := h.n.peerInfo(ps.t.RemotePeer()); ok {
			if len(ri.capabilities) > 0 {
				p.Capabilities = append([]string(nil), ri.capabilities...)
			}
			var pr envelope.Presence
			if pr.UnmarshalText([]byte(ri.presence)) == nil {
				p.Presence = pr
			}
		}
		topical := false
		for _, c := range p.Capabilities {
			if strings.HasPrefix(c, "topic:") || c == agentloop.CapabilityAll {
				topical = true
			}
		}
		if !topical {
			p.Capabilities = append(p.Capabilities, agentloop.CapabilityAll)
		}
		out = append(out, p)
	}
	return out
}

// broadcastLoop sends the loop's presence and LRI as CIP STATE_UPDATE to
// every peer with a ready session whenever presence changes.
func (h *humanRuntime) broadcastLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.presCh:
			h.broadcast(ctx)
		}
	}
}

func (h *humanRuntime) broadcast(ctx context.Context) {
	pres, lri := h.loop.State()
	sent, failed := 0, 0
	for _, ps := range h.n.readySessions() {
		msg, err := h.n.builder().StateUpdate(h.n.cipPeer(ps), cip.StateUpdatePayload{
			Presence: pres, LRI: lri, TrustState: h.n.viewOf(ps.fp), KernelSignals: []string{}})
		if err == nil {
			sctx, cancel := context.WithTimeout(ctx, h.cfg.BroadcastTimeout)
			err = ps.sendEnvelope(sctx, rtt.State, msg.Wire)
			cancel()
		}
		if err != nil {
			failed++
			if ctx.Err() == nil {
				h.n.em.Error("agentloop", "state_broadcast", ps.t.RemotePeer().String(), err, nil)
			}
			continue
		}
		sent++
	}
	h.n.em.Emit(EventStateBroadcast, "", map[string]any{"presence": pres.String(), "lri": lri, "peers": sent, "failed": failed})
}

// sweepLoop expires held actions whose TTL passed (the gate emits the
// events).
func (h *humanRuntime) sweepLoop(ctx context.Context) {
	t := time.NewTicker(h.cfg.SweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.gate.Sweep()
		}
	}
}

// pending returns the pending decision requests, oldest first.
func (h *humanRuntime) pending() ([]PendingDecision, error) {
	var out []PendingDecision
	err := h.n.db.ForEach(bucketDecisions, func(_, v []byte) error {
		var pd PendingDecision
		if err := json.Unmarshal(v, &pd); err != nil {
			return err
		}
		out = append(out, pd)
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Requested.Before(out[j].Requested) })
	return out, nil
}

func toAnySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// WaitReady waits until the CIP handshake with p has completed (dialling
// p if there is no session yet), so that p is one of the peers the
// AgentLoop may ask.
func (n *Node) WaitReady(ctx context.Context, p peer.ID) error {
	_, err := n.readySession(ctx, p)
	return err
}
