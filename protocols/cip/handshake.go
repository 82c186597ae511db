package cip

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// ErrHandshake is returned when a CIP handshake does not complete: a step
// timed out, the peer sent something malformed or unexpected, the peer's
// identity failed verification (see Result.Outcome), or the trust gate
// refused the peer. It is defined here rather than shared with rtt because
// the two handshakes fail for different reasons and callers react
// differently (an RTT failure redials; a CIP failure may change trust).
var ErrHandshake = errors.New("cip: handshake failed")

// Conn is the message channel a handshake runs over — on a node, the RTT
// control channel to one peer. Send and Receive carry whole envelopes and
// must return promptly when ctx is done.
type Conn interface {
	Send(ctx context.Context, msg []byte) error
	Receive(ctx context.Context) ([]byte, error)
}

// Identity is a peer as proven by a handshake.
type Identity struct {
	AgentID      string
	Fingerprint  string
	Pubkey       ed25519.PublicKey
	Capabilities []string
}

// Direction of a transcript entry.
type Direction uint8

// Directions.
const (
	Sent Direction = iota + 1
	Received
)

// String returns "sent" or "received".
func (d Direction) String() string {
	switch d {
	case Sent:
		return "sent"
	case Received:
		return "received"
	}
	return fmt.Sprintf("invalid(%d)", uint8(d))
}

// Record is one envelope of the transcript, as it crossed the wire.
type Record struct {
	Dir  Direction
	Type envelope.Type // zero if the bytes did not parse
	Wire []byte
}

// Result is what a handshake established, also returned (partially filled)
// alongside ErrHandshake.
type Result struct {
	// Peer is the remote identity; set once its HELLO passed verification.
	Peer Identity
	// Outcome is the trust verdict (zero if none was reached).
	Outcome Outcome
	// Reason explains a non-OK outcome or a failure.
	Reason string
	// PeerState is the peer's STATE_UPDATE payload.
	PeerState *StateUpdatePayload
	// Intent is the INTENT request: sent by the initiator, received by the
	// responder.
	Intent *IntentRequest
	// Decision is the responder's answer to Intent.
	Decision Decision
	// Transcript is every envelope sent or received, in order.
	Transcript []Record
}

// Config configures one handshake.
type Config struct {
	// Builder is the local identity, clock and randomness. Required.
	Builder *Builder
	// RemoteKey is the authenticated key of the connection's remote peer
	// (its libp2p identity). The peer's sender.pubkey must equal it (SPEC
	// §1). Required.
	RemoteKey ed25519.PublicKey
	// StepTimeout bounds each send and receive. Default DefaultStepTimeout.
	StepTimeout time.Duration
	// MaxSkew is the timestamp tolerance. Default envelope.DefaultMaxSkew.
	MaxSkew time.Duration
	// Replay is the node's shared replay cache. Default: private.
	Replay *envelope.ReplayCache
	// Policy is check 8 (the router's SPEC §4.3 table), applied to every
	// envelope of the handshake except a VERIFY that arrives before the
	// verdict: that VERIFY is how an unknown peer proves itself, and the
	// §4.3 table (unknown → HELLO only) would otherwise make the handshake
	// impossible. The verdict itself then goes through TrustGate. nil
	// allows all.
	Policy func(*envelope.Envelope) error
	// TrustGate is called exactly once when a verdict is reached (SPEC §4.2
	// step 4) with the peer's identity as far as it is known and the
	// outcome; the node applies it to its trust FSM. Returning an error
	// (e.g. the peer is blacklisted, or untrusted and still cooling down)
	// aborts the handshake. Called on the handshake's goroutine; may block
	// until ctx is done. nil accepts OK outcomes.
	TrustGate func(ctx context.Context, peer Identity, o Outcome) error
	// Overloaded is asked by the responder before answering the INTENT:
	// true → defer (SPEC §4.2 step 6). nil → never overloaded.
	Overloaded func() bool
	// Intent is what the initiator asks for in step 6. Default:
	// {ask, "capabilities", low}.
	Intent *IntentRequest
	// Features are advertised in HELLO.
	Features Features
	// ViewOf returns our trust state for the peer, for STATE_UPDATE and the
	// envelopes' trust block, once a verdict is reached. Default: probing
	// after an OK verdict.
	ViewOf func(fingerprint string) envelope.TrustView
	// Events receives web4.cip.handshake_* events. nil discards.
	Events *events.Emitter
	// SentHello is the initiator's HELLO, built by BuildHello and already
	// on its way to the peer (the node sends it as RTT early data, in the
	// session handshake itself). Initiate then starts at step 2. nil:
	// Initiate builds and sends the HELLO itself.
	SentHello []byte
	// Answered is the responder's side of a HELLO already answered by
	// AnswerHello (the node answers it inside the RTT handshake, in the
	// HelloAck). Respond then starts at step 3. nil: Respond reads and
	// answers the HELLO itself.
	Answered *Answered
}

