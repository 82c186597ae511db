// Package learn is the node's LIP runtime (SPEC §7): it wires
// protocols/lip into the node:
//
//   - the fetcher (SSRF-safe, allow-list from Config), the built-in
//     extractors and the source tiers feed a lip.Learner;
//   - the liminal queue lives in the node's store (bucket lip.queue), with
//     the node's trust view and overload flag; a goroutine ticks it so that
//     pending claims expire;
//   - what this node learns is shared as LIP_EVIDENCE on the knowledge
//     topic; peers' LIP_EVIDENCE is submitted to the queue as corroboration
//     and, when the page is in reach, re-fetched: a matching content hash
//     makes the claim our own reading, and we share our evidence in turn, so
//     every node that can read the page counts as a corroborator for the
//     others;
//   - accepted claims become knowledge facts: a node that does not know the
//     fact yet proposes it (FACT_PROPOSE with the provenance as sources and
//     a DMP trace), and every node that accepted the claim confirms it
//     (FACT_CONFIRM), so independent readings of one page are the votes of
//     the fact's SPEC §8 consensus; the claim alone never makes the fact
//     accepted mesh-wide;
//   - conflicts and rejections are signed as LIP_CONFLICT / LIP_REJECT,
//     published on the knowledge topic and reported as
//     web4.lip.conflict_issued / web4.lip.reject_issued; a peer's LIP_REJECT
//     withdraws that peer's reading of the fact from our queue (its claim,
//     its corroborations); a peer's LIP_CONFLICT or LIP_ACCEPT is recorded
//     (web4.lip.peer_verdict) and not acted on, since a verdict is not
//     evidence and this node re-derives it from the evidence shared.
//     LIP_ACCEPT is not published: an accepted claim is announced as the
//     fact's FACT_PROPOSE/FACT_CONFIRM, which is what consensus counts.
//
// Lock order: Runtime.mu is a leaf (no call out while held).
//
// Lifecycle: New builds the runtime and registers the LIPFetcher route;
// Start starts its workers and the queue's ticker in Deps.Group; Close
// closes the fetcher and the queue after the group has stopped.
package learn

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/lifecycle"
	"github.com/web4p2p/web4p2p/internal/store"
	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/node/gossip"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/lip"
	"github.com/web4p2p/web4p2p/protocols/lip/extract"
	"github.com/web4p2p/web4p2p/protocols/lip/fetch"
	"github.com/web4p2p/web4p2p/protocols/router"
	"github.com/web4p2p/web4p2p/trust"
)

// Defaults of the LIP runtime (limits of the core are in protocols/lip).
const (
	// DefaultTick is how often the liminal queue re-decides open claims
	// (expiry, trust or overload changes).
	DefaultTick = time.Second
	// lipInbox bounds the peer work (evidence, fetch requests) waiting for
	// the LIP worker; beyond it, peer messages are refused.
	lipInbox = 256
	// lipOutbox bounds the accepted/rejected/conflict notices waiting to be
	// turned into knowledge votes and signed LIP envelopes.
	lipOutbox = 1024
	// lipShared bounds the (uri, hash) pairs remembered as already shared.
	lipShared = 4096
)

// Config configures the node's LIP runtime. The zero value is usable:
// no private address is reachable, every source is unknown (so nothing is
// accepted without two trusted corroborators), claims expire after
// lip.DefaultTTL.
type Config struct {
	// Allow lists address prefixes the fetcher may reach although they are
	// not public (tests and the demo allow 127.0.0.1/32).
	Allow []netip.Prefix
	// TierFile is a source-tier JSON file (lip.TierConfig); Tiers, if set,
	// is used instead (tests, demo).
	TierFile string
	Tiers    *lip.TierConfig
	// TTL is how long a claim may stay pending. Default lip.DefaultTTL.
	TTL time.Duration
	// Tick is how often the queue re-decides open claims. Default
	// DefaultTick.
	Tick time.Duration
	// Rules are the acceptance thresholds; zero fields take the defaults.
	Rules lip.Rules
	// NoRecheck turns off re-fetching the page a peer's evidence names.
	NoRecheck bool
	// RecheckLimits bound those re-fetches per peer and per URI (zero
	// fields: lip.DefaultRecheckLimits).
	RecheckLimits lip.RecheckLimits
	// Resolver resolves host names for the fetcher (tests map names to
	// 127.0.0.1). Default net.DefaultResolver.
	Resolver fetch.Resolver
	// Dial connects the fetcher to a checked "ip:port" (tests record it to
	// prove a refusal sent nothing). Default: a checking net.Dialer.
	Dial fetch.DialFunc
	// FetchTimeout bounds one fetch. Default fetch.DefaultTimeout.
	FetchTimeout time.Duration
	// SearchURL turns a query (LIP_FETCH {query}, `web4p2p learn <query>`)
	// into the URI to fetch: "{query}" in it is replaced by the URL-escaped
	// query, e.g. "https://search.example/claims?q={query}". The result
	// goes through the same fetcher limits, tiers and extractors as any
	// URI. Empty: queries are refused (ErrNoURI) — the node has no search
	// engine of its own.
	SearchURL string
}

