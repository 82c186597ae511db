package events

import (
	"context"
	"strings"
	"sync"
)

// Broker is a Sink that fans events out to live subscribers (the control
// API's SSE stream) and keeps the last N for resume: a subscriber that
// reconnects with the id of the last event it saw receives everything after
// it that is still retained. Emit never blocks: a subscriber whose buffer is
// full is disconnected (its channel closed, Dropped reports it) rather than
// stalling the node; it can reconnect and resume.
type Broker struct {
	mu sync.Mutex
	// ring holds the retained events (its last limit ones, see retained)
	// and up to as many again: trimmed once it reaches twice the limit, a
	// full broker copies its window once per limit events, not on every
	// Emit (a 4096-event window is ~600 KB to move).
	ring   []Event
	limit  int
	subs   map[*Subscription]struct{}
	closed bool
}

// Subscription is one live subscriber.
type Subscription struct {
	C       <-chan Event
	c       chan Event
	filter  func(Event) bool
	dropped bool
	b       *Broker
}

// NewBroker retains up to keep events for resume.
func NewBroker(keep int) *Broker {
	if keep < 1 {
		keep = 1
	}
	return &Broker{limit: keep, subs: map[*Subscription]struct{}{}}
}

// TypeFilter matches events whose type equals one of types or starts with
// one that ends in "." (e.g. "web4.rtt."); no types matches everything.
func TypeFilter(types ...string) func(Event) bool {
	if len(types) == 0 {
		return func(Event) bool { return true }
	}
	return func(e Event) bool {
		for _, t := range types {
			if e.Type == t || (strings.HasSuffix(t, ".") && strings.HasPrefix(e.Type, t)) {
				return true
			}
		}
		return false
	}
}

// Emit implements Sink.
func (b *Broker) Emit(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	if len(b.ring) >= 2*b.limit {
		n := copy(b.ring, b.ring[len(b.ring)-b.limit:])
		clear(b.ring[n:]) // let the dropped events' data go
		b.ring = b.ring[:n]
	}
	b.ring = append(b.ring, e)
	for s := range b.subs {
		if !s.filter(e) {
			continue
		}
		select {
		case s.c <- e:
		default:
			s.dropped = true
			close(s.c)
			delete(b.subs, s)
		}
	}
}

// retained is the window of the last limit events; b.mu is held.
func (b *Broker) retained() []Event {
	return b.ring[max(0, len(b.ring)-b.limit):]
}

// Subscribe returns a subscription receiving events that match filter
// (nil = all). If lastID is non-empty, retained events after the one with
// that id are delivered first; resumed reports whether lastID was found
// (false means the subscriber missed events older than the retained window).
// buf sizes the subscriber's channel.
func (b *Broker) Subscribe(lastID string, filter func(Event) bool, buf int) (s *Subscription, resumed bool) {
	if filter == nil {
		filter = TypeFilter()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var backlog []Event
	if lastID != "" {
		ring := b.retained()
		for i, e := range ring {
			if e.ID == lastID {
				resumed = true
				for _, x := range ring[i+1:] {
					if filter(x) {
						backlog = append(backlog, x)
					}
				}
				break
			}
		}
	}
	if buf < len(backlog)+16 {
		buf = len(backlog) + 16
	}
	c := make(chan Event, buf)
	for _, e := range backlog {
		c <- e
	}
	s = &Subscription{C: c, c: c, filter: filter, b: b}
	if b.closed {
		close(c)
		return s, resumed
	}
	b.subs[s] = struct{}{}
	return s, resumed
}

// Recent returns the retained events that match filter (nil = all), oldest
// first.
func (b *Broker) Recent(filter func(Event) bool) []Event {
	if filter == nil {
		filter = TypeFilter()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	out := []Event{}
	for _, e := range b.retained() {
		if filter(e) {
			out = append(out, e)
		}
	}
	return out
}

// Dropped reports whether the broker disconnected this subscriber because
// it fell behind.
func (s *Subscription) Dropped() bool {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.dropped
}

// Close ends the subscription. Idempotent.
func (s *Subscription) Close() {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if _, ok := s.b.subs[s]; ok {
		delete(s.b.subs, s)
		close(s.c)
	}
}

// Close disconnects every subscriber. Idempotent.
func (b *Broker) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	for s := range b.subs {
		close(s.c)
		delete(b.subs, s)
	}
}

// Next waits for the next event of s or ctx's end.
func (s *Subscription) Next(ctx context.Context) (Event, bool) {
	select {
	case e, ok := <-s.C:
		return e, ok
	case <-ctx.Done():
		return Event{}, false
	}
}