// Answered is a responder's handshake whose first two steps are done:
// the initiator's HELLO was validated and answered by AnswerHello.
type Answered struct {
	r     *run
	hello Hello
}

// run is the state of one handshake on one side.
type run struct {
	cfg       Config
	conn      Conn
	v         *envelope.Validator
	vcfg      envelope.Config // v's config
	res       *Result
	remoteFP  string
	localFP   string
	peer      Peer
	initiator bool
}

// checkKeys validates the two keys every handshake needs.
func checkKeys(b *Builder, remote ed25519.PublicKey) error {
	if b == nil || b.PublicKey() == nil {
		return fmt.Errorf("%w: config: Builder with an ed25519 key is required", ErrHandshake)
	}
	if len(remote) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: config: RemoteKey must be an ed25519 public key", ErrHandshake)
	}
	return nil
}

func newRun(conn Conn, cfg Config, initiator bool) (*run, error) {
	if err := checkKeys(cfg.Builder, cfg.RemoteKey); err != nil {
		return nil, err
	}
	if cfg.StepTimeout <= 0 {
		cfg.StepTimeout = DefaultStepTimeout
	}
	r := &run{cfg: cfg, conn: conn, res: &Result{}, initiator: initiator,
		remoteFP: envelope.Fingerprint(cfg.RemoteKey), localFP: cfg.Builder.Fingerprint()}
	r.peer = Peer{Fingerprint: r.remoteFP}
	now := cfg.Builder.Now
	if now == nil {
		now = time.Now
	}
	var policy func(*envelope.Envelope) error
	if cfg.Policy != nil {
		policy = func(env *envelope.Envelope) error {
			if env.Type == envelope.Verify && r.res.Outcome == 0 {
				return nil
			}
			return cfg.Policy(env)
		}
	}
	r.vcfg = envelope.Config{
		Now: now, MaxSkew: cfg.MaxSkew, Replay: cfg.Replay,
		LocalFingerprint: r.localFP, Policy: policy, Events: cfg.Events,
	}
	if r.vcfg.Replay == nil {
		// One cache for the run, also when AnswerHello validated its HELLO
		// with a second, quiet validator.
		r.vcfg.Replay = envelope.NewReplayCache(envelope.DefaultReplayWindow, envelope.DefaultReplayCapacity)
	}
	r.v = envelope.NewValidator(r.vcfg)
	return r, nil
}

// Initiate runs the initiator (A) side of the SPEC §4.2 handshake over conn.
func Initiate(ctx context.Context, conn Conn, cfg Config) (*Result, error) {
	r, err := newRun(conn, cfg, true)
	if err != nil {
		return nil, err
	}
	r.emit("web4.cip.handshake_started", nil)
	return r.finish(r.initiate(ctx))
}

// Respond runs the responder (B) side of the SPEC §4.2 handshake over conn.
func Respond(ctx context.Context, conn Conn, cfg Config) (*Result, error) {
	if a := cfg.Answered; a != nil {
		// Steps 1 and 2 were AnswerHello's: its run (identity, validator,
		// transcript) goes on with this config for the rest (the trust
		// gate, which may need what exists only once the session does).
		r := a.r
		cfg.Answered = nil
		if cfg.StepTimeout <= 0 {
			cfg.StepTimeout = DefaultStepTimeout
		}
		r.cfg, r.conn = cfg, conn
		return r.finish(r.respond(ctx, &a.hello))
	}
	r, err := newRun(conn, cfg, false)
	if err != nil {
		return nil, err
	}
	r.emit("web4.cip.handshake_started", nil)
	return r.finish(r.respond(ctx, nil))
}

