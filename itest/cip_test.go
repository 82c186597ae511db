package itest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/node"
	"github.com/web4p2p/web4p2p/node/peers"
	"github.com/web4p2p/web4p2p/node/rtt"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/trust"
)

// TestHandshakeTwoAndThreeNodes: every pair completes RTT + CIP and both
// sides see each other as probing.
func TestHandshakeTwoAndThreeNodes(t *testing.T) {
	ctx := ctxFor(t, 60*time.Second)
	a := newAgent(t, "a", nil)
	b := newAgent(t, "b", nil)
	c := newAgent(t, "c", nil)
	b.connect(ctx, a)
	c.connect(ctx, a)
	c.connect(ctx, b)
	for _, x := range []*agent{a, b, c} {
		for _, y := range []*agent{a, b, c} {
			if x != y {
				x.waitTrust(ctx, y.n.ID(), trust.Probing)
			}
		}
	}
	// The dialing node sends its CIP HELLO inside the RTT handshake (early
	// data), and the answering node takes it there and answers it with its
	// own HELLO in the HelloAck. (Which side of a pair dials depends on who
	// connects first, so look at all three.)
	early, answered := 0, 0
	for _, x := range []*agent{a, b, c} {
		for _, e := range x.ring.Events() {
			if e.Type != "web4.rtt.handshake_completed" {
				continue
			}
			if n, ok := e.Data["early_data"].(int); ok && e.Data["role"] == "responder" && n > 0 {
				early++
			}
			if n, ok := e.Data["early_answer"].(int); ok && e.Data["role"] == "dialer" && n > 0 {
				answered++
			}
		}
	}
	if early == 0 || answered != early {
		t.Fatalf("of the handshakes, %d carried the CIP HELLO as RTT early data and %d got the answering HELLO in the HelloAck", early, answered)
	}
	// Application data flows only between authenticated agents.
	if err := a.n.Peers().OpenChannel(ctx, c.n.ID(), rtt.Knowledge); err != nil {
		t.Fatal(err)
	}
	if err := c.n.Peers().OpenChannel(ctx, a.n.ID(), rtt.Knowledge); err != nil {
		t.Fatal(err)
	}
	if err := a.n.Peers().SendApp(ctx, c.n.ID(), rtt.Knowledge, []byte("hi c")); err != nil {
		t.Fatal(err)
	}
	if got, err := c.n.Peers().ReceiveApp(ctx, a.n.ID(), rtt.Knowledge); err != nil || string(got) != "hi c" {
		t.Fatalf("got %q %v", got, err)
	}
}

// mallory is a hand-built peer: a bare libp2p host with an RTT service
// that runs the CIP handshake through a Conn that can rewrite what it sends.
type mallory struct {
	h   host.Host
	svc *rtt.Service
	key ed25519.PrivateKey
	t   *rtt.Transport
}

