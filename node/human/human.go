package human

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
	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/lifecycle"
	"github.com/web4p2p/web4p2p/internal/store"
	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/node/peers"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/hcp"
	"github.com/web4p2p/web4p2p/protocols/router"
)

// Config holds the knobs of the HCP runtime and the AgentLoop of a
// node. DefaultConfig returns the defaults; zero fields take them.
type Config struct {
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

// DefaultConfig returns the SPEC §6/§10 defaults.
func DefaultConfig() Config {
	return Config{
		Loop:             agentloop.DefaultConfig(),
		Gate:             hcp.DefaultGateConfig(),
		Pacing:           hcp.DefaultPacingConfig(),
		SendTimeout:      15 * time.Second,
		PeerIntentWait:   5 * time.Second,
		BroadcastTimeout: 5 * time.Second,
		SweepEvery:       time.Minute,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
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
var ErrNoHuman = errors.New("human: runtime not running")

// ErrUnknownDecision: no pending decision request with that id.
var ErrUnknownDecision = errors.New("human: no such pending decision")

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

// Peers is what the human runtime needs of the direct-peer runtime
// (node/peers.Runtime).
type Peers interface {
	// Ready lists the peers past the CIP handshake.
	Ready() []peers.Ready
	// SendIntent sends a CIP INTENT and waits for the reply.
	SendIntent(ctx context.Context, p peer.ID, req cip.IntentRequest) (cip.IntentReply, error)
	// SendState sends a CIP STATE_UPDATE to a ready peer.
	SendState(ctx context.Context, p peer.ID, pres envelope.Presence, lri int) error
}

// Provenance is where Why finds the proposals of a fact that causal memory
// never recorded (*knowledge.Store).
type Provenance interface {
	Provenance(factID string) ([]knowledge.Provenance, error)
}

// Deps are the runtime's collaborators, built by the node before it.
type Deps struct {
	// Store persists the human state, pending decisions, the consent
	// gate's held actions and causal memory.
	Store *store.DB
	// DataDir holds the human key ("" : a throw-away key, as the node's
	// throw-away store).
	DataDir string
	// AgentID and Fingerprint name this node (the human's envelopes are
	// addressed to it).
	AgentID, Fingerprint string
	// Router routes the human's verified envelopes (ConsentGate and
	// HumanState routes, which New registers).
	Router *router.Router
	// Replay is the node's replay cache for direct envelopes.
	Replay *envelope.ReplayCache
	Peers  Peers
	// Provenance may be nil (Why then knows only causal memory).
	Provenance Provenance
	Events     *events.Emitter
	Group      *lifecycle.Group
	Now        func() time.Time
}

// Runtime holds the HCP runtime and the AgentLoop of the node.
type Runtime struct {
	deps      Deps
	cfg       Config
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
	// decided are the OnDecided listeners (dmu guards the slice; a leaf).
	dmu     sync.Mutex
	decided []func(cause, choice string)
}

// New builds the HCP runtime and the AgentLoop and registers the
// ConsentGate and HumanState routes. Start starts the loop.
func New(cfg Config, deps Deps) (*Runtime, error) {
	switch {
	case deps.Store == nil, deps.Router == nil, deps.Replay == nil, deps.Peers == nil, deps.Group == nil:
		return nil, fmt.Errorf("human: Store, Router, Replay, Peers and Group are required")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	cfg = cfg.withDefaults()
	if err := hcp.RegisterSchemas(); err != nil {
		return nil, fmt.Errorf("hcp schemas: %w", err)
	}
	h := &Runtime{deps: deps, cfg: cfg, presCh: make(chan struct{}, 1)}
	var err error
	if deps.DataDir == "" {
		// No data dir: a throw-away human key, as the store is.
		_, h.key, err = ed25519.GenerateKey(rand.Reader)
	} else {
		h.key, err = hcp.LoadOrCreateHumanKey(deps.DataDir)
	}
	if err != nil {
		return nil, err
	}
	h.fp = envelope.Fingerprint(h.key.Public().(ed25519.PublicKey))
	if h.gate, err = hcp.NewGate(deps.Store, cfg.Gate, deps.Events, deps.Now); err != nil {
		return nil, err
	}
	h.pacer = hcp.NewPacer(cfg.Pacing, h.gate.Human, deps.Events, deps.Now)
	if h.mem, err = agentloop.NewMemory(deps.Store); err != nil {
		return nil, err
	}
	// The human's envelopes arrive through the control API, not from a
	// peer: they are verified (signature, time, replay, addressee, schema)
	// with the local gate (router.Policy.Local), as router.Policy documents.
	h.validator = envelope.NewValidator(envelope.Config{
		Now: deps.Now, LocalFingerprint: deps.Fingerprint, Replay: deps.Replay, Events: deps.Events,
		Policy: deps.Router.Policy().Local,
	})
	lc := cfg.Loop
	lc.Events, lc.Now = deps.Events, deps.Now
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
		return nil, err
	}
	handler := &hcp.Handler{Gate: h.gate, Human: h.fp, Deliver: h.deliver, Released: h.released}
	for _, route := range []router.Route{router.HumanState, router.ConsentGate} {
		if _, err := deps.Router.Register(route, handler); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Start starts the AgentLoop, restores the human state saved before a
// restart and starts the presence broadcast and the held-action sweep.
func (h *Runtime) Start() error {
	if err := h.loop.Start(); err != nil {
		return err
	}
	if err := h.restoreState(h.deps.Group.Context()); err != nil {
		_ = h.loop.Close()
		return err
	}
	h.deps.Group.Go(h.broadcastLoop)
	// Held actions past their TTL expire (the gate emits the events).
	h.deps.Group.Every(h.cfg.SweepEvery, func(context.Context) { h.gate.Sweep() })
	return nil
}

// restoreState gives the gate the human state saved before a restart;
// held actions it admits are released to the (running) loop, and expired
// consent counts as revoked as always.
func (h *Runtime) restoreState(ctx context.Context) error {
	raw, err := h.deps.Store.Get(bucketHuman, []byte(keyHumanState))
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
	rel, err := h.gate.SetHuman(ctx, st)
	if err != nil {
		return err
	}
	h.released(ctx, rel)
	return nil
}

// saveState persists st as the human's current state.
func (h *Runtime) saveState(st envelope.Human) error {
	raw, err := hcp.MarshalState(st)
	if err != nil {
		return err
	}
	return h.deps.Store.Put(bucketHuman, []byte(keyHumanState), raw)
}

// Close stops the AgentLoop (the node has closed the goroutine group
// before, so no action is in flight). Idempotent.
func (h *Runtime) Close() error { return h.loop.Close() }

// spawn runs fn on a goroutine of the node's group; false once it closes.
func (h *Runtime) spawn(fn func(ctx context.Context)) bool { return h.deps.Group.Go(fn) }

// Presence is the AgentLoop's presence and LRI (SPEC §10), measured from
// real load; it is the node's presence (peers.Agent).
func (h *Runtime) Presence() (envelope.Presence, int) { return h.loop.State() }

// human returns the current human-state vector, or the default before the
// human said anything: consent revoked, so nothing is done on their behalf
// until they give it.
func (h *Runtime) human() envelope.Human {
	if st := h.gate.Human(); st != nil {
		return *st
	}
	return envelope.Human{Presence: envelope.Diffuse, Affect: envelope.Neutral, Clarity: 100, Pressure: 0,
		Consent: envelope.ConsentRevoked, ConsentScope: []string{}}
}

func (h *Runtime) builder() *hcp.Builder {
	return &hcp.Builder{Key: h.key, AgentID: "human@" + h.deps.AgentID, Now: h.deps.Now, Human: h.human}
}

// Builder returns the HCP builder that signs as the human (tests and
// benchmarks build envelopes with it).
func (h *Runtime) Builder() *hcp.Builder { return h.builder() }

// To addresses an HCP envelope to this node.
func (h *Runtime) To() hcp.To { return h.to() }

func (h *Runtime) to() hcp.To {
	return hcp.To{AgentID: h.deps.AgentID, Fingerprint: h.deps.Fingerprint}
}

// route verifies a human envelope like any other and hands it to the
// router as a local message (ConsentGate or HumanState route).
func (h *Runtime) route(ctx context.Context, msg *hcp.Message) (*envelope.Envelope, error) {
	env, err := h.validator.Validate(msg.Wire)
	if err != nil {
		return nil, err
	}
	return env, h.deps.Router.Route(ctx, &router.Message{Env: env, Local: true, Channel: "control_api"})
}

// deliver hands a human message that passed the consent gate to the loop.
func (h *Runtime) deliver(ctx context.Context, msg *router.Message, p any) error {
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
	it.ID = msg.Env.MsgID
	return h.loop.Submit(ctx, it)
}

// released takes back what the consent gate held once consent admits it.
func (h *Runtime) released(ctx context.Context, acts []hcp.Action) {
	for _, a := range acts {
		switch a.Kind {
		case hcp.ActionHumanIntent:
			p, err := hcp.ParsePayload(envelope.HCPIntent, a.Payload)
			if err != nil {
				h.deps.Events.Error("hcp", "released_intent", a.ID, err, nil)
				continue
			}
			in := p.(*hcp.Intent)
			it := agentloop.Item{Kind: agentloop.ItemHumanIntent, ID: a.ID, Topic: in.Topic, Goal: in.Goal.String(),
				Priority: in.Priority.String(), Text: in.Context, Causes: a.Causes}
			if err := h.loop.Submit(ctx, it); err != nil {
				h.deps.Events.Error("hcp", "released_intent", a.ID, err, nil)
			}
		case actionRequestDecision:
			var pd PendingDecision
			if err := json.Unmarshal(a.Payload, &pd); err != nil {
				h.deps.Events.Error("hcp", "released_decision", a.ID, err, nil)
				continue
			}
			if err := h.requestDecision(pd); err != nil {
				h.deps.Events.Error("hcp", "released_decision", a.ID, err, nil)
			}
		default:
			h.deps.Events.Error("hcp", "released_unknown", a.ID, fmt.Errorf("held action of unknown kind %q", a.Kind), nil)
		}
	}
}

// act is the AgentLoop's Actor.
func (h *Runtime) act(ctx context.Context, a agentloop.Action) error {
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
			Cause: a.Decision, Requested: h.deps.Now()}
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
func (h *Runtime) requestDecision(pd PendingDecision) error {
	v, err := h.pace(&pd)
	if err != nil {
		return err
	}
	h.deps.Events.Emit(EventDecisionRequested, pd.ID, map[string]any{
		"topic": pd.Topic, "question": pd.Question, "alternatives": toAnySlice(pd.Alternatives), "paced": pd.Paced}, pd.Cause)
	h.announce(pd, v)
	return nil
}

// minPromptRetry bounds how soon a deferred prompt is tried again.
const minPromptRetry = 10 * time.Millisecond

// pace asks the pacer about a decision prompt for pd and persists pd with
// the outcome, before anything announces it.
func (h *Runtime) pace(pd *PendingDecision) (hcp.Verdict, error) {
	v := h.pacer.Decide(hcp.Prompt{Kind: hcp.PromptDecision, Priority: hcp.PriorityHigh})
	pd.Paced, pd.PacedReason = v.Outcome.String(), v.Reason
	return v, h.deps.Store.PutJSON(bucketDecisions, []byte(pd.ID), pd)
}

// announce prompts the human about pd as v allows; a deferred prompt is
// tried again after v.RetryAfter while pd is still pending.
func (h *Runtime) announce(pd PendingDecision, v hcp.Verdict) {
	switch v.Outcome {
	case hcp.Allow:
		h.deps.Events.Emit(EventPrompt, pd.ID, map[string]any{"kind": hcp.PromptDecision.String(), "topic": pd.Topic, "question": pd.Question}, pd.ID)
	case hcp.CheckIn:
		h.deps.Events.Emit(EventPrompt, pd.ID, map[string]any{"kind": hcp.PromptCheckIn.String(), "topic": pd.Topic,
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
			if err := h.deps.Store.GetJSON(bucketDecisions, []byte(id), &cur); err != nil {
				h.pmu.Unlock()
				return // answered meanwhile
			}
			v, err := h.pace(&cur)
			h.pmu.Unlock()
			if err != nil {
				if ctx.Err() == nil {
					h.deps.Events.Error("hcp", "prompt_retry", id, err, nil)
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
func (h *Runtime) sendIntent(a agentloop.Action) error {
	pid, ok := h.peerByFingerprint(a.To)
	if !ok {
		return fmt.Errorf("%w: no ready session with fingerprint %.16s…", peers.ErrUnknownPeer, a.To)
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
		r, err := h.deps.Peers.SendIntent(ctx, pid, req)
		text := ""
		if err != nil {
			if h.deps.Group.Closing() {
				return
			}
			text = "no answer: " + err.Error()
		} else {
			text = r.Decision.String()
			if r.Reason != "" {
				text += ": " + r.Reason
			}
		}
		it := agentloop.Item{Kind: agentloop.ItemIntentReply, ID: "reply:" + a.ID, From: a.To, Topic: a.Topic, Text: text, Ref: a.ID}
		if err := h.loop.Submit(ctx, it); err != nil && !h.deps.Group.Closing() {
			h.deps.Events.Error("agentloop", "intent_reply", a.ID, err, nil)
		}
	})
	if !started {
		return agentloop.ErrClosed
	}
	return nil
}

// DecideIntent answers a peer's CIP INTENT request (peers.Agent): it goes
// to the AgentLoop, which accepts or defers it (and records it in causal
// memory). A full inbox is overload: defer. It waits at most
// Config.PeerIntentWait.
func (h *Runtime) DecideIntent(ctx context.Context, fp string, req cip.IntentRequest) (cip.Decision, string) {
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

func (h *Runtime) peerByFingerprint(fp string) (peer.ID, bool) {
	for _, p := range h.deps.Peers.Ready() {
		if p.Fingerprint == fp {
			return p.PeerID, true
		}
	}
	return "", false
}

// peers lists the peers past the CIP handshake for intent propagation.
// A peer that advertises no "topic:" capability is taken as a generalist
// (agentloop.CapabilityAll): the SPEC's capability list names protocols,
// not topics, and a node that does not narrow its topics takes any.
func (h *Runtime) peers() []agentloop.Peer {
	var out []agentloop.Peer
	for _, r := range h.deps.Peers.Ready() {
		p := agentloop.Peer{Fingerprint: r.Fingerprint, AgentID: r.AgentID, Capabilities: r.Capabilities, Presence: r.Presence}
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
func (h *Runtime) broadcastLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.presCh:
			h.broadcast(ctx)
		}
	}
}

func (h *Runtime) broadcast(ctx context.Context) {
	pres, lri := h.loop.State()
	sent, failed := 0, 0
	for _, p := range h.deps.Peers.Ready() {
		sctx, cancel := context.WithTimeout(ctx, h.cfg.BroadcastTimeout)
		err := h.deps.Peers.SendState(sctx, p.PeerID, pres, lri)
		cancel()
		if err != nil {
			failed++
			if ctx.Err() == nil {
				h.deps.Events.Error("agentloop", "state_broadcast", p.PeerID.String(), err, nil)
			}
			continue
		}
		sent++
	}
	h.deps.Events.Emit(EventStateBroadcast, "", map[string]any{"presence": pres.String(), "lri": lri, "peers": sent, "failed": failed})
}

// pending returns the pending decision requests, oldest first.
func (h *Runtime) pending() ([]PendingDecision, error) {
	var out []PendingDecision
	err := h.deps.Store.ForEach(bucketDecisions, func(_, v []byte) error {
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