// searchResolver returns the query → URI hook of a SearchURL template, or
// nil when none is configured.
func searchResolver(tpl string) func(context.Context, string) (string, error) {
	if tpl == "" {
		return nil
	}
	return func(_ context.Context, q string) (string, error) {
		if strings.TrimSpace(q) == "" {
			return "", fmt.Errorf("%w: empty query", lip.ErrNoURI)
		}
		return strings.ReplaceAll(tpl, "{query}", url.QueryEscape(q)), nil
	}
}

// DefaultConfig returns the SPEC §7 defaults: public addresses only, no
// tier file, TTL 10 min, recheck on.
func DefaultConfig() Config {
	return Config{TTL: lip.DefaultTTL, Tick: DefaultTick, Rules: lip.DefaultRules(), FetchTimeout: fetch.DefaultTimeout}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.TTL <= 0 {
		c.TTL = d.TTL
	}
	if c.Tick <= 0 {
		c.Tick = d.Tick
	}
	if c.FetchTimeout <= 0 {
		c.FetchTimeout = d.FetchTimeout
	}
	return c
}

// ErrNoLIP is returned by the LIP operations of a node whose LIP runtime is
// not running (not started, or closed).
var ErrNoLIP = errors.New("learn: LIP runtime not running")

// errLIPBusy: the LIP worker's inbox is full; the peer message is dropped.
var errLIPBusy = errors.New("learn: LIP inbox full")

// Runtime holds the node's LIP runtime.
type Runtime struct {
	deps    Deps
	cfg     Config
	fetcher *fetch.Fetcher
	tiers   *lip.Tiers
	queue   *lip.Queue
	learner *lip.Learner
	inbox   chan func(context.Context) // peer work: evidence, fetch requests
	outbox  chan func(context.Context) // decisions → knowledge, signed notices

	mu     sync.Mutex
	shared map[string]bool // uri + "\x00" + sha256 already shared as LIP_EVIDENCE
	order  []string        // insertion order of shared, for the bound
}

// Publisher is what the runtime needs of the mesh (node/mesh.Runtime):
// publishing its evidence and turning accepted claims into the facts and
// votes of SPEC §8.
type Publisher interface {
	Publish(ctx context.Context, topic string, raw []byte) error
	ProposeFact(ctx context.Context, f cip.Fact, trace cip.DMPTrace) (string, error)
	VoteFact(ctx context.Context, factID string, confirm bool, confidence float64, notes string) error
}

// Facts is what the runtime reads of the knowledge store.
type Facts interface {
	Fact(id string) (knowledge.Fact, knowledge.Result, bool)
	Votes(id string) []knowledge.Vote
}

// Trust is what the runtime needs of the trust ledger.
type Trust interface {
	State(fp string) trust.State
	Apply(fp string, ev trust.Event, cause string) (*trust.Transition, error)
}

// Recorder records an accepted fact in causal memory (node/human.Runtime).
type Recorder interface {
	RecordFact(factID string, causes []string, summary string) error
}

// Deps are the runtime's collaborators, built by the node before it.
type Deps struct {
	// Store holds the liminal queue and the source tiers.
	Store *store.DB
	// Fingerprint is this node's fingerprint.
	Fingerprint string
	Router      *router.Router
	Publisher   Publisher
	Facts       Facts
	Trust       Trust
	// Recorder may be nil (no causal memory).
	Recorder Recorder
	// Overloaded reports SPEC §10 overload (the queue defers then).
	Overloaded func() bool
	// Sign returns a LIP builder for this node's identity.
	Sign   func() *lip.Builder
	Events *events.Emitter
	Group  *lifecycle.Group
	Now    func() time.Time
}

