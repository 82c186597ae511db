package agentloop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestWhyChainSurvivesRestart runs a human intent through the loop, feeds
// the peer's reply to the resulting request back in, and checks that Why
// on the reply's decision returns intent → decision → request → reply →
// decision, also after the store is closed and reopened.
func TestWhyChainSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	mem, db := openMemory(t, dir)
	act := &actions{}
	c := newClock()
	l, err := New(Config{Now: c.now}, Deps{Actor: act, Memory: mem, Sampler: &load{},
		Peers: PeersFunc(func() []Peer { return []Peer{{Fingerprint: "p1", Capabilities: []string{"science"}}} })})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := l.TrySubmit(Item{Kind: ItemHumanIntent, ID: "intent-1", Topic: "science", Goal: "clarify"}); err != nil {
		t.Fatal(err)
	}
	l.Cycle(ctx)
	req := act.all()[0]
	c.add(time.Second)
	if err := l.TrySubmit(Item{Kind: ItemIntentReply, ID: "reply-1", From: "p1", Ref: req.ID, Text: "accept"}); err != nil {
		t.Fatal(err)
	}
	l.Cycle(ctx)
	l.Close()
	want := []string{"intent-1", "decision:intent-1", req.ID, "reply-1", "decision:reply-1"}
	check := func(m *Memory) {
		t.Helper()
		chain, err := m.Why("decision:reply-1", 0)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, n := range chain {
			ids = append(ids, n.ID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(want) {
			t.Fatalf("why = %v, want %v", ids, want)
		}
		if d := chain[1]; d.Kind != NodeDecision || d.Trace == nil || len(d.Trace.Alternatives) == 0 || len(d.Trace.Reasons) == 0 ||
			len(d.Trace.Consequences) != 1 || !strings.Contains(d.Trace.Context, "presence=") {
			t.Fatalf("decision trace incomplete: %+v", d.Trace)
		}
		if chain[2].Kind != NodeAction || chain[2].Type != "send_intent" {
			t.Fatalf("action node = %+v", chain[2])
		}
	}
	check(mem)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	mem2, db2 := openMemory(t, dir)
	defer db2.Close()
	check(mem2)
	if mem2.Len() != 5 {
		t.Fatalf("nodes after restart = %d, want 5", mem2.Len())
	}
}

func TestWhyCycleSafeAndBounded(t *testing.T) {
	mem, db := openMemory(t, t.TempDir())
	defer db.Close()
	// a ← b ← c ← a (a cycle a store should never hold, but might).
	err := mem.Record(
		Node{ID: "a", Kind: NodeMessage, Causes: []string{"c"}},
		Node{ID: "b", Kind: NodeDecision, Causes: []string{"a", "missing"}},
		Node{ID: "c", Kind: NodeAction, Causes: []string{"b"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := mem.Why("c", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 3 || chain[2].ID != "c" || chain[0].ID != "a" || chain[1].ID != "b" {
		t.Fatalf("cyclic why = %v", ids(chain))
	}
	// A long chain is cut at the requested depth.
	var nodes []Node
	for i := 0; i < 50; i++ {
		n := Node{ID: fmt.Sprint("n", i), Kind: NodeMessage}
		if i > 0 {
			n.Causes = []string{fmt.Sprint("n", i-1)}
		}
		nodes = append(nodes, n)
	}
	if err := mem.Record(nodes...); err != nil {
		t.Fatal(err)
	}
	chain, err = mem.Why("n49", 5)
	if err != nil || len(chain) != 6 || chain[0].ID != "n44" || chain[5].ID != "n49" {
		t.Fatalf("depth 5: %v, %v", ids(chain), err)
	}
	if _, err := mem.Why("nope", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	// Diamond: both parents before the child, each once.
	if err := mem.Record(Node{ID: "root", Kind: NodeMessage}, Node{ID: "l", Kind: NodeDecision, Causes: []string{"root"}},
		Node{ID: "r", Kind: NodeDecision, Causes: []string{"root"}}, Node{ID: "join", Kind: NodeAction, Causes: []string{"r", "l"}}); err != nil {
		t.Fatal(err)
	}
	chain, _ = mem.Why("join", 0)
	if got := fmt.Sprint(ids(chain)); got != "[root l r join]" {
		t.Fatalf("diamond = %s", got)
	}
	// Recording is idempotent and refuses malformed nodes.
	if err := mem.Record(Node{ID: "root", Kind: NodeAction, Summary: "changed"}); err != nil {
		t.Fatal(err)
	}
	if n, _ := mem.Get("root"); n.Kind != NodeMessage {
		t.Fatal("re-recording replaced a node")
	}
	for _, bad := range []Node{{Kind: NodeMessage}, {ID: "x"}, {ID: "x", Kind: NodeMessage, Causes: make([]string, MaxCauses+1)}} {
		if err := mem.Record(bad); !errors.Is(err, ErrNode) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

func ids(ns []Node) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.ID)
	}
	return out
}

// TestProcSamplerMeasuresRealLoad burns CPU on this process and checks the
// real sampler sees it, and that memory is a plausible share.
func TestProcSamplerMeasuresRealLoad(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SKIPPED: ProcSampler reads /proc, which only Linux has; on this OS the sampler is not measured")
	}
	s := NewProcSampler(0)
	before, _ := cpuTime()
	x := 0
	for i := 0; ; i++ {
		x += i * i % 7
		if i%100000 == 0 {
			if now, _ := cpuTime(); now-before > 50*time.Millisecond {
				break
			}
		}
	}
	_ = x
	got, err := s.Sample()
	if err != nil {
		t.Fatal(err)
	}
	if got.CPU <= 0 || got.CPU > 1 {
		t.Fatalf("CPU share after burning 50 ms = %v", got.CPU)
	}
	if got.Memory <= 0 || got.Memory >= 1 {
		t.Fatalf("memory share = %v", got.Memory)
	}
	if _, err := os.Stat("/proc/self/statm"); err == nil && residentBytes() == 0 {
		t.Fatal("RSS not read")
	}
	// With a budget of twice the current RSS, memory reads about half.
	small := NewProcSampler(2 * residentBytes())
	if got, _ := small.Sample(); got.Memory < 0.3 || got.Memory > 0.8 {
		t.Fatalf("memory share against a 2×RSS budget = %v", got.Memory)
	}
}
