package gossip

import (
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/internal/events"
)

// fakeClock is a settable clock for the limiter and the score cache.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestLimiterOnePerIntervalCountsSuppressed(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := newLimiter(clk.now, time.Second)
	steps := []struct {
		advance    time.Duration
		key        string
		ok         bool
		suppressed uint64
	}{
		{0, "a", true, 0},
		{0, "a", false, 0},
		{500 * time.Millisecond, "a", false, 0},
		{0, "b", true, 0}, // keys are independent
		{499 * time.Millisecond, "a", false, 0},
		{time.Millisecond, "a", true, 3}, // exactly one interval later
		{0, "a", false, 0},
		{2 * time.Second, "a", true, 1},
		{0, "b", true, 0},
	}
	for i, s := range steps {
		clk.advance(s.advance)
		ok, sup := l.allow(s.key)
		if ok != s.ok || sup != s.suppressed {
			t.Fatalf("step %d (%s): allow = %v,%d want %v,%d", i, s.key, ok, sup, s.ok, s.suppressed)
		}
	}
}

func TestScoreCacheTTLAndRefresh(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	calls := 0
	val := 10.0
	c := newScoreCache(func(peer.ID) float64 { calls++; return val }, time.Second, clk.now)
	p := peer.ID("p")
	if got := c.get(p); got != 10 || calls != 1 {
		t.Fatalf("first get = %v (calls %d)", got, calls)
	}
	val = -1000
	if got := c.get(p); got != 10 || calls != 1 {
		t.Fatalf("cached get = %v (calls %d), want the cached 10", got, calls)
	}
	clk.advance(time.Second)
	if got := c.get(p); got != -1000 || calls != 2 {
		t.Fatalf("get after TTL = %v (calls %d)", got, calls)
	}
	val = 5
	c.reset()
	if got := c.get(p); got != 5 || calls != 3 {
		t.Fatalf("get after reset = %v (calls %d)", got, calls)
	}
	if got := newScoreCache(nil, time.Second, clk.now).get(p); got != 0 {
		t.Fatalf("nil Score = %v, want 0", got)
	}
}

func TestScoreCacheIsBounded(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	c := newScoreCache(func(peer.ID) float64 { return 1 }, time.Second, clk.now)
	for i := 0; i < 3*maxScoreEntries; i++ {
		c.get(peer.ID(strings.Repeat("x", 1+i%7) + string(rune(i))))
		if i%maxScoreEntries == 0 {
			clk.advance(2 * time.Second)
		}
	}
	c.mu.Lock()
	n := len(c.m)
	c.mu.Unlock()
	if n > maxScoreEntries {
		t.Fatalf("cache holds %d entries, bound is %d", n, maxScoreEntries)
	}
}

func TestSanitizeScore(t *testing.T) {
	cases := map[float64]float64{
		math.NaN():   0,
		math.Inf(1):  maxAppScore,
		math.Inf(-1): -maxAppScore,
		-1000:        -1000,
		2e9:          maxAppScore,
	}
	for in, want := range cases {
		if got := sanitizeScore(in); got != want {
			t.Errorf("sanitizeScore(%v) = %v, want %v", in, got, want)
		}
	}
}

// The documented scale must hold against the thresholds pubsub will use.
func TestScoreScaleAgainstThresholds(t *testing.T) {
	th := peerScoreThresholds()
	if !(ScoreBlacklisted < th.GraylistThreshold) {
		t.Errorf("blacklisted %v is not below graylist %v", ScoreBlacklisted, th.GraylistThreshold)
	}
	// Even with every positive topic contribution at its cap, a blacklisted
	// peer stays graylisted and an untrusted one stays out of the mesh.
	if ScoreBlacklisted+TopicScoreCap >= th.GraylistThreshold {
		t.Errorf("blacklisted + cap %v reaches graylist %v", ScoreBlacklisted+TopicScoreCap, th.GraylistThreshold)
	}
	if ScoreUntrusted+TopicScoreCap >= 0 {
		t.Errorf("untrusted + cap = %v ≥ 0: an untrusted peer could re-enter the mesh", ScoreUntrusted+TopicScoreCap)
	}
	if ScoreUntrusted < th.GossipThreshold {
		t.Errorf("untrusted %v is below the gossip threshold %v: it would be cut off completely", ScoreUntrusted, th.GossipThreshold)
	}
}

