package agentloop

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// Loop errors.
var (
	// ErrBackpressure: the inbox is full (TrySubmit), never a silent drop.
	ErrBackpressure = errors.New("agentloop: inbox full")
	// ErrClosed: the loop was closed.
	ErrClosed = errors.New("agentloop: closed")
	// ErrItem: a malformed item was submitted.
	ErrItem = errors.New("agentloop: invalid item")
)

// Event types emitted by the loop.
const (
	EventPresence  = "web4.agentloop.presence_changed"
	EventDecision  = "web4.agentloop.decision"
	EventDrift     = "web4.agentloop.drift"
	EventActFailed = "web4.agentloop.act_failed"
)

// Deps are the collaborators of a Loop. Actor and Memory are required.
type Deps struct {
	// Actor performs actions (the node: router, consent, pacing).
	Actor Actor
	// Memory is the causal memory.
	Memory *Memory
	// Peers lists peers for intent propagation; nil = none.
	Peers PeerSource
	// Sampler measures load; nil = NewProcSampler().
	Sampler Sampler
	// Delegate hooks the phases; nil = NopDelegate.
	Delegate Delegate
}

// Loop is the agent loop. Start runs it on its own goroutine; without
// Start, Cycle runs one cycle on the caller's goroutine (tests, tools).
type Loop struct {
	cfg   Config
	deps  Deps
	inbox chan Item

	// cycleMu serialises cycles and guards the state below.
	cycleMu  sync.Mutex
	presence envelope.Presence
	lri      int
	latency  time.Duration
	active   map[string]time.Time // human intent id → expiry
	drift    *drift
	cycles   uint64
	sample   LoadSample
	// snap mirrors presence and LRI (presence<<32 | lri) so State can be
	// read from OnPresence and hooks without taking cycleMu.
	snap atomic.Uint64

	// life guards start/close.
	life    sync.Mutex
	started bool
	closed  bool
	done    chan struct{} // closed by Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// New returns a Loop; zero fields of cfg take DefaultConfig values.
func New(cfg Config, deps Deps) (*Loop, error) {
	if deps.Actor == nil {
		return nil, errors.New("agentloop: New: Actor is required")
	}
	if deps.Memory == nil {
		return nil, errors.New("agentloop: New: Memory is required")
	}
	cfg = cfg.withDefaults()
	if deps.Sampler == nil {
		deps.Sampler = NewProcSampler(0)
	}
	if deps.Delegate == nil {
		deps.Delegate = NopDelegate{}
	}
	if deps.Peers == nil {
		deps.Peers = PeersFunc(func() []Peer { return nil })
	}
	l := &Loop{
		cfg: cfg, deps: deps,
		inbox:    make(chan Item, cfg.InboxSize),
		presence: envelope.Diffuse,
		active:   map[string]time.Time{},
		drift:    newDrift(cfg.DriftWindow),
		done:     make(chan struct{}),
	}
	l.snap.Store(uint64(envelope.Diffuse) << 32)
	return l, nil
}

// Config returns the effective configuration.
func (l *Loop) Config() Config { return l.cfg }

// State returns the current presence and LRI. It takes no lock, so it is
// safe to call from OnPresence and Delegate hooks.
func (l *Loop) State() (envelope.Presence, int) {
	v := l.snap.Load()
	return envelope.Presence(v >> 32), int(uint32(v))
}

// InboxDepth is the number of items waiting.
func (l *Loop) InboxDepth() int { return len(l.inbox) }

// Submit puts it in the inbox, blocking while the inbox is full until ctx
// is done (returning ctx's error wrapped with ErrBackpressure) or the loop
// closes (ErrClosed).
func (l *Loop) Submit(ctx context.Context, it Item) error {
	if err := l.prepare(&it); err != nil {
		return err
	}
	select {
	case <-l.done:
		return ErrClosed
	default:
	}
	select {
	case l.inbox <- it:
		return nil
	case <-l.done:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrBackpressure, ctx.Err())
	}
}

// TrySubmit puts it in the inbox or fails at once with ErrBackpressure.
func (l *Loop) TrySubmit(it Item) error {
	if err := l.prepare(&it); err != nil {
		return err
	}
	select {
	case <-l.done:
		return ErrClosed
	default:
	}
	select {
	case l.inbox <- it:
		return nil
	default:
		return fmt.Errorf("%w (%d items)", ErrBackpressure, cap(l.inbox))
	}
}

func (l *Loop) prepare(it *Item) error {
	if err := it.check(); err != nil {
		l.cfg.Events.Error("agentloop", "invalid_item", it.ID, err, nil)
		return err
	}
	if it.Received.IsZero() {
		it.Received = l.cfg.Now()
	}
	return nil
}

