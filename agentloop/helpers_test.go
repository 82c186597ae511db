package agentloop

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/store"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

const peerID = "12D3KooWLoopTestPeer11111111111111111111111111111"

// clock is a manual clock safe for use from the loop goroutine.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }
func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// load is a settable Sampler.
type load struct {
	mu sync.Mutex
	s  LoadSample
}

func (l *load) set(cpu, mem float64) {
	l.mu.Lock()
	l.s = LoadSample{CPU: cpu, Memory: mem}
	l.mu.Unlock()
}
func (l *load) Sample() (LoadSample, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s, nil
}

// actions records what the Actor was asked to do.
type actions struct {
	mu   sync.Mutex
	list []Action
	err  error
}

func (a *actions) Act(_ context.Context, x Action) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.list = append(a.list, x)
	return a.err
}
func (a *actions) all() []Action {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Action(nil), a.list...)
}

func emitter(t *testing.T, now func() time.Time) (*events.Emitter, *events.Ring) {
	t.Helper()
	ring := events.NewRing(4096)
	chk := &events.CheckingSink{Next: ring}
	t.Cleanup(func() {
		if f := chk.Failures(); len(f) > 0 {
			t.Errorf("events failed the contract schema: %v", f)
		}
	})
	return events.NewEmitter(peerID, chk, now), ring
}

func openMemory(t testing.TB, dir string) (*Memory, *store.DB) {
	t.Helper()
	db, err := store.Open(filepath.Join(dir, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMemory(db)
	if err != nil {
		t.Fatal(err)
	}
	return m, db
}

// harness is a loop driven by Cycle with a manual clock and fake load.
type harness struct {
	loop  *Loop
	clock *clock
	load  *load
	act   *actions
	ring  *events.Ring
	mem   *Memory
	db    *store.DB
}

func newHarness(t *testing.T, cfg Config, peers []Peer) *harness {
	t.Helper()
	h := &harness{clock: newClock(), load: &load{}, act: &actions{}}
	var em *events.Emitter
	em, h.ring = emitter(t, h.clock.now)
	h.mem, h.db = openMemory(t, t.TempDir())
	t.Cleanup(func() { h.db.Close() })
	cfg.Now, cfg.Events = h.clock.now, em
	l, err := New(cfg, Deps{Actor: h.act, Memory: h.mem, Sampler: h.load, Peers: PeersFunc(func() []Peer { return peers })})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	h.loop = l
	return h
}