func (r *run) initiate(ctx context.Context) error {
	b := r.cfg.Builder
	// Step 1: HELLO with our nonce and challenge.
	var hello Hello
	var err error
	if r.cfg.SentHello != nil {
		if hello, err = r.ownHello(r.cfg.SentHello); err != nil {
			return r.fail("hello", err)
		}
		r.res.Transcript = append(r.res.Transcript, Record{Dir: Sent, Type: envelope.Hello, Wire: r.cfg.SentHello})
	} else {
		if hello, err = b.NewHello(r.cfg.Features); err != nil {
			return r.fail("hello", err)
		}
		if err := r.send(ctx, "hello", func() (*Message, error) { return b.Hello(r.peer, hello) }); err != nil {
			return err
		}
	}
	// Step 2: the peer's HELLO, answering our challenge.
	env, err := r.receive(ctx, "hello", envelope.Hello)
	if err != nil {
		return err
	}
	var theirs Hello
	if err := decode(env, &theirs); err != nil {
		return r.fail("hello", err)
	}
	if theirs.ChallengeResponse == "" {
		return r.fail("hello", errors.New("responding HELLO lacks challenge_response"))
	}
	// Step 3: verify it, then answer theirs.
	if err := VerifyChallenge(r.cfg.RemoteKey, theirs.ChallengeResponse, hello.Challenge, r.localFP); err != nil {
		return r.verdict(ctx, OutcomeBadSignature, err.Error())
	}
	// Step 4: trust gate.
	if err := r.verdict(ctx, OutcomeOK, ""); err != nil {
		return err
	}
	resp, err := RespondChallenge(b.Key, theirs.Challenge, r.remoteFP)
	if err != nil {
		return r.fail("verify", err)
	}
	if err := r.send(ctx, "verify", func() (*Message, error) {
		return b.Verify(r.peer, VerifyPayload{ChallengeResponse: resp})
	}); err != nil {
		return err
	}
	// Steps 5 and 6, pipelined behind VERIFY: our STATE_UPDATE and INTENT
	// go out at once, then we read the responder's STATE_UPDATE and its
	// answer. SPEC §4.2 orders each side's messages, not one side's after
	// the other's; the responder reads ours in order after its trust gate,
	// and waiting for its STATE_UPDATE first would only add a round trip.
	// (Our two envelopes cannot carry the responder's view of us yet: their
	// trust.sender_view is the conservative default.)
	if err := r.sendState(ctx); err != nil {
		return err
	}
	intent := IntentRequest{Goal: GoalAsk, Topic: "capabilities", Priority: PriorityLow}
	if r.cfg.Intent != nil {
		intent = *r.cfg.Intent
	}
	r.res.Intent = &intent
	var sent *Message
	if err := r.send(ctx, "intent", func() (*Message, error) {
		m, err := b.Intent(r.peer, intent)
		sent = m
		return m, err
	}); err != nil {
		return err
	}
	if err := r.receiveState(ctx); err != nil {
		return err
	}
	env, err = r.receive(ctx, "intent_reply", envelope.Intent)
	if err != nil {
		return err
	}
	var reply IntentReply
	if err := decode(env, &reply); err != nil || reply.Decision == 0 {
		return r.fail("intent_reply", fmt.Errorf("not an INTENT reply: %v", err))
	}
	if reply.ReplyTo != sent.Env.MsgID {
		return r.fail("intent_reply", fmt.Errorf("reply_to %s does not name our INTENT %s", reply.ReplyTo, sent.Env.MsgID))
	}
	r.res.Decision = reply.Decision
	return nil
}

func (r *run) respond(ctx context.Context, answered *Hello) error {
	b := r.cfg.Builder
	var hello Hello
	if answered != nil {
		hello = *answered // steps 1 and 2 done by AnswerHello
	} else {
		// Step 1: the initiator's HELLO.
		env, err := r.receive(ctx, "hello", envelope.Hello)
		if err != nil {
			return err
		}
		// Step 2: our HELLO, with our challenge and the answer to theirs.
		var m *Message
		if hello, m, err = r.answer(env); err != nil {
			return err
		}
		if err := r.send(ctx, "hello", func() (*Message, error) { return m, nil }); err != nil {
			return err
		}
	}
	// Step 3: VERIFY answers our challenge.
	env, err := r.receive(ctx, "verify", envelope.Verify)
	if err != nil {
		return err
	}
	var ver VerifyPayload
	if err := decode(env, &ver); err != nil {
		return r.fail("verify", err)
	}
	if err := VerifyChallenge(r.cfg.RemoteKey, ver.ChallengeResponse, hello.Challenge, r.localFP); err != nil {
		return r.verdict(ctx, OutcomeBadSignature, err.Error())
	}
	// Step 4: trust gate.
	if err := r.verdict(ctx, OutcomeOK, ""); err != nil {
		return err
	}
	// Step 5: our state first, then theirs.
	if err := r.sendState(ctx); err != nil {
		return err
	}
	if err := r.receiveState(ctx); err != nil {
		return err
	}
	// Step 6: answer the INTENT — defer when overloaded.
	env, err = r.receive(ctx, "intent", envelope.Intent)
	if err != nil {
		return err
	}
	var req IntentRequest
	if err := decode(env, &req); err != nil || req.Goal == 0 {
		return r.fail("intent", fmt.Errorf("not an INTENT request: %v", err))
	}
	r.res.Intent = &req
	reply := IntentReply{ReplyTo: env.MsgID, Decision: Accept}
	if r.cfg.Overloaded != nil && r.cfg.Overloaded() {
		reply.Decision, reply.Reason = Defer, "overloaded"
	}
	r.res.Decision = reply.Decision
	return r.send(ctx, "intent_reply", func() (*Message, error) { return b.IntentReply(r.peer, reply) })
}

