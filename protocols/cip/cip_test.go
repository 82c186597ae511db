package cip

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/protocols/envelope"
)

var update = flag.Bool("update", false, "rewrite testdata/handshake.golden")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// detReader is a deterministic byte stream: SHA-256(seed || counter) blocks.
type detReader struct {
	seed string
	ctr  uint64
	buf  []byte
}

func (d *detReader) Read(p []byte) (int, error) {
	for len(d.buf) < len(p) {
		var c [8]byte
		binary.BigEndian.PutUint64(c[:], d.ctr)
		d.ctr++
		h := sha256.Sum256(append([]byte(d.seed), c[:]...))
		d.buf = append(d.buf, h[:]...)
	}
	n := copy(p, d.buf)
	d.buf = d.buf[n:]
	return n, nil
}

func key(seed string) ed25519.PrivateKey {
	s := sha256.Sum256([]byte(seed))
	return ed25519.NewKeyFromSeed(s[:])
}

// clock advances one millisecond per reading, so timestamps differ but
// stay deterministic.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func builder(name string, clk *clock) *Builder {
	return &Builder{
		Key: key(name), AgentID: name, Capabilities: []string{"facts", "intents"},
		Now: clk.Now, Rand: &detReader{seed: name},
		State: func() envelope.State {
			return envelope.State{Presence: envelope.Focused, LRI: 10, KernelSignals: []string{}, Intent: "learn"}
		},
	}
}

// pipe is an in-memory Conn pair.
type pipeEnd struct {
	in  <-chan []byte
	out chan<- []byte
}

