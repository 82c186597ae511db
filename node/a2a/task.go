package a2a

import (
	"context"
	"sync"
	"time"
)

// task is one task and its stream of events. Its fields are guarded by
// the store's mutex; changed is closed (and replaced) on every change so
// waiters wake without polling.
type task struct {
	snap    Task
	events  []Event
	dropped int // events cut from the front (MaxEvents)
	changed chan struct{}
	// cancel stops the work running for the task (nil when none runs).
	cancel context.CancelFunc
	// running: a goroutine works on the task (a follow-up message is
	// refused until it stops); run counts the runs started.
	running bool
	run     uint64
	// asked is the id of the question put to the human for the task, and
	// answer the human's choice once they answered it.
	asked, answer string
	seq           uint64 // insertion order, for eviction
	send          *SendParams
	owner         string // who created it (Request.Owner); only they see it
}

// store keeps the tasks in memory, at most max of them. Its mutex is a
// leaf: nothing is called while it is held.
type store struct {
	mu    sync.Mutex
	max   int
	tasks map[string]*task
	seq   uint64
	now   func() time.Time
}

func newStore(max int, now func() time.Time) *store {
	return &store{max: max, tasks: map[string]*task{}, now: now}
}

// add stores a new task, forgetting the oldest finished one when full;
// false when every stored task is still running.
func (s *store) add(t Task, sp *SendParams, owner string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tasks) >= s.max {
		var oldest *task
		for _, c := range s.tasks {
			if c.snap.State.Terminal() && (oldest == nil || c.seq < oldest.seq) {
				oldest = c
			}
		}
		if oldest == nil {
			return false
		}
		delete(s.tasks, oldest.snap.ID)
	}
	s.seq++
	tk := &task{snap: t, changed: make(chan struct{}), seq: s.seq, send: sp, owner: owner}
	s.tasks[t.ID] = tk
	return true
}

// owned reports whether task id exists and was created by owner.
func (s *store) owned(id, owner string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[id]
	return ok && t.owner == owner
}

// get returns a snapshot of task id.
func (s *store) get(id string) (Task, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[id]
	if !ok {
		return Task{}, false
	}
	return *clone(&t.snap), true
}

// update applies fn to task id under the lock and records the events it
// returns (none: nothing changed). It reports whether there were any (and
// so false also for an unknown task).
func (s *store) update(id string, fn func(t *task) []Event) (Task, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[id]
	if !ok {
		return Task{}, false
	}
	evs := fn(t)
	if len(evs) == 0 {
		return *clone(&t.snap), false
	}
	t.snap.Timestamp = s.now()
	for _, e := range evs {
		if e.Status != nil {
			e.Status = clone(&t.snap)
		}
		e.TaskID, e.Context = t.snap.ID, t.snap.ContextID
		t.events = append(t.events, e)
	}
	if over := len(t.events) - MaxEvents; over > 0 {
		t.events = append([]Event(nil), t.events[over:]...)
		t.dropped += over
	}
	close(t.changed)
	t.changed = make(chan struct{})
	return *clone(&t.snap), true
}

// setState moves task id to st with the agent's status text; a terminal
// task does not change. It returns the state before.
func (s *store) setState(id string, st State, text string) (from State, changed bool) {
	_, changed = s.update(id, func(t *task) []Event {
		from = t.snap.State
		if from.Terminal() || (from == st && statusText(t.snap.Status) == text) {
			return nil
		}
		t.snap.State = st
		t.snap.Status = agentMessage(t.snap, text)
		return []Event{{Status: &Task{}}}
	})
	return from, changed
}

// follow calls emit with the task as it is now, then with each event
// after it, until one ends the stream (terminal or interrupted), ctx ends,
// or emit fails.
func (s *store) follow(ctx context.Context, id string, emit func(Event) error) error {
	s.mu.Lock()
	t, ok := s.tasks[id]
	if !ok {
		s.mu.Unlock()
		return errf(CodeTaskNotFound, "params.id: no task %q (unknown, or forgotten)", id)
	}
	first := Event{Task: clone(&t.snap), TaskID: id, Context: t.snap.ContextID}
	next := t.dropped + len(t.events)
	s.mu.Unlock()
	if err := emit(first); err != nil || first.final() {
		return err
	}
	for {
		s.mu.Lock()
		t, ok := s.tasks[id]
		if !ok {
			s.mu.Unlock()
			return errf(CodeTaskNotFound, "task %q: forgotten while streaming", id)
		}
		// Events cut meanwhile (MaxEvents): go on with the oldest kept.
		batch := append([]Event(nil), t.events[max(next-t.dropped, 0):]...)
		next = t.dropped + len(t.events)
		changed := t.changed
		s.mu.Unlock()
		for _, e := range batch {
			if err := emit(e); err != nil {
				return err
			}
			if e.final() {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// wait returns task id once it is terminal or interrupted, or as it is
// when ctx ends.
func (s *store) wait(ctx context.Context, id string) (Task, bool) {
	for {
		s.mu.Lock()
		t, ok := s.tasks[id]
		if !ok {
			s.mu.Unlock()
			return Task{}, false
		}
		snap, changed := *clone(&t.snap), t.changed
		s.mu.Unlock()
		if snap.State.Terminal() || snap.State.Interrupted() {
			return snap, true
		}
		select {
		case <-ctx.Done():
			return snap, true
		case <-changed:
		}
	}
}

// running reports how many tasks are stored.
func (s *store) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tasks)
}

func clone(t *Task) *Task {
	c := *t
	c.Artifacts = append([]Artifact(nil), t.Artifacts...)
	c.History = append([]Message(nil), t.History...)
	if t.Status != nil {
		m := *t.Status
		c.Status = &m
	}
	return &c
}

func statusText(m *Message) string {
	if m == nil || len(m.Parts) == 0 {
		return ""
	}
	return m.Parts[0].Text
}

func agentMessage(t Task, text string) *Message {
	if text == "" {
		return nil
	}
	return &Message{MessageID: newID(), ContextID: t.ContextID, TaskID: t.ID, FromAgent: true, Parts: []Part{{Text: text}}}
}
