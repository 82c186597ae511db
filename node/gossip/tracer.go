package gossip

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/web4p2p/web4p2p/internal/events"
)

// DropReason says why a message or RPC was lost without being judged.
type DropReason int

// Drop reasons. 0 is invalid.
const (
	// DropOutbound: pubsub dropped an RPC to a peer (its DropRPC trace):
	// the peer's outbound queue was full, or pubsub had no queue for it
	// (a peer still being set up or just gone — seen in practice for a
	// message forwarded in the first milliseconds after a connection), or
	// the RPC exceeded the size limit. pubsub does not say which.
	DropOutbound DropReason = iota + 1
	// DropValidationQueueFull: an incoming message did not fit the
	// validation queue.
	DropValidationQueueFull
	// DropValidationThrottled: pubsub's validation throttle refused it.
	DropValidationThrottled
	// DropSubscriberSlow: the subscription buffer in front of deliver was
	// full (deliver too slow).
	DropSubscriberSlow
	// DropPeerThrottled: pubsub's peer gater throttled the sending peer.
	DropPeerThrottled
	// DropGraylisted: an RPC carrying messages came from a peer whose last
	// observed score was below GraylistThreshold; pubsub ignores such RPCs.
	// (Estimated from the last score snapshot, refreshed every heartbeat.)
	DropGraylisted
	dropReasonEnd
)

var dropReasonNames = [...]string{
	DropOutbound:            "outbound",
	DropValidationQueueFull: "validation_queue_full",
	DropValidationThrottled: "validation_throttled",
	DropSubscriberSlow:      "subscriber_slow",
	DropPeerThrottled:       "peer_throttled",
	DropGraylisted:          "graylisted",
}

// String returns the snake_case name used in metrics and events.
func (r DropReason) String() string {
	if r < 1 || r >= dropReasonEnd {
		return fmt.Sprintf("DropReason(%d)", int(r))
	}
	return dropReasonNames[r]
}

// Stats is a snapshot of this node's gossip counters (the same numbers as
// the web4_gossip_* metrics).
type Stats struct {
	Published  uint64                // own messages accepted for publication
	Delivered  uint64                // remote messages handed to deliver
	Rejected   uint64                // messages refused as invalid (incl. own, locally)
	Ignored    uint64                // messages dropped without penalty (ErrIgnore, own echo)
	Duplicates uint64                // copies of already-seen messages
	Dropped    map[DropReason]uint64 // losses that nobody judged
}

// TotalDropped sums Dropped.
func (s Stats) TotalDropped() uint64 {
	var n uint64
	for _, v := range s.Dropped {
		n += v
	}
	return n
}

// rejectLabel maps pubsub's reject reasons to metric labels and to the
// category they are counted in.
func rejectLabel(reason string) (label string, kind int) {
	switch reason {
	case pubsub.RejectValidationFailed:
		return "validation_failed", kindRejected
	case pubsub.RejectInvalidSignature:
		return "invalid_signature", kindRejected
	case pubsub.RejectUnexpectedSignature:
		return "unexpected_signature", kindRejected
	case pubsub.RejectUnexpectedAuthInfo:
		return "unexpected_auth_info", kindRejected
	case pubsub.RejectMissingSignature:
		return "missing_signature", kindRejected
	case pubsub.RejectBlacklstedPeer:
		return "blacklisted_peer", kindRejected
	case pubsub.RejectBlacklistedSource:
		return "blacklisted_source", kindRejected
	case pubsub.RejectValidationIgnored:
		return "validation_ignored", kindIgnored
	case pubsub.RejectSelfOrigin:
		return "self_origin", kindIgnored
	case pubsub.RejectValidationQueueFull:
		return DropValidationQueueFull.String(), kindDropped
	case pubsub.RejectValidationThrottled:
		return DropValidationThrottled.String(), kindDropped
	}
	return "other", kindRejected
}

const (
	kindRejected = iota + 1
	kindIgnored
	kindDropped
)

// metrics holds the counters; each is mirrored in an atomic for Stats.
type metrics struct {
	published, delivered              *prometheus.CounterVec // {topic}
	rejected, ignored, dropped        *prometheus.CounterVec // {reason}
	duplicates                        prometheus.Counter
	nPublished, nDelivered, nRejected atomic.Uint64
	nIgnored, nDuplicates             atomic.Uint64
	nDropped                          [dropReasonEnd]atomic.Uint64
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "web4_gossip_published_total", Help: "Own gossip messages accepted for publication, by topic.",
		}, []string{"topic"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "web4_gossip_delivered_total", Help: "Remote gossip messages validated and delivered to the application, by topic.",
		}, []string{"topic"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "web4_gossip_rejected_total", Help: "Gossip messages rejected as invalid (the delivering peer is penalised), by reason.",
		}, []string{"reason"}),
		ignored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "web4_gossip_ignored_total", Help: "Gossip messages dropped without penalty, by reason.",
		}, []string{"reason"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "web4_gossip_dropped_total", Help: "Gossip messages or RPCs lost to full queues, throttling or graylisting, by reason.",
		}, []string{"reason"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "web4_gossip_duplicates_total", Help: "Copies of already-seen gossip messages.",
		}),
	}
	if reg != nil {
		for i, c := range m.collectors() {
			if err := reg.Register(c); err != nil {
				// Unregister matches by descriptor, so only undo our own
				// registrations, never the earlier owner's.
				for _, done := range m.collectors()[:i] {
					reg.Unregister(done)
				}
				return nil, fmt.Errorf("%w: Registerer: %w", ErrConfig, err)
			}
		}
	}
	return m, nil
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.published, m.delivered, m.rejected, m.ignored, m.dropped, m.duplicates}
}

