package gossip

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Sentinel errors; compare with errors.Is.
var (
	// ErrConfig: a Config field is invalid.
	ErrConfig = errors.New("gossip: invalid config")
	// ErrIgnore is returned (wrapped) by Config.Validate to drop a message
	// without penalising the peer that delivered it.
	ErrIgnore = errors.New("gossip: ignore message")
	// ErrRejected: Validate refused an own message on Publish.
	ErrRejected = errors.New("gossip: message rejected by validator")
	// ErrDuplicate: the same bytes were already published or received
	// (message IDs are content hashes), so Publish sent nothing.
	ErrDuplicate = errors.New("gossip: duplicate message")
	// ErrClosed: the Gossip was closed.
	ErrClosed = errors.New("gossip: closed")
	// ErrNotJoined: Publish on a topic that was not joined.
	ErrNotJoined = errors.New("gossip: topic not joined")
	// ErrJoined: Join on a topic that is already joined.
	ErrJoined = errors.New("gossip: topic already joined")
	// ErrBadTopic: empty topic name.
	ErrBadTopic = errors.New("gossip: bad topic")
	// ErrBadMessage: empty or oversized message.
	ErrBadMessage = errors.New("gossip: bad message")
)

// MsgID returns the pubsub message ID of data: the raw SHA-256 digest,
// as a string. Equal bytes are one message, whoever relays them.
func MsgID(data []byte) string {
	sum := sha256.Sum256(data)
	return string(sum[:])
}

func msgIDFn(m *pb.Message) string { return MsgID(m.GetData()) }

// PeerScore is pubsub's view of a peer, from the last score snapshot.
type PeerScore struct {
	Score           float64            // total score
	App             float64            // application-specific part (Config.Score)
	Behaviour       float64            // behaviour penalty counter (P7)
	InvalidMessages map[string]float64 // decaying invalid-message counter (P4) by topic
}

// Gossip is one node's GossipSub router with web4 policy. Safe for
// concurrent use.
type Gossip struct {
	h      host.Host
	cfg    Config
	ps     *pubsub.PubSub
	tr     *tracer
	m      *metrics
	scores *scoreCache
	board  *scoreBoard
	lim    *limiter

	psCtx         context.Context // pubsub's context
	psCancel      context.CancelFunc
	deliverCtx    context.Context // cancelled first on Close
	deliverCancel context.CancelFunc
	wg            sync.WaitGroup // our goroutines (one per joined topic)

	mu     sync.Mutex
	closed bool
	topics map[string]*joined

	calls gate // fences Validate and Score calls against Close

	closeOnce sync.Once
	closeErr  error
}

// gate admits callback calls until shut, and shut waits for the calls in
// flight.
type gate struct {
	mu       sync.RWMutex
	shutting bool
}

func (c *gate) enter() bool {
	c.mu.RLock()
	if c.shutting {
		c.mu.RUnlock()
		return false
	}
	return true
}

func (c *gate) exit() { c.mu.RUnlock() }

func (c *gate) shut() {
	c.mu.Lock()
	c.shutting = true
	c.mu.Unlock()
}

type joined struct {
	topic *pubsub.Topic
	sub   *pubsub.Subscription
}

// localPublish rides on an own message through pubsub's local validation
// (WithValidatorData) so that Publish can return Validate's own error.
type localPublish struct {
	called bool
	err    error
}

