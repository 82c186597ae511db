package mesh

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/lifecycle"
	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/node/gossip"
	"github.com/web4p2p/web4p2p/node/peers"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/router"
	"github.com/web4p2p/web4p2p/trust"
)

// Penaliser charges the authenticated peer that delivered a bad message
// (node/peers.Runtime).
type Penaliser interface {
	Penalise(fp string, remote peer.ID, err error, cause string)
}

// Deps are the runtime's collaborators, built by the node before it.
type Deps struct {
	Host host.Host
	// Fingerprint is this node's fingerprint.
	Fingerprint string
	Trust       *trust.Ledger
	Router      *router.Router
	Store       *knowledge.Store
	// Sign returns a CIP builder for this node's identity.
	Sign      func() *cip.Builder
	Penaliser Penaliser
	Events    *events.Emitter
	Group     *lifecycle.Group
	// Record, if set, keeps every gossip envelope this node accepted or
	// published, for anti-entropy (node/reconcile).
	Record func(env *envelope.Envelope)
}

// Config tunes the runtime.
type Config struct {
	// Gossip tunes GossipSub; the zero value means gossip.DefaultConfig()
	// (the hooks are set by the runtime).
	Gossip gossip.Config
	// Registerer receives the gossip metrics.
	Registerer prometheus.Registerer
	// Now is the clock.
	Now func() time.Time
	// ExpireEvery is how often pending facts are checked for expiry
	// (default 5 s).
	ExpireEvery time.Duration
	// SyncMaxAge is how old an envelope that arrives over anti-entropy
	// sync (or is released from the hold) may be (default 24 h).
	SyncMaxAge time.Duration
}

// topicTypes lists what each GossipSub topic may carry (SPEC §5, §8);
// anything else on a topic is rejected before it is forwarded.
var topicTypes = map[string]map[envelope.Type]bool{
	gossip.TopicKnowledge: {
		envelope.FactPropose: true, envelope.FactChallenge: true, envelope.FactConfirm: true,
		envelope.FactReject: true, envelope.DecisionShare: true, envelope.LIPEvidence: true,
		envelope.LIPConflict: true, envelope.LIPAccept: true, envelope.LIPReject: true,
	},
	gossip.TopicTrust: {envelope.TrustAttest: true},
}

// errWrongTopic: an envelope type that does not belong on the topic.
var errWrongTopic = errors.New("envelope type not allowed on this topic")

// ErrNotOpen: the mesh is not open (before Open, or closed).
var ErrNotOpen = errors.New("mesh: not open")

// Runtime is the mesh runtime of one node.
type Runtime struct {
	cfg       Config
	deps      Deps
	validator *envelope.Validator // gossip (check 8 = gossipPolicy)
	synced    *envelope.Validator // the same, for kept envelopes (MaxAge)
	local     *envelope.Validator // own publications (check 8 = Policy.Local)
	hold      *hold
	book      *trust.AttestationBook
	detector  *trust.Detector

	mu sync.Mutex
	g  *gossip.Gossip
}

