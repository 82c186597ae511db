package gossip

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/goleak"

	"github.com/web4p2p/web4p2p/internal/events"
)

// Five real TCP hosts, fully connected; one publishes 2,000 messages as fast
// as it can. Every other node must deliver every message exactly once and
// no node may count a single drop.
func TestBurstNoLoss(t *testing.T) {
	const nodes, burst = 5, 2000
	ns := make([]*tnode, nodes)
	for i := range ns {
		ns[i] = startNode(t, newTCPHost(t), nil)
	}
	want := map[*tnode][]*tnode{}
	for i := range ns {
		for j := i + 1; j < nodes; j++ {
			connect(t, ns[i].h, ns[j].h)
		}
		for j := range ns {
			if j != i {
				want[ns[i]] = append(want[ns[i]], ns[j])
			}
		}
	}
	waitMesh(t, want)

	msgs := make([]string, burst)
	for i := range msgs {
		msgs[i] = fmt.Sprintf("burst-%05d", i)
	}
	for _, m := range msgs {
		publish(t, ns[0], m)
	}
	for i, n := range ns[1:] {
		if !n.rec.waitFor(30*time.Second, func(got map[string]int) bool { return len(got) == burst }) {
			t.Fatalf("node %d: delivered %d of %d distinct messages; stats %+v", i+1, n.rec.distinct(), burst, n.g.Stats())
		}
		for _, m := range msgs {
			if c := n.rec.count(m); c != 1 {
				t.Fatalf("node %d: %q delivered %d times, want exactly 1", i+1, m, c)
			}
		}
		if s := n.g.Stats(); s.Delivered != burst {
			t.Errorf("node %d: Stats.Delivered = %d, want %d", i+1, s.Delivered, burst)
		}
	}
	if got := ns[0].rec.distinct(); got != 0 {
		t.Errorf("publisher delivered %d own messages back to itself", got)
	}
	if s := ns[0].g.Stats(); s.Published != burst {
		t.Errorf("publisher Stats.Published = %d, want %d", s.Published, burst)
	}
	for i, n := range ns {
		s := n.g.Stats()
		if s.TotalDropped() != 0 || s.Rejected != 0 {
			t.Errorf("node %d: dropped %v rejected %d, want none", i, s.Dropped, s.Rejected)
		}
		if c := n.ring.Count("web4.gossip.dropped"); c != 0 {
			t.Errorf("node %d: %d dropped events", i, c)
		}
	}
}