// New starts GossipSub v1.1 with peer scoring on h. ctx bounds the router's
// life (Close ends it earlier). h's stream handlers for the GossipSub
// protocols are owned by the returned Gossip until Close.
func New(ctx context.Context, h host.Host, cfg Config) (*Gossip, error) {
	if h == nil {
		return nil, fmt.Errorf("%w: host: required", ErrConfig)
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	g := &Gossip{
		h:      h,
		cfg:    cfg,
		m:      m,
		scores: newScoreCache(nil, cfg.ScoreCacheTTL, cfg.Now),
		board:  &scoreBoard{},
		lim:    newLimiter(cfg.Now, EventInterval),
		topics: map[string]*joined{},
	}
	if cfg.Score != nil {
		g.scores.fn = func(p peer.ID) float64 {
			if !g.calls.enter() {
				return 0
			}
			defer g.calls.exit()
			return cfg.Score(p)
		}
	}
	g.tr = &tracer{self: h.ID(), m: m, em: cfg.Events, lim: g.lim, scores: g.board, mesh: map[string]map[peer.ID]struct{}{}, out: map[peer.ID]struct{}{}}

	params := pubsub.DefaultGossipSubParams()
	params.HeartbeatInterval = cfg.Heartbeat
	if cfg.Heartbeat < params.HeartbeatInitialDelay {
		params.HeartbeatInitialDelay = cfg.Heartbeat
	}

	opts := []pubsub.Option{
		pubsub.WithGossipSubParams(params),
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(msgIDFn),
		pubsub.WithPeerOutboundQueueSize(cfg.PeerOutboundQueue),
		pubsub.WithValidateQueueSize(cfg.ValidateQueue),
		pubsub.WithMaxMessageSize(max(cfg.MaxMessageSize+rpcOverhead, DefaultMaxMessageSize)),
		pubsub.WithPeerExchange(false),
		// Own messages go to every topic peer above PublishThreshold, not
		// only to mesh peers (v1.1's recommendation; off by default in this
		// pubsub version): a publisher whose mesh was just pruned, or is not
		// yet formed, would otherwise reach nobody.
		pubsub.WithFloodPublish(true),
		pubsub.WithRawTracer(g.tr),
		pubsub.WithPeerScore(peerScoreParams(g.scores.get, cfg.DecayInterval), peerScoreThresholds()),
		pubsub.WithPeerScoreInspect(pubsub.ExtendedPeerScoreInspectFn(g.board.update), cfg.Heartbeat),
	}
	if cfg.ValidateWorkers > 0 {
		opts = append(opts, pubsub.WithValidateWorkers(cfg.ValidateWorkers))
	}

	psCtx, psCancel := context.WithCancel(ctx)
	ps, err := pubsub.NewGossipSub(psCtx, h, opts...)
	if err != nil {
		psCancel()
		m.unregister(cfg.Registerer)
		return nil, fmt.Errorf("gossip: start gossipsub: %w", err)
	}
	g.ps = ps
	g.psCtx, g.psCancel = psCtx, psCancel
	g.deliverCtx, g.deliverCancel = context.WithCancel(psCtx)
	return g, nil
}

// Deliver receives one remote message that passed Validate: the delivering
// peer, the raw bytes and the value Validate returned for them.
type Deliver func(from peer.ID, raw []byte, data any)

// Join subscribes to topic and installs the validator. deliver is called
// for every remote message that passed Validate, on one goroutine per topic,
// in the order pubsub hands messages over (no order across publishers is
// implied by gossip). Own publishes are not delivered back. deliver may
// block briefly: while it does, up to SubscriptionBuffer messages wait;
// beyond that pubsub drops them (counted as DropSubscriberSlow). A panic in
// deliver is recovered and reported as web4.error.
func (g *Gossip) Join(topic string, deliver Deliver) error {
	if topic == "" {
		return fmt.Errorf("%w: topic: must not be empty", ErrBadTopic)
	}
	if deliver == nil {
		return fmt.Errorf("%w: deliver: required", ErrConfig)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	if _, ok := g.topics[topic]; ok {
		return fmt.Errorf("%w: %s", ErrJoined, topic)
	}
	err := g.ps.RegisterTopicValidator(topic, g.validator(topic),
		pubsub.WithValidatorInline(true), pubsub.WithValidatorTimeout(g.cfg.ValidateTimeout))
	if err != nil {
		return fmt.Errorf("gossip: join %s: validator: %w", topic, err)
	}
	t, err := g.ps.Join(topic)
	if err != nil {
		_ = g.ps.UnregisterTopicValidator(topic)
		return fmt.Errorf("gossip: join %s: %w", topic, err)
	}
	undo := func() {
		_ = t.Close()
		_ = g.ps.UnregisterTopicValidator(topic)
	}
	if err := t.SetScoreParams(topicScoreParams()); err != nil {
		undo()
		return fmt.Errorf("gossip: join %s: score params: %w", topic, err)
	}
	sub, err := t.Subscribe(pubsub.WithBufferSize(g.cfg.SubscriptionBuffer))
	if err != nil {
		undo()
		return fmt.Errorf("gossip: join %s: subscribe: %w", topic, err)
	}
	j := &joined{topic: t, sub: sub}
	g.topics[topic] = j
	g.wg.Add(1)
	go g.deliverLoop(topic, sub, deliver)
	g.cfg.Events.Emit("web4.gossip.joined", topic, map[string]any{"topic": topic})
	return nil
}

func (g *Gossip) deliverLoop(topic string, sub *pubsub.Subscription, deliver Deliver) {
	defer g.wg.Done()
	self := g.h.ID()
	delivered := g.m.delivered.WithLabelValues(topic)
	for {
		msg, err := sub.Next(g.deliverCtx)
		if err != nil || g.deliverCtx.Err() != nil {
			return
		}
		if msg.ReceivedFrom == self {
			continue
		}
		g.m.nDelivered.Add(1)
		delivered.Inc()
		g.callDeliver(topic, msg.ReceivedFrom, msg.Data, msg.ValidatorData, deliver)
	}
}

func (g *Gossip) callDeliver(topic string, from peer.ID, raw []byte, data any, deliver Deliver) {
	defer func() {
		if r := recover(); r != nil {
			g.cfg.Events.Error("gossip", "deliver_panic", topic, fmt.Errorf("deliver panicked: %v", r),
				map[string]any{"topic": topic, "from": from.String()})
		}
	}()
	deliver(from, raw, data)
}

// validator adapts Config.Validate to pubsub.
func (g *Gossip) validator(topic string) pubsub.ValidatorEx {
	return func(ctx context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
		data, err := g.runValidate(ctx, topic, from, msg.GetData())
		if lp, ok := msg.ValidatorData.(*localPublish); ok {
			lp.called = true
			lp.err = err
		} else if err == nil {
			msg.ValidatorData = data // handed to deliver
		}
		switch {
		case err == nil:
			return pubsub.ValidationAccept
		case errors.Is(err, ErrIgnore):
			return pubsub.ValidationIgnore
		}
		if from != g.h.ID() {
			if ok, suppressed := g.lim.allow("web4.gossip.rejected/validation_failed"); ok {
				g.cfg.Events.Emit("web4.gossip.rejected", from.String(), map[string]any{
					"topic": topic, "from": from.String(), "reason": "validation_failed",
					"detail": truncate(err.Error(), 256), "suppressed": suppressed,
				})
			}
		}
		return pubsub.ValidationReject
	}
}

// runValidate calls Config.Validate, turning a size violation or a panic
// into a rejection, and a failure after ctx ended (ValidateTimeout, Close)
// into an ignore.
func (g *Gossip) runValidate(ctx context.Context, topic string, from peer.ID, raw []byte) (data any, err error) {
	if len(raw) > g.cfg.MaxMessageSize {
		return nil, fmt.Errorf("%w: data: %d bytes exceeds %d", ErrBadMessage, len(raw), g.cfg.MaxMessageSize)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("gossip: Validate panicked: %v", r)
		}
	}()
	if !g.calls.enter() {
		return nil, fmt.Errorf("%w: %w", ErrIgnore, ErrClosed)
	}
	defer g.calls.exit()
	data, err = g.cfg.Validate(ctx, topic, from, raw)
	if err != nil && ctx.Err() != nil && !errors.Is(err, ErrIgnore) {
		// Our timeout or our shutdown is not the delivering peer's fault:
		// drop without penalty.
		err = fmt.Errorf("%w: validation did not finish: %w", ErrIgnore, err)
	}
	return data, err
}

// Publish validates raw with Config.Validate (from = this host) and sends
// it to the topic's peers. The topic must have been joined. Publishing bytes
// that were already seen returns ErrDuplicate: IDs are content hashes.
func (g *Gossip) Publish(ctx context.Context, topic string, raw []byte) error {
	if len(raw) == 0 {
		return fmt.Errorf("%w: data: empty", ErrBadMessage)
	}
	if len(raw) > g.cfg.MaxMessageSize {
		return fmt.Errorf("%w: data: %d bytes exceeds %d", ErrBadMessage, len(raw), g.cfg.MaxMessageSize)
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return ErrClosed
	}
	j, ok := g.topics[topic]
	g.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotJoined, topic)
	}
	lp := &localPublish{}
	err := j.topic.Publish(ctx, raw, pubsub.WithValidatorData(lp))
	switch {
	case lp.err != nil && errors.Is(lp.err, ErrIgnore):
		return fmt.Errorf("gossip: publish %s: not published: %w", topic, lp.err)
	case lp.err != nil:
		return fmt.Errorf("%w: publish %s: %w", ErrRejected, topic, lp.err)
	case err != nil && (errors.Is(err, pubsub.ErrTopicClosed) || g.isClosed()):
		return fmt.Errorf("gossip: publish %s: %w (%w)", topic, ErrClosed, err)
	case err != nil:
		return fmt.Errorf("gossip: publish %s: %w", topic, err)
	case !lp.called:
		return fmt.Errorf("%w: publish %s", ErrDuplicate, topic)
	}
	g.m.nPublished.Add(1)
	g.m.published.WithLabelValues(topic).Inc()
	id := MsgID(raw)
	g.cfg.Events.Emit("web4.gossip.published", topic, map[string]any{
		"topic": topic, "msg_id": fmt.Sprintf("%x", id), "bytes": len(raw),
	})
	return nil
}