func newMallory(t *testing.T) *mallory {
	t.Helper()
	h := rttHost(t)
	svc, err := rtt.NewService(h, rtt.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	k := h.Peerstore().PrivKey(h.ID())
	raw, err := k.Raw()
	if err != nil {
		t.Fatal(err)
	}
	return &mallory{h: h, svc: svc, key: ed25519.PrivateKey(raw)}
}

func (m *mallory) dial(ctx context.Context, t *testing.T, victim *agent) {
	t.Helper()
	m.h.Peerstore().AddAddrs(victim.n.ID(), victim.n.Host().Addrs(), peerstore.PermanentAddrTTL)
	tr, err := m.svc.Dial(ctx, victim.n.ID())
	if err != nil {
		t.Fatal(err)
	}
	m.t = tr
}

// conn adapts the RTT control channel to cip.Conn with the node's payload
// tag; rewrite, if set, may replace outgoing envelopes.
type conn struct {
	t       *rtt.Transport
	rewrite func(wire []byte) []byte
}

func (c conn) Send(ctx context.Context, b []byte) error {
	if c.rewrite != nil {
		b = c.rewrite(b)
	}
	return c.t.Send(ctx, rtt.Control, peers.EnvelopeFrame(b))
}

func (c conn) Receive(ctx context.Context) ([]byte, error) {
	for {
		b, err := c.t.Receive(ctx, rtt.Control)
		if err != nil {
			return nil, err
		}
		if len(b) > 0 && b[0] == peers.TagEnvelope {
			return b[1:], nil
		}
	}
}

func (m *mallory) handshake(ctx context.Context, victim *agent, rewrite func([]byte) []byte) (*cip.Result, error) {
	pub, _ := victim.n.ID().ExtractPublicKey()
	raw, _ := pub.Raw()
	return cip.Initiate(ctx, conn{t: m.t, rewrite: rewrite}, cip.Config{
		Builder:   &cip.Builder{Key: m.key, AgentID: "mallory"},
		RemoteKey: ed25519.PublicKey(raw), StepTimeout: 5 * time.Second,
	})
}

// reseal parses wire, lets mutate change the envelope, and signs it again
// with key: a validly signed envelope that lies.
func reseal(t *testing.T, wire []byte, key ed25519.PrivateKey, mutate func(*envelope.Envelope)) []byte {
	env, err := envelope.Parse(wire)
	if err != nil {
		t.Error(err)
		return wire
	}
	mutate(env)
	out, err := envelope.Seal(env, key)
	if err != nil {
		t.Error(err)
		return wire
	}
	return out
}

func TestForgedHelloBlacklistsAndDisconnects(t *testing.T) {
	ctx := ctxFor(t, 30*time.Second)
	victim := newAgent(t, "victim", nil)
	m := newMallory(t)
	m.dial(ctx, t, victim)
	_, err := m.handshake(ctx, victim, func(w []byte) []byte {
		env, _ := envelope.Parse(w)
		if env == nil || env.Type != envelope.Hello {
			return w
		}
		return reseal(t, w, m.key, func(e *envelope.Envelope) { e.Sender.Fingerprint = strings.Repeat("ab", 32) })
	})
	if err == nil {
		t.Fatal("forged handshake succeeded")
	}
	victim.waitTrust(ctx, m.h.ID(), trust.Blacklisted)
	// The forged name (abab…) gained no record: penalties hit the
	// delivering peer only.
	if _, known := victim.n.Trust().Peer(strings.Repeat("ab", 32)); known {
		t.Fatal("the identity named in the forged envelope was penalised")
	}
	if _, ok := victim.ring.WaitFor(ctx.Done(), func(events.Event) bool {
		return victim.n.Host().Network().Connectedness(m.h.ID()) != network.Connected
	}); !ok && victim.n.Host().Network().Connectedness(m.h.ID()) == network.Connected {
		t.Fatal("blacklisted peer still connected")
	}
}

func TestBadChallengeSignatureUntrustedWithCooldown(t *testing.T) {
	ctx := ctxFor(t, 30*time.Second)
	victim := newAgent(t, "victim", nil)
	m := newMallory(t)
	m.dial(ctx, t, victim)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	_, err := m.handshake(ctx, victim, func(w []byte) []byte {
		env, _ := envelope.Parse(w)
		if env == nil || env.Type != envelope.Verify {
			return w
		}
		return reseal(t, w, m.key, func(e *envelope.Envelope) {
			sig := ed25519.Sign(other, []byte("not the challenge"))
			e.Payload, _ = json.Marshal(cip.VerifyPayload{ChallengeResponse: base64.StdEncoding.EncodeToString(sig)})
		})
	})
	if err == nil {
		t.Fatal("bad challenge response accepted")
	}
	victim.waitTrust(ctx, m.h.ID(), trust.Untrusted)

	// Cooldown: an honest retry at once is refused and the peer stays untrusted.
	m2ctx := ctxFor(t, 20*time.Second)
	tr, derr := m.svc.Dial(m2ctx, victim.n.ID())
	if derr == nil {
		m.t = tr
		if _, err := m.handshake(m2ctx, victim, nil); err == nil {
			t.Fatal("handshake during the cooldown succeeded")
		}
	}
	if _, ok := victim.ring.WaitFor(ctx.Done(), events.OfType("web4.node.handshake_rejected")); !ok {
		t.Fatal("no handshake_rejected event")
	}
	fp, _ := node.FingerprintOf(m.h.ID())
	if st := victim.n.Trust().State(fp); st != trust.Untrusted {
		t.Fatalf("after cooldown-violating retry: %s", st)
	}
}

func TestProbingPeerForbiddenTypeIsNotRouted(t *testing.T) {
	ctx := ctxFor(t, 30*time.Second)
	victim := newAgent(t, "victim", nil)
	m := newMallory(t)
	m.dial(ctx, t, victim)
	if _, err := m.handshake(ctx, victim, nil); err != nil {
		t.Fatal(err)
	}
	victim.waitTrust(ctx, m.h.ID(), trust.Probing)
	// LIP_FETCH asks this node to fetch a URI on the sender's behalf:
	// trusted peers only (SPEC §4.3).
	env := &envelope.Envelope{
		Family: envelope.LIP, MsgID: "6f1c2f7e-3b7a-4c51-9d3e-2f0a1b2c3d4e", Type: envelope.LIPFetch,
		Timestamp: time.Now().UTC().Truncate(time.Second),
		Sender: envelope.Sender{AgentID: "mallory", Fingerprint: envelope.Fingerprint(m.key.Public().(ed25519.PublicKey)),
			Capabilities: []string{}, Pubkey: envelope.EncodePubkey(m.key.Public().(ed25519.PublicKey))},
		Receiver: envelope.Receiver{Fingerprint: victim.n.Fingerprint()},
		Trust:    envelope.Trust{SenderView: envelope.ViewProbing, ReceiverView: envelope.ViewProbing},
		State:    envelope.State{Presence: envelope.Diffuse, KernelSignals: []string{}},
		Payload:  json.RawMessage(`{"uri":"https://example.org/","constraints":[]}`),
	}
	wire, err := envelope.Seal(env, m.key)
	if err != nil {
		t.Fatal(err)
	}
	msg := &cip.Message{Env: env, Wire: wire}
	if err := conn(conn{t: m.t}).Send(ctx, msg.Wire); err != nil {
		t.Fatal(err)
	}
	ev, ok := victim.ring.WaitFor(ctx.Done(), func(e events.Event) bool {
		return e.Type == "web4.envelope.rejected" && e.Subject == msg.Env.MsgID
	})
	if !ok {
		t.Fatal("forbidden type not rejected")
	}
	if !strings.Contains(strings.ToLower(ev.Data["kind"].(string)), "trust") {
		t.Fatalf("rejected with %v, want a trust violation", ev.Data)
	}
	for _, e := range victim.ring.Events() {
		if e.Type == "web4.router.routed" && e.Data["msg_id"] == msg.Env.MsgID {
			t.Fatal("forbidden message was routed")
		}
	}
	// One violation does not end the relationship: still connected.
	if victim.n.Host().Network().Connectedness(m.h.ID()) != network.Connected {
		t.Fatal("connection dropped for one violation")
	}
}

func TestRestartKeepsTrustLedger(t *testing.T) {
	ctx := ctxFor(t, 40*time.Second)
	a := newAgent(t, "a", nil)
	b := newAgent(t, "b", nil)
	b.connect(ctx, a)
	a.waitTrust(ctx, b.n.ID(), trust.Probing)
	before, err := a.n.Trust().History(b.n.Fingerprint())
	if err != nil || len(before) == 0 {
		t.Fatalf("history: %v %v", before, err)
	}
	id := a.n.ID()
	a.restart()
	if a.n.ID() != id {
		t.Fatal("identity changed across restart")
	}
	if st := a.n.Trust().State(b.n.Fingerprint()); st != trust.Probing {
		t.Fatalf("after restart a sees b as %s", st)
	}
	after, _ := a.n.Trust().History(b.n.Fingerprint())
	if len(after) < len(before) {
		t.Fatalf("history shrank: %d → %d", len(before), len(after))
	}
}