// The drop counters are real: a tiny subscription buffer in front of a
// blocked deliver must lose messages, count them and say so in an event.
func TestSlowSubscriberDropsAreCounted(t *testing.T) {
	_, hs := newMocknet(t, 2)
	a := startNode(t, hs[0], nil)
	block := make(chan struct{})
	b := startNode(t, hs[1], func(c *Config) { c.SubscriptionBuffer = 1 })
	b.rec.block = block
	connect(t, a.h, b.h)
	waitMesh(t, map[*tnode][]*tnode{a: {b}, b: {a}})

	for i := 0; i < 50; i++ {
		publish(t, a, fmt.Sprintf("m%d", i))
	}
	waitUntil(t, 10*time.Second, "subscriber_slow drops", func() bool {
		return b.g.Stats().Dropped[DropSubscriberSlow] > 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, ok := b.ring.WaitFor(ctx.Done(), func(e events.Event) bool {
		return e.Type == "web4.gossip.dropped" && e.Data["reason"] == "subscriber_slow"
	}); !ok {
		t.Fatal("no web4.gossip.dropped event with reason subscriber_slow")
	}
	close(block)
	// Rate limiting: 50 drops within a second must not give 50 events.
	if n := b.ring.Count("web4.gossip.dropped"); n > 3 {
		t.Errorf("%d dropped events for one burst; want rate-limited (≤ 3)", n)
	}
}

// Line A–B–C. A (malicious: accepts anything itself) publishes invalid
// messages. B rejects them, seeing A as the delivering peer; C never sees
// them; B's score of A goes down.
func TestValidatorRejectsAndPenalisesDeliverer(t *testing.T) {
	hs := []host.Host{newTCPHost(t), newTCPHost(t), newTCPHost(t)}
	a := startNode(t, hs[0], func(c *Config) { c.Validate = newValidator(true).validate })
	b := startNode(t, hs[1], nil)
	c := startNode(t, hs[2], nil)
	line(t, a, b, c)

	// Positive control: a valid message from A crosses B to C.
	publish(t, a, "good:1")
	if !c.rec.waitFor(10*time.Second, func(got map[string]int) bool { return got["good:1"] == 1 }) {
		t.Fatal("valid message from A did not reach C")
	}
	if from := c.rec.fromOf("good:1"); from != b.h.ID() {
		t.Fatalf("C got good:1 from %s, want B %s", from, b.h.ID())
	}
	// C's deliver gets the value C's own Validate returned for the bytes
	// (so a receiver parses a message once), not the relay's.
	if d := c.rec.dataOf("good:1"); d != validated("good:1") {
		t.Fatalf("C's deliver got data %#v, want its Validate's %#v", d, validated("good:1"))
	}

	bad := []string{"bad:1", "bad:2", "bad:3"}
	for _, m := range bad {
		publish(t, a, m)
	}
	waitUntil(t, 10*time.Second, "B to reject 3 messages", func() bool { return b.g.Stats().Rejected >= 3 })
	for _, m := range bad {
		if from := b.val.sawFrom(m); len(from) != 1 || from[0] != a.h.ID() {
			t.Errorf("B's Validate saw %q from %v, want exactly [A %s]", m, from, a.h.ID())
		}
	}
	// Fence: B publishes after its rejections; once C has it, anything B
	// would have forwarded is already there.
	publish(t, b, "good:fence")
	if !c.rec.waitFor(10*time.Second, func(got map[string]int) bool { return got["good:fence"] == 1 }) {
		t.Fatal("fence from B did not reach C")
	}
	for _, m := range bad {
		if c.rec.count(m) != 0 || len(c.val.sawFrom(m)) != 0 {
			t.Errorf("C saw invalid %q", m)
		}
		if b.rec.count(m) != 0 {
			t.Errorf("B delivered invalid %q", m)
		}
	}
	if !hasEvent(b.ring, "web4.gossip.rejected", func(e events.Event) bool {
		d, _ := e.Data["detail"].(string)
		return e.Data["from"] == a.h.ID().String() && e.Data["reason"] == "validation_failed" && strings.Contains(d, "bad:")
	}) {
		t.Error("B emitted no web4.gossip.rejected naming A with the validator's detail")
	}
	waitUntil(t, 10*time.Second, "B's score of A to drop below 0", func() bool {
		s, ok := b.g.PeerScore(a.h.ID())
		return ok && s.Score < 0 && s.InvalidMessages[testTopic] >= 1
	})
	if s, ok := b.g.PeerScore(c.h.ID()); ok && s.Score < 0 {
		t.Errorf("B's score of honest C is %v", s.Score)
	}
	if s, ok := c.g.PeerScore(b.h.ID()); ok && (s.Score < 0 || s.InvalidMessages[testTopic] != 0) {
		t.Errorf("C penalised B (which forwarded nothing invalid): %+v", s)
	}
	if r := c.g.Stats().Rejected; r != 0 {
		t.Errorf("C rejected %d messages; it should never have received any invalid one", r)
	}
}

// Line A–B–C. B's trust says A is blacklisted (−1000): after RefreshScores,
// B graylists A and nothing A sends reaches B's application or C.
func TestBlacklistedPeerIsNotForwarded(t *testing.T) {
	hs := []host.Host{newTCPHost(t), newTCPHost(t), newTCPHost(t)}
	var scoreA atomic.Int64 // B's application score of A
	a := startNode(t, hs[0], nil)
	b := startNode(t, hs[1], func(c *Config) {
		c.ScoreCacheTTL = time.Hour // only RefreshScores may change it
		c.Score = func(p peer.ID) float64 {
			if p == hs[0].ID() {
				return float64(scoreA.Load())
			}
			return ScoreTrusted
		}
	})
	c := startNode(t, hs[2], nil)
	line(t, a, b, c)

	publish(t, a, "before")
	if !c.rec.waitFor(10*time.Second, func(got map[string]int) bool { return got["before"] == 1 }) {
		t.Fatal("message from A did not reach C before blacklisting")
	}

	scoreA.Store(int64(ScoreBlacklisted))
	waitUntil(t, 2*time.Second, "cache to hold the old score", func() bool {
		s, ok := b.g.PeerScore(a.h.ID())
		return ok && s.App == ScoreProbing
	})
	b.g.RefreshScores()
	waitUntil(t, 10*time.Second, "B's score of A to fall below the graylist threshold", func() bool {
		s, ok := b.g.PeerScore(a.h.ID())
		return ok && s.Score < GraylistThreshold
	})

	publish(t, a, "after")
	waitUntil(t, 10*time.Second, "B to drop A's RPC as graylisted", func() bool {
		return b.g.Stats().Dropped[DropGraylisted] >= 1
	})
	publish(t, b, "fence")
	if !c.rec.waitFor(10*time.Second, func(got map[string]int) bool { return got["fence"] == 1 }) {
		t.Fatal("fence from B did not reach C")
	}
	if n := c.rec.count("after"); n != 0 {
		t.Fatalf("C received a blacklisted peer's message %d times", n)
	}
	if n := b.rec.count("after"); n != 0 || len(b.val.sawFrom("after")) != 0 {
		t.Fatalf("B processed a graylisted peer's message")
	}
	if !hasEvent(b.ring, "web4.gossip.dropped", func(e events.Event) bool {
		return e.Data["reason"] == "graylisted" && e.Data["from"] == a.h.ID().String()
	}) {
		t.Error("B emitted no web4.gossip.dropped event for the graylisted peer")
	}
}

// Thirty in-memory nodes, each dialling 3 random others (fixed seed); one
// message from each of three publishers reaches all 30 exactly once.
func TestMesh30(t *testing.T) {
	const nodes = 30
	_, hs := newMocknet(t, nodes)
	ns := make([]*tnode, nodes)
	for i := range ns {
		ns[i] = startNode(t, hs[i], nil)
	}
	randomGraph(t, ns, 3, 7)
	waitUntil(t, 15*time.Second, "every node to be ready and have a mesh", func() bool {
		for _, n := range ns {
			if !n.g.Ready(testTopic) || len(n.g.MeshPeers(testTopic)) == 0 {
				return false
			}
		}
		return true
	})

	pubs := []int{0, 11, 23}
	for _, p := range pubs {
		publish(t, ns[p], fmt.Sprintf("from-%d", p))
	}
	for i, n := range ns {
		want := 0
		for _, p := range pubs {
			if p != i {
				want++
			}
		}
		if !n.rec.waitFor(20*time.Second, func(got map[string]int) bool { return len(got) == want }) {
			t.Fatalf("node %d delivered %d of %d messages", i, n.rec.distinct(), want)
		}
		for _, p := range pubs {
			if p == i {
				continue
			}
			if c := n.rec.count(fmt.Sprintf("from-%d", p)); c != 1 {
				t.Errorf("node %d: message from %d delivered %d times", i, p, c)
			}
		}
		if d := n.g.Stats().TotalDropped(); d != 0 {
			t.Errorf("node %d: %d drops", i, d)
		}
	}
}

func TestPublishErrors(t *testing.T) {
	_, hs := newMocknet(t, 1)
	n := startNode(t, hs[0], func(c *Config) { c.MaxMessageSize = 64 })
	ctx := context.Background()

	cases := []struct {
		name  string
		topic string
		data  string
		want  error
	}{
		{"empty", testTopic, "", ErrBadMessage},
		{"oversized", testTopic, strings.Repeat("x", 65), ErrBadMessage},
		{"not joined", "/web4/other/1.0", "x", ErrNotJoined},
		{"invalid", testTopic, "bad:own", ErrRejected},
		{"ignored", testTopic, "ignore:own", ErrIgnore},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := n.g.Publish(ctx, tc.topic, []byte(tc.data))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Publish = %v, want %v", err, tc.want)
			}
		})
	}
	if err := n.g.Publish(ctx, testTopic, []byte("bad:own")); !errors.Is(err, errBadPrefix) {
		t.Errorf("rejection does not carry the validator's error: %v", err)
	}
	if err := n.g.Publish(ctx, testTopic, []byte("once")); err != nil {
		t.Fatal(err)
	}
	if err := n.g.Publish(ctx, testTopic, []byte("once")); !errors.Is(err, ErrDuplicate) {
		t.Errorf("second publish of the same bytes = %v, want ErrDuplicate", err)
	}
	if err := n.g.Join(testTopic, n.rec.deliver); !errors.Is(err, ErrJoined) {
		t.Errorf("second Join = %v, want ErrJoined", err)
	}
	if err := n.g.Join("", n.rec.deliver); !errors.Is(err, ErrBadTopic) {
		t.Errorf("Join(\"\") = %v, want ErrBadTopic", err)
	}
	if err := n.g.Join("/x", nil); !errors.Is(err, ErrConfig) {
		t.Errorf("Join with nil deliver = %v, want ErrConfig", err)
	}
	if got := n.g.Stats().Published; got != 1 {
		t.Errorf("Published = %d, want 1", got)
	}
	ok := hasEvent(n.ring, "web4.gossip.published", func(e events.Event) bool { return e.Data["bytes"] == 4 })
	if !ok {
		t.Error("no web4.gossip.published event")
	}
}