func (g *Gossip) isClosed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}

// RefreshScores forgets cached application scores so that the next score
// computation (on the next RPC or heartbeat) asks Config.Score again. Call
// it after a trust transition.
func (g *Gossip) RefreshScores() { g.scores.reset() }

// Peers returns the peers known to be subscribed to topic (not only mesh
// members); nil if the topic is not joined.
func (g *Gossip) Peers(topic string) []peer.ID {
	g.mu.Lock()
	j, ok := g.topics[topic]
	g.mu.Unlock()
	if !ok {
		return nil
	}
	return j.topic.ListPeers()
}

// MeshPeers returns the connected peers currently in this node's mesh for
// topic (from Graft/Prune traces).
func (g *Gossip) MeshPeers(topic string) []peer.ID {
	all := g.tr.meshPeers(topic)
	out := all[:0]
	for _, p := range all {
		if g.h.Network().Connectedness(p) == network.Connected {
			out = append(out, p)
		}
	}
	return out
}

// Ready reports whether pubsub is fully set up with every connected peer
// for topic: it has a writer (outbound stream and queue) to each, and knows
// each one's subscription to topic. Messages published before that may miss
// a peer that is still being set up (gossip repair usually recovers them
// within a few heartbeats). Peers that do not speak GossipSub count as not
// ready.
func (g *Gossip) Ready(topic string) bool {
	subscribed := map[peer.ID]bool{}
	for _, p := range g.Peers(topic) {
		subscribed[p] = true
	}
	for _, p := range g.h.Network().Peers() {
		if !subscribed[p] || !g.tr.hasWriter(p) {
			return false
		}
	}
	return true
}