// New builds the runtime and registers the TrustPropagation route.
func New(cfg Config, deps Deps) (*Runtime, error) {
	switch {
	case deps.Host == nil, deps.Trust == nil, deps.Router == nil, deps.Store == nil, deps.Sign == nil, deps.Penaliser == nil, deps.Group == nil:
		return nil, fmt.Errorf("mesh: Host, Trust, Router, Store, Sign, Penaliser and Group are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ExpireEvery <= 0 {
		cfg.ExpireEvery = 5 * time.Second
	}
	if cfg.SyncMaxAge <= 0 {
		cfg.SyncMaxAge = 24 * time.Hour
	}
	r := &Runtime{cfg: cfg, deps: deps, hold: newHold()}
	// Live gossip and sync share one replay window: an envelope that
	// arrives both ways is processed once.
	replay := envelope.NewReplayCache(envelope.DefaultReplayWindow, envelope.DefaultReplayCapacity)
	r.validator = envelope.NewValidator(envelope.Config{
		Now: cfg.Now, LocalFingerprint: deps.Fingerprint, Gossip: true,
		Replay: replay, Policy: r.gossipPolicy, Events: deps.Events,
	})
	r.synced = envelope.NewValidator(envelope.Config{
		Now: cfg.Now, LocalFingerprint: deps.Fingerprint, Gossip: true, MaxAge: cfg.SyncMaxAge,
		Replay: replay, Policy: r.gossipPolicy, Events: deps.Events,
	})
	r.local = envelope.NewValidator(envelope.Config{
		Now: cfg.Now, LocalFingerprint: deps.Fingerprint, Gossip: true,
		Replay: envelope.NewReplayCache(envelope.DefaultReplayWindow, envelope.DefaultReplayCapacity),
		Policy: deps.Router.Policy().Local, Events: deps.Events,
	})
	book, err := trust.OpenAttestationBook(deps.Trust, trust.BookConfig{})
	if err != nil {
		return nil, err
	}
	r.book = book
	r.detector = trust.NewDetector(trust.DetectorConfig{Now: cfg.Now})
	if _, err := deps.Router.Register(router.TrustPropagation, router.HandlerFunc(r.handleAttest)); err != nil {
		return nil, err
	}
	return r, nil
}

// Open starts GossipSub on the host, joins the topics and starts the
// expiry loop.
func (r *Runtime) Open(ctx context.Context) error {
	gcfg := r.cfg.Gossip
	if gcfg.ValidateQueue == 0 {
		gcfg = gossip.DefaultConfig()
	}
	gcfg.Validate = r.validateGossip
	gcfg.Score = r.score
	gcfg.Events = r.deps.Events
	gcfg.Registerer = r.cfg.Registerer
	gcfg.Now = r.cfg.Now
	g, err := gossip.New(ctx, r.deps.Host, gcfg)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.g = g
	r.mu.Unlock()
	for topic := range topicTypes {
		if err := g.Join(topic, func(from peer.ID, raw []byte, data any) { r.deliver(topic, from, data) }); err != nil {
			return err
		}
	}
	// Facts whose expiry passed without quorum are rejected (SPEC §8).
	r.deps.Group.Every(r.cfg.ExpireEvery, func(context.Context) {
		r.applyChanges(r.deps.Store.ExpireDue(r.cfg.Now()))
	})
	return nil
}

// Close stops GossipSub. Idempotent.
func (r *Runtime) Close() error {
	g := r.Gossip()
	if g == nil {
		return nil
	}
	return g.Close()
}

// Gossip returns the GossipSub layer (nil before Open).
func (r *Runtime) Gossip() *gossip.Gossip {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.g
}

// TrustChanged is the node's trust subscription: the facts the peer voted
// on or proposed are re-evaluated (SPEC §8: fact state is a function of
// votes and the local trust view) and the change takes effect in
// GossipSub scoring at once.
func (r *Runtime) TrustChanged(tr trust.Transition) {
	if g := r.Gossip(); g != nil {
		g.RefreshScores()
	}
	if tr.To == trust.Probing || tr.To == trust.Trusted {
		if held := r.hold.take(tr.Peer); len(held) > 0 {
			r.deps.Group.Go(func(ctx context.Context) { r.release(ctx, tr.Peer, held) })
		}
	} else if tr.To == trust.Blacklisted {
		r.hold.take(tr.Peer) // never admitted: forget
	}
	r.deps.Group.Go(func(ctx context.Context) {
		changes, err := r.deps.Store.TrustChanged(ctx, tr.Peer)
		if err != nil && ctx.Err() == nil {
			r.deps.Events.Error("knowledge", "reevaluate", tr.Peer, err, nil)
		}
		r.applyChanges(changes)
	})
}

// score maps the local trust view to GossipSub's application score, so
// the gossip layer itself stops forwarding for blacklisted peers.
func (r *Runtime) score(p peer.ID) float64 {
	fp, err := peers.FingerprintOf(p)
	if err != nil {
		return gossip.ScoreProbing
	}
	switch r.deps.Trust.State(fp) {
	case trust.Trusted:
		return gossip.ScoreTrusted
	case trust.Untrusted:
		return gossip.ScoreUntrusted
	case trust.Blacklisted:
		return gossip.ScoreBlacklisted
	}
	return gossip.ScoreProbing
}

// gossipPolicy is check 8 for gossip: the router's §4.3 table, except that
// a TRUST_ATTEST carrying a proof is admitted from any signer that is not
// blacklisted or untrusted here. SPEC §5 has every receiver check a proof
// itself, so the attester's standing is irrelevant to it — and a proof
// must be able to cross parts of the mesh that never met its attester, or
// an equivocator would keep its standing there.
func (r *Runtime) gossipPolicy(env *envelope.Envelope) error {
	if env.Type == envelope.TrustAttest && carriesProof(env.Payload) {
		switch r.deps.Trust.State(env.Sender.Fingerprint) {
		case trust.Blacklisted, trust.Untrusted:
		default:
			return nil
		}
	}
	return r.deps.Router.Policy().Envelope(env)
}

// carriesProof reports whether a TRUST_ATTEST payload embeds the two (or
// more) signed envelopes of a proof.
func carriesProof(payload []byte) bool {
	a, err := trust.ParseAttestation(payload)
	return err == nil && proofOf(a)
}

func proofOf(a trust.Attestation) bool {
	k := 0
	for _, e := range a.Evidence {
		if e.Envelope != nil {
			k++
		}
	}
	return k >= 2
}

// validateGossip runs the envelope validator before anything is delivered
// or forwarded, and hands the verified envelope on to deliver.
// Cryptographic and format failures charge the delivering peer (SPEC §1);
// failures that depend on our own view (trust, clock, already seen) reject
// without blaming a relayer that could not know.
func (r *Runtime) validateGossip(_ context.Context, topic string, from peer.ID, raw []byte) (any, error) {
	if from == r.deps.Host.ID() {
		return nil, nil // our own publish, verified by Publish
	}
	env, err := r.check(r.validator, topic, from, raw)
	if err != nil {
		return nil, err
	}
	return env, nil
}

// check is the receive check of a gossip envelope, live or kept: the
// envelope validator, the topic, and a TRUST_ATTEST's payload and proof.
// Cryptographic and format failures charge the delivering peer (SPEC §1);
// failures that depend on our own view (trust, clock, already seen) reject
// without blaming a relayer that could not know (gossip.ErrIgnore). An
// envelope refused only because its signer is not known here yet is held
// until it is (hold), then checked again. topic "" admits every gossip
// type (sync carries them all).
func (r *Runtime) check(v *envelope.Validator, topic string, from peer.ID, raw []byte) (*envelope.Envelope, error) {
	fromFP, err := peers.FingerprintOf(from)
	if err != nil {
		return nil, err
	}
	if r.deps.Trust.State(fromFP) == trust.Blacklisted {
		return nil, fmt.Errorf("relayed by blacklisted peer %s", from)
	}
	env, err := v.Validate(raw)
	if err != nil {
		switch {
		case errors.Is(err, envelope.ErrInvalidEnvelope), errors.Is(err, envelope.ErrSignatureMismatch), errors.Is(err, envelope.ErrPayloadSchema):
			// Broken or forged: reject (pubsub scoring charges the
			// deliverer) and count it against the deliverer's trust.
			r.deps.Penaliser.Penalise(fromFP, from, err, msgIDOf(env))
			return nil, err
		case errors.Is(err, envelope.ErrTrustViolation) && env != nil && r.deps.Trust.State(env.Sender.Fingerprint) == trust.Unknown:
			// A signer we have not met yet: keep it for when we do (its
			// msg_id is not burnt, see envelope check 6).
			if r.hold.put(env.Sender.Fingerprint, heldEnvelope{raw: raw, from: from, topic: topic, at: r.cfg.Now()}) {
				r.deps.Events.Emit("web4.mesh.held", env.MsgID, map[string]any{"signer": env.Sender.Fingerprint, "type": env.Type.String()})
			}
			return nil, fmt.Errorf("%w: held until its signer is known: %v", gossip.ErrIgnore, err)
		default:
			// Seen already, outside our clock window, or a signer our
			// trust view does not admit: drop without forwarding, but do
			// not blame a relayer who could not know.
			return nil, fmt.Errorf("%w: %v", gossip.ErrIgnore, err)
		}
	}
	if !allowedOn(topic, env.Type) {
		err := fmt.Errorf("%w: %s on %s", errWrongTopic, env.Type, topic)
		r.deps.Events.Error("gossip", "wrong_topic", from.String(), err, map[string]any{"msg_id": env.MsgID})
		r.deps.Penaliser.Penalise(fromFP, from, err, env.MsgID)
		return nil, err
	}
	if env.Type == envelope.TrustAttest {
		if err := r.checkAttestation(fromFP, from, env); err != nil {
			return nil, err
		}
	}
	return env, nil
}

// allowedOn reports whether t belongs on topic ("" : any gossip topic).
func allowedOn(topic string, t envelope.Type) bool {
	if topic != "" {
		return topicTypes[topic][t]
	}
	for _, ts := range topicTypes {
		if ts[t] {
			return true
		}
	}
	return false
}

// ApplySynced takes an envelope a peer sent over anti-entropy sync down the
// same checks and routing as a live gossip envelope (it may be older, up
// to Config.SyncMaxAge). It returns nil if the envelope was accepted.
func (r *Runtime) ApplySynced(ctx context.Context, from peer.ID, raw []byte) error {
	env, err := r.check(r.synced, "", from, raw)
	if err != nil {
		return err
	}
	return r.route(ctx, from, env, "sync")
}

// release checks and routes the envelopes held for signer, now known.
func (r *Runtime) release(ctx context.Context, signer string, held []heldEnvelope) {
	n := 0
	for _, h := range held {
		env, err := r.check(r.synced, h.topic, h.from, h.raw)
		if err != nil {
			continue
		}
		if r.route(ctx, h.from, env, h.topic) == nil {
			n++
		}
	}
	r.deps.Events.Emit("web4.mesh.released", signer, map[string]any{"signer": signer, "held": len(held), "accepted": n})
}

// route hands a checked envelope to the router and, once accepted, to the
// anti-entropy log.
func (r *Runtime) route(ctx context.Context, from peer.ID, env *envelope.Envelope, channel string) error {
	fromFP, err := peers.FingerprintOf(from)
	if err != nil {
		return err
	}
	if err := r.deps.Router.Route(ctx, &router.Message{Env: env, Peer: fromFP, PeerID: from.String(), Channel: channel}); err != nil {
		return err
	}
	if r.deps.Record != nil {
		r.deps.Record(env)
	}
	return nil
}

// checkAttestation is what every receiver checks of a TRUST_ATTEST, so a
// relay forwards only what its neighbours accept: the payload parses, and
// a proof holds (SPEC §5: every receiver checks the proof itself). A
// payload that does not parse is rejected like any broken envelope (the
// relay should have refused it). A proof that does not hold is charged to
// the attester who signed it (forged evidence is proven malice), never to
// the relay, and is dropped without forwarding.
func (r *Runtime) checkAttestation(fromFP string, from peer.ID, env *envelope.Envelope) error {
	a, err := trust.ParseAttestation(env.Payload)
	if err != nil {
		r.deps.Penaliser.Penalise(fromFP, from, err, env.MsgID)
		return err
	}
	if !proofOf(a) {
		return nil
	}
	if _, err := trust.VerifyProof(env.Payload, nil); err != nil {
		attester := env.Sender.Fingerprint
		r.deps.Events.Error("trust", "invalid_proof", attester, err, map[string]any{"msg_id": env.MsgID, "relay": fromFP})
		if _, aerr := r.deps.Trust.Apply(attester, trust.ProofFailure(err), env.MsgID); aerr != nil {
			r.deps.Events.Error("trust", "trust_apply", attester, aerr, nil)
		}
		return fmt.Errorf("%w: %v", gossip.ErrIgnore, err)
	}
	return nil
}

func msgIDOf(env *envelope.Envelope) string {
	if env == nil {
		return ""
	}
	return env.MsgID
}

// deliver routes a gossip envelope verified by validateGossip. Peer is the
// relayer that delivered it; the signer is in the envelope.
func (r *Runtime) deliver(topic string, from peer.ID, data any) {
	env, ok := data.(*envelope.Envelope)
	if !ok {
		r.deps.Events.Error("gossip", "deliver", from.String(), fmt.Errorf("message without its verified envelope (%T)", data), nil)
		return
	}
	_ = r.route(r.deps.Group.Context(), from, env, topic)
}

// locallyApplied are the types this node applies to its own store before
// gossiping them: its own proposals and votes count in its own tally.
var locallyApplied = map[envelope.Type]bool{
	envelope.FactPropose: true, envelope.FactConfirm: true, envelope.FactReject: true, envelope.FactChallenge: true,
}

// Publish publishes an envelope this node signed (receiver "*") on topic.
// It signs nothing. The envelope is verified like any other (check 8 =
// router.Policy.Local); a proposal or vote is applied to this node's own
// store through the router first.
func (r *Runtime) Publish(ctx context.Context, topic string, raw []byte) error {
	g := r.Gossip()
	if g == nil {
		return ErrNotOpen
	}
	env, err := r.local.Validate(raw)
	if err != nil {
		return err
	}
	if !topicTypes[topic][env.Type] {
		return fmt.Errorf("%w: %s on %s", errWrongTopic, env.Type, topic)
	}
	if env.Sender.Fingerprint != r.deps.Fingerprint {
		return fmt.Errorf("publish: envelope signed by %s, not this node", env.Sender.Fingerprint)
	}
	if locallyApplied[env.Type] {
		msg := &router.Message{Env: env, Local: true, Peer: r.deps.Fingerprint, PeerID: r.deps.Host.ID().String(), Channel: topic}
		if err := r.deps.Router.Route(ctx, msg); err != nil {
			return err
		}
	}
	if err := g.Publish(ctx, topic, raw); err != nil {
		return err
	}
	if r.deps.Record != nil {
		r.deps.Record(env)
	}
	return nil
}
