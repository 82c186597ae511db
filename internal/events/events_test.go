package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testPeer = "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf"

func TestEmitterStampsContract(t *testing.T) {
	ring := NewRing(8)
	chk := &CheckingSink{Next: ring}
	fixed := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	em := NewEmitter(testPeer, chk, func() time.Time { return fixed })
	a := em.Emit("web4.rtt.session_up", "peer-x", map[string]any{"channel": "control"})
	b := em.Emit("web4.rtt.resumed", "peer-x", nil, a.ID)
	if a.ID == b.ID || a.ID == "" {
		t.Fatalf("ids not unique: %q %q", a.ID, b.ID)
	}
	if b.Source != "/web4p2p/"+testPeer || b.SpecVersion != "1.0" || b.Web4Contract != "1.0" || !b.Time.Equal(fixed) {
		t.Fatalf("bad stamp: %+v", b)
	}
	if len(b.Causes) != 1 || b.Causes[0] != a.ID {
		t.Fatalf("causes = %v", b.Causes)
	}
	if f := chk.Failures(); len(f) != 0 {
		t.Fatalf("schema failures: %v", f)
	}
	if ring.Count("web4.rtt.resumed") != 1 || ring.Total() != 2 {
		t.Fatalf("ring count wrong: %v", ring.Events())
	}
}

func TestNilEmitterDiscards(t *testing.T) {
	var em *Emitter
	if ev := em.Emit("web4.x", "", nil); ev.Type != "" {
		t.Fatal("nil emitter produced an event")
	}
}

func TestSchemaRejectsBadEvents(t *testing.T) {
	good := Event{SpecVersion: "1.0", ID: "a-1", Source: "/web4p2p/" + testPeer, Type: "web4.rtt.session_up",
		Time: time.Now(), Data: map[string]any{}, Web4Contract: "1.0", Causes: []string{}}
	if err := ValidateEvent(good); err != nil {
		t.Fatalf("good event rejected: %v", err)
	}
	cases := map[string]func(*Event){
		"wrong type prefix": func(e *Event) { e.Type = "rtt.up" },
		"bad source":        func(e *Event) { e.Source = "node-1" },
		"contract version":  func(e *Event) { e.Web4Contract = "2.0" },
		"empty id":          func(e *Event) { e.ID = "" },
	}
	for name, mut := range cases {
		e := good
		mut(&e)
		if err := ValidateEvent(e); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := Validate([]byte(`{"specversion":"1.0"}`)); err == nil {
		t.Error("missing fields accepted")
	}
	if err := Validate([]byte(`{`)); err == nil {
		t.Error("non-JSON accepted")
	}
}

func TestJSONLinesAndHuman(t *testing.T) {
	var jb, hb bytes.Buffer
	jl := NewJSONLines(&jb)
	h := NewHuman(&hb, "alice", "web4.rtt.")
	em := NewEmitter(testPeer, Fanout{jl, h}, nil)
	em.Emit("web4.rtt.session_up", testPeer, map[string]any{"channel": "control", "n": 3})
	em.Emit("web4.trust.transition", testPeer, map[string]any{"to": "probing"})
	if err := jl.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(jb.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 json lines, got %d: %q", len(lines), jb.String())
	}
	for _, l := range lines {
		if err := Validate([]byte(l)); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		var e Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
	}
	out := hb.String()
	if !strings.Contains(out, "alice") || !strings.Contains(out, "web4.rtt.session_up") || !strings.Contains(out, "channel=control") {
		t.Fatalf("human line: %q", out)
	}
	if strings.Contains(out, "web4.trust.transition") {
		t.Fatalf("type filter ignored: %q", out)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestJSONLinesRemembersWriteError(t *testing.T) {
	jl := NewJSONLines(failWriter{})
	NewEmitter(testPeer, jl, nil).Emit("web4.x", "", nil)
	if jl.Err() == nil {
		t.Fatal("write error lost")
	}
}

func TestRingWaitFor(t *testing.T) {
	ring := NewRing(2)
	em := NewEmitter(testPeer, ring, nil)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 5; i++ {
			em.Emit("web4.test.tick", "", map[string]any{"i": i})
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ev, ok := ring.WaitFor(ctx.Done(), func(e Event) bool { return e.Data["i"] == 4 })
	wg.Wait()
	if !ok || ev.Data["i"] != 4 {
		t.Fatalf("WaitFor: %v %v", ev, ok)
	}
	if got := len(ring.Events()); got != 2 {
		t.Fatalf("ring kept %d, want 2", got)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, ok := ring.WaitFor(ctx2.Done(), OfType("never")); ok {
		t.Fatal("WaitFor matched nothing yet returned true")
	}
}

func FuzzValidate(f *testing.F) {
	f.Add([]byte(`{"specversion":"1.0","id":"x","source":"/web4p2p/abc","type":"web4.a","time":"2026-01-01T00:00:00Z","data":{},"web4contract":"1.0","causes":[]}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) { _ = Validate(b) })
}

// The ring grows with use up to its size, then keeps the newest events in
// order; WaitFor matches each event exactly once, also across a wrap.
func TestRingOrderAndWaitForOnce(t *testing.T) {
	ring := NewRing(3)
	em := NewEmitter(testPeer, ring, nil)
	ids := func() []any {
		var out []any
		for _, e := range ring.Events() {
			out = append(out, e.Data["i"])
		}
		return out
	}
	for i := range 7 {
		em.Emit("web4.test.tick", "", map[string]any{"i": i})
		want := []any{}
		for j := max(0, i-2); j <= i; j++ {
			want = append(want, j)
		}
		if got := ids(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("after %d events: ring holds %v, want %v", i+1, got, want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var matched []any
	go func() {
		for i := 7; i < 12; i++ {
			em.Emit("web4.test.tick", "", map[string]any{"i": i})
		}
	}()
	_, ok := ring.WaitFor(ctx.Done(), func(e Event) bool {
		matched = append(matched, e.Data["i"])
		return e.Data["i"] == 11
	})
	if !ok {
		t.Fatal("WaitFor never saw event 11")
	}
	seen := map[any]int{}
	for _, m := range matched {
		if seen[m]++; seen[m] > 1 {
			t.Fatalf("WaitFor matched event %v twice: %v", m, matched)
		}
	}
}

// WaitForSince skips the events emitted before the cursor it is given.
func TestRingWaitForSince(t *testing.T) {
	ring := NewRing(8)
	em := NewEmitter(testPeer, ring, nil)
	em.Emit("web4.test.old", "", nil)
	since := ring.Total()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, ok := ring.WaitForSince(ctx.Done(), since, OfType("web4.test.old")); ok {
		t.Fatal("WaitForSince matched an event from before its cursor")
	}
	em.Emit("web4.test.new", "", nil)
	if _, ok := ring.WaitForSince(ctx.Done(), since, OfType("web4.test.new")); !ok {
		t.Fatal("WaitForSince missed the event after its cursor")
	}
	if _, ok := ring.WaitForSince(ctx.Done(), 0, OfType("web4.test.old")); !ok {
		t.Fatal("WaitForSince(0) is WaitFor: it must see the whole ring")
	}
}