// answer is step 2 for the initiator's HELLO env: our HELLO, with our
// challenge and the response to theirs.
func (r *run) answer(env *envelope.Envelope) (Hello, *Message, error) {
	var theirs Hello
	if err := decode(env, &theirs); err != nil {
		return Hello{}, nil, r.fail("hello", err)
	}
	if theirs.ChallengeResponse != "" {
		return Hello{}, nil, r.fail("hello", errors.New("initiating HELLO carries a challenge_response"))
	}
	return r.answerTheirs(theirs)
}

// answerTheirs builds our HELLO answering theirs, an initiating HELLO.
func (r *run) answerTheirs(theirs Hello) (Hello, *Message, error) {
	b := r.cfg.Builder
	hello, err := b.NewHello(r.cfg.Features)
	if err != nil {
		return Hello{}, nil, r.fail("hello", err)
	}
	if hello.ChallengeResponse, err = RespondChallenge(b.Key, theirs.Challenge, r.remoteFP); err != nil {
		return Hello{}, nil, r.fail("hello", err)
	}
	m, err := b.Hello(r.peer, hello)
	if err != nil {
		return Hello{}, nil, r.fail("hello", err)
	}
	return hello, m, nil
}

// AnswerHello runs the responder's steps 1 and 2 at once on the
// initiator's HELLO (wire): it validates it and builds our HELLO, which the
// node sends in the RTT HelloAck instead of as a message of its own, saving
// the initiator a wait. Respond with Config.Answered then goes on at step 3
// over the session. cfg gives the identity (Builder, RemoteKey) and what
// the validation needs (Replay, Policy, Events, MaxSkew, Features);
// Respond's own config gives the rest (TrustGate, Overloaded, ViewOf,
// StepTimeout) and must have the same Builder.
//
// Anything short of a clean answer — the HELLO fails a check, is not a
// HELLO, or is signed by another key than the connection's — returns an
// error and leaves no trace (no event, no replay-cache entry, no verdict):
// the node then hands the HELLO to Respond as a message, which reaches the
// same failure and its trust consequences the ordinary way.
func AnswerHello(cfg Config, wire []byte) (*Answered, []byte, error) {
	r, err := newRun(nil, cfg, false)
	if err != nil {
		return nil, nil, err
	}
	quiet := r.vcfg
	quiet.Events = nil
	// What Validate does not check runs as part of its policy check (8),
	// so that a refused HELLO is not recorded in the replay cache, which
	// happens only once every check passed: Respond then meets it as if
	// this had never seen it — a HELLO validly signed by another key than
	// the connection's is its fingerprint-mismatch verdict, not a replay.
	policy := quiet.Policy
	var theirs Hello
	quiet.Policy = func(env *envelope.Envelope) error {
		if pub, err := env.PublicKey(); err != nil || !pub.Equal(r.cfg.RemoteKey) {
			return errors.New("sender.pubkey is not the authenticated key of the connection")
		}
		if env.Type != envelope.Hello {
			return fmt.Errorf("got %v, want HELLO", env.Type)
		}
		if err := decode(env, &theirs); err != nil || theirs.ChallengeResponse != "" {
			return errors.New("not an initiating HELLO")
		}
		if policy != nil {
			return policy(env)
		}
		return nil
	}
	env, err := envelope.NewValidator(quiet).Validate(wire)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: hello: %w", ErrHandshake, err)
	}
	r.bindHello(env)
	hello, m, err := r.answerTheirs(theirs) // decoded and checked by the policy above
	if err != nil {
		return nil, nil, err
	}
	r.emit("web4.cip.handshake_started", nil)
	r.res.Transcript = append(r.res.Transcript,
		Record{Dir: Received, Type: envelope.Hello, Wire: bytes.Clone(wire)},
		Record{Dir: Sent, Type: envelope.Hello, Wire: m.Wire})
	return &Answered{r: r, hello: hello}, m.Wire, nil
}