// PeerScore returns pubsub's score of p from the last snapshot (taken every
// heartbeat); false if p has no score record yet.
func (g *Gossip) PeerScore(p peer.ID) (PeerScore, bool) { return g.board.get(p) }

// Stats returns the counters.
func (g *Gossip) Stats() Stats { return g.m.stats() }

// closeDrain bounds how long Close waits for pubsub to acknowledge a
// subscription cancel before it tears pubsub down anyway.
const closeDrain = 2 * time.Second

// Close leaves every topic, stops pubsub and returns after the goroutines
// this package started have exited; after it returns, Validate, Score and
// deliver are never called again (Validate calls in flight see their ctx
// cancelled and must return promptly). It resets this host's GossipSub streams
// and removes its stream handlers so that pubsub's stream goroutines end
// too, and unregisters its metrics (Stats keeps working). Idempotent; later
// calls return the first result.
func (g *Gossip) Close() error {
	g.closeOnce.Do(func() {
		g.mu.Lock()
		g.closed = true
		topics := g.topics
		g.topics = map[string]*joined{}
		g.mu.Unlock()

		g.deliverCancel()
		g.wg.Wait()

		var errs []error
		for name, j := range topics {
			j.sub.Cancel()
			// Cancel is asynchronous; Topic.Close fails while pubsub still
			// counts the subscription, so wait for the channel to close.
			drainCtx, cancel := context.WithTimeout(g.psCtx, closeDrain)
			for {
				if _, err := j.sub.Next(drainCtx); err != nil {
					break
				}
			}
			cancel()
			if err := j.topic.Close(); err != nil && !errors.Is(err, context.Canceled) {
				errs = append(errs, fmt.Errorf("gossip: close topic %s: %w", name, err))
			}
			_ = g.ps.UnregisterTopicValidator(name)
		}

		g.psCancel()
		// pubsub cannot be waited for, so fence our callbacks instead:
		// wait for Validate/Score calls in flight (their ctx is cancelled)
		// and refuse new ones, so that none runs after Close returns.
		g.calls.shut()
		protos := map[protocol.ID]bool{}
		for _, p := range pubsub.GossipSubDefaultProtocols {
			g.h.RemoveStreamHandler(p)
			protos[p] = true
		}
		for _, c := range g.h.Network().Conns() {
			for _, s := range c.GetStreams() {
				if protos[s.Protocol()] {
					_ = s.Reset()
				}
			}
		}
		g.m.unregister(g.cfg.Registerer)
		g.cfg.Events.Emit("web4.gossip.closed", g.h.ID().String(), map[string]any{"topics": len(topics)})
		g.closeErr = errors.Join(errs...)
	})
	return g.closeErr
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