func (p pipeEnd) Send(ctx context.Context, b []byte) error {
	select {
	case p.out <- bytes.Clone(b):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p pipeEnd) Receive(ctx context.Context) ([]byte, error) {
	select {
	case b := <-p.in:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func pipe() (pipeEnd, pipeEnd) {
	ab, ba := make(chan []byte, 16), make(chan []byte, 16)
	return pipeEnd{in: ba, out: ab}, pipeEnd{in: ab, out: ba}
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

type gateLog struct {
	mu    sync.Mutex
	lines []string
}

func (g *gateLog) gate(side string) func(context.Context, Identity, Outcome) error {
	return func(_ context.Context, id Identity, o Outcome) error {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.lines = append(g.lines, fmt.Sprintf("gate %s peer=%s agent=%q outcome=%v", side, id.Fingerprint, id.AgentID, o))
		return nil
	}
}

type pair struct {
	a, b       Config
	resA, resB *Result
	errA, errB error
}

func newPair(gl *gateLog) *pair {
	// One clock per side: each side reads its clock only on its own
	// goroutine, in protocol order, so readings never depend on scheduling.
	a, b := builder("alice", &clock{t: t0}), builder("bob", &clock{t: t0})
	p := &pair{
		a: Config{Builder: a, RemoteKey: pub(b.Key), StepTimeout: 5 * time.Second, TrustGate: gl.gate("alice"),
			Features: Features{SupportsMesh: true, SupportsMultiplex: true},
			Intent:   &IntentRequest{Goal: GoalVerifyKnowledge, Topic: "physics", Priority: PriorityHigh, Context: "boiling points"}},
		b: Config{Builder: b, RemoteKey: pub(a.Key), StepTimeout: 5 * time.Second, TrustGate: gl.gate("bob"),
			Features: Features{SupportsMesh: true}},
	}
	return p
}

func (p *pair) run(t *testing.T) {
	t.Helper()
	ca, cb := pipe()
	var wg sync.WaitGroup
	wg.Add(2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() { defer wg.Done(); p.resA, p.errA = Initiate(ctx, ca, p.a) }()
	go func() { defer wg.Done(); p.resB, p.errB = Respond(ctx, cb, p.b) }()
	wg.Wait()
}

func transcriptText(res *Result, gl *gateLog) string {
	var b strings.Builder
	for _, r := range res.Transcript {
		fmt.Fprintf(&b, "%s %s\n%s\n", r.Dir, r.Type, r.Wire)
	}
	for _, l := range gl.lines {
		b.WriteString(l + "\n")
	}
	return b.String()
}

func TestHandshakeGoldenTranscript(t *testing.T) {
	var texts []string
	for i := 0; i < 2; i++ {
		gl := &gateLog{}
		p := newPair(gl)
		p.run(t)
		if p.errA != nil || p.errB != nil {
			t.Fatalf("run %d: initiator %v, responder %v", i, p.errA, p.errB)
		}
		if p.resA.Outcome != OutcomeOK || p.resB.Outcome != OutcomeOK || p.resB.Decision != Accept || p.resA.Decision != Accept {
			t.Fatalf("run %d: outcomes %v/%v decisions %v/%v", i, p.resA.Outcome, p.resB.Outcome, p.resA.Decision, p.resB.Decision)
		}
		if p.resA.Peer.AgentID != "bob" || p.resB.Peer.AgentID != "alice" || !p.resA.Peer.Pubkey.Equal(pub(key("bob"))) ||
			p.resB.Intent == nil || p.resB.Intent.Topic != "physics" || p.resA.PeerState == nil || p.resA.PeerState.TrustState != envelope.ViewProbing {
			t.Fatalf("run %d: results %+v / %+v", i, p.resA, p.resB)
		}
		// Each side handled the seven envelopes in its protocol order (the
		// initiator pipelines its STATE_UPDATE and INTENT behind VERIFY),
		// and both saw the same seven, byte for byte, in opposite directions.
		checkOrder(t, "initiator", p.resA.Transcript, []string{"sent HELLO", "received HELLO", "sent VERIFY",
			"sent STATE_UPDATE", "sent INTENT", "received STATE_UPDATE", "received INTENT"})
		checkOrder(t, "responder", p.resB.Transcript, []string{"received HELLO", "sent HELLO", "received VERIFY",
			"sent STATE_UPDATE", "received STATE_UPDATE", "received INTENT", "sent INTENT"})
		seen := map[string]Direction{}
		for _, r := range p.resA.Transcript {
			seen[string(r.Wire)] = r.Dir
		}
		for _, o := range p.resB.Transcript {
			if d, ok := seen[string(o.Wire)]; !ok || d == o.Dir {
				t.Fatalf("responder's %v %v is not the initiator's, the other way", o.Dir, o.Type)
			}
		}
		if len(gl.lines) != 2 {
			t.Fatalf("gate calls: %v", gl.lines)
		}
		texts = append(texts, transcriptText(p.resA, gl))
	}
	if texts[0] != texts[1] {
		t.Fatalf("two runs with fixed inputs differ:\n%s\n---\n%s", texts[0], texts[1])
	}
	golden := filepath.Join("testdata", "handshake.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(texts[0]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if string(want) != texts[0] {
		t.Fatalf("transcript differs from %s (run with -update if the change is intended):\n%s", golden, texts[0])
	}
}

// A HELLO built ahead by BuildHello and sent before Initiate runs (as the
// node sends it, in the RTT handshake) makes exactly the golden
// transcript: BuildHello draws the clock and randomness as step 1 does.
func TestSentHelloMatchesGolden(t *testing.T) {
	gl := &gateLog{}
	p := newPair(gl)
	hello := p.preSentHello(t)
	p.runGolden(t, gl, "a pre-sent HELLO", func(ctx context.Context, ca, _ pipeEnd) error { return ca.Send(ctx, hello) })
}

// preSentHello builds the initiator's HELLO ahead, as the node does for
// the RTT handshake, and sets it as its Config.SentHello.
func (p *pair) preSentHello(t *testing.T) []byte {
	t.Helper()
	hello, err := BuildHello(p.a.Builder, p.a.RemoteKey, p.a.Features)
	if err != nil {
		t.Fatal(err)
	}
	p.a.SentHello = hello
	return hello
}

// runGolden runs the pair after first (which may put messages on the
// wire ahead, as the node does in the RTT handshake) and checks the
// initiator's transcript is the golden one.
func (p *pair) runGolden(t *testing.T, gl *gateLog, what string, first func(ctx context.Context, ca, cb pipeEnd) error) {
	t.Helper()
	ca, cb := pipe()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := first(ctx, ca, cb); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.resA, p.errA = Initiate(ctx, ca, p.a) }()
	go func() { defer wg.Done(); p.resB, p.errB = Respond(ctx, cb, p.b) }()
	wg.Wait()
	if p.errA != nil || p.errB != nil {
		t.Fatalf("initiator %v, responder %v", p.errA, p.errB)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "handshake.golden"))
	if err != nil {
		t.Fatal(err)
	}
	if got := transcriptText(p.resA, gl); got != string(want) {
		t.Fatalf("transcript with %s differs from the golden one:\n%s", what, got)
	}
}

// A SentHello that is not our initiating HELLO to this peer fails the
// handshake at its first step, before anything is sent.
func TestSentHelloMustBeOurs(t *testing.T) {
	p := newPair(&gateLog{})
	theirs, err := BuildHello(p.b.Builder, p.b.RemoteKey, p.b.Features) // bob's HELLO to alice
	if err != nil {
		t.Fatal(err)
	}
	toCarol, err := BuildHello(p.a.Builder, pub(key("carol")), p.a.Features)
	if err != nil {
		t.Fatal(err)
	}
	for name, sent := range map[string][]byte{"someone else's": theirs, "to another peer": toCarol, "not JSON": []byte("hello")} {
		cfg := p.a
		cfg.SentHello = sent
		ca, _ := pipe()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := Initiate(ctx, ca, cfg)
		cancel()
		if !errors.Is(err, ErrHandshake) || res == nil || !strings.HasPrefix(res.Reason, "hello: sent HELLO") {
			t.Fatalf("%s: %v (%+v)", name, err, res)
		}
	}
	if _, err := BuildHello(p.a.Builder, nil, p.a.Features); !errors.Is(err, ErrHandshake) {
		t.Fatalf("BuildHello without a remote key: %v", err)
	}
}

func checkOrder(t *testing.T, side string, tr []Record, want []string) {
	t.Helper()
	var got []string
	for _, r := range tr {
		got = append(got, r.Dir.String()+" "+r.Type.String())
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("%s transcript:\n got %v\nwant %v", side, got, want)
	}
}

func TestHandshakeDefersWhenOverloaded(t *testing.T) {
	p := newPair(&gateLog{})
	p.b.Overloaded = func() bool { return true }
	p.run(t)
	if p.errA != nil || p.errB != nil {
		t.Fatal(p.errA, p.errB)
	}
	if p.resA.Decision != Defer || p.resB.Decision != Defer {
		t.Fatalf("decisions %v/%v, want defer", p.resA.Decision, p.resB.Decision)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	clk := &clock{t: t0}
	a := builder("alice", clk)
	ca, _ := pipe() // nobody answers
	start := time.Now()
	res, err := Initiate(context.Background(), ca, Config{Builder: a, RemoteKey: pub(key("bob")), StepTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrHandshake) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	if res.Outcome != 0 || len(res.Transcript) != 1 || time.Since(start) > 5*time.Second {
		t.Fatalf("result %+v", res)
	}
}

// script runs the responder side by hand, so tests can misbehave.
func scriptResponder(t *testing.T, conn pipeEnd, b *Builder, initiatorKey ed25519.PublicKey, mangle func(h *Hello, env *envelope.Envelope)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	raw, err := conn.Receive(ctx)
	if err != nil {
		t.Error(err)
		return
	}
	env, err := envelope.Parse(raw)
	if err != nil {
		t.Error(err)
		return
	}
	var theirs Hello
	if err := decode(env, &theirs); err != nil {
		t.Error(err)
		return
	}
	h, _ := b.NewHello(Features{})
	h.ChallengeResponse, _ = RespondChallenge(b.Key, theirs.Challenge, envelope.Fingerprint(initiatorKey))
	m, err := b.Hello(Peer{Fingerprint: envelope.Fingerprint(initiatorKey)}, h)
	if err != nil {
		t.Error(err)
		return
	}
	if mangle != nil {
		mangle(&h, m.Env)
		m.Env.Payload, _ = jsonMarshal(h)
		if m.Wire, err = envelope.Seal(m.Env, b.Key); err != nil {
			t.Error(err)
			return
		}
	}
	if err := conn.Send(ctx, m.Wire); err != nil {
		t.Error(err)
	}
}

func initiateAgainst(t *testing.T, remote ed25519.PublicKey, bobKey ed25519.PrivateKey, mangle func(*Hello, *envelope.Envelope)) (*Result, error, []string) {
	t.Helper()
	clk := &clock{t: t0}
	a := builder("alice", clk)
	b := builder("bob", clk)
	b.Key = bobKey
	gl := &gateLog{}
	ca, cb := pipe()
	done := make(chan struct{})
	go func() { defer close(done); scriptResponder(t, cb, b, pub(a.Key), mangle) }()
	res, err := Initiate(context.Background(), ca, Config{Builder: a, RemoteKey: remote, StepTimeout: 2 * time.Second, TrustGate: gl.gate("alice")})
	<-done
	return res, err, gl.lines
}

func TestForgedHelloFingerprintMismatch(t *testing.T) {
	bob := key("bob")
	res, err, gates := initiateAgainst(t, pub(bob), bob, func(_ *Hello, env *envelope.Envelope) {
		env.Sender.Fingerprint = envelope.Fingerprint(pub(key("carol"))) // claims carol's identity
	})
	if !errors.Is(err, ErrHandshake) || res.Outcome != OutcomeFingerprintMismatch {
		t.Fatalf("err %v outcome %v", err, res.Outcome)
	}
	// The verdict lands on the delivering peer (bob's connection key), not on
	// carol, whose fingerprint the forged envelope named.
	want := "gate alice peer=" + envelope.Fingerprint(pub(bob)) + ` agent="" outcome=fingerprint_mismatch`
	if len(gates) != 1 || gates[0] != want {
		t.Fatalf("gates %v", gates)
	}
}

func TestBadChallengeSignature(t *testing.T) {
	bob := key("bob")
	res, err, gates := initiateAgainst(t, pub(bob), bob, func(h *Hello, _ *envelope.Envelope) {
		// A well-formed signature, but over bob's own challenge instead of ours.
		h.ChallengeResponse, _ = RespondChallenge(bob, h.Challenge, envelope.Fingerprint(pub(key("alice"))))
	})
	if !errors.Is(err, ErrHandshake) || res.Outcome != OutcomeBadSignature {
		t.Fatalf("err %v outcome %v", err, res.Outcome)
	}
	if len(gates) != 1 || !strings.HasSuffix(gates[0], "outcome=bad_signature") || !strings.Contains(gates[0], `agent="bob"`) {
		t.Fatalf("gates %v", gates)
	}
}

func TestSenderKeyIsNotConnectionKey(t *testing.T) {
	// The connection is authenticated as mallory, but the HELLO that arrives
	// is a perfectly valid one signed by bob: mallory relays bob.
	mallory := key("mallory")
	res, err, gates := initiateAgainst(t, pub(mallory), key("bob"), nil)
	if !errors.Is(err, ErrHandshake) || res.Outcome != OutcomeFingerprintMismatch || !strings.Contains(res.Reason, "authenticated key") {
		t.Fatalf("err %v outcome %v reason %q", err, res.Outcome, res.Reason)
	}
	if len(gates) != 1 || !strings.Contains(gates[0], envelope.Fingerprint(pub(mallory))) {
		t.Fatalf("penalty must go to the connection's peer: %v", gates)
	}
}

func TestResponderRejectsForgedInitiatorHello(t *testing.T) {
	clk := &clock{t: t0}
	a, b := builder("alice", clk), builder("bob", clk)
	gl := &gateLog{}
	ca, cb := pipe()
	h, _ := a.NewHello(Features{})
	m, _ := a.Hello(Peer{Fingerprint: b.Fingerprint()}, h)
	m.Env.Sender.Fingerprint = b.Fingerprint() // pretends to be bob
	wire, err := envelope.Seal(m.Env, a.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Send(context.Background(), wire); err != nil {
		t.Fatal(err)
	}
	res, err := Respond(context.Background(), cb, Config{Builder: b, RemoteKey: pub(a.Key), StepTimeout: time.Second, TrustGate: gl.gate("bob")})
	if !errors.Is(err, ErrHandshake) || res.Outcome != OutcomeFingerprintMismatch || len(gl.lines) != 1 {
		t.Fatalf("err %v outcome %v gates %v", err, res.Outcome, gl.lines)
	}
}

func TestTrustGateRefusal(t *testing.T) {
	ring := events.NewRing(64)
	sink := &events.CheckingSink{Next: ring}
	p := newPair(&gateLog{})
	p.b.StepTimeout, p.a.StepTimeout = 300*time.Millisecond, 300*time.Millisecond
	p.b.TrustGate = func(context.Context, Identity, Outcome) error { return errors.New("peer is blacklisted") }
	p.b.Events = events.NewEmitter("12D3KooWBob", sink, nil)
	p.run(t)
	if !errors.Is(p.errB, ErrHandshake) || !strings.Contains(p.errB.Error(), "blacklisted") {
		t.Fatalf("responder: %v", p.errB)
	}
	if !errors.Is(p.errA, ErrHandshake) {
		t.Fatalf("initiator should fail waiting for the refused responder: %v", p.errA)
	}
	if ring.Count("web4.cip.handshake_failed") != 1 || ring.Count("web4.cip.handshake_started") != 1 {
		t.Fatalf("events %+v", ring.Events())
	}
	if f := sink.Failures(); len(f) != 0 {
		t.Fatal(f)
	}
}

func TestHandshakeEvents(t *testing.T) {
	ring := events.NewRing(64)
	sink := &events.CheckingSink{Next: ring}
	p := newPair(&gateLog{})
	p.a.Events = events.NewEmitter("12D3KooWAa", sink, nil)
	p.run(t)
	if p.errA != nil || p.errB != nil {
		t.Fatal(p.errA, p.errB)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ev, ok := ring.WaitFor(ctx.Done(), events.OfType("web4.cip.handshake_completed"))
	if !ok || ev.Data["outcome"] != "ok" || ev.Data["peer_agent_id"] != "bob" || ev.Subject != envelope.Fingerprint(pub(key("bob"))) {
		t.Fatalf("event %+v", ev)
	}
	if f := sink.Failures(); len(f) != 0 {
		t.Fatal(f)
	}
}

func TestConfigValidation(t *testing.T) {
	ca, _ := pipe()
	if _, err := Initiate(context.Background(), ca, Config{}); !errors.Is(err, ErrHandshake) {
		t.Fatal(err)
	}
	if _, err := Respond(context.Background(), ca, Config{Builder: builder("a", &clock{t: t0}), RemoteKey: []byte{1}}); !errors.Is(err, ErrHandshake) {
		t.Fatal(err)
	}
}

func TestChallengeBytesLayout(t *testing.T) {
	ch := strings.Repeat("A", 43) + "="
	fa, fb := strings.Repeat("a", 64), strings.Repeat("b", 64)
	b, err := ChallengeBytes(ch, fa, fb)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte(ChallengePrefix), make([]byte, 32)...), []byte(fa+fb)...)
	if !bytes.Equal(b, want) || len(b) != 183 {
		t.Fatalf("layout %q", b)
	}
	if _, err := ChallengeBytes("AAAA", fa, fb); !errors.Is(err, ErrChallenge) {
		t.Fatal(err)
	}
	if err := VerifyChallenge(nil, "", ch, fa); !errors.Is(err, ErrChallenge) {
		t.Fatal(err)
	}
	// Swapping the fingerprints breaks the response (no reflection).
	k := key("bob")
	resp, _ := RespondChallenge(k, ch, fa)
	if err := VerifyChallenge(pub(k), resp, ch, fa); err != nil {
		t.Fatal(err)
	}
	if err := VerifyChallenge(pub(k), resp, ch, envelope.Fingerprint(pub(k))); !errors.Is(err, ErrChallenge) {
		t.Fatal("response verified for another challenger")
	}
}

// table is a minimal SPEC §4.3 trust table plus the FSM step the node
// would apply at the gate: enough to prove the handshake works under the
// router's policy.
type table struct {
	mu    sync.Mutex
	state map[string]envelope.TrustView
}

func (tb *table) view(fp string) envelope.TrustView {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if v, ok := tb.state[fp]; ok {
		return v
	}
	return envelope.ViewUnknown
}

func (tb *table) policy(env *envelope.Envelope) error {
	switch v := tb.view(env.Sender.Fingerprint); {
	case v == envelope.ViewBlacklisted:
		return errors.New("blacklisted")
	case env.Type == envelope.Hello:
		return nil
	case v == envelope.ViewProbing || v == envelope.ViewTrusted:
		return nil
	default:
		return fmt.Errorf("%v may only send HELLO", v)
	}
}

func (tb *table) gate(_ context.Context, id Identity, o Outcome) error {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch o {
	case OutcomeOK:
		if tb.state[id.Fingerprint] == envelope.ViewBlacklisted {
			return errors.New("blacklisted")
		}
		tb.state[id.Fingerprint] = envelope.ViewProbing
	case OutcomeBadSignature:
		tb.state[id.Fingerprint] = envelope.ViewUntrusted
	case OutcomeFingerprintMismatch:
		tb.state[id.Fingerprint] = envelope.ViewBlacklisted
	}
	return nil
}

func TestHandshakeUnderTrustPolicy(t *testing.T) {
	ta := &table{state: map[string]envelope.TrustView{}}
	tb := &table{state: map[string]envelope.TrustView{}}
	p := newPair(&gateLog{})
	p.a.Policy, p.a.TrustGate, p.a.ViewOf = ta.policy, ta.gate, ta.view
	p.b.Policy, p.b.TrustGate, p.b.ViewOf = tb.policy, tb.gate, tb.view
	p.run(t)
	if p.errA != nil || p.errB != nil {
		t.Fatalf("initiator %v, responder %v", p.errA, p.errB)
	}
	if ta.view(p.b.Builder.Fingerprint()) != envelope.ViewProbing || tb.view(p.a.Builder.Fingerprint()) != envelope.ViewProbing {
		t.Fatal("peers not probing after a valid handshake")
	}

	// A blacklisted initiator is refused at its first HELLO (check 8).
	tb.state[p.a.Builder.Fingerprint()] = envelope.ViewBlacklisted
	p2 := newPair(&gateLog{})
	p2.a.StepTimeout, p2.b.StepTimeout = 300*time.Millisecond, 300*time.Millisecond
	p2.b.Policy, p2.b.TrustGate = tb.policy, tb.gate
	p2.run(t)
	if !errors.Is(p2.errB, envelope.ErrTrustViolation) || !errors.Is(p2.errB, ErrHandshake) || len(p2.resB.Transcript) != 1 {
		t.Fatalf("responder: %v (%d messages)", p2.errB, len(p2.resB.Transcript))
	}
}

// A HELLO answered ahead by AnswerHello (as the node does, in the RTT
// HelloAck) makes exactly the golden transcript on both sides: the
// responder's answer draws its clock and randomness as step 2 does, and
// Respond goes on at step 3 with the gate of its own config.
func TestAnsweredHelloMatchesGolden(t *testing.T) {
	gl := &gateLog{}
	p := newPair(gl)
	hello := p.preSentHello(t)
	answered, reply, err := AnswerHello(Config{Builder: p.b.Builder, RemoteKey: p.b.RemoteKey, Features: p.b.Features}, hello)
	if err != nil {
		t.Fatal(err)
	}
	p.b.Answered = answered
	p.runGolden(t, gl, "an answered HELLO", func(ctx context.Context, _, cb pipeEnd) error { return cb.Send(ctx, reply) })
	checkOrder(t, "responder", p.resB.Transcript, []string{"received HELLO", "sent HELLO", "received VERIFY",
		"sent STATE_UPDATE", "received STATE_UPDATE", "received INTENT", "sent INTENT"})
}

// AnswerHello refuses what is not a clean initiating HELLO from the
// connection's key and leaves no trace: no event, and the same HELLO still
// validates afterwards (no replay-cache entry), so Respond can reach the
// failure, and its verdict, the ordinary way.
func TestAnswerHelloRefusesWithoutTrace(t *testing.T) {
	p := newPair(&gateLog{})
	good, err := BuildHello(p.a.Builder, p.a.RemoteKey, p.a.Features)
	if err != nil {
		t.Fatal(err)
	}
	carol, err := BuildHello(builder("carol", &clock{t: t0}), pub(p.b.Builder.Key), p.a.Features)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(good, []byte(`"alice"`), []byte(`"mallory"`), 1)
	ring := events.NewRing(16)
	replay := envelope.NewReplayCache(envelope.DefaultReplayWindow, envelope.DefaultReplayCapacity)
	cfg := Config{Builder: p.b.Builder, RemoteKey: p.b.RemoteKey, Replay: replay, Events: events.NewEmitter("bob", ring, nil)}
	for name, wire := range map[string][]byte{"not JSON": []byte("hello"), "tampered": tampered, "signed by another key": carol} {
		if a, reply, err := AnswerHello(cfg, wire); err == nil || a != nil || reply != nil {
			t.Fatalf("%s: answered (%v)", name, err)
		}
	}
	if n := ring.Total(); n != 0 {
		t.Fatalf("refused HELLOs left %d events: %v", n, ring.Events())
	}
	if _, _, err := AnswerHello(cfg, good); err != nil {
		t.Fatalf("the good HELLO after refusals: %v", err)
	}
	if _, _, err := AnswerHello(cfg, good); err == nil {
		t.Fatal("the same HELLO answered twice: the replay cache did not record the first")
	}
}

// TestAnswerHelloLeavesRefusedHelloToRespond: a HELLO that AnswerHello
// refuses goes to Respond as the session's first message (the node does
// this), and Respond must meet it exactly as if AnswerHello had never seen
// it — a validly signed HELLO from another key than the connection's is a
// fingerprint-mismatch verdict against the connection's peer, not a
// replay of a message AnswerHello had already recorded.
func TestAnswerHelloLeavesRefusedHelloToRespond(t *testing.T) {
	p := newPair(&gateLog{})
	carol, err := BuildHello(builder("carol", &clock{t: t0}), pub(p.b.Builder.Key), p.a.Features)
	if err != nil {
		t.Fatal(err)
	}
	gl := &gateLog{}
	replay := envelope.NewReplayCache(envelope.DefaultReplayWindow, envelope.DefaultReplayCapacity)
	cfg := p.b
	cfg.Replay, cfg.TrustGate = replay, gl.gate("bob")
	if a, _, err := AnswerHello(cfg, carol); err == nil || a != nil {
		t.Fatalf("AnswerHello answered a HELLO signed by another key (%v)", err)
	}
	ca, cb := pipe()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ca.Send(ctx, carol); err != nil {
		t.Fatal(err)
	}
	res, err := Respond(ctx, cb, cfg)
	if !errors.Is(err, ErrHandshake) || res.Outcome != OutcomeFingerprintMismatch {
		t.Fatalf("Respond after AnswerHello refused it: err %v, outcome %v, reason %q", err, res.Outcome, res.Reason)
	}
	if len(gl.lines) != 1 || !strings.Contains(gl.lines[0], envelope.Fingerprint(p.b.RemoteKey)) {
		t.Fatalf("the verdict must go to the connection's peer: %v", gl.lines)
	}
}