// Start runs the loop on its own goroutine until Close. Idempotent;
// ErrClosed after Close.
func (l *Loop) Start() error {
	l.life.Lock()
	defer l.life.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.started {
		return nil
	}
	l.started = true
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.wg.Add(1)
	go l.run(ctx)
	return nil
}

// Close stops the loop and waits for its goroutine. Items still in the
// inbox are not processed. Idempotent.
func (l *Loop) Close() error {
	l.life.Lock()
	if l.closed {
		l.life.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	if l.cancel != nil {
		l.cancel()
	}
	l.life.Unlock()
	l.wg.Wait()
	return nil
}

func (l *Loop) run(ctx context.Context) {
	defer l.wg.Done()
	t := time.NewTicker(l.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case it := <-l.inbox:
			l.cycle(ctx, &it)
		case <-t.C:
			l.cycle(ctx, nil)
		}
	}
}

// Cycle runs one perceive → orient → decide → act → reflect cycle on the
// caller's goroutine, draining up to MaxBatch items (possibly none). It is
// serialised with the loop's own cycles. Returns the reflection.
func (l *Loop) Cycle(ctx context.Context) Reflection {
	return l.cycle(ctx, nil)
}

func (l *Loop) cycle(ctx context.Context, first *Item) Reflection {
	l.cycleMu.Lock()
	defer l.cycleMu.Unlock()
	l.cycles++
	d := l.deps.Delegate

	// Perceive: the backlog is measured before draining, so items waiting
	// (including the ones about to be processed) count as load.
	depth := len(l.inbox)
	var batch []Item
	if first != nil {
		batch = append(batch, *first)
		depth++
	}
drain:
	for len(batch) < l.cfg.MaxBatch {
		select {
		case it := <-l.inbox:
			batch = append(batch, it)
		default:
			break drain
		}
	}
	batch = l.valid(d.Perceive(ctx, batch))

	// Orient.
	o := l.orient(depth)
	d.Orient(ctx, o)

	// Decide and act, item by item, in order; presence is fixed for the
	// batch (it was oriented on the whole backlog).
	r := Reflection{Cycle: l.cycles}
	var nodes []Node
	now := l.cfg.Now()
	var latSum time.Duration
	for _, it := range batch {
		r.Processed++
		latSum += max(0, now.Sub(it.Received))
		nodes = append(nodes, itemNode(it, now))
		dec, proposed := l.policy(it, o, now)
		dec.Summary = clipText(dec.Summary)
		var acts []Action
		for _, a := range d.Decide(ctx, it, o, proposed) {
			if a.Kind < ActSendIntent || a.Kind > ActRequestDecision {
				// A delegate bug must not reach the Actor.
				l.cfg.Events.Error("agentloop", "invalid_action", dec.ID, fmt.Errorf("action kind %d from Decide hook", a.Kind), nil)
				continue
			}
			a.Decision = dec.ID
			if a.ID == "" {
				a.ID = l.newID()
			}
			acts = append(acts, a)
		}
		dec.Trace.Consequences = l.act(ctx, acts, &r)
		nodes = append(nodes, dec)
		for _, a := range acts {
			nodes = append(nodes, actionNode(a, now))
		}
		l.cfg.Events.Emit(EventDecision, dec.ID, map[string]any{
			"item": it.ID, "item_kind": it.Kind.String(), "decision": dec.Trace.Decision,
			"actions": len(acts), "presence": o.Presence.String(), "lri": o.LRI,
		}, it.ID)
	}
	l.updateLatency(latSum, len(batch))

	// Reflect: drift, then causal memory.
	r.Drift = l.drift.share()
	if !l.drift.alarm && len(l.cfg.Mission) > 0 && r.Drift > l.cfg.DriftThreshold {
		l.drift.alarm = true
		nodes = append(nodes, l.driftAlarm(ctx, r.Drift, o, now, &r)...)
	} else if l.drift.alarm && r.Drift <= l.cfg.DriftThreshold {
		l.drift.alarm = false
	}
	r.Drifting = l.drift.alarm
	if len(nodes) > 0 {
		if err := l.deps.Memory.Record(nodes...); err != nil {
			l.cfg.Events.Error("agentloop", "causal_memory", "", err, nil)
		} else {
			r.Recorded = len(nodes)
		}
	}
	d.Reflect(ctx, r)
	return r
}

// valid drops items a Perceive hook made invalid, with an event each.
func (l *Loop) valid(batch []Item) []Item {
	out := batch[:0]
	for _, it := range batch {
		if err := it.check(); err != nil {
			l.cfg.Events.Error("agentloop", "invalid_item", it.ID, err, nil)
			continue
		}
		out = append(out, it)
	}
	return out
}

