package events

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"
)

// Contract version and CloudEvents spec version stamped on every event.
const (
	ContractVersion = "1.0"
	SpecVersion     = "1.0"
)

// Event is one observable occurrence (SPEC §11).
type Event struct {
	SpecVersion  string         `json:"specversion"`
	ID           string         `json:"id"`
	Source       string         `json:"source"`
	Type         string         `json:"type"`
	Time         time.Time      `json:"time"`
	Subject      string         `json:"subject,omitempty"`
	Data         map[string]any `json:"data"`
	Web4Contract string         `json:"web4contract"`
	Causes       []string       `json:"causes"`
}

// Sink receives events. Emit is called on the emitting goroutine, possibly
// from many goroutines at once; it must be safe for concurrent use and must
// not block for long (buffer or drop-and-count if the destination is slow).
type Sink interface {
	Emit(Event)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(Event)

// Emit calls f(e).
func (f SinkFunc) Emit(e Event) { f(e) }

// Emitter stamps events with the node's source, an id and the time, then
// hands them to its sink. A nil *Emitter is valid and discards everything,
// so components can be used without observability in unit tests.
type Emitter struct {
	source string
	sink   Sink
	now    func() time.Time
	prefix string
	seq    atomic.Uint64
}

// NewEmitter returns an Emitter for the node identified by peerID
// (source = "/web4p2p/<peerID>"). now may be nil (time.Now).
func NewEmitter(peerID string, sink Sink, now func() time.Time) *Emitter {
	if now == nil {
		now = time.Now
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &Emitter{source: "/web4p2p/" + peerID, sink: sink, now: now, prefix: hex.EncodeToString(b[:])}
}

// Source returns the CloudEvents source of this emitter.
func (e *Emitter) Source() string {
	if e == nil {
		return ""
	}
	return e.source
}

// Emit builds an event of type typ (e.g. "web4.rtt.session_up") about
// subject with data and causal parents, sends it to the sink and returns it.
// data may be nil.
func (e *Emitter) Emit(typ, subject string, data map[string]any, causes ...string) Event {
	if e == nil {
		return Event{}
	}
	if data == nil {
		data = map[string]any{}
	}
	if causes == nil {
		causes = []string{}
	}
	ev := Event{
		SpecVersion:  SpecVersion,
		ID:           e.prefix + "-" + itoa(e.seq.Add(1)),
		Source:       e.source,
		Type:         typ,
		Time:         e.now().UTC(),
		Subject:      subject,
		Data:         data,
		Web4Contract: ContractVersion,
		Causes:       causes,
	}
	if e.sink != nil {
		e.sink.Emit(ev)
	}
	return ev
}

// Error emits a "web4.error" event naming the area, the error kind and the
// detail, the common shape for every rejected input.
func (e *Emitter) Error(area, kind, subject string, err error, extra map[string]any) Event {
	d := map[string]any{"area": area, "kind": kind}
	if err != nil {
		d["detail"] = err.Error()
	}
	for k, v := range extra {
		d[k] = v
	}
	return e.Emit("web4.error", subject, d)
}

func itoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return string(b[i:])
}

// Marshal encodes an event as one JSON object (no trailing newline).
func Marshal(e Event) ([]byte, error) { return json.Marshal(e) }

// Fanout sends each event to every sink in order.
type Fanout []Sink

// Emit implements Sink.
func (f Fanout) Emit(e Event) {
	for _, s := range f {
		if s != nil {
			s.Emit(e)
		}
	}
}

// Ring keeps the last N events in memory and lets tests wait for one that
// matches a predicate. Safe for concurrent use. Its buffer grows with use up
// to N: a ring sized for a busy node costs a quiet one nothing.
type Ring struct {
	mu      sync.Mutex
	max     int
	buf     []Event // len(buf) < max: not wrapped yet, next == len(buf)
	next    int
	full    bool
	total   uint64
	changed chan struct{}
}

// NewRing returns a ring holding up to n events (n ≥ 1).
func NewRing(n int) *Ring {
	if n < 1 {
		n = 1
	}
	return &Ring{max: n, changed: make(chan struct{})}
}

// Emit implements Sink.
func (r *Ring) Emit(e Event) {
	r.mu.Lock()
	if !r.full {
		r.buf = append(r.buf, e)
		r.next = len(r.buf) % r.max
		r.full = len(r.buf) == r.max
	} else {
		r.buf[r.next] = e
		r.next = (r.next + 1) % r.max
	}
	r.total++
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// Events returns a copy of the retained events, oldest first.
func (r *Ring) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastLocked(len(r.buf))
}

// lastLocked copies the newest k retained events (k ≤ len(r.buf)), oldest
// first.
func (r *Ring) lastLocked(k int) []Event {
	if !r.full {
		return append([]Event(nil), r.buf[len(r.buf)-k:]...)
	}
	out := make([]Event, 0, k)
	start := r.next - k
	if start >= 0 {
		return append(out, r.buf[start:r.next]...)
	}
	out = append(out, r.buf[len(r.buf)+start:]...)
	return append(out, r.buf[:r.next]...)
}

// Total is the number of events ever emitted into the ring.
func (r *Ring) Total() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

// Count returns how many retained events have type typ.
func (r *Ring) Count(typ string) int {
	n := 0
	for _, e := range r.Events() {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// WaitFor blocks until a retained event satisfies match, or until done is
// closed (pass ctx.Done()). It returns the event and true, or false on done.
// Each event is matched once: after the first look at the whole ring, only
// events emitted since the previous look are.
func (r *Ring) WaitFor(done <-chan struct{}, match func(Event) bool) (Event, bool) {
	return r.WaitForSince(done, 0, match)
}

// WaitForSince is WaitFor for the events emitted after the first since
// ones (since is a Total the caller read earlier): a wait for what an action
// caused looks only at what came after the action started.
func (r *Ring) WaitForSince(done <-chan struct{}, since uint64, match func(Event) bool) (Event, bool) {
	r.mu.Lock()
	for {
		evs := r.lastLocked(int(min(r.total-min(since, r.total), uint64(len(r.buf)))))
		since = r.total
		ch := r.changed
		r.mu.Unlock()
		for _, e := range evs {
			if match(e) {
				return e, true
			}
		}
		select {
		case <-ch:
		case <-done:
			return Event{}, false
		}
		r.mu.Lock()
	}
}

// OfType returns a predicate matching events of type typ.
func OfType(typ string) func(Event) bool {
	return func(e Event) bool { return e.Type == typ }
}
