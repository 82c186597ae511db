package reconcile

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/goleak"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/lifecycle"
	"github.com/web4p2p/web4p2p/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// side is one Runtime on a loopback host whose Apply accepts every
// envelope into its own log (the mesh's role), counting them.
type side struct {
	h       host.Host
	r       *Runtime
	ring    *events.Ring
	mu      sync.Mutex
	applied int
}

func newSide(tb testing.TB, cfg Config) *side {
	tb.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay(), libp2p.DisableMetrics())
	if err != nil {
		tb.Fatal(err)
	}
	db, err := store.Open(filepath.Join(tb.TempDir(), store.FileName))
	if err != nil {
		tb.Fatal(err)
	}
	s := &side{h: h, ring: events.NewRing(1024)}
	g := lifecycle.New(context.Background())
	cfg.Now = func() time.Time { return t0 }
	if cfg.ServeGap == 0 {
		cfg.ServeGap = -1 // the tests sync back to back
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Hour // syncs are started by the test
	}
	s.r, err = New(cfg, Deps{Host: h, Store: db, Events: events.NewEmitter(h.ID().String(), s.ring, nil), Group: g,
		Apply: func(_ context.Context, _ peer.ID, raw []byte) error {
			s.mu.Lock()
			s.applied++
			s.mu.Unlock()
			_, err := s.r.log.Add(raw, t0, t0)
			return err
		},
		Ready: func(peer.ID) bool { return true }, Peers: func() []peer.ID { return nil }})
	if err != nil {
		tb.Fatal(err)
	}
	s.r.Open()
	tb.Cleanup(func() {
		g.Close()
		_ = s.r.Close()
		_ = h.Close()
		_ = db.Close()
	})
	return s
}

// fill adds envelopes numbered [from, to) (their bytes: the number and
// random padding to size) and returns their total size.
func fill(tb testing.TB, s *side, from, to, size int) int {
	tb.Helper()
	total := 0
	for i := from; i < to; i++ {
		raw := make([]byte, size)
		copy(raw, fmt.Sprintf("envelope %d ", i))
		if _, err := s.r.log.Add(raw, t0, t0); err != nil {
			tb.Fatal(err)
		}
		total += size
	}
	return total
}

func connect(tb testing.TB, a, b *side) {
	tb.Helper()
	if err := a.h.Connect(context.Background(), peer.AddrInfo{ID: b.h.ID(), Addrs: b.h.Addrs()}); err != nil {
		tb.Fatal(err)
	}
}

func sameLog(tb testing.TB, a, b *side) {
	tb.Helper()
	va, _ := a.r.log.Snapshot()
	vb, _ := b.r.log.Snapshot()
	fa, _ := va.Fingerprint(0, va.Size())
	fb, _ := vb.Fingerprint(0, vb.Size())
	if va.Size() != vb.Size() || fa != fb {
		tb.Fatalf("logs differ: %d items vs %d", va.Size(), vb.Size())
	}
}

// Two logs that each hold what the other lacks end up equal after one
// session, in both directions, each missing envelope applied once.
func TestSyncReconcilesBothWays(t *testing.T) {
	a, b := newSide(t, Config{}), newSide(t, Config{})
	fill(t, a, 0, 300, 200)
	fill(t, b, 200, 520, 200)
	connect(t, a, b)
	st, err := a.r.Sync(context.Background(), b.h.ID())
	if err != nil {
		t.Fatal(err)
	}
	if st.Received != 220 || st.Accepted != 220 || st.Sent != 200 {
		t.Fatalf("stats %+v: want 220 received and accepted, 200 sent", st)
	}
	sameLog(t, a, b)
	if b.applied != 200 || a.applied != 220 {
		t.Fatalf("applied a=%d b=%d", a.applied, b.applied)
	}
	// Equal logs: one round, nothing moves.
	st, err = b.r.Sync(context.Background(), a.h.ID())
	if err != nil || st.Received != 0 || st.Sent != 0 || st.Rounds != 1 {
		t.Fatalf("equal logs: %+v %v", st, err)
	}
}