func TestConfigErrors(t *testing.T) {
	_, hs := newMocknet(t, 1)
	ok := func(context.Context, string, peer.ID, []byte) (any, error) { return nil, nil }
	cases := map[string]func(*Config){
		"no validator":    func(c *Config) { c.Validate = nil },
		"queue":           func(c *Config) { c.PeerOutboundQueue = 0 },
		"validate queue":  func(c *Config) { c.ValidateQueue = -1 },
		"sub buffer":      func(c *Config) { c.SubscriptionBuffer = 0 },
		"workers":         func(c *Config) { c.ValidateWorkers = -1 },
		"timeout":         func(c *Config) { c.ValidateTimeout = 0 },
		"max size":        func(c *Config) { c.MaxMessageSize = 0 },
		"score ttl":       func(c *Config) { c.ScoreCacheTTL = -time.Second },
		"heartbeat":       func(c *Config) { c.Heartbeat = 0 },
		"decay too short": func(c *Config) { c.DecayInterval = time.Millisecond },
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			c := DefaultConfig()
			c.Validate = ok
			mod(&c)
			g, err := New(context.Background(), hs[0], c)
			if !errors.Is(err, ErrConfig) {
				if g != nil {
					_ = g.Close()
				}
				t.Fatalf("New = %v, want ErrConfig", err)
			}
		})
	}
	if _, err := New(context.Background(), nil, DefaultConfig()); !errors.Is(err, ErrConfig) {
		t.Errorf("New(nil host) = %v", err)
	}
}

