package itest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/agentloop"
	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/node"
	"github.com/web4p2p/web4p2p/node/api"
	"github.com/web4p2p/web4p2p/node/human"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/hcp"
	"github.com/web4p2p/web4p2p/trust"
)

// ArtifactsEnv names the directory where browser tests keep their
// screenshots (default: the test's temporary directory).
const ArtifactsEnv = "WEB4P2P_ARTIFACTS"

// browser starts headless Chromium (the Debian package) for the test and
// returns a chromedp context on one tab. Without Chromium the test fails
// under CI=true and is skipped (loudly) elsewhere.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium not found (%v): .ci/run must install the Debian package chromium", err)
		}
		t.Skipf("SKIPPED: chromium not found (%v); install it with: apt-get install -y chromium", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1600),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		if err := chromedp.Cancel(ctx); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("closing chromium: %v", err)
		}
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// page is the browser under test, with the deadline of every step.
type page struct {
	t     *testing.T
	ctx   context.Context
	shots string
	n     int
}

// run runs browser actions within the step deadline.
func (p *page) run(what string, acts ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, acts...); err != nil {
		p.shot("failed-" + what)
		p.t.Fatalf("browser: %s: %v", what, err)
	}
}

// shot keeps a full-page PNG of the page as a test artifact.
func (p *page) shot(name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return
	}
	p.n++
	f := filepath.Join(p.shots, fmt.Sprintf("%02d-%s.png", p.n, name))
	if err := os.WriteFile(f, png, 0o644); err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	p.t.Logf("screenshot %s", f)
}

// waitJS polls a JavaScript boolean expression on the page until it is
// true or the deadline passes.
func (p *page) waitJS(what, expr string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		select {
		case <-ctx.Done():
			p.shot("failed-" + what)
			p.t.Fatalf("browser: %s: %s never true (last error %v)", what, expr, err)
		case <-tick.C:
		}
	}
}

// consoleMesh starts three real nodes: n0 and n1 are everyone's trust
// anchors; n2 runs the control API (and so the console) with a mission,
// so off-mission intents raise a decision for its human.
func consoleMesh(t *testing.T) []*agent {
	t.Helper()
	keys := make([]crypto.PrivKey, 3)
	var anchors []string
	for i := range keys {
		k, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
		if i < 2 {
			id, _ := peer.IDFromPrivateKey(k)
			anchors = append(anchors, id.String())
		}
	}
	out := make([]*agent, 3)
	for i := range out {
		out[i] = newAgent(t, fmt.Sprintf("n%d", i), func(c *node.Config) {
			c.Identity = keys[i]
			c.TrustAnchors = anchors
			if i == 2 {
				c.APIAddr = "127.0.0.1:0"
				c.Human.Loop.Mission = []string{"work"}
				c.Human.Loop.DriftWindow = 3
				c.Human.Loop.DriftThreshold = 0.5
			}
		})
	}
	ctx := ctxFor(t, 60*time.Second)
	for i, a := range out {
		for _, j := range all(i) {
			a.connect(ctx, out[j])
		}
	}
	return out
}