// ErrConfig marks an invalid LIP configuration; the message names the
// field.
var ErrConfig = errors.New("invalid config")

// New builds the LIP runtime and registers the LIPFetcher route. Config
// errors wrap ErrConfig and name the field.
func New(cfg Config, deps Deps) (*Runtime, error) {
	switch {
	case deps.Store == nil, deps.Router == nil, deps.Publisher == nil, deps.Facts == nil, deps.Trust == nil, deps.Sign == nil, deps.Group == nil:
		return nil, fmt.Errorf("learn: Store, Router, Publisher, Facts, Trust, Sign and Group are required")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Overloaded == nil {
		deps.Overloaded = func() bool { return false }
	}
	cfg = cfg.withDefaults()
	if err := lip.Register(); err != nil {
		return nil, fmt.Errorf("lip schemas: %w", err)
	}
	r := &Runtime{deps: deps, cfg: cfg, shared: map[string]bool{},
		inbox: make(chan func(context.Context), lipInbox), outbox: make(chan func(context.Context), lipOutbox)}
	tc := lip.TierConfig{Default: envelope.TierUnknown}
	switch {
	case cfg.Tiers != nil:
		tc = *cfg.Tiers
	case cfg.TierFile != "":
		var err error
		if tc, err = lip.LoadTierConfig(cfg.TierFile); err != nil {
			return nil, fmt.Errorf("%w: LIP.TierFile: %w", ErrConfig, err)
		}
	}
	tiers, err := lip.OpenTiers(deps.Store, tc, deps.Events, deps.Now)
	if err != nil {
		return nil, fmt.Errorf("%w: LIP.Tiers: %w", ErrConfig, err)
	}
	r.tiers = tiers
	fc := fetch.DefaultConfig()
	fc.Allow = cfg.Allow
	fc.Resolver = cfg.Resolver
	fc.Dial = cfg.Dial
	fc.Timeout = cfg.FetchTimeout
	fc.Now = deps.Now
	fc.Events = deps.Events
	r.fetcher = fetch.New(fc)
	q, err := lip.OpenQueue(deps.Store, lip.QueueConfig{
		Now: deps.Now, TTL: cfg.TTL, Rules: cfg.Rules, View: deps.Trust.State, Tiers: tiers,
		Overloaded: deps.Overloaded, Events: deps.Events,
		OnAccept:   func(e lip.Entry) { r.post(func(ctx context.Context) { r.toKnowledge(ctx, e) }) },
		OnReject:   func(e lip.Entry) { r.post(func(ctx context.Context) { r.issueReject(ctx, e) }) },
		OnConflict: func(c lip.Conflict) { r.post(func(ctx context.Context) { r.issueConflict(ctx, c) }) },
	})
	if err != nil {
		r.fetcher.Close()
		return nil, err
	}
	r.queue = q
	r.learner = &lip.Learner{Fetcher: r.fetcher, Extractors: extract.Builtin(), Tiers: tiers, Queue: q,
		Recheck: !cfg.NoRecheck, RecheckLimits: cfg.RecheckLimits, Now: deps.Now, Events: deps.Events, Resolve: searchResolver(cfg.SearchURL)}
	if _, err := deps.Router.Register(router.LIPFetcher, router.HandlerFunc(r.handleFetch)); err != nil {
		r.fetcher.Close()
		_ = q.Close()
		return nil, err
	}
	return r, nil
}

// Start starts the inbox and outbox workers and the queue's ticker.
func (r *Runtime) Start() {
	r.deps.Group.Go(r.work(r.inbox))
	r.deps.Group.Go(r.work(r.outbox))
	r.deps.Group.Go(func(ctx context.Context) {
		if err := r.queue.Run(ctx, r.cfg.Tick); err != nil && ctx.Err() == nil {
			r.deps.Events.Error("lip", "tick", r.deps.Fingerprint, err, nil)
		}
	})
}

// Close closes the fetcher and the queue (after the node's group has
// stopped the workers). Idempotent.
func (r *Runtime) Close() error {
	r.fetcher.Close()
	return r.queue.Close()
}

// Queue returns the liminal queue.
func (r *Runtime) Queue() *lip.Queue { return r.queue }

// Learner returns the learner (fetcher, extractors, tiers, queue).
func (r *Runtime) Learner() *lip.Learner { return r.learner }

// Handler handles the LIP types of the Knowledge route (Types):
// LIP_EVIDENCE from peers is queued for the LIP worker (submission,
// re-fetch, corroboration); LIP_CONFLICT, LIP_ACCEPT and LIP_REJECT are
// recorded as events (a peer's verdict is not evidence: only its
// LIP_EVIDENCE counts). The node composes it with the knowledge handler in
// a router.TypeMux.
func (r *Runtime) Handler() router.Handler {
	return router.HandlerFunc(func(ctx context.Context, m *router.Message) error {
		env := m.Env
		switch env.Type {
		case envelope.LIPEvidence:
			return r.enqueue(func(ctx context.Context) { r.Evidence(ctx, env) })
		case envelope.LIPConflict, envelope.LIPAccept, envelope.LIPReject:
			p, err := lip.Decode(env)
			if err != nil {
				return err
			}
			r.deps.Events.Emit("web4.lip.peer_verdict", env.MsgID, map[string]any{
				"type": env.Type.String(), "sender": env.Sender.Fingerprint, "payload": p})
			if rp, ok := p.(*lip.RejectPayload); ok && env.Sender.Fingerprint != r.deps.Fingerprint {
				return r.enqueue(func(ctx context.Context) { r.withdraw(ctx, env, rp) })
			}
			return nil
		}
		return fmt.Errorf("lip: %s is not a LIP message of the knowledge route", env.Type)
	})
}

// withdraw acts on a peer's LIP_REJECT: the peer takes back its own
// reading of the fact, so its claim in our queue and its corroboration of
// ours go (lip.Queue.Withdraw). A conflict or an acceptance a peer reports
// is not acted on: it is a verdict, not evidence, and this node re-derives
// both from the evidence the peer shared.
func (r *Runtime) withdraw(ctx context.Context, env *envelope.Envelope, p *lip.RejectPayload) {
	changed, err := r.queue.Withdraw(ctx, env.Sender.Fingerprint, p.FactID, clip("withdrawn by its reader: "+p.Reason.String(), 256))
	if err != nil {
		if ctx.Err() == nil {
			r.deps.Events.Error("lip", "withdraw", env.Sender.Fingerprint, err, map[string]any{"msg_id": env.MsgID})
		}
		return
	}
	r.deps.Events.Emit("web4.lip.peer_withdrew", env.MsgID, map[string]any{
		"sender": env.Sender.Fingerprint, "fact_id": p.FactID, "claims": len(changed)})
}

// Types are the LIP types of the Knowledge route.
func Types() []envelope.Type {
	return []envelope.Type{envelope.LIPEvidence, envelope.LIPConflict, envelope.LIPAccept, envelope.LIPReject}
}

// work runs the jobs of one box until the node closes.
func (r *Runtime) work(box chan func(context.Context)) func(context.Context) {
	return func(ctx context.Context) {
		for {
			select {
			case <-ctx.Done():
				return
			case job := <-box:
				job(ctx)
			}
		}
	}
}

// post queues a decision notice for the outbox worker. Queue delegates call
// it on the goroutine of the queue operation, so it never blocks: a full
// outbox is an error event (the claim's state in the queue stays right; only
// its knowledge vote or notice is lost).
func (r *Runtime) post(job func(context.Context)) {
	select {
	case r.outbox <- job:
	default:
		r.deps.Events.Error("lip", "outbox_full", r.deps.Fingerprint, errLIPBusy, nil)
	}
}

// Request is what the node is asked to learn: a URI (or a query the
// runtime resolves — this build has no resolver, so a query must be a URI)
// and the statements the verbatim extractor looks for.
type Request struct {
	URI        string   `json:"uri,omitempty"`
	Query      string   `json:"query,omitempty"`
	Statements []string `json:"statements,omitempty"`
}

// Result is what one Learn did.
type Result struct {
	// URI is the final URI read, ContentSHA256 its content hash and Tier the
	// source's tier now.
	URI           string        `json:"uri"`
	ContentSHA256 string        `json:"content_sha256"`
	Tier          envelope.Tier `json:"tier"`
	// Claims are the queue entries of the claims extracted, after their
	// first decision.
	Claims []lip.Entry `json:"claims"`
	// Shared is the msg_id of the LIP_EVIDENCE published to the mesh ("" if
	// nothing was extracted or the node has no mesh).
	Shared string `json:"shared,omitempty"`
	// ExtractError says what the extractors could not read ("" if all).
	ExtractError string `json:"extract_error,omitempty"`
}

// Learn fetches req's page, extracts claims into the liminal queue and
// shares the evidence on the knowledge topic. A refused fetch returns the
// fetcher's error (errors.Is with the fetch sentinels) and queues nothing.
func (r *Runtime) Learn(ctx context.Context, req Request) (*Result, error) {
	fp := lip.FetchPayload{URI: req.URI, Query: req.Query, Constraints: req.Statements}
	if fp.Constraints == nil {
		fp.Constraints = []string{}
	}
	learned, err := r.learner.Learn(ctx, fp)
	if learned == nil {
		return nil, err
	}
	out := &Result{URI: learned.Provenance.URI, ContentSHA256: learned.Provenance.ContentSHA256,
		Tier: learned.Provenance.Tier, Claims: learned.Entries}
	if out.Claims == nil {
		out.Claims = []lip.Entry{}
	}
	if learned.ExtractErr != nil {
		out.ExtractError = clip(learned.ExtractErr.Error(), lip.MaxReasonBytes)
	}
	if err != nil {
		return out, err
	}
	if len(learned.Evidence.Claims) > 0 {
		id, serr := r.share(ctx, learned.Provenance, learned.Evidence)
		if serr != nil {
			r.deps.Events.Error("lip", "share", r.deps.Fingerprint, serr, map[string]any{"uri": clip(learned.Provenance.URI, 512)})
		}
		out.Shared = id
	}
	return out, nil
}

// Claims lists the liminal queue (state 0: all), oldest first.
func (r *Runtime) Claims(state lip.State) ([]lip.Entry, error) {
	out := r.queue.List(state)
	if out == nil {
		out = []lip.Entry{}
	}
	return out, nil
}

// Tier returns a source host's current tier.
func (r *Runtime) Tier(host string) (envelope.Tier, error) {
	return r.tiers.Tier(host), nil
}

// share publishes our LIP_EVIDENCE for a page once per (uri, content hash)
// and returns its msg_id ("" when it was shared before).
func (r *Runtime) share(ctx context.Context, prov lip.Provenance, p lip.EvidencePayload) (string, error) {
	key := prov.URI + "\x00" + prov.ContentSHA256
	r.mu.Lock()
	if r.shared[key] {
		r.mu.Unlock()
		return "", nil
	}
	r.shared[key] = true
	r.order = append(r.order, key)
	if len(r.order) > lipShared {
		delete(r.shared, r.order[0])
		r.order = r.order[1:]
	}
	r.mu.Unlock()
	msg, err := r.deps.Sign().Evidence(lip.Broadcast, prov, p)
	if err != nil {
		return "", err
	}
	if err := r.deps.Publisher.Publish(ctx, gossip.TopicKnowledge, msg.Wire); err != nil {
		return "", fmt.Errorf("lip: publish evidence: %w", err)
	}
	r.deps.Events.Emit("web4.lip.evidence_shared", msg.Env.MsgID, map[string]any{
		"uri": clip(prov.URI, 512), "sha256": prov.ContentSHA256, "claims": len(p.Claims), "tier": prov.Tier.String()})
	return msg.Env.MsgID, nil
}

// enqueue hands peer work to the inbox worker without blocking the
// transport's reader.
func (r *Runtime) enqueue(job func(context.Context)) error {
	select {
	case r.inbox <- job:
		return nil
	default:
		return errLIPBusy
	}
}

// Evidence submits a peer's verified LIP_EVIDENCE (and our re-fetch of
// the page); when our re-fetch matched, we share our own evidence so the
// peer counts us as a corroborator too. Handler queues it for the inbox
// worker; it is exported for tests and fuzzing that drive it directly.
func (r *Runtime) Evidence(ctx context.Context, env *envelope.Envelope) {
	entries, ev, err := r.learner.SubmitEvidence(ctx, env)
	if err != nil {
		r.deps.Events.Error("lip", "evidence", env.Sender.Fingerprint, err, map[string]any{"msg_id": env.MsgID})
		if errors.Is(err, lip.ErrInvalidPayload) && env.Sender.Fingerprint != r.deps.Fingerprint {
			// The signer (verified) sent evidence that contradicts itself
			// (fact ids that are not its statements, dangling evidence):
			// an invalid message, charged like any other (SPEC §5).
			if _, terr := r.deps.Trust.Apply(env.Sender.Fingerprint, trust.InvalidMessage, env.MsgID); terr != nil {
				r.deps.Events.Error("lip", "trust_apply", env.Sender.Fingerprint, terr, nil)
			}
		}
		if len(entries) == 0 {
			return
		}
	}
	if ev == nil {
		return
	}
	for _, e := range entries {
		prov := e.Claim.Provenance
		if e.Claim.Origin != "" || prov.ContentSHA256 != ev.ContentSHA256 {
			continue
		}
		// Our own reading of the same bytes: the claims the peer read
		// there are ours to vouch for as well.
		if _, err := r.share(ctx, prov, *ev); err != nil {
			r.deps.Events.Error("lip", "share", r.deps.Fingerprint, err, map[string]any{"uri": clip(prov.URI, 512)})
		}
		return
	}
}

// handleFetch serves a trusted peer's LIP_FETCH (the router lets only
// trusted peers send it): we learn from the page ourselves and share the
// evidence on the knowledge topic, like any other learning.
func (r *Runtime) handleFetch(ctx context.Context, m *router.Message) error {
	env := m.Env
	p, err := lip.Decode(env)
	if err != nil {
		return err
	}
	req, ok := p.(*lip.FetchPayload)
	if !ok {
		return fmt.Errorf("lip: LIP_FETCH decoded as %T", p)
	}
	lr := Request{URI: req.URI, Query: req.Query, Statements: req.Constraints}
	return r.enqueue(func(ctx context.Context) {
		if _, err := r.Learn(ctx, lr); err != nil {
			r.deps.Events.Error("lip", "fetch_request", env.Sender.Fingerprint, err, map[string]any{"msg_id": env.MsgID})
		}
	})
}

// toKnowledge turns an accepted claim into a knowledge fact: proposed by us
// if nobody has proposed it yet, confirmed otherwise. The fact's sources
// carry the provenance and the decision; the DMP trace says how it was read
// and why it was accepted; causal memory records it under the fact id.
func (r *Runtime) toKnowledge(ctx context.Context, e lip.Entry) {
	f, err := lip.FactFor(e, r.deps.Fingerprint, r.deps.Now())
	if err != nil {
		r.deps.Events.Error("lip", "fact", e.ID, err, nil)
		return
	}
	sources := lip.FactSources(e)
	proposed := false
	if _, _, known := r.deps.Facts.Fact(f.ID); !known {
		c := e.Claim
		_, err = r.deps.Publisher.ProposeFact(ctx, cip.Fact{Statement: f.Statement, Domain: f.Domain, Confidence: f.Confidence,
			Sources: sources, Context: "lip", Subject: c.Subject, Predicate: c.Predicate, Object: c.Object},
			cip.DMPTrace{DecisionID: e.ID, Steps: lipSteps(e), Counterfactuals: lipCounterfactuals(e), Evidence: sources})
		proposed = err == nil
	}
	if err == nil {
		// Confirm as well: when several nodes accept the same page at
		// once, one proposal is kept (knowledge.mergeFact) and the others'
		// confirmations are the fact's quorum; our own confirmation of our
		// own proposal does not count, so it costs nothing.
		err = r.deps.Publisher.VoteFact(ctx, f.ID, true, f.Confidence, clip("lip: "+e.Reason.String()+" "+e.Claim.Provenance.URI, 256))
	}
	if r.deps.Recorder != nil {
		if err := r.deps.Recorder.RecordFact(f.ID, []string{e.ID}, clip("learned: "+f.Statement, 256)); err != nil {
			r.deps.Events.Error("lip", "causal_memory", e.ID, err, map[string]any{"fact_id": f.ID})
		}
	}
	data := map[string]any{"claim_id": e.ID, "fact_id": f.ID, "statement": clip(f.Statement, 512), "reason": e.Reason.String()}
	if proposed {
		r.deps.Events.Emit("web4.lip.fact_proposed", e.ID, data, e.ID)
	}
	r.deps.Events.Emit("web4.lip.fact_confirmed", e.ID, data, e.ID)
}

// lipSteps is the DMP trace of an accepted claim: read, extracted, decided.
func lipSteps(e lip.Entry) []string {
	p := e.Claim.Provenance
	steps := []string{
		fmt.Sprintf("fetched %s at %s (sha256 %s)", p.URI, p.RetrievedAt.UTC().Format(time.RFC3339), p.ContentSHA256),
		fmt.Sprintf("extracted by %s: %q is %s (confidence %.2f)", e.Claim.Extractor, e.Claim.Statement, e.Claim.Verdict, e.Claim.Confidence),
	}
	switch e.Reason {
	case lip.ReasonTier:
		steps = append(steps, fmt.Sprintf("accepted: source tier %s ≥ medium", e.Tier))
	default:
		steps = append(steps, fmt.Sprintf("accepted: %s by %d trusted peers (%s)", e.Reason, len(e.Support), strings.Join(e.Support, ", ")))
	}
	return steps
}

// lipCounterfactuals says what would have kept the claim out.
func lipCounterfactuals(e lip.Entry) []string {
	return []string{
		"with a source tier below medium and fewer than two trusted corroborators it would have stayed pending",
		"a contradicting claim of more weight would have rejected it; one of equal weight would have disputed it",
	}
}

// issueReject withdraws our confirmation of the claim's fact if we had
// given one (the claim was accepted, then lost a conflict or was
// retracted: our latest vote becomes FACT_REJECT), then, for a claim this
// node read itself (a peer's claim is the peer's to retract), signs
// LIP_REJECT, publishes it on the knowledge topic and reports it.
func (r *Runtime) issueReject(ctx context.Context, e lip.Entry) {
	if factID, err := envelope.FactID(e.Claim.Domain, e.Claim.Assertion()); err == nil && r.confirmed(factID) {
		if err := r.deps.Publisher.VoteFact(ctx, factID, false, e.Claim.Confidence, clip("lip: "+e.Reason.String(), 256)); err != nil && ctx.Err() == nil {
			r.deps.Events.Error("lip", "knowledge", e.ID, err, map[string]any{"fact_id": factID})
		}
	}
	if e.Claim.Origin != "" {
		return
	}
	msg, err := r.deps.Sign().Reject(lip.Broadcast, e)
	if err != nil {
		r.deps.Events.Error("lip", "reject", e.ID, err, nil)
		return
	}
	if err := r.deps.Publisher.Publish(ctx, gossip.TopicKnowledge, msg.Wire); err != nil && ctx.Err() == nil {
		r.deps.Events.Error("lip", "reject_publish", e.ID, err, map[string]any{"msg_id": msg.Env.MsgID})
	}
	r.deps.Events.Emit("web4.lip.reject_issued", e.ID, map[string]any{"msg_id": msg.Env.MsgID, "claim_id": e.ID,
		"fact_id": e.Claim.FactID, "reason": e.Reason.String(), "statement": clip(e.Claim.Statement, 512)}, e.ID)
}

// confirmed reports whether our latest vote on factID is a confirmation.
func (r *Runtime) confirmed(factID string) bool {
	for _, v := range r.deps.Facts.Votes(factID) {
		if v.Voter == r.deps.Fingerprint {
			return v.Kind == knowledge.Confirm
		}
	}
	return false
}

// issueConflict signs LIP_CONFLICT for a detected conflict, publishes it
// on the knowledge topic and reports it.
func (r *Runtime) issueConflict(ctx context.Context, c lip.Conflict) {
	msg, err := r.deps.Sign().Conflict(lip.Broadcast, c)
	if err != nil {
		r.deps.Events.Error("lip", "conflict", c.A.ID, err, nil)
		return
	}
	if err := r.deps.Publisher.Publish(ctx, gossip.TopicKnowledge, msg.Wire); err != nil && ctx.Err() == nil {
		r.deps.Events.Error("lip", "conflict_publish", c.A.ID, err, map[string]any{"msg_id": msg.Env.MsgID})
	}
	r.deps.Events.Emit("web4.lip.conflict_issued", c.A.ID, map[string]any{"msg_id": msg.Env.MsgID, "claim_id": c.A.ID,
		"with_claim_id": c.B.ID, "kind": c.Kind.String(), "severity": c.Severity.String(), "winner": c.Winner,
		"statement": clip(c.A.Claim.Statement, 512)}, c.A.ID)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