// BuildHello builds the initiator's HELLO (SPEC §4.2 step 1) for the peer
// whose key is remote, exactly as Initiate would — same envelope, same
// draws from the builder's clock and randomness — so that it can leave
// before the handshake runs: the node sends it as RTT early data
// (rtt.Service.DialEarly) and passes it to Initiate as Config.SentHello.
func BuildHello(b *Builder, remote ed25519.PublicKey, f Features) ([]byte, error) {
	if err := checkKeys(b, remote); err != nil {
		return nil, err
	}
	hello, err := b.NewHello(f)
	if err != nil {
		return nil, err
	}
	m, err := b.Hello(Peer{Fingerprint: envelope.Fingerprint(remote)}, hello)
	if err != nil {
		return nil, err
	}
	return m.Wire, nil
}

// ownHello recovers the HELLO payload (our challenge) from the HELLO we
// already sent, and checks that it is one: ours, to this peer, without a
// challenge_response.
func (r *run) ownHello(wire []byte) (Hello, error) {
	env, err := envelope.Parse(wire)
	if err != nil {
		return Hello{}, fmt.Errorf("sent HELLO: %w", err)
	}
	if env.Type != envelope.Hello || env.Sender.Fingerprint != r.localFP || env.Receiver.Fingerprint != r.remoteFP {
		return Hello{}, fmt.Errorf("sent HELLO is a %v from %s to %s, not our HELLO to %s", env.Type, env.Sender.Fingerprint, env.Receiver.Fingerprint, r.remoteFP)
	}
	var h Hello
	if err := decode(env, &h); err != nil {
		return Hello{}, err
	}
	if h.ChallengeResponse != "" || h.Challenge == "" {
		return Hello{}, errors.New("sent HELLO is not an initiating HELLO")
	}
	return h, nil
}

func (r *run) sendState(ctx context.Context) error {
	b := r.cfg.Builder
	st := envelope.State{Presence: envelope.Diffuse, KernelSignals: []string{}}
	if b.State != nil {
		st = b.State()
	}
	p := StateUpdatePayload{Presence: st.Presence, LRI: st.LRI, TrustState: r.peer.View,
		KernelSignals: st.KernelSignals, Intent: st.Intent}
	return r.send(ctx, "state_update", func() (*Message, error) { return b.StateUpdate(r.peer, p) })
}

func (r *run) receiveState(ctx context.Context) error {
	env, err := r.receive(ctx, "state_update", envelope.StateUpdate)
	if err != nil {
		return err
	}
	var st StateUpdatePayload
	if err := decode(env, &st); err != nil {
		return r.fail("state_update", err)
	}
	r.res.PeerState = &st
	if st.TrustState != envelope.ViewUnknown {
		r.peer.TheirView = st.TrustState
	}
	return nil
}

// send builds a message (the builder reads the clock and randomness in a
// fixed order, which keeps transcripts reproducible) and sends it within the
// step timeout.
func (r *run) send(ctx context.Context, step string, build func() (*Message, error)) error {
	m, err := build()
	if err != nil {
		return r.fail(step, err)
	}
	sctx, cancel := context.WithTimeout(ctx, r.cfg.StepTimeout)
	defer cancel()
	r.res.Transcript = append(r.res.Transcript, Record{Dir: Sent, Type: m.Env.Type, Wire: m.Wire})
	if err := r.conn.Send(sctx, m.Wire); err != nil {
		return r.fail(step, fmt.Errorf("send: %w", err))
	}
	// The send readied the transport's writer goroutines on this P, and
	// what follows here is CPU work (signing, validating). Yield, so the
	// envelope goes onto the wire now rather than when this goroutine next
	// blocks or another P steals the writer: on a two-core machine that
	// difference was a few hundred microseconds per step.
	runtime.Gosched()
	return nil
}