// orient samples load, computes LRI and presence, and reports changes.
func (l *Loop) orient(depth int) Orientation {
	now := l.cfg.Now()
	for id, exp := range l.active {
		if !now.Before(exp) {
			delete(l.active, id)
		}
	}
	if s, err := l.deps.Sampler.Sample(); err != nil {
		l.cfg.Events.Error("agentloop", "sampler", "", fmt.Errorf("%w: %w", ErrSampler, err), nil)
	} else {
		l.sample = s
	}
	l.lri = ComputeLRI(l.cfg.Weights, l.cfg.LatencyCeiling, LoadInputs{
		Load: l.sample, InboxDepth: depth, InboxCap: l.cfg.InboxSize, Latency: l.latency,
	})
	prev := l.presence
	l.presence = NextPresence(l.cfg, prev, l.lri, len(l.active))
	l.snap.Store(uint64(l.presence)<<32 | uint64(uint32(l.lri)))
	if l.presence != prev {
		l.cfg.Events.Emit(EventPresence, "", map[string]any{
			"from": prev.String(), "to": l.presence.String(), "lri": l.lri,
			"cpu": l.sample.CPU, "memory": l.sample.Memory, "inbox_depth": depth,
			"latency_ms": l.latency.Milliseconds(), "active_intents": len(l.active),
		})
		if l.cfg.OnPresence != nil {
			l.cfg.OnPresence(prev, l.presence, l.lri)
		}
	}
	return Orientation{LRI: l.lri, Presence: l.presence, Previous: prev, Load: l.sample,
		InboxDepth: depth, Latency: l.latency, ActiveIntents: len(l.active)}
}

// updateLatency folds the batch's mean latency into the EWMA; an idle
// cycle decays it toward zero, so a past burst does not pin the LRI.
func (l *Loop) updateLatency(sum time.Duration, n int) {
	var sample float64
	if n > 0 {
		sample = float64(sum) / float64(n)
	}
	a := l.cfg.LatencyAlpha
	l.latency = time.Duration(a*sample + (1-a)*float64(l.latency))
}

// policy is the built-in decide phase: it returns the decision node (with
// its DMP trace, consequences filled in later) and the proposed actions.
func (l *Loop) policy(it Item, o Orientation, now time.Time) (Node, []Action) {
	dec := Node{ID: "decision:" + it.ID, Kind: NodeDecision, Type: it.Kind.String(), Causes: []string{it.ID}, Time: now,
		Trace: &Trace{Context: fmt.Sprintf("presence=%v lri=%d inbox=%d active_intents=%d", o.Presence, o.LRI, o.InboxDepth, o.ActiveIntents)}}
	tr := dec.Trace
	switch it.Kind {
	case ItemHumanIntent:
		l.active[it.ID] = now.Add(l.cfg.IntentTTL)
		off := len(l.cfg.Mission) > 0 && !OnMission(l.cfg.Mission, it.Topic)
		l.drift.add(off, it.ID)
		peers := MatchPeers(l.deps.Peers.Peers(), it.Topic, l.cfg.MaxFanout)
		var acts []Action
		for _, p := range peers {
			acts = append(acts, Action{Kind: ActSendIntent, To: p.Fingerprint, Topic: it.Topic,
				Goal: CIPGoal(it.Goal), Priority: CIPPriority(it.Priority), Context: clipText(it.Text)})
		}
		tr.Decision = fmt.Sprintf("accept human intent on %q and ask %d capable peer(s)", it.Topic, len(peers))
		tr.Alternatives = []string{"handle alone without asking peers", "ask the human to clarify"}
		tr.Reasons = []string{fmt.Sprintf("%d peer(s) advertise a capability matching %q", len(peers), it.Topic)}
		if off {
			tr.Reasons = append(tr.Reasons, "topic is outside the mission")
		}
		dec.Summary = "human intent " + it.Topic
		return dec, acts
	case ItemPeerIntent:
		reply, reason := Accept, fmt.Sprintf("capacity available (lri %d)", o.LRI)
		if o.Presence == envelope.Overloaded {
			reply, reason = Defer, fmt.Sprintf("overloaded (lri %d)", o.LRI)
		} else {
			l.drift.add(len(l.cfg.Mission) > 0 && !OnMission(l.cfg.Mission, it.Topic), it.ID)
		}
		tr.Decision = reply.String() + " peer intent on " + it.Topic
		tr.Alternatives = []string{map[Reply]string{Accept: "defer", Defer: "accept"}[reply]}
		tr.Reasons = []string{reason}
		dec.Summary = tr.Decision
		return dec, []Action{{Kind: ActReplyIntent, To: it.From, Topic: it.Topic, ReplyTo: it.ID, Reply: reply, Reason: reason}}
	case ItemIntentDone:
		delete(l.active, it.Ref)
		tr.Decision = "close intent " + it.Ref
	case ItemHumanDecision:
		tr.Decision = "adopt the human's decision: " + clipText(it.Text)
		tr.Alternatives = append([]string(nil), it.Alternatives...)
		tr.Reasons = []string{clipText(it.Rationale)}
	default:
		tr.Decision = "record " + it.Kind.String()
	}
	dec.Summary = tr.Decision
	return dec, nil
}