func TestDuplicateRegistererIsConfigError(t *testing.T) {
	_, hs := newMocknet(t, 2)
	n := startNode(t, hs[0], nil)
	c := testConfig()
	c.Validate = n.val.validate
	c.Registerer = n.reg
	if _, err := New(context.Background(), hs[1], c); !errors.Is(err, ErrConfig) {
		t.Fatalf("second registration on one registry = %v, want ErrConfig", err)
	}
	mfs, err := n.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, want := range []string{"web4_gossip_duplicates_total"} {
		if !names[want] {
			t.Errorf("metric %s not registered (have %v)", want, names)
		}
	}
	// After Close the registry is free again for a new Gossip.
	if err := n.g.Close(); err != nil {
		t.Fatal(err)
	}
	g2, err := New(context.Background(), hs[1], c)
	if err != nil {
		t.Fatalf("New after the first Gossip closed: %v", err)
	}
	if err := g2.Close(); err != nil {
		t.Fatal(err)
	}
}

// Close is idempotent, and after it returns no goroutine it caused is left,
// even though the host and the remote peer keep running.
func TestCloseLeavesNothingBehind(t *testing.T) {
	ha, hb := newTCPHost(t), newTCPHost(t)
	b := startNode(t, hb, nil)
	// The connection exists before the snapshot and stays up afterwards:
	// only what the Gossip caused may disappear, on both sides.
	connect(t, ha, hb)
	before := goleak.IgnoreCurrent()

	ca := testConfig()
	ca.Validate = newValidator(false).validate
	g, err := New(context.Background(), ha, ca)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	if err := g.Join(testTopic, rec.deliver); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "A in B's mesh", func() bool { return len(b.g.MeshPeers(testTopic)) == 1 })
	publish(t, b, "hello")
	if !rec.waitFor(10*time.Second, func(got map[string]int) bool { return got["hello"] == 1 }) {
		t.Fatal("A did not receive B's message")
	}

	if err := g.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := g.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := g.Publish(context.Background(), testTopic, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
	if err := g.Join("/other", rec.deliver); !errors.Is(err, ErrClosed) {
		t.Errorf("Join after Close = %v, want ErrClosed", err)
	}
	if ha.Network().Connectedness(hb.ID()) != network.Connected {
		t.Fatal("Close tore down the connection; it must only stop gossip")
	}
	if err := goleak.Find(before); err != nil {
		t.Fatalf("goroutines left after Close: %v", err)
	}
}

