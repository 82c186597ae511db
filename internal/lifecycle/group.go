// Package lifecycle tracks the goroutines of a long-lived component so that
// closing it is prompt, idempotent and leaves nothing behind.
//
// It follows nats-server's startGoRoutine: a Group refuses to start a
// goroutine once Close has begun, so Close can wait for a fixed set instead
// of racing a WaitGroup.Add against its Wait. One Group serves a whole node:
// the node and every runtime it wires start their goroutines through it.
package lifecycle

import (
	"context"
	"sync"
	"time"
)

// Group runs goroutines that share one context and one Close. The zero
// value is not usable; call New.
type Group struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex // guards closing and the Add side of wg
	closing bool
	wg      sync.WaitGroup
	done    chan struct{}
}

// New returns a Group whose context is a child of parent.
func New(parent context.Context) *Group {
	ctx, cancel := context.WithCancel(parent)
	return &Group{ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// Go runs fn on a new goroutine with the Group's context and reports true,
// or, once Close has begun, starts nothing and reports false. fn must
// return promptly when its context is cancelled.
func (g *Group) Go(fn func(ctx context.Context)) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return false
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		fn(g.ctx)
	}()
	return true
}

// Context is cancelled when Close begins.
func (g *Group) Context() context.Context { return g.ctx }

// Closing reports whether Close has begun.
func (g *Group) Closing() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closing
}

// Close cancels the context, refuses new goroutines and waits for the
// running ones. It is idempotent and safe for concurrent use; every call
// returns after the last goroutine has exited. It must not be called from
// a goroutine of the Group (that would wait for itself).
func (g *Group) Close() {
	g.mu.Lock()
	first := !g.closing
	g.closing = true
	g.mu.Unlock()
	if first {
		g.cancel()
		g.wg.Wait()
		close(g.done)
		return
	}
	<-g.done
}

// Every runs fn every d on a goroutine of the group until the group
// closes (the first run is after d). It reports whether the goroutine
// started.
func (g *Group) Every(d time.Duration, fn func(ctx context.Context)) bool {
	return g.Go(func(ctx context.Context) {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				fn(ctx)
			}
		}
	})
}