// unregister removes whatever of ours is registered on reg, so that a
// failed New or a Close lets a later New register again.
func (m *metrics) unregister(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	for _, c := range m.collectors() {
		reg.Unregister(c)
	}
}

func (m *metrics) stats() Stats {
	s := Stats{
		Published:  m.nPublished.Load(),
		Delivered:  m.nDelivered.Load(),
		Rejected:   m.nRejected.Load(),
		Ignored:    m.nIgnored.Load(),
		Duplicates: m.nDuplicates.Load(),
		Dropped:    map[DropReason]uint64{},
	}
	for r := DropReason(1); r < dropReasonEnd; r++ {
		if n := m.nDropped[r].Load(); n > 0 {
			s.Dropped[r] = n
		}
	}
	return s
}

func (m *metrics) drop(r DropReason) {
	m.nDropped[r].Add(1)
	m.dropped.WithLabelValues(r.String()).Inc()
}

// limiter lets one event per key through per interval and counts the rest.
type limiter struct {
	now      func() time.Time
	interval time.Duration
	mu       sync.Mutex
	last     map[string]time.Time
	held     map[string]uint64
}

func newLimiter(now func() time.Time, interval time.Duration) *limiter {
	return &limiter{now: now, interval: interval, last: map[string]time.Time{}, held: map[string]uint64{}}
}

// allow reports whether an event for key may be emitted now, and how many
// were suppressed since the last one that was.
func (l *limiter) allow(key string) (ok bool, suppressed uint64) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if last, seen := l.last[key]; seen && now.Sub(last) < l.interval {
		l.held[key]++
		return false, 0
	}
	l.last[key] = now
	suppressed = l.held[key]
	delete(l.held, key)
	return true, suppressed
}

// tracer is the pubsub.RawTracer that counts losses and verdicts. Its
// methods run on pubsub's goroutines (mostly the event loop): they only
// touch atomics, the limiter and the emitter.
type tracer struct {
	self   peer.ID
	m      *metrics
	em     *events.Emitter
	lim    *limiter
	scores *scoreBoard

	meshMu sync.Mutex
	mesh   map[string]map[peer.ID]struct{}
	out    map[peer.ID]struct{} // peers with a live pubsub writer
}

var _ pubsub.RawTracer = (*tracer)(nil)

func (t *tracer) event(typ, reason, subject string, data map[string]any) {
	ok, suppressed := t.lim.allow(typ + "/" + reason)
	if !ok {
		return
	}
	data["reason"] = reason
	data["suppressed"] = suppressed
	t.em.Emit(typ, subject, data)
}

func (t *tracer) dropped(r DropReason, subject string, data map[string]any) {
	t.m.drop(r)
	t.event("web4.gossip.dropped", r.String(), subject, data)
}

// OnNewOutboundStream implements pubsub.RawTracer: pubsub has a queue and
// a writer for p from now on.
func (t *tracer) OnNewOutboundStream(p peer.ID, _ protocol.ID) {
	t.meshMu.Lock()
	t.out[p] = struct{}{}
	t.meshMu.Unlock()
}

// OnClosedOutboundStream implements pubsub.RawTracer.
func (t *tracer) OnClosedOutboundStream(p peer.ID) {
	t.meshMu.Lock()
	delete(t.out, p)
	t.meshMu.Unlock()
}

func (t *tracer) hasWriter(p peer.ID) bool {
	t.meshMu.Lock()
	defer t.meshMu.Unlock()
	_, ok := t.out[p]
	return ok
}

// Join implements pubsub.RawTracer.
func (t *tracer) Join(string) {}

// Leave implements pubsub.RawTracer.
func (t *tracer) Leave(topic string) {
	t.meshMu.Lock()
	delete(t.mesh, topic)
	t.meshMu.Unlock()
}

// Graft implements pubsub.RawTracer.
func (t *tracer) Graft(p peer.ID, topic string) {
	t.meshMu.Lock()
	if t.mesh[topic] == nil {
		t.mesh[topic] = map[peer.ID]struct{}{}
	}
	t.mesh[topic][p] = struct{}{}
	t.meshMu.Unlock()
}