// receive reads one envelope within the step timeout, runs the nine
// checks, and binds it to the connection's authenticated key. Identity
// failures become verdicts; anything else fails the handshake without one.
func (r *run) receive(ctx context.Context, step string, want envelope.Type) (*envelope.Envelope, error) {
	rctx, cancel := context.WithTimeout(ctx, r.cfg.StepTimeout)
	defer cancel()
	raw, err := r.conn.Receive(rctx)
	if err != nil {
		return nil, r.fail(step, fmt.Errorf("receive: %w", err))
	}
	rec := Record{Dir: Received, Wire: bytes.Clone(raw)}
	env, verr := r.v.Validate(raw)
	if env != nil {
		rec.Type = env.Type
	}
	r.res.Transcript = append(r.res.Transcript, rec)
	if verr != nil {
		var e *envelope.Error
		switch {
		case errors.Is(verr, envelope.ErrFingerprintMismatch):
			return nil, r.verdict(ctx, OutcomeFingerprintMismatch, verr.Error())
		case errors.As(verr, &e) && e.Check == envelope.CheckSignature:
			return nil, r.verdict(ctx, OutcomeBadSignature, verr.Error())
		}
		return nil, r.fail(step, verr)
	}
	// SPEC §1: on a direct channel the signer must be the connection's peer.
	// A valid envelope signed by someone else, delivered by this peer, is
	// an impersonation attempt by the deliverer.
	if pub, err := env.PublicKey(); err != nil || !pub.Equal(r.cfg.RemoteKey) {
		return nil, r.verdict(ctx, OutcomeFingerprintMismatch, "sender.pubkey is not the authenticated key of the connection")
	}
	if env.Type != want {
		return nil, r.fail(step, fmt.Errorf("got %v, want %v", env.Type, want))
	}
	if want == envelope.Hello {
		r.bindHello(env)
	}
	return env, nil
}

// bindHello records the peer's identity from its verified HELLO.
func (r *run) bindHello(env *envelope.Envelope) {
	r.res.Peer = Identity{AgentID: env.Sender.AgentID, Fingerprint: env.Sender.Fingerprint,
		Pubkey: r.cfg.RemoteKey, Capabilities: env.Sender.Capabilities}
	r.peer.AgentID = env.Sender.AgentID
}

// verdict records the outcome, consults the trust gate exactly once, and
// returns nil only for an accepted OK outcome.
func (r *run) verdict(ctx context.Context, o Outcome, reason string) error {
	r.res.Outcome, r.res.Reason = o, reason
	if r.res.Peer.Pubkey == nil {
		// Trust consequences go to the delivering peer (SPEC §1): the
		// connection's key, never an identity named in a failed envelope.
		r.res.Peer = Identity{Fingerprint: r.remoteFP, Pubkey: r.cfg.RemoteKey}
	}
	var gateErr error
	if r.cfg.TrustGate != nil {
		gateErr = r.cfg.TrustGate(ctx, r.res.Peer, o)
	}
	if o != OutcomeOK {
		return fmt.Errorf("%w: %v: %s", ErrHandshake, o, reason)
	}
	if gateErr != nil {
		r.res.Reason = "trust gate: " + gateErr.Error()
		return fmt.Errorf("%w: trust gate: %w", ErrHandshake, gateErr)
	}
	r.peer.View = envelope.ViewProbing
	if r.cfg.ViewOf != nil {
		if v := r.cfg.ViewOf(r.remoteFP); v != 0 {
			r.peer.View = v
		}
	}
	return nil
}

func (r *run) fail(step string, err error) error {
	if r.res.Reason == "" {
		r.res.Reason = step + ": " + err.Error()
	}
	return fmt.Errorf("%w: %s: %w", ErrHandshake, step, err)
}

func (r *run) finish(err error) (*Result, error) {
	data := map[string]any{"outcome": r.res.Outcome.String(), "initiator": r.initiator,
		"messages": len(r.res.Transcript)}
	if err != nil {
		data["reason"] = r.res.Reason
		r.emit("web4.cip.handshake_failed", data)
		return r.res, err
	}
	data["peer_agent_id"] = r.res.Peer.AgentID
	data["decision"] = r.res.Decision.String()
	r.emit("web4.cip.handshake_completed", data)
	return r.res, nil
}

func (r *run) emit(typ string, data map[string]any) {
	r.cfg.Events.Emit(typ, r.remoteFP, data)
}

// decode reads a schema-checked payload into v.
func decode(env *envelope.Envelope, v any) error {
	if err := json.Unmarshal(env.Payload, v); err != nil {
		return fmt.Errorf("%v payload: %w", env.Type, err)
	}
	return nil
}