// act hands each action to the Actor and returns the consequences.
func (l *Loop) act(ctx context.Context, acts []Action, r *Reflection) []string {
	var out []string
	for _, a := range acts {
		actx, cancel := context.WithTimeout(ctx, l.cfg.ActTimeout)
		err := l.deps.Actor.Act(actx, a)
		cancel()
		if err != nil {
			r.Failed++
			out = append(out, fmt.Sprintf("%v %s to %q failed: %v", a.Kind, a.ID, a.To, err))
			l.cfg.Events.Emit(EventActFailed, a.ID, map[string]any{"kind": a.Kind.String(), "to": a.To, "error": err.Error()}, a.Decision)
		} else {
			r.Acted++
			out = append(out, fmt.Sprintf("%v %s to %q", a.Kind, a.ID, a.To))
		}
		l.deps.Delegate.Acted(ctx, a, err)
	}
	return out
}

// driftAlarm emits the drift event and asks the human for a decision.
func (l *Loop) driftAlarm(ctx context.Context, share float64, o Orientation, now time.Time, r *Reflection) []Node {
	off := l.drift.offIDs()
	id := "drift:" + l.newID()
	dec := Node{ID: id, Kind: NodeDecision, Type: "drift", Causes: capCauses(off), Time: now,
		Summary: fmt.Sprintf("mission drift %.2f over the last %d intents", share, l.drift.len()),
		Trace: &Trace{
			Decision:     "ask the human whether to refocus on the mission",
			Alternatives: []string{"continue silently", "widen the mission to the new topics"},
			Reasons:      []string{fmt.Sprintf("drift %.2f > threshold %.2f", share, l.cfg.DriftThreshold)},
			Context:      fmt.Sprintf("mission=%v presence=%v lri=%d", l.cfg.Mission, o.Presence, o.LRI),
		}}
	l.cfg.Events.Emit(EventDrift, id, map[string]any{
		"drift": share, "threshold": l.cfg.DriftThreshold, "window": l.drift.len(), "mission": toAny(l.cfg.Mission),
	}, capCauses(off)...)
	a := Action{Kind: ActRequestDecision, ID: l.newID(), Topic: "mission", Priority: "high", Decision: id,
		Context:      dec.Summary,
		Alternatives: []string{"refocus on the mission " + fmt.Sprint(l.cfg.Mission), "widen the mission", "continue as is"}}
	dec.Trace.Consequences = l.act(ctx, []Action{a}, r)
	return []Node{dec, actionNode(a, now)}
}

func itemNode(it Item, now time.Time) Node {
	causes := append([]string(nil), it.Causes...)
	if it.Ref != "" {
		causes = append(causes, it.Ref)
	}
	s := it.Kind.String()
	if it.Topic != "" {
		s += " " + it.Topic
	}
	return Node{ID: it.ID, Kind: NodeMessage, Type: it.Kind.String(), Summary: clipText(s), Causes: capCauses(causes), Time: now}
}

func actionNode(a Action, now time.Time) Node {
	return Node{ID: a.ID, Kind: NodeAction, Type: a.Kind.String(), Causes: []string{a.Decision}, Time: now,
		Summary: clipText(fmt.Sprintf("%v to %q on %q %s", a.Kind, a.To, a.Topic, a.Reply.summary()))}
}

func (r Reply) summary() string {
	if r == 0 {
		return ""
	}
	return r.String()
}

// newID returns a UUID v4 from the configured randomness.
func (l *Loop) newID() string {
	r := l.cfg.Rand
	if r == nil {
		r = rand.Reader
	}
	u := make([]byte, 16)
	if _, err := io.ReadFull(r, u); err != nil {
		// An exhausted test reader must not stop the loop: fall back.
		_, _ = rand.Read(u)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func capCauses(c []string) []string {
	if len(c) > MaxCauses {
		return c[len(c)-MaxCauses:]
	}
	return c
}

func clipText(s string) string {
	if len(s) > MaxTextLen {
		return s[:MaxTextLen]
	}
	return s
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