func TestDropReasonString(t *testing.T) {
	seen := map[string]bool{}
	for r := DropReason(1); r < dropReasonEnd; r++ {
		s := r.String()
		if s == "" || strings.HasPrefix(s, "DropReason(") || seen[s] {
			t.Errorf("DropReason %d has bad or duplicate name %q", int(r), s)
		}
		seen[s] = true
	}
	if s := DropReason(0).String(); s != "DropReason(0)" {
		t.Errorf("zero value String = %q", s)
	}
	if s := dropReasonEnd.String(); !strings.HasPrefix(s, "DropReason(") {
		t.Errorf("out of range String = %q", s)
	}
}

func TestRejectLabels(t *testing.T) {
	cases := []struct {
		reason string
		label  string
		kind   int
	}{
		{pubsub.RejectValidationFailed, "validation_failed", kindRejected},
		{pubsub.RejectInvalidSignature, "invalid_signature", kindRejected},
		{pubsub.RejectUnexpectedSignature, "unexpected_signature", kindRejected},
		{pubsub.RejectUnexpectedAuthInfo, "unexpected_auth_info", kindRejected},
		{pubsub.RejectMissingSignature, "missing_signature", kindRejected},
		{pubsub.RejectBlacklstedPeer, "blacklisted_peer", kindRejected},
		{pubsub.RejectBlacklistedSource, "blacklisted_source", kindRejected},
		{pubsub.RejectValidationIgnored, "validation_ignored", kindIgnored},
		{pubsub.RejectSelfOrigin, "self_origin", kindIgnored},
		{pubsub.RejectValidationQueueFull, "validation_queue_full", kindDropped},
		{pubsub.RejectValidationThrottled, "validation_throttled", kindDropped},
		{"something new", "other", kindRejected},
	}
	for _, c := range cases {
		label, kind := rejectLabel(c.reason)
		if label != c.label || kind != c.kind {
			t.Errorf("rejectLabel(%q) = %q,%d want %q,%d", c.reason, label, kind, c.label, c.kind)
		}
	}
}

// Every pubsub loss the tracer is told about is counted once, by reason,
// and announced in a schema-valid, rate-limited event.
func TestTracerCountsEveryLoss(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	ring := events.NewRing(64)
	check := &events.CheckingSink{Next: ring}
	self := peer.ID("self")
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &tracer{self: self, m: m, em: events.NewEmitter("12D3KooWtest", check, clk.now),
		lim: newLimiter(clk.now, EventInterval), scores: &scoreBoard{}, mesh: map[string]map[peer.ID]struct{}{}, out: map[peer.ID]struct{}{}}
	topic := testTopic
	msg := &pubsub.Message{Message: &pb.Message{Data: []byte("x"), Topic: &topic}, ReceivedFrom: peer.ID("remote")}

	for i := 0; i < 3; i++ {
		tr.DropRPC(&pubsub.RPC{}, peer.ID("remote"))
	}
	tr.UndeliverableMessage(msg)
	tr.ThrottlePeer(peer.ID("remote"))
	tr.RejectMessage(msg, pubsub.RejectValidationQueueFull)
	tr.RejectMessage(msg, pubsub.RejectValidationThrottled)
	tr.RejectMessage(msg, pubsub.RejectInvalidSignature)
	tr.RejectMessage(msg, pubsub.RejectValidationIgnored)
	tr.DuplicateMessage(msg)

	s := m.stats()
	want := map[DropReason]uint64{
		DropOutbound: 3, DropSubscriberSlow: 1, DropPeerThrottled: 1,
		DropValidationQueueFull: 1, DropValidationThrottled: 1,
	}
	for r, n := range want {
		if s.Dropped[r] != n {
			t.Errorf("Dropped[%s] = %d, want %d", r, s.Dropped[r], n)
		}
	}
	if s.TotalDropped() != 7 || s.Rejected != 1 || s.Ignored != 1 || s.Duplicates != 1 {
		t.Errorf("stats = %+v", s)
	}
	// One dropped event per reason (3 outbound drops → 1 event).
	if n := ring.Count("web4.gossip.dropped"); n != 5 {
		t.Errorf("%d dropped events, want 5 (one per reason)", n)
	}
	if n := ring.Count("web4.gossip.rejected"); n != 1 {
		t.Errorf("%d rejected events, want 1", n)
	}
	clk.advance(EventInterval)
	tr.DropRPC(&pubsub.RPC{}, peer.ID("remote"))
	last := ring.Events()[len(ring.Events())-1]
	if last.Data["reason"] != "outbound" || last.Data["suppressed"] != uint64(2) {
		t.Errorf("event after the interval = %v, want reason outbound with suppressed 2", last.Data)
	}
	if f := check.Failures(); len(f) > 0 {
		t.Errorf("schema failures: %v", f)
	}
}
