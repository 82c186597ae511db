package hcp

import (
	"crypto/ed25519"
	"crypto/sha256"
	"path/filepath"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/store"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// t0 is the fixed start of every test clock.
var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// clock is a manual test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: t0} }
func seedKey(s string) ed25519.PrivateKey {
	h := sha256.Sum256([]byte(s))
	return ed25519.NewKeyFromSeed(h[:])
}

// peerID is a syntactically valid PeerID for event sources.
const peerID = "12D3KooWHumanTestPeer1111111111111111111111111111"

// sink returns an emitter whose events are schema-checked into a ring.
func sink(t *testing.T, now func() time.Time) (*events.Emitter, *events.Ring) {
	t.Helper()
	ring := events.NewRing(1024)
	chk := &events.CheckingSink{Next: ring}
	t.Cleanup(func() {
		if f := chk.Failures(); len(f) > 0 {
			t.Errorf("events failed the contract schema: %v", f)
		}
	})
	return events.NewEmitter(peerID, chk, now), ring
}

func openStore(t *testing.T, dir string) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(dir, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func human(c envelope.Consent, scope ...string) envelope.Human {
	return envelope.Human{Presence: envelope.Diffuse, Affect: envelope.Calm, Clarity: 80, Pressure: 20,
		Intent: "work", Consent: c, ConsentScope: scope}
}
