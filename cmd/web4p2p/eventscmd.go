package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/web4p2p/web4p2p/internal/events"
)

func eventsCommand() *cli.Command {
	return &cli.Command{
		Name:  "events",
		Usage: "print a running node's recent events, or follow them live",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "stream live events until Ctrl-C"},
			&cli.StringSliceFlag{Name: "type", Aliases: []string{"t"}, Usage: "only this event type; a value ending in '.' is a prefix (repeatable)"},
		}, clientFlags...),
		Action: func(c *cli.Context) error {
			cl, err := newAPIClient(c)
			if err != nil {
				return err
			}
			q := url.Values{}
			for _, t := range c.StringSlice("type") {
				q.Add("type", t)
			}
			show := func(e events.Event) {
				if c.Bool("json") {
					b, _ := json.Marshal(e)
					fmt.Fprintln(c.App.Writer, string(b))
				} else {
					fmt.Fprintln(c.App.Writer, events.FormatHuman(e, ""))
				}
			}
			if !c.Bool("follow") {
				ctx, cancel := clientCtx(c, 10*time.Second)
				defer cancel()
				var out struct {
					Events []events.Event `json:"events"`
				}
				if err := cl.call(ctx, "GET", "/v1/events/recent?"+q.Encode(), nil, &out); err != nil {
					return err
				}
				for _, e := range out.Events {
					show(e)
				}
				return nil
			}
			return followEvents(c.Context, cl, q, nil, show)
		},
	}
}

// follow subscribes to the node's events matching q, passing each to show
// on another goroutine, and returns once the subscription is live (or
// after two seconds if it cannot be made: progress is a courtesy and never
// holds a command up for long). stop(caughtUp) gives the stream up to a
// second to deliver what caughtUp waits for, then ends it and waits for
// it; show and caughtUp share the caller's locking.
func follow(ctx context.Context, cl *apiClient, q url.Values, show func(events.Event)) (stop func(caughtUp func() bool)) {
	ctx, cancel := context.WithCancel(ctx)
	ready := make(chan struct{})
	var once sync.Once
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer once.Do(func() { close(ready) })
		_ = followEvents(ctx, cl, q, func() { once.Do(func() { close(ready) }) }, show)
	}()
	select {
	case <-ready:
	case <-time.After(2 * time.Second):
	}
	return func(caughtUp func() bool) {
		deadline := time.Now().Add(time.Second)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for !caughtUp() && time.Now().Before(deadline) {
			select {
			case <-tick.C:
			case <-done:
				deadline = time.Now()
			}
		}
		cancel()
		<-done
	}
}

// followEvents reads the SSE stream, reconnecting with Last-Event-ID when
// the stream breaks, until ctx ends. ready (may be nil) is called once, when
// the node has first accepted the stream: events after that are seen.
func followEvents(ctx context.Context, cl *apiClient, q url.Values, ready func(), show func(events.Event)) error {
	last := ""
	failures := 0
	for ctx.Err() == nil {
		req, err := http.NewRequestWithContext(ctx, "GET", cl.base+"/v1/events?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+cl.token)
		if last != "" {
			req.Header.Set("Last-Event-ID", last)
		}
		resp, err := cl.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			failures++
			if failures > 5 {
				return fmt.Errorf("node not reachable at %s (is it running?)", strings.TrimPrefix(cl.base, "http://"))
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Duration(failures) * 500 * time.Millisecond):
			}
			continue
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return fmt.Errorf("control API refused the token: check --token-file / the data dir")
			}
			return fmt.Errorf("control API: HTTP %d on /v1/events", resp.StatusCode)
		}
		failures = 0
		if ready != nil {
			ready()
			ready = nil
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "data: ") {
				continue
			}
			var e events.Event
			if json.Unmarshal([]byte(line[6:]), &e) == nil {
				last = e.ID
				show(e)
			}
		}
		resp.Body.Close()
	}
	return nil
}