// A peer served a moment ago is not served again at once.
func TestServeGap(t *testing.T) {
	a, b := newSide(t, Config{}), newSide(t, Config{ServeGap: time.Hour})
	connect(t, a, b)
	if _, err := a.r.Sync(context.Background(), b.h.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.r.Sync(context.Background(), b.h.ID()); err == nil {
		t.Fatal("served again within the gap")
	}
}

// A peer that is not past the handshake is not served; budgets stop a
// session that would move too much.
func TestSyncRefusalsAndBudgets(t *testing.T) {
	a := newSide(t, Config{})
	b := newSide(t, Config{MaxEnvelopes: 10})
	b.r.deps.Ready = func(peer.ID) bool { return false }
	connect(t, a, b)
	if _, err := a.r.Sync(context.Background(), b.h.ID()); err == nil {
		t.Fatal("an unready peer was served")
	}
	b.r.deps.Ready = func(peer.ID) bool { return true }
	fill(t, a, 0, 50, 100)
	if _, err := a.r.Sync(context.Background(), b.h.ID()); err == nil {
		t.Fatal("a push past the responder's envelope budget went through")
	}
	if b.applied > 10 {
		t.Fatalf("responder applied %d envelopes, budget 10", b.applied)
	}
}

// Malformed frames are refused with an error, never a panic.
func FuzzFrames(f *testing.F) {
	f.Add([]byte{2, 'N', 0x61})
	f.Add([]byte{0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add(append([]byte{33, 'W'}, bytes.Repeat([]byte{1}, 32)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr := &frameIO{r: bufio.NewReader(bytes.NewReader(b)), w: &bytes.Buffer{}, maxFrame: 1 << 16, maxBytes: 1 << 20}
		for {
			k, body, err := fr.read()
			if err != nil {
				return
			}
			if k == kindWant {
				if ids, err := idsOf(body); err == nil && len(ids)*32 != len(body) {
					t.Fatalf("idsOf: %d ids from %d bytes", len(ids), len(body))
				}
			}
		}
	})
}

// BenchmarkSync: two logs of 100,000 envelopes (822 bytes each, the size
// of a signed FACT_CONFIRM), spread over a day, that differ in 1 %: each
// lacks half of the difference. Reported per case: the bytes one session
// moves ÷ the bytes of the missing envelopes (goal ≤ 1.5) and its negentropy
// round trips; beside them, measured in the same run, a full-transfer
// baseline (every envelope sent) in the same unit.
//
//   - recent: the difference is the last 1 % by time, interleaved between
//     the two sides: a partition or a late joiner;
//   - scattered: the difference is 1 % drawn uniformly from the whole day,
//     negentropy's worst case (every differing item costs an id list of its
//     neighbourhood).
func BenchmarkSync(b *testing.B) {
	const n, size = 100_000, 822
	diff := n / 100
	for _, c := range []struct {
		name    string
		missing func(i int) bool // item i is in the difference
	}{
		{"recent", func(i int) bool { return i >= n-diff }},
		{"scattered", func(i int) bool { return i%(n/diff) == 7 }},
	} {
		b.Run(c.name, func(b *testing.B) {
			var ratio, rounds float64
			for range b.N {
				b.StopTimer()
				x, y := newSide(b, Config{}), newSide(b, Config{})
				k := 0
				for i := range n {
					raw := make([]byte, size)
					copy(raw, fmt.Sprintf("envelope %d ", i))
					at := t0.Add(-time.Duration(n-i) * (24 * time.Hour / n))
					switch {
					case !c.missing(i):
						addBoth(b, raw, at, x, y)
					case k%2 == 0:
						addBoth(b, raw, at, x)
						k++
					default:
						addBoth(b, raw, at, y)
						k++
					}
				}
				connect(b, x, y)
				missing := diff * size
				b.StartTimer()
				st, err := x.r.Sync(context.Background(), y.h.ID())
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if st.Received != diff/2 || st.Sent != diff/2 {
					b.Fatalf("moved %d/%d envelopes, want %d each way", st.Received, st.Sent, diff/2)
				}
				ratio += float64(st.BytesIn+st.BytesOut) / float64(missing)
				rounds += float64(st.Rounds)
			}
			b.ReportMetric(float64(n*size)/float64(diff*size), "full_transfer/missing")
			b.ReportMetric(ratio/float64(b.N), "bytes/missing")
			b.ReportMetric(rounds/float64(b.N), "rounds")
		})
	}
}

func addBoth(tb testing.TB, raw []byte, at time.Time, sides ...*side) {
	tb.Helper()
	for _, s := range sides {
		if _, err := s.r.log.Add(raw, at, t0); err != nil {
			tb.Fatal(err)
		}
	}
}
