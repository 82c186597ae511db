package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/urfave/cli/v2"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/node"
	"github.com/web4p2p/web4p2p/node/rtt"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "agents in this process on loopback: RTT and CIP handshakes, a cut connection resumed, a human intent and decision, LIP learning, trust earned, a fact reaching quorum, a blacklisting, a restart keeping state",
		Flags: []cli.Flag{
			jsonFlag, logLevelFlag,
			&cli.IntFlag{Name: "messages", Value: 1000, Usage: "messages per channel sent across the connection cut"},
			&cli.BoolFlag{Name: "events", Usage: "also print every event of every agent (long lines)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print the story only (the default; kept for scripts)"},
			&cli.DurationFlag{Name: "timeout", Value: 60 * time.Second, Usage: "give up after this long"},
		},
		Action: runDemo,
	}
}

// demo holds the two agents and what the demo prints.
type demo struct {
	out        io.Writer
	alice, bob *node.Node
	ra, rb     *events.Ring
	step       int
	summary    map[string]any
	events     bool // print every event too
}

func (d *demo) say(format string, args ...any) {
	d.step++
	fmt.Fprintf(d.out, "\n== step %d: %s\n", d.step, fmt.Sprintf(format, args...))
}

func runDemo(c *cli.Context) error {
	if err := applyLogLevel(c); err != nil {
		return err
	}
	if c.Int("messages") < 1 || c.Int("messages") > 100000 {
		return fmt.Errorf("--messages %d: must be within [1,100000]", c.Int("messages"))
	}
	ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
	defer cancel()
	// Every agent's event printer and the story write to out from their
	// own goroutines: one lock keeps lines whole.
	var out io.Writer = &lockedWriter{w: c.App.Writer}
	if c.Bool("json") {
		out = io.Discard
	}
	d := &demo{out: out, summary: map[string]any{}, events: c.Bool("events") && !c.Bool("json") && !c.Bool("quiet")}
	if err := d.run(ctx, c); err != nil {
		return fmt.Errorf("demo failed: %w", err)
	}
	if c.Bool("json") {
		printJSON(c, d.summary)
	} else {
		fmt.Fprintln(c.App.Writer, "\ndemo finished: every message arrived exactly once, in order; trust was earned, a fact reached quorum,")
		fmt.Fprintln(c.App.Writer, "an equivocator was blacklisted by every honest agent, and a restarted agent kept all of it")
	}
	return nil
}