// TestConsoleInBrowser drives the console as a person would, in headless
// Chromium: a wrong token is refused, the right one logs in; consent is
// granted; a decision the agent raises is answered with its alternatives;
// consent is revoked and the held actions are dropped and released; a fact
// reaches quorum with two trusted confirmers and the facts view shows it;
// the trust graph and the live event view show the mesh.
func TestConsoleInBrowser(t *testing.T) {
	bctx := browser(t)
	shots := os.Getenv(ArtifactsEnv)
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 150*time.Second)
	nodes := consoleMesh(t)
	c := nodes[2]
	for _, a := range nodes[:2] {
		c.waitTrust(ctx, a.n.ID(), trust.Trusted)
	}
	waitMeshFormed(ctx, t, nodes)
	token, err := api.ReadToken(filepath.Join(c.cfg.DataDir, api.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + c.n.APIAddr()
	p := &page{t: t, ctx: bctx, shots: shots}

	// Login: the console sends a browser without a session to the login
	// page; a wrong token is refused there.
	p.run("open", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.ID("token")))
	p.run("wrong token", chromedp.SendKeys(chromedp.ID("token"), strings.Repeat("0", 64)), chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("login-error")))
	p.shot("login-refused")
	p.run("login", chromedp.SendKeys(chromedp.ID("token"), token), chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("consent-form")))
	p.waitJS("event stream", `document.getElementById("events-status").textContent.startsWith("Connected")`)

	// Grant consent.
	p.run("grant", chromedp.Click(chromedp.ID("consent-granted")), chromedp.Click(chromedp.ID("consent-submit")))
	p.waitJS("granted shown", `document.getElementById("consent").textContent.trim() === "granted"`)
	p.shot("granted")
	if st, err := c.n.Human().Status(); err != nil || !strings.Contains(string(st.Human), `"granted"`) {
		t.Fatalf("after grant in the console: %s %v", st.Human, err)
	}

	// Three off-mission intents: the agent asks its human to decide. The
	// live view brings the decision in without a reload.
	for _, topic := range []string{"play", "games", "travel"} {
		res, err := c.n.Human().Intent(ctx, hcp.Intent{Goal: hcp.GoalRequest, Topic: topic, Priority: hcp.PriorityNormal})
		if err != nil || res.Status != "accepted" {
			t.Fatalf("intent %s: %v %+v", topic, err, res)
		}
	}
	waitType(ctx, c, human.EventDecisionRequested, nil)
	p.waitJS("decision shown", `document.querySelectorAll("article.decision ol.why li").length > 0`)
	p.shot("decision-pending")
	pend, err := c.n.Human().PendingDecisions()
	if err != nil || len(pend) != 1 {
		t.Fatalf("pending decisions: %v %+v", err, pend)
	}
	p.run("decide", chromedp.SendKeys(chromedp.CSS("article.decision .rationale"), "back to work"),
		chromedp.Click(chromedp.CSS("article.decision button.approve")), chromedp.WaitVisible(chromedp.ID("no-decisions")))
	// The answer reaches the AgentLoop as an HCP_DECISION replying to the
	// pending request (its why chain leads back to the request).
	dec := waitType(ctx, c, agentloop.EventDecision, func(e events.Event) bool { return e.Data["item_kind"] == "human_decision" })
	item, _ := dec.Data["item"].(string)
	if !eventually(ctx, func() bool {
		chain, err := c.n.Human().Why(item)
		return err == nil && slices.ContainsFunc(chain, func(n agentloop.Node) bool { return n.ID == pend[0].ID })
	}) {
		t.Fatalf("the console's decision %s does not answer request %s", item, pend[0].ID)
	}
	if pd, _ := c.n.Human().PendingDecisions(); len(pd) != 0 {
		t.Fatalf("decision still pending after the console answered it: %+v", pd)
	}

	// Revoke: intents are held; the human drops one and releases another.
	p.run("revoke", chromedp.Click(chromedp.ID("consent-revoked")), chromedp.Click(chromedp.ID("consent-submit")))
	p.waitJS("revoked shown", `document.getElementById("consent").textContent.trim() === "revoked"`)
	var held []string
	for _, topic := range []string{"work", "chores"} {
		res, err := c.n.Human().Intent(ctx, hcp.Intent{Goal: hcp.GoalRequest, Topic: topic, Priority: hcp.PriorityNormal})
		if err != nil || res.Status != "held" {
			t.Fatalf("intent %s under revoked consent: %v %+v", topic, err, res)
		}
		held = append(held, res.MsgID)
	}
	p.waitJS("held shown", `document.querySelectorAll("tr.held-action").length === 2`)
	p.shot("held")
	p.run("drop", chromedp.Click(chromedp.CSS(`tr.held-action[data-action="`+held[0]+`"] button.drop`)))
	p.waitJS("dropped", `document.querySelectorAll("tr.held-action").length === 1`)
	waitType(ctx, c, hcp.EventActionDropped, func(e events.Event) bool { return e.Subject == held[0] })
	p.run("release", chromedp.Click(chromedp.CSS(`tr.held-action[data-action="`+held[1]+`"] button.release`)),
		chromedp.WaitVisible(chromedp.ID("no-held")))
	waitType(ctx, c, hcp.EventActionReleased, func(e events.Event) bool { return e.Subject == held[1] && e.Data["by"] == "human" })
	waitType(ctx, c, agentloop.EventDecision, func(e events.Event) bool { return e.Data["item"] == held[1] })

	// A fact reaches quorum: proposed here, confirmed by both trusted
	// anchors; the facts view shows it accepted with its confirmers.
	id, err := c.n.Mesh().ProposeFact(ctx, cip.Fact{Statement: "water boils at 100 C at sea level", Domain: "science", Confidence: 0.9}, cip.DMPTrace{})
	if err != nil {
		t.Fatal(err)
	}
	p.waitJS("fact proposed", `document.querySelector('tr.fact[data-fact="`+id+`"]') !== null`)
	for _, a := range nodes[:2] {
		waitFact(ctx, t, a, id, "known", func(knowledge.Result, []knowledge.Vote) bool { return true })
		if err := a.n.Mesh().VoteFact(ctx, id, true, 0.9, "checked"); err != nil {
			t.Fatal(err)
		}
	}
	waitFact(ctx, t, c, id, "accepted", status(knowledge.Accepted))
	p.waitJS("fact accepted", `(function(){const r=document.querySelector('tr.fact[data-fact="`+id+`"]');
		return r !== null && r.querySelector("td.status.accepted") !== null &&
			r.textContent.includes("`+nodes[0].n.Fingerprint()[:12]+`") && r.textContent.includes("`+nodes[1].n.Fingerprint()[:12]+`")})()`)
	p.shot("fact-accepted")

	// The trust graph draws both anchors as trusted; the event view is live.
	p.waitJS("trust graph", `document.querySelectorAll("#trust-graph g.peer.trusted").length === 2`)
	p.waitJS("events listed", `Array.from(document.querySelectorAll("#event-list li")).some(li => li.textContent.includes("web4.knowledge."))`)
	p.run("scroll", chromedp.ScrollIntoView(chromedp.ID("peers")))
	p.shot("peers-and-events")

	// Log out: the session is gone; the console asks for the token again.
	p.run("logout", chromedp.Click(chromedp.CSS(`header form button`)), chromedp.WaitVisible(chromedp.ID("token")))
}

// waitType waits for an event of type typ on a that satisfies pred (nil:
// any).
func waitType(ctx context.Context, a *agent, typ string, pred func(events.Event) bool) events.Event {
	a.t.Helper()
	return a.waitEvent(ctx, typ, func(e events.Event) bool { return e.Type == typ && (pred == nil || pred(e)) })
}