// A panicking deliver or Validate must not take the node down.
func TestCallbackPanicsAreContained(t *testing.T) {
	_, hs := newMocknet(t, 2)
	a := startNode(t, hs[0], func(c *Config) { c.Validate = newValidator(true).validate })
	b := startNode(t, hs[1], func(c *Config) {
		c.Validate = errOnly(func(_ context.Context, _ string, _ peer.ID, raw []byte) error {
			if string(raw) == "boom" {
				panic("validator bug")
			}
			return nil
		})
	})
	connect(t, a.h, b.h)
	waitMesh(t, map[*tnode][]*tnode{a: {b}, b: {a}})
	publish(t, a, "boom")
	waitUntil(t, 10*time.Second, "the panicking validation to count as a reject", func() bool {
		return b.g.Stats().Rejected == 1
	})
	publish(t, a, "fine")
	if !b.rec.waitFor(10*time.Second, func(got map[string]int) bool { return got["fine"] == 1 }) {
		t.Fatal("node stopped delivering after a validator panic")
	}
}

func TestDeliverPanicIsContained(t *testing.T) {
	const topic = "/web4/panic/1.0"
	_, hs := newMocknet(t, 2)
	a := startNode(t, hs[0], nil)
	b := startNode(t, hs[1], nil)
	got := make(chan string, 4)
	if err := a.g.Join(topic, func(peer.ID, []byte, any) {}); err != nil {
		t.Fatal(err)
	}
	if err := b.g.Join(topic, func(_ peer.ID, raw []byte, _ any) {
		if string(raw) == "explode" {
			panic("deliver bug")
		}
		got <- string(raw)
	}); err != nil {
		t.Fatal(err)
	}
	connect(t, a.h, b.h)
	waitUntil(t, 10*time.Second, "topic mesh", func() bool {
		return len(a.g.tr.meshPeers(topic)) == 1 && len(b.g.tr.meshPeers(topic)) == 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, m := range []string{"explode", "after"} {
		if err := a.g.Publish(ctx, topic, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case m := <-got:
		if m != "after" {
			t.Fatalf("got %q", m)
		}
	case <-ctx.Done():
		t.Fatal("delivery stopped after a panicking deliver")
	}
	if _, ok := b.ring.WaitFor(ctx.Done(), func(e events.Event) bool {
		return e.Type == "web4.error" && e.Data["kind"] == "deliver_panic"
	}); !ok {
		t.Fatal("no web4.error event for the deliver panic")
	}
}

// Gossip is transport-agnostic: the same line over QUIC.
func TestLineOverQUIC(t *testing.T) {
	a := startNode(t, newQUICHost(t), nil)
	b := startNode(t, newQUICHost(t), nil)
	c := startNode(t, newQUICHost(t), nil)
	line(t, a, b, c)
	publish(t, a, "over-quic")
	if !c.rec.waitFor(10*time.Second, func(got map[string]int) bool { return got["over-quic"] == 1 }) {
		t.Fatal("message did not cross the QUIC line")
	}
	if from := c.rec.fromOf("over-quic"); from != b.h.ID() {
		t.Errorf("C got it from %s, want B", from)
	}
}

// If the parent context ends first (node shutdown), Close still returns
// promptly and cleanly.
func TestCloseAfterParentContextEnds(t *testing.T) {
	_, hs := newMocknet(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	c := testConfig()
	c.Validate = newValidator(false).validate
	g, err := New(ctx, hs[0], c)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Join(testTopic, newRecorder().deliver); err != nil {
		t.Fatal(err)
	}
	cancel()
	done := make(chan error, 1)
	go func() { done <- g.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close after parent cancel: %v", err)
		}
	case <-time.After(closeDrain):
		t.Fatal("Close blocked after the parent context ended")
	}
	if err := g.Publish(context.Background(), testTopic, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish = %v, want ErrClosed", err)
	}
}

// A Validate that overruns ValidateTimeout drops the message without
// penalising the peer that delivered it.
func TestValidateTimeoutIgnoresWithoutPenalty(t *testing.T) {
	_, hs := newMocknet(t, 2)
	a := startNode(t, hs[0], nil)
	b := startNode(t, hs[1], func(c *Config) {
		c.ValidateTimeout = 50 * time.Millisecond
		c.Validate = errOnly(func(ctx context.Context, _ string, _ peer.ID, raw []byte) error {
			if strings.HasPrefix(string(raw), "slow:") {
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		})
	})
	connect(t, a.h, b.h)
	waitMesh(t, map[*tnode][]*tnode{a: {b}, b: {a}})
	publish(t, a, "slow:1")
	waitUntil(t, 10*time.Second, "the slow message to be ignored", func() bool { return b.g.Stats().Ignored >= 1 })
	// Two fresh score snapshots later, A must carry no invalid-message
	// penalty for it.
	gen := b.g.board.generation()
	waitUntil(t, 10*time.Second, "two score snapshots", func() bool { return b.g.board.generation() >= gen+2 })
	s, ok := b.g.PeerScore(a.h.ID())
	if !ok || s.InvalidMessages[testTopic] != 0 || s.Score < 0 {
		t.Fatalf("B's score of A after a validation timeout = %+v (ok %v); want no penalty", s, ok)
	}
	if r := b.g.Stats().Rejected; r != 0 {
		t.Fatalf("timeout counted as %d rejects", r)
	}
	if b.rec.count("slow:1") != 0 {
		t.Fatal("a message whose validation timed out was delivered")
	}
}

// Close waits for a Validate call in flight (cancelling its ctx) so that no
// callback outlives Close.
func TestCloseFencesValidateInFlight(t *testing.T) {
	_, hs := newMocknet(t, 2)
	a := startNode(t, hs[0], nil)
	entered := make(chan struct{})
	var returned atomic.Bool
	b := startNode(t, hs[1], func(c *Config) {
		c.Validate = errOnly(func(ctx context.Context, _ string, _ peer.ID, raw []byte) error {
			if string(raw) != "hold" {
				return nil
			}
			close(entered)
			<-ctx.Done()
			returned.Store(true)
			return ctx.Err()
		})
	})
	connect(t, a.h, b.h)
	waitMesh(t, map[*tnode][]*tnode{a: {b}, b: {a}})
	publish(t, a, "hold")
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("Validate never called")
	}
	if err := b.g.Close(); err != nil {
		t.Fatal(err)
	}
	if !returned.Load() {
		t.Fatal("Close returned while Validate was still running")
	}
}