// Prune implements pubsub.RawTracer.
func (t *tracer) Prune(p peer.ID, topic string) {
	t.meshMu.Lock()
	delete(t.mesh[topic], p)
	t.meshMu.Unlock()
}

func (t *tracer) meshPeers(topic string) []peer.ID {
	t.meshMu.Lock()
	defer t.meshMu.Unlock()
	out := make([]peer.ID, 0, len(t.mesh[topic]))
	for p := range t.mesh[topic] {
		out = append(out, p)
	}
	return out
}

// ValidateMessage implements pubsub.RawTracer.
func (t *tracer) ValidateMessage(*pubsub.Message) {}

// DeliverMessage implements pubsub.RawTracer.
func (t *tracer) DeliverMessage(*pubsub.Message) {}

// RejectMessage implements pubsub.RawTracer: verdicts and queue losses.
func (t *tracer) RejectMessage(msg *pubsub.Message, reason string) {
	label, kind := rejectLabel(reason)
	from := msg.ReceivedFrom.String()
	switch kind {
	case kindIgnored:
		t.m.nIgnored.Add(1)
		t.m.ignored.WithLabelValues(label).Inc()
	case kindDropped:
		r := DropValidationQueueFull
		if reason == pubsub.RejectValidationThrottled {
			r = DropValidationThrottled
		}
		t.dropped(r, from, map[string]any{"topic": msg.GetTopic(), "from": from})
	default:
		t.m.nRejected.Add(1)
		t.m.rejected.WithLabelValues(label).Inc()
		// Validation failures get their event, with the validator's
		// detail, from the validator itself; the others only from here.
		if reason != pubsub.RejectValidationFailed && msg.ReceivedFrom != t.self {
			t.event("web4.gossip.rejected", label, from, map[string]any{"topic": msg.GetTopic(), "from": from})
		}
	}
}

// DuplicateMessage implements pubsub.RawTracer.
func (t *tracer) DuplicateMessage(*pubsub.Message) {
	t.m.nDuplicates.Add(1)
	t.m.duplicates.Inc()
}

// ThrottlePeer implements pubsub.RawTracer.
func (t *tracer) ThrottlePeer(p peer.ID) {
	t.dropped(DropPeerThrottled, p.String(), map[string]any{"from": p.String()})
}

// RecvRPC implements pubsub.RawTracer. pubsub traces an RPC before it asks
// the router whether to accept it; an RPC carrying messages from a peer
// below GraylistThreshold is about to be ignored, so count it here.
func (t *tracer) RecvRPC(rpc *pubsub.RPC) {
	if len(rpc.GetPublish()) == 0 {
		return
	}
	from := rpc.From()
	if s, ok := t.scores.score(from); ok && s < GraylistThreshold {
		for range rpc.GetPublish() {
			t.dropped(DropGraylisted, from.String(), map[string]any{"from": from.String(), "score": s})
		}
	}
}

// SendRPC implements pubsub.RawTracer.
func (t *tracer) SendRPC(*pubsub.RPC, peer.ID) {}

// SendRPCCompleted implements pubsub.RawTracer.
func (t *tracer) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}

// DropRPC implements pubsub.RawTracer: an RPC to p was dropped.
func (t *tracer) DropRPC(rpc *pubsub.RPC, p peer.ID) {
	t.dropped(DropOutbound, p.String(), map[string]any{"to": p.String(), "messages": len(rpc.GetPublish())})
}

// UndeliverableMessage implements pubsub.RawTracer: deliver is too slow.
func (t *tracer) UndeliverableMessage(msg *pubsub.Message) {
	t.dropped(DropSubscriberSlow, msg.GetTopic(), map[string]any{"topic": msg.GetTopic()})
}

// scoreBoard keeps the last peer-score snapshot from pubsub's inspector.
type scoreBoard struct {
	mu   sync.Mutex
	snap map[peer.ID]*pubsub.PeerScoreSnapshot
	seq  uint64 // snapshots received
}

func (b *scoreBoard) update(s map[peer.ID]*pubsub.PeerScoreSnapshot) {
	b.mu.Lock()
	b.snap = s
	b.seq++
	b.mu.Unlock()
}

func (b *scoreBoard) generation() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seq
}

func (b *scoreBoard) score(p peer.ID) (float64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.snap[p]
	if !ok {
		return 0, false
	}
	return s.Score, true
}

func (b *scoreBoard) get(p peer.ID) (PeerScore, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.snap[p]
	if !ok {
		return PeerScore{}, false
	}
	out := PeerScore{Score: s.Score, App: s.AppSpecificScore, Behaviour: s.BehaviourPenalty, InvalidMessages: map[string]float64{}}
	for topic, ts := range s.Topics {
		out.InvalidMessages[topic] = ts.InvalidMessageDeliveries
	}
	return out, true
}
