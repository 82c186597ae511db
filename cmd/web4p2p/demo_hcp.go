package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/web4p2p/web4p2p/agentloop"
	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/node"
	"github.com/web4p2p/web4p2p/node/human"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/hcp"
)

// demoHumanConfig gives alice a mission so the demo can show drift.
func demoHumanConfig() node.HumanConfig {
	c := node.DefaultHumanConfig()
	c.Loop.Mission = []string{"science"}
	c.Loop.DriftWindow = 4
	c.Loop.DriftThreshold = 0.5
	return c
}

// hcpSteps: alice's human grants consent and asks for something; the
// intent reaches bob as a CIP INTENT and his answer comes back; off-mission
// requests make alice's agent ask its human for a decision, which the human
// approves; `why` shows the chain.
func (d *demo) hcpSteps(ctx context.Context) error {
	a, b := d.alice, d.bob
	d.say("HCP: alice's human grants consent and asks her agent to research a science topic")
	if _, err := a.Human().SetConsent(ctx, envelope.ConsentGranted, nil, time.Time{}); err != nil {
		return err
	}
	res, err := a.Human().Intent(ctx, hcp.Intent{Goal: hcp.GoalRequest, Topic: "science", Priority: hcp.PriorityNormal, Context: "find sources on boiling points"})
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "   HCP_INTENT %s: %s (consent gate passed)\n", res.MsgID, res.Status)
	if _, ok := d.rb.WaitFor(ctx.Done(), events.OfType("web4.cip.intent")); !ok {
		return fmt.Errorf("bob never received the CIP INTENT")
	}
	rep, ok := d.ra.WaitFor(ctx.Done(), events.OfType("web4.cip.intent_reply"))
	if !ok {
		return fmt.Errorf("no INTENT reply came back to alice")
	}
	fmt.Fprintf(d.out, "   bob's agent received it as CIP INTENT and answered %v\n", rep.Data["decision"])
	_ = b

	d.say("HCP: three off-mission requests: alice's agent detects mission drift and asks its human to decide")
	for _, topic := range []string{"celebrity gossip", "sports betting", "horoscopes"} {
		if _, err := a.Human().Intent(ctx, hcp.Intent{Goal: hcp.GoalRequest, Topic: topic, Priority: hcp.PriorityNormal}); err != nil {
			return err
		}
	}
	var pending []human.PendingDecision
	if err := until(ctx, "a pending decision", func() bool {
		pending, _ = a.Human().PendingDecisions()
		return len(pending) > 0
	}); err != nil {
		return err
	}
	p := pending[0]
	fmt.Fprintf(d.out, "   pending decision %.8s: %s\n   options: %s\n", p.ID, p.Question, strings.Join(p.Alternatives, " | "))
	choice := "approve"
	id, err := a.Human().Decide(ctx, p.ID, hcp.Decision{ReplyTo: p.ID, Topic: p.Topic, Choice: choice,
		Rationale: "the detour was deliberate; return to the mission afterwards", Alternatives: p.Alternatives})
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "   the human answered with HCP_DECISION %s: %s\n", id, choice)
	var chain []agentloop.Node
	if err := until(ctx, "the decision in causal memory", func() bool {
		var werr error
		chain, werr = a.Human().Why(id)
		return werr == nil
	}); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "   why %s:\n", id)
	for _, nd := range chain {
		fmt.Fprintf(d.out, "     %s\n", nd.Summary)
	}
	d.summary["decision"] = id
	d.summary["why_chain"] = len(chain)
	return nil
}