func (d *demo) startAgent(ctx context.Context, c *cli.Context, name string, bootstrap []string) (*node.Node, *events.Ring, error) {
	dir, err := os.MkdirTemp("", "web4p2p-demo-"+name+"-")
	if err != nil {
		return nil, nil, err
	}
	ring := events.NewRing(4096)
	sinks := []events.Sink{ring}
	if d.events {
		sinks = append(sinks, events.NewHuman(d.out, name))
	}
	cfg := node.DefaultConfig()
	cfg.DataDir = dir
	cfg.AgentID = name
	cfg.Bootstrap = bootstrap
	cfg.Sinks = sinks
	cfg.RTT = rtt.DefaultConfig()
	cfg.RTT.HeartbeatInterval = time.Second // quick dead-peer detection for the demo
	cfg.LIP = demoLIPConfig()
	cfg.Human = demoHumanConfig()
	n, err := node.New(cfg)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	if err := n.Start(ctx); err != nil {
		n.Close()
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return n, ring, nil
}

func (d *demo) run(ctx context.Context, c *cli.Context) (err error) {
	d.say("start two agents on loopback (TCP + QUIC, Noise, yamux)")
	d.alice, d.ra, err = d.startAgent(ctx, c, "alice", nil)
	if err != nil {
		return err
	}
	defer closeAgent(d.alice)
	d.bob, d.rb, err = d.startAgent(ctx, c, "bob", []string{d.alice.Addrs()[0].String()})
	if err != nil {
		return err
	}
	defer closeAgent(d.bob)
	d.summary["alice"] = d.alice.ID().String()
	d.summary["bob"] = d.bob.ID().String()

	d.say("bob bootstraps from alice; RTT session handshake on /web4/rtt/control/1.0")
	if err := waitEvent(ctx, d.rb, "web4.rtt.handshake_completed"); err != nil {
		return fmt.Errorf("RTT handshake: %w", err)
	}
	if err := waitEvent(ctx, d.ra, "web4.rtt.handshake_completed"); err != nil {
		return fmt.Errorf("RTT handshake: %w", err)
	}

	d.say("CIP handshake on the control channel: HELLO, HELLO+challenge response, VERIFY, STATE_UPDATE, INTENT")
	if err := waitEvent(ctx, d.ra, "web4.cip.handshake_completed"); err != nil {
		return fmt.Errorf("CIP handshake: %w", err)
	}
	if err := waitEvent(ctx, d.rb, "web4.cip.handshake_completed"); err != nil {
		return fmt.Errorf("CIP handshake: %w", err)
	}
	fmt.Fprintf(d.out, "   alice sees bob as %s, bob sees alice as %s (signed envelopes verified, challenge answered)\n",
		d.alice.Trust().State(d.bob.Fingerprint()), d.bob.Trust().State(d.alice.Fingerprint()))
	d.summary["trust_alice_of_bob"] = d.alice.Trust().State(d.bob.Fingerprint()).String()

	a, b := d.alice, d.bob
	for _, ch := range rtt.Channels {
		if err := a.Peers().OpenChannel(ctx, b.ID(), ch); err != nil {
			return err
		}
		if err := b.Peers().OpenChannel(ctx, a.ID(), ch); err != nil {
			return err
		}
	}
	d.say("one message each way on every channel")
	for _, ch := range rtt.Channels {
		if err := roundTrip(ctx, d.out, a, b, ch, fmt.Sprintf("hello bob, this is alice on %s", ch)); err != nil {
			return err
		}
		if err := roundTrip(ctx, d.out, b, a, ch, fmt.Sprintf("hello alice, bob here on %s", ch)); err != nil {
			return err
		}
	}

	m := c.Int("messages")
	d.say("%d messages per channel from alice to bob; the demo cuts the connection twice while they are in flight", m)
	recvDone := make(chan error, 1)
	go func() { recvDone <- receiveAll(ctx, b, a.ID(), m) }()
	for i := 0; i < m; i++ {
		for _, ch := range rtt.Channels {
			if err := a.Peers().SendApp(ctx, b.ID(), ch, []byte(fmt.Sprintf("%s#%06d", ch, i))); err != nil {
				return err
			}
		}
		if i == m/3 || i == 2*m/3 {
			before := d.rb.Count("web4.rtt.resumed")
			fmt.Fprintf(d.out, "-- cutting the libp2p connection after message %d --\n", i)
			_ = a.Host().Network().ClosePeer(b.ID())
			// Wait for the resume so the second cut hits a live session,
			// not the one still reconnecting (the messages stay queued).
			if _, ok := d.rb.WaitFor(ctx.Done(), func(events.Event) bool { return d.rb.Count("web4.rtt.resumed") > before }); !ok {
				return fmt.Errorf("no resume after the cut")
			}
		}
	}
	if err := <-recvDone; err != nil {
		return err
	}
	resumes := d.rb.Count("web4.rtt.resumed")
	if resumes == 0 {
		return fmt.Errorf("the connection was cut but no resume was reported")
	}
	resent := 0
	for _, e := range append(d.ra.Events(), d.rb.Events()...) {
		if e.Type == "web4.rtt.resumed" {
			if n, ok := e.Data["resent"].(int); ok {
				resent += n
			}
		}
	}
	fmt.Fprintf(d.out, "bob received all %d messages on each channel exactly once, in order (resumes: %d, frames re-sent: %d)\n", m, resumes, resent)
	d.summary["messages_per_channel"] = m
	d.summary["resumes"] = resumes
	d.summary["resent_frames"] = resent

	if err := d.hcpSteps(ctx); err != nil {
		return err
	}
	if err := d.lipSteps(ctx); err != nil {
		return err
	}
	if err := d.meshSteps(ctx); err != nil {
		return err
	}
	d.say("shut down every agent cleanly")
	return nil
}

// meshSteps is the trust story on five agents (see mesh): two anchors
// confirm a newcomer's facts until they reach quorum and it earns trust,
// an equivocator is blacklisted everywhere, and an agent restarted from
// its data dir still knows all of it.
func (d *demo) meshSteps(ctx context.Context) error {
	d.say("five agents: n0 and n1 are trust anchors, n2 is new, eve will lie")
	m := &meshRun{out: d.out}
	defer m.close()
	s, err := m.run(ctx, 5, d.events)
	if err != nil {
		return err
	}
	d.say("restart n3: trust and knowledge are kept in its store")
	accepted := s["accepted"].([]string)
	if err := m.restart(ctx, m.nodes[3], m.nodes[2], accepted); err != nil {
		return err
	}
	d.summary["mesh_accepted_facts"] = len(accepted)
	d.summary["mesh_equivocator_blacklisted"] = true
	d.summary["restart_kept_state"] = true
	return nil
}

func closeAgent(n *node.Node) {
	dir := n.Config().DataDir
	n.Close()
	os.RemoveAll(dir)
}

func roundTrip(ctx context.Context, out io.Writer, from, to *node.Node, ch rtt.Channel, text string) error {
	if err := from.Peers().SendApp(ctx, to.ID(), ch, []byte(text)); err != nil {
		return err
	}
	got, err := to.Peers().ReceiveApp(ctx, from.ID(), ch)
	if err != nil {
		return err
	}
	if string(got) != text {
		return fmt.Errorf("%s: got %q, want %q", ch, got, text)
	}
	fmt.Fprintf(out, "   %s -> %s [%-9s] %q\n", from.AgentID(), to.AgentID(), ch, got)
	return nil
}

// receiveAll checks that m messages arrive on every channel exactly once and
// in order.
func receiveAll(ctx context.Context, n *node.Node, from peer.ID, m int) error {
	errc := make(chan error, len(rtt.Channels))
	for _, ch := range rtt.Channels {
		go func() {
			for i := 0; i < m; i++ {
				got, err := n.Peers().ReceiveApp(ctx, from, ch)
				if err != nil {
					errc <- fmt.Errorf("%s message %d: %w", ch, i, err)
					return
				}
				if want := fmt.Sprintf("%s#%06d", ch, i); string(got) != want {
					errc <- fmt.Errorf("%s: got %q, want %q (loss, duplicate or reorder)", ch, got, want)
					return
				}
			}
			errc <- nil
		}()
	}
	for range rtt.Channels {
		if err := <-errc; err != nil {
			return err
		}
	}
	return nil
}

func waitEvent(ctx context.Context, r *events.Ring, typ string) error {
	if _, ok := r.WaitFor(ctx.Done(), events.OfType(typ)); !ok {
		return fmt.Errorf("no %s before the deadline", typ)
	}
	return nil
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
