package events

import (
	"context"
	"testing"
	"time"
)

func TestBrokerLiveFilterAndResume(t *testing.T) {
	b := NewBroker(100)
	em := NewEmitter(testPeer, b, nil)
	all, _ := b.Subscribe("", nil, 16)
	rttOnly, _ := b.Subscribe("", TypeFilter("web4.rtt."), 16)
	first := em.Emit("web4.rtt.session_up", "", nil)
	em.Emit("web4.trust.transition", "", nil)
	em.Emit("web4.rtt.session_down", "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i, want := range []string{"web4.rtt.session_up", "web4.trust.transition", "web4.rtt.session_down"} {
		e, ok := all.Next(ctx)
		if !ok || e.Type != want {
			t.Fatalf("all[%d] = %v %v", i, e.Type, ok)
		}
	}
	for _, want := range []string{"web4.rtt.session_up", "web4.rtt.session_down"} {
		if e, _ := rttOnly.Next(ctx); e.Type != want {
			t.Fatalf("filtered got %s want %s", e.Type, want)
		}
	}
	// Resume after the first event: the two later ones arrive first.
	res, ok := b.Subscribe(first.ID, nil, 1)
	if !ok {
		t.Fatal("resume id not found")
	}
	for _, want := range []string{"web4.trust.transition", "web4.rtt.session_down"} {
		if e, _ := res.Next(ctx); e.Type != want {
			t.Fatalf("resume got %s want %s", e.Type, want)
		}
	}
	if _, ok := b.Subscribe("unknown-id", nil, 1); ok {
		t.Fatal("unknown id reported as resumed")
	}
	all.Close()
	all.Close()
	b.Close()
	if _, ok := rttOnly.Next(ctx); ok {
		t.Fatal("subscription open after broker close")
	}
}

func TestBrokerDropsSlowSubscriberWithoutBlocking(t *testing.T) {
	b := NewBroker(10)
	em := NewEmitter(testPeer, b, nil)
	slow, _ := b.Subscribe("", nil, 1)
	for i := 0; i < 100; i++ { // would block forever if Emit waited
		em.Emit("web4.test.tick", "", nil)
	}
	if !slow.Dropped() {
		t.Fatal("slow subscriber not dropped")
	}
	if n := len(b.ring); n != 10 {
		t.Fatalf("retained %d, want 10", n)
	}
}
