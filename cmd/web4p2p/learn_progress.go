package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"sync"

	"github.com/web4p2p/web4p2p/internal/events"
)

// learnProgress prints on stderr how a learn goes while the node works on
// it — fetched, parsed N claims, each claim queued — from the node's event
// stream (web4.lip.fetched, web4.lip.evidence, web4.lip.claim_pending).
// Not used with --json: stdout then carries only the result.
type learnProgress struct {
	w      io.Writer
	target string // the URI asked for ("" for a query: the first fetch is ours)

	mu       sync.Mutex
	fetched  string // the final URI of our fetch, once seen
	evidence bool
	claims   int
	queued   int
}

// followLearn follows the node's LIP events for p (see follow); stop(n)
// first gives the stream up to a second to deliver the progress of n newly
// queued claims: the node has emitted those events before it answered, but
// they travel on another connection.
func followLearn(ctx context.Context, cl *apiClient, p *learnProgress) (stop func(queued int)) {
	end := follow(ctx, cl, url.Values{"type": {"web4.lip."}}, p.show)
	return func(queued int) { end(func() bool { return p.caughtUp(queued) }) }
}

// caughtUp reports whether the fetch, the parse and n queued claims have
// been shown (at once for n < 0: the learn failed).
func (p *learnProgress) caughtUp(n int) bool {
	if n < 0 {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.evidence && p.queued >= min(n, p.claims)
}

func (p *learnProgress) show(e events.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	uri, _ := e.Data["uri"].(string)
	switch e.Type {
	case "web4.lip.fetched":
		if p.fetched != "" || (p.target != "" && uri != p.target) {
			return
		}
		p.fetched, _ = e.Data["final_uri"].(string)
		fmt.Fprintf(p.w, "fetched %s (%v bytes, %v)\n", p.fetched, e.Data["bytes"], e.Data["content_type"])
	case "web4.lip.evidence":
		if p.fetched == "" || p.evidence || uri != p.fetched {
			return
		}
		p.evidence = true
		n, _ := e.Data["claims"].(float64)
		p.claims = int(n)
		fmt.Fprintf(p.w, "parsed %d claim%s (source tier %v)\n", p.claims, plural(p.claims), e.Data["tier"])
	case "web4.lip.claim_pending":
		if !p.evidence || p.queued >= p.claims || uri != p.fetched {
			return
		}
		p.queued++
		fmt.Fprintf(p.w, "queued claim %d of %d (%v)\n", p.queued, p.claims, e.Data["state"])
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
