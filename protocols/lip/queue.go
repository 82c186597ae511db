package lip

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/store"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/trust"
)

// State is a claim's place in the liminal queue. The zero value is invalid.
type State uint8

// Queue states (SPEC §7).
const (
	// Pending: waiting for tier, corroboration or attention.
	Pending State = iota + 1
	// Accepted: handed to the knowledge base (terminal unless retracted).
	Accepted
	// Rejected: refused (terminal).
	Rejected
	// Disputed: in an unresolved conflict; re-decided as evidence arrives,
	// rejected on expiry.
	Disputed
)

var stateNames = []string{"", "pending", "accepted", "rejected", "disputed"}

// String returns the state name.
func (s State) String() string { return enumName(stateNames, uint8(s)) }

// MarshalText implements encoding.TextMarshaler.
func (s State) MarshalText() ([]byte, error) { return enumMarshal(stateNames, uint8(s)) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *State) UnmarshalText(b []byte) error { return enumUnmarshal(stateNames, b, (*uint8)(s)) }

// Open reports whether the state can still change by evaluation.
func (s State) Open() bool { return s == Pending || s == Disputed }

// Entry is one claim in the queue with its history-relevant state.
type Entry struct {
	ID    string `json:"id"`
	Claim Claim  `json:"claim"`
	State State  `json:"state"`
	// Reason and Detail explain the last decision.
	Reason Reason `json:"reason"`
	Detail string `json:"detail,omitempty"`
	// Tier is the source tier at the last decision.
	Tier           envelope.Tier   `json:"tier"`
	Corroborations []Corroboration `json:"corroborations,omitempty"`
	// Support lists the trusted corroborators counted at the last decision.
	Support []string `json:"support,omitempty"`
	// Conflicts lists the ids of entries this one was found to conflict with.
	Conflicts []string  `json:"conflicts,omitempty"`
	Submitted time.Time `json:"submitted"`
	Expires   time.Time `json:"expires"`
	Updated   time.Time `json:"updated"`
	// Version increases with every change; the store never overwrites a
	// newer version with an older one.
	Version uint64 `json:"version"`
}

func (e *Entry) clone() Entry {
	c := *e
	c.Corroborations = append([]Corroboration(nil), e.Corroborations...)
	c.Support = append([]string(nil), e.Support...)
	c.Conflicts = append([]string(nil), e.Conflicts...)
	return c
}

// Conflict is a detected contradiction between two queued claims, as the
// node sends it in LIP_CONFLICT.
type Conflict struct {
	// A is the claim that was evaluated, B the one it conflicts with.
	A, B     Entry
	Kind     ConflictKind
	Severity Severity
	// Winner is the id of the claim that won on weight, "" if unresolved.
	Winner string
}

// QueueConfig configures a Queue. Delegates are called after the queue's
// lock is released, on the goroutine of the call that caused them (Submit,
// Corroborate, Tick, Retract), in the order the changes happened; they may
// call back into the Queue but should not block for long.
type QueueConfig struct {
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// TTL is how long a claim may stay open. Default DefaultTTL.
	TTL time.Duration
	// Retention is how long terminal claims are kept. Default
	// DefaultRetention.
	Retention time.Duration
	// Rules are the acceptance thresholds. Zero fields get defaults.
	Rules Rules
	// View is the local trust view (trust.Ledger.State). nil: nobody is
	// trusted, so only tier ≥ medium sources are accepted.
	View func(fp string) trust.State
	// Tiers gives source tiers. nil: every source is unknown.
	Tiers *Tiers
	// Overloaded reports whether the agent is overloaded; while it is,
	// nothing is accepted (claims wait). nil: never.
	Overloaded func() bool
	// OnAccept receives every accepted claim (SPEC §7: only accepted
	// claims enter knowledge; FactFor builds the knowledge.Fact).
	OnAccept func(Entry)
	// OnReject receives every rejected claim (the node sends LIP_REJECT
	// for claims it had shared, and knowledge retracts retracted ones).
	OnReject func(Entry)
	// OnConflict receives every newly detected conflict (LIP_CONFLICT).
	OnConflict func(Conflict)
	// Events receives web4.lip.* events. nil discards.
	Events *events.Emitter
	// MaxOpen bounds pending + disputed claims. Default MaxOpen.
	MaxOpen int
	// MaxOpenPerPeer bounds the open claims one peer's evidence may hold,
	// so a flood from one sender cannot crowd out everyone else. Default
	// MaxOpenPerPeer.
	MaxOpenPerPeer int
}

// queueBucket holds entries by id.
const queueBucket = "lip.queue"

// Queue is the liminal queue. Safe for concurrent use. It starts no
// goroutines: time advances through Tick (or Run, on the caller's
// goroutine).
//
// An accepted claim stays accepted through a conflict too close to call
// (the newcomer is disputed instead); it is rejected — and its source loses
// a tier — only when contradicting evidence outweighs it by the conflict
// margin, or when Retract says it was wrong.
type Queue struct {
	cfg QueueConfig
	db  *store.DB

	mu      sync.Mutex
	entries map[string]*Entry
	groups  map[string]map[string]bool // conflict group key → entry ids
	byURI   map[string]map[string]bool // provenance uri → entry ids (SameContent)
	open    int
	byPeer  map[string]int // open claims per peer origin
	closed  bool
}

// OpenQueue loads the persisted queue from db (bucket lip.queue) and
// returns it. db may be nil for a memory-only queue (tests, benchmarks).
func OpenQueue(db *store.DB, cfg QueueConfig) (*Queue, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	cfg.Rules = cfg.Rules.norm()
	if cfg.MaxOpen <= 0 || cfg.MaxOpen > MaxOpen {
		cfg.MaxOpen = MaxOpen
	}
	if cfg.MaxOpenPerPeer <= 0 || cfg.MaxOpenPerPeer > cfg.MaxOpen {
		cfg.MaxOpenPerPeer = min(MaxOpenPerPeer, cfg.MaxOpen)
	}
	q := &Queue{cfg: cfg, db: db, entries: map[string]*Entry{}, groups: map[string]map[string]bool{}, byURI: map[string]map[string]bool{}, byPeer: map[string]int{}}
	if db != nil {
		err := db.ForEach(queueBucket, func(k, v []byte) error {
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("lip: queue entry %x: %w", k, err)
			}
			if e.ID != string(k) || !e.State.Open() && e.State != Accepted && e.State != Rejected {
				return fmt.Errorf("lip: queue entry %x: inconsistent id or state", k)
			}
			q.index(&e)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return q, nil
}

func (q *Queue) index(e *Entry) {
	q.entries[e.ID] = e
	if e.State.Open() {
		q.countOpen(e, 1)
	}
	u := e.Claim.Provenance.URI
	if q.byURI[u] == nil {
		q.byURI[u] = map[string]bool{}
	}
	q.byURI[u][e.ID] = true
	for _, g := range groupKeys(e.Claim) {
		m := q.groups[g]
		if m == nil {
			m = map[string]bool{}
			q.groups[g] = m
		}
		m[e.ID] = true
	}
}

func (q *Queue) unindex(e *Entry) {
	delete(q.entries, e.ID)
	if e.State.Open() {
		q.countOpen(e, -1)
	}
	u := e.Claim.Provenance.URI
	delete(q.byURI[u], e.ID)
	if len(q.byURI[u]) == 0 {
		delete(q.byURI, u)
	}
	for _, g := range groupKeys(e.Claim) {
		delete(q.groups[g], e.ID)
		if len(q.groups[g]) == 0 {
			delete(q.groups, g)
		}
	}
}

// countOpen keeps the open counters (total and per peer origin) in step.
// The open entry's Origin may change (own reading takes over a peer's
// entry), so callers count before and after such a change.
func (q *Queue) countOpen(e *Entry, d int) {
	q.open += d
	if o := e.Claim.Origin; o != "" {
		q.byPeer[o] += d
		if q.byPeer[o] <= 0 {
			delete(q.byPeer, o)
		}
	}
}

func groupKeys(c Claim) []string {
	ks := []string{"f\x00" + c.FactID}
	if t := c.tripleKey(); t != "" {
		ks = append(ks, t)
	}
	return ks
}

// Close marks the queue closed; later calls return ErrClosed. Idempotent.
// The store belongs to the caller and stays open.
func (q *Queue) Close() error {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	return nil
}

// outbox collects what must happen after the lock is released.
type outbox struct {
	accepted, rejected []Entry
	conflicts          []Conflict
	demote             []Entry
	persist            []Entry
	events             []func()
}

// Submit adds a claim (from the local fetch, or from a peer's
// LIP_EVIDENCE when Origin is set) and decides it at once. A claim already
// queued (same ID) is not duplicated; evidence from a peer for a queued
// statement counts as that peer's corroboration. Invalid claims are refused
// with ErrInvalidClaim and a web4.lip.claim_refused event and are not
// stored.
func (q *Queue) Submit(ctx context.Context, c Claim) (Entry, error) {
	es, err := q.SubmitAll(ctx, []Claim{c})
	if len(es) == 1 && es[0].ID != "" {
		return es[0], err
	}
	return Entry{}, err
}

// SubmitAll submits several claims (one document's) under one lock and
// one store transaction. It returns one entry per claim, in order; a
// refused claim leaves a zero Entry in its slot and its error joined into
// the returned error.
func (q *Queue) SubmitAll(ctx context.Context, cs []Claim) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]Entry, len(cs))
	var errs []error
	valid := make([]bool, len(cs))
	for i, c := range cs {
		if err := c.Validate(); err != nil {
			q.cfg.Events.Emit("web4.lip.claim_refused", c.ID(), map[string]any{"reason": "invalid", "detail": err.Error()})
			errs = append(errs, err)
			continue
		}
		valid[i] = true
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil, ErrClosed
	}
	now := q.cfg.Now().UTC()
	var ob outbox
	var refused []string
	for i, c := range cs {
		if !valid[i] {
			continue
		}
		id := c.ID()
		e, exists := q.entries[id]
		if !exists {
			if q.open >= q.cfg.MaxOpen || len(q.entries) >= MaxEntries {
				errs = append(errs, fmt.Errorf("%w: %d open claims (max %d), %d held (max %d)", ErrQueueFull, q.open, q.cfg.MaxOpen, len(q.entries), MaxEntries))
				refused = append(refused, id)
				continue
			}
			if c.Origin != "" && q.byPeer[c.Origin] >= q.cfg.MaxOpenPerPeer {
				errs = append(errs, fmt.Errorf("%w: peer %.12s… already has %d open claims (max %d)", ErrQueueFull, c.Origin, q.byPeer[c.Origin], q.cfg.MaxOpenPerPeer))
				refused = append(refused, id)
				continue
			}
			e = &Entry{ID: id, Claim: c, State: Pending, Reason: ReasonInsufficient, Submitted: now,
				Expires: now.Add(q.cfg.TTL), Updated: now, Tier: q.tier(c), Version: 1}
			q.index(e)
			snap := e.clone()
			ob.events = append(ob.events, func() {
				q.cfg.Events.Emit("web4.lip.claim_pending", id, entryData(&snap, nil))
			})
		}
		if exists && e.State.Open() && c.Origin == "" && e.Claim.Origin != "" {
			// We read the page ourselves what a peer reported: the entry
			// becomes our own reading (with our provenance, so the tier
			// rule applies) and the peer's report counts as its evidence.
			former := e.Claim.Origin
			q.countOpen(e, -1)
			e.Claim = c
			q.countOpen(e, 1)
			e.Version++
			q.addCorroboration(e, Corroboration{Peer: former, Kind: OwnEvidence, FactID: c.FactID, Verdict: c.Verdict, At: now})
		} else if exists && e.State.Open() && c.Origin == e.Claim.Origin &&
			c.Provenance.ContentSHA256 != e.Claim.Provenance.ContentSHA256 &&
			c.Provenance.RetrievedAt.After(e.Claim.Provenance.RetrievedAt) {
			// The page changed since we queued the claim and still says it:
			// keep the newest provenance. Same-content corroborations of the
			// old bytes stop counting (Supports compares hashes).
			old := e.Claim.Provenance.ContentSHA256
			e.Claim.Provenance = c.Provenance
			e.Version++
			data := map[string]any{"claim_id": id, "old_sha256": old, "sha256": c.Provenance.ContentSHA256}
			ob.events = append(ob.events, func() { q.cfg.Events.Emit("web4.lip.claim_refetched", id, data) })
		}
		q.crossCorroborateLocked(e, c.Origin, now)
		q.evaluateLocked(q.affected(e), now, &ob)
		out[i] = e.clone()
		ob.persist = append(ob.persist, out[i]) // a new entry may not have changed state
	}
	// Later claims of the batch may have changed earlier ones.
	for i := range out {
		if out[i].ID != "" {
			out[i] = q.entries[out[i].ID].clone()
		}
	}
	q.mu.Unlock()
	for _, id := range refused {
		q.cfg.Events.Emit("web4.lip.claim_refused", id, map[string]any{"reason": "queue_full", "detail": ErrQueueFull.Error()})
	}
	if err := q.flush(&ob); err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// crossCorroborateLocked records peer evidence: a claim with an Origin
// corroborates every other queued claim for the same statement and verdict
// (and, if from the same URI with the same hash, counts as same content);
// and claims already brought by peers corroborate a new one.
func (q *Queue) crossCorroborateLocked(e *Entry, origin string, now time.Time) {
	for id := range q.groups["f\x00"+e.Claim.FactID] {
		o := q.entries[id]
		if o == nil || o.Claim.Verdict != e.Claim.Verdict {
			continue
		}
		if origin != "" && (o != e || e.Claim.Origin != origin) {
			q.addCorroboration(o, Corroboration{Peer: origin, Kind: OwnEvidence, FactID: e.Claim.FactID, Verdict: e.Claim.Verdict, At: now})
		}
		if o != e && o.Claim.Origin != "" {
			q.addCorroboration(e, Corroboration{Peer: o.Claim.Origin, Kind: OwnEvidence, FactID: o.Claim.FactID, Verdict: o.Claim.Verdict, At: now})
		}
	}
}

// addCorroboration adds k unless the same peer already gave the same kind;
// it reports whether anything changed. When the entry holds
// MaxCorroborations, k replaces the oldest one from a peer that is not
// trusted now, so untrusted senders cannot fill the slots trusted ones need.
func (q *Queue) addCorroboration(e *Entry, k Corroboration) bool {
	for _, x := range e.Corroborations {
		if x.Peer == k.Peer && x.Kind == k.Kind && x.ContentSHA256 == k.ContentSHA256 && x.FactID == k.FactID {
			return false
		}
	}
	if len(e.Corroborations) >= MaxCorroborations {
		victim := -1
		for i, x := range e.Corroborations {
			if q.cfg.View == nil || q.cfg.View(x.Peer) != trust.Trusted {
				victim = i
				break
			}
		}
		if victim < 0 {
			return false
		}
		e.Corroborations = append(e.Corroborations[:victim], e.Corroborations[victim+1:]...)
	}
	e.Corroborations = append(e.Corroborations, k)
	e.Version++
	return true
}

// Corroborate records a peer's support (SameContent after its re-fetch, or
// OwnEvidence) on every queued claim it supports, re-decides them and
// returns them. A corroboration that supports nothing is not an error: it
// returns no entries.
func (q *Queue) Corroborate(ctx context.Context, k Corroboration) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !isHex64(k.Peer) || (k.Kind != SameContent && k.Kind != OwnEvidence) {
		err := fmt.Errorf("%w: corroboration: peer must be a fingerprint and kind same_content|own_evidence", ErrInvalidClaim)
		q.cfg.Events.Emit("web4.lip.claim_refused", k.FactID, map[string]any{"reason": "invalid_corroboration", "detail": err.Error()})
		return nil, err
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil, ErrClosed
	}
	now := q.cfg.Now().UTC()
	if k.At.IsZero() {
		k.At = now
	}
	var touched []string
	ids := q.byURI[k.URI]
	if k.Kind == OwnEvidence {
		ids = q.groups["f\x00"+k.FactID]
	}
	for id := range ids {
		e := q.entries[id]
		if e.State == Rejected || !k.Supports(e.Claim) {
			continue
		}
		if q.addCorroboration(e, k) {
			touched = append(touched, id)
		}
	}
	sort.Strings(touched)
	var ob outbox
	set := map[string]bool{}
	for _, id := range touched {
		for _, a := range q.affected(q.entries[id]) {
			set[a] = true
		}
		ob.persist = append(ob.persist, q.entries[id].clone())
		data := map[string]any{"peer": k.Peer, "kind": k.Kind.String()}
		ob.events = append(ob.events, func() { q.cfg.Events.Emit("web4.lip.corroborated", id, data) })
	}
	q.evaluateLocked(sortedSet(set), now, &ob)
	out := make([]Entry, 0, len(touched))
	for _, id := range touched {
		out = append(out, q.entries[id].clone())
	}
	q.mu.Unlock()
	return out, q.flush(&ob)
}

// Tick re-decides every open claim: expiry, an overload that has passed,
// trust or tier changes. It also prunes terminal claims past Retention.
func (q *Queue) Tick(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	now := q.cfg.Now().UTC()
	var ids []string
	var prune []string
	for id, e := range q.entries {
		switch {
		case e.State.Open():
			ids = append(ids, id)
		case now.Sub(e.Updated) > q.cfg.Retention:
			prune = append(prune, id)
		}
	}
	sort.Strings(ids)
	var ob outbox
	q.evaluateLocked(ids, now, &ob)
	for _, id := range prune {
		q.unindex(q.entries[id])
	}
	q.mu.Unlock()
	if err := q.flush(&ob); err != nil {
		return err
	}
	if q.db != nil && len(prune) > 0 {
		return q.db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte(queueBucket))
			if err != nil {
				return err
			}
			for _, id := range prune {
				if err := b.Delete([]byte(id)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return nil
}

// Run calls Tick every interval until ctx ends, on the caller's goroutine.
// It returns ctx's error, or the first Tick error other than ErrClosed's
// end of the queue (which returns nil).
func (q *Queue) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if err := q.Tick(ctx); err != nil {
				if err == ErrClosed {
					return nil
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return err
			}
		}
	}
}

// Retract rejects an accepted claim because it was later found false (the
// knowledge layer rejected the fact, or a human said so). The source drops
// one tier (historical accuracy, SPEC §7).
func (q *Queue) Retract(ctx context.Context, id, detail string) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return Entry{}, ErrClosed
	}
	e, ok := q.entries[id]
	if !ok {
		q.mu.Unlock()
		return Entry{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if e.State != Accepted {
		st := e.State
		q.mu.Unlock()
		return Entry{}, fmt.Errorf("%w: claim %s is %v, only accepted claims can be retracted", ErrInvalidClaim, id, st)
	}
	now := q.cfg.Now().UTC()
	var ob outbox
	q.transitionLocked(e, Decision{Outcome: Reject, Reason: ReasonRetracted, Detail: clipReason(detail), Support: e.Support}, now, &ob)
	out := e.clone()
	q.mu.Unlock()
	return out, q.flush(&ob)
}

// Withdraw takes back what the peer origin said about factID, because it
// said so itself (its LIP_REJECT): origin's own claims for the fact are
// rejected (ReasonWithdrawn, the source's tier untouched) and its
// corroborations of other claims for the fact are removed, which are then
// re-decided. It returns the entries that changed.
func (q *Queue) Withdraw(ctx context.Context, origin, factID, detail string) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !isHex64(origin) {
		return nil, fmt.Errorf("%w: withdraw: origin must be a fingerprint", ErrInvalidClaim)
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil, ErrClosed
	}
	now := q.cfg.Now().UTC()
	var ob outbox
	var changed []string
	reeval := map[string]bool{}
	for id := range q.groups["f\x00"+factID] {
		e := q.entries[id]
		if e.State == Rejected {
			continue
		}
		if e.Claim.Origin == origin {
			if q.transitionLocked(e, Decision{Outcome: Reject, Reason: ReasonWithdrawn, Detail: clipReason(detail)}, now, &ob) {
				changed = append(changed, id)
			}
			continue
		}
		kept := e.Corroborations[:0]
		for _, k := range e.Corroborations {
			if k.Peer != origin {
				kept = append(kept, k)
			}
		}
		if len(kept) != len(e.Corroborations) {
			e.Corroborations = kept
			ob.persist = append(ob.persist, e.clone())
			reeval[id] = true
			changed = append(changed, id)
		}
	}
	q.evaluateLocked(sortedSet(reeval), now, &ob)
	sort.Strings(changed)
	out := make([]Entry, 0, len(changed))
	for _, id := range changed {
		out = append(out, q.entries[id].clone())
	}
	q.mu.Unlock()
	return out, q.flush(&ob)
}

// Get returns the entry with id.
func (q *Queue) Get(id string) (Entry, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.entries[id]
	if !ok {
		return Entry{}, false
	}
	return e.clone(), true
}

// List returns the entries in state s (all entries for s == 0), oldest
// first.
func (q *Queue) List(s State) []Entry {
	q.mu.Lock()
	out := make([]Entry, 0, len(q.entries))
	for _, e := range q.entries {
		if s == 0 || e.State == s {
			out = append(out, e.clone())
		}
	}
	q.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Submitted.Equal(out[j].Submitted) {
			return out[i].Submitted.Before(out[j].Submitted)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Len returns how many entries are held and how many of them are open.
func (q *Queue) Len() (total, open int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.entries), q.open
}

// affected returns e and every entry sharing a conflict group with it.
func (q *Queue) affected(e *Entry) []string {
	set := map[string]bool{e.ID: true}
	for _, g := range groupKeys(e.Claim) {
		for id := range q.groups[g] {
			set[id] = true
		}
	}
	return sortedSet(set)
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (q *Queue) tier(c Claim) envelope.Tier {
	if q.cfg.Tiers == nil {
		return envelope.TierUnknown
	}
	return q.cfg.Tiers.TierOf(c.Provenance.URI)
}

// side is e's standing in a conflict. A claim only a peer has read weighs
// as an unknown source until corroborated (see Decide, rule 9).
func (q *Queue) side(e *Entry) Side {
	tier := q.tier(e.Claim)
	if e.Claim.Origin != "" && tier.Rank() > envelope.TierUnknown.Rank() {
		tier = envelope.TierUnknown
	}
	return Side{Tier: tier, Support: len(TrustedSupport(e.Claim, e.Corroborations, q.cfg.View)), Accepted: e.State == Accepted}
}

// conflictLocked summarises e's conflicts and reports new ones.
func (q *Queue) conflictLocked(e *Entry, ob *outbox) ConflictState {
	state := NoConflict
	rank := map[ConflictState]int{NoConflict: 0, ConflictWon: 1, ConflictUnresolved: 2, ConflictLost: 3}
	se := q.side(e)
	for _, g := range groupKeys(e.Claim) {
		for _, id := range sortedSet(q.groups[g]) {
			o := q.entries[id]
			if o == nil || o == e || o.State == Rejected {
				continue
			}
			kind, ok := Conflicting(e.Claim, o.Claim)
			if !ok {
				continue
			}
			so := q.side(o)
			var st ConflictState
			switch Resolve(se, so, q.cfg.Rules) {
			case 1:
				st = ConflictWon
			case -1:
				st = ConflictLost
			default:
				st = ConflictUnresolved
			}
			if rank[st] > rank[state] {
				state = st
			}
			if !contains(e.Conflicts, o.ID) {
				e.Conflicts = append(e.Conflicts, o.ID)
				e.Version++
				if !contains(o.Conflicts, e.ID) {
					o.Conflicts = append(o.Conflicts, e.ID)
					o.Version++
					ob.persist = append(ob.persist, o.clone())
				}
				cf := Conflict{A: e.clone(), B: o.clone(), Kind: kind, Severity: Grade(se, so, q.cfg.Rules)}
				switch st {
				case ConflictWon:
					cf.Winner = e.ID
				case ConflictLost:
					cf.Winner = o.ID
				}
				ob.conflicts = append(ob.conflicts, cf)
			}
		}
	}
	return state
}

// evaluateLocked re-decides the given entries until nothing changes (a
// rejection can settle the conflicts of others), at most a few rounds.
func (q *Queue) evaluateLocked(ids []string, now time.Time, ob *outbox) {
	overloaded := q.cfg.Overloaded != nil && q.cfg.Overloaded()
	for round := 0; round < 4; round++ {
		changed := false
		for _, id := range ids {
			e := q.entries[id]
			if e == nil || e.State == Rejected {
				continue
			}
			before := e.Version
			conflict := q.conflictLocked(e, ob)
			if e.State == Accepted {
				// Accepted claims only leave when they lose a conflict:
				// better-supported evidence says they were wrong.
				if conflict == ConflictLost {
					q.transitionLocked(e, Decision{Outcome: Reject, Reason: ReasonConflictLost,
						Detail: "contradicted by better-supported evidence after acceptance", Support: e.Support}, now, ob)
					changed = true
				} else if e.Version != before {
					ob.persist = append(ob.persist, e.clone())
				}
				continue
			}
			d := Decide(Input{Claim: e.Claim, Corroborations: e.Corroborations, View: q.cfg.View,
				Tier: q.tier(e.Claim), Now: now, Expires: e.Expires, Overloaded: overloaded,
				Conflict: conflict, Rules: q.cfg.Rules})
			if q.transitionLocked(e, d, now, ob) {
				changed = true
			} else if e.Version != before {
				ob.persist = append(ob.persist, e.clone())
			}
		}
		if !changed {
			return
		}
	}
}

// transitionLocked applies a decision; it reports whether the state changed.
func (q *Queue) transitionLocked(e *Entry, d Decision, now time.Time, ob *outbox) bool {
	next := e.State
	switch d.Outcome {
	case Accept:
		next = Accepted
	case Reject:
		next = Rejected
	case Dispute:
		next = Disputed
	case Wait:
		next = Pending
	}
	tier := q.tier(e.Claim)
	if next == e.State && d.Reason == e.Reason && tier == e.Tier && equalStrings(d.Support, e.Support) {
		return false
	}
	wasOpen, was := e.State.Open(), e.State
	e.State, e.Reason, e.Detail, e.Support, e.Tier, e.Updated = next, d.Reason, clipReason(d.Detail), d.Support, tier, now
	e.Version++
	if wasOpen && !next.Open() {
		q.countOpen(e, -1)
	} else if !wasOpen && next.Open() {
		q.countOpen(e, 1)
	}
	snap := e.clone()
	ob.persist = append(ob.persist, snap)
	if next == was {
		return false // same state, new reason/support: persisted, no event
	}
	switch next {
	case Accepted:
		ob.accepted = append(ob.accepted, snap)
		ob.events = append(ob.events, func() { q.cfg.Events.Emit("web4.lip.claim_accepted", snap.ID, entryData(&snap, nil)) })
	case Rejected:
		ob.rejected = append(ob.rejected, snap)
		if was == Accepted && d.Reason != ReasonWithdrawn {
			// Found false: the source loses accuracy. A peer taking back
			// its own reading says nothing about the source.
			ob.demote = append(ob.demote, snap)
		}
		ob.events = append(ob.events, func() { q.cfg.Events.Emit("web4.lip.claim_rejected", snap.ID, entryData(&snap, nil)) })
	case Disputed:
		ob.events = append(ob.events, func() { q.cfg.Events.Emit("web4.lip.claim_disputed", snap.ID, entryData(&snap, nil)) })
	}
	return true
}

// flush persists changes, then emits events and calls delegates, outside
// the lock.
func (q *Queue) flush(ob *outbox) error {
	var err error
	if q.db != nil && len(ob.persist) > 0 {
		// Update, not Batch: Batch waits up to its delay for company, which
		// a lone Submit would pay on every call; SubmitAll groups a
		// document's claims into one transaction instead.
		err = q.db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte(queueBucket))
			if err != nil {
				return err
			}
			for i := range ob.persist {
				e := &ob.persist[i]
				if old := b.Get([]byte(e.ID)); old != nil && storedVersion(old) > e.Version {
					continue // a concurrent call already stored a newer state
				}
				v, err := json.Marshal(e)
				if err != nil {
					return err
				}
				if err := b.Put([]byte(e.ID), v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			err = fmt.Errorf("lip: persist queue: %w", err)
		}
	}
	for _, f := range ob.events {
		f()
	}
	for _, c := range ob.conflicts {
		q.cfg.Events.Emit("web4.lip.conflict", c.A.ID, map[string]any{
			"claim_id": c.A.ID, "with": c.B.ID, "fact_id": c.A.Claim.FactID, "kind": c.Kind.String(),
			"severity": c.Severity.String(), "winner": c.Winner,
		})
		if q.cfg.OnConflict != nil {
			q.cfg.OnConflict(c)
		}
	}
	for _, e := range ob.demote {
		if q.cfg.Tiers != nil {
			if _, _, derr := q.cfg.Tiers.Demote(e.Claim.Provenance.Host(), "accepted claim "+e.ID+" later rejected: "+e.Reason.String()); derr != nil && err == nil {
				err = derr
			}
		}
	}
	for _, e := range ob.accepted {
		if q.cfg.OnAccept != nil {
			q.cfg.OnAccept(e)
		}
	}
	for _, e := range ob.rejected {
		if q.cfg.OnReject != nil {
			q.cfg.OnReject(e)
		}
	}
	return err
}

// storedVersion reads the version of a stored entry without decoding all
// of it (falls back to 0, i.e. "overwrite").
func storedVersion(b []byte) uint64 {
	var v struct {
		Version uint64 `json:"version"`
	}
	if json.Unmarshal(b, &v) != nil {
		return 0
	}
	return v.Version
}

func entryData(e *Entry, extra map[string]any) map[string]any {
	d := map[string]any{
		"claim_id": e.ID, "fact_id": e.Claim.FactID, "state": e.State.String(), "reason": e.Reason.String(),
		"uri": e.Claim.Provenance.URI, "tier": e.Tier.String(), "verdict": e.Claim.Verdict.String(),
		"support": len(e.Support), "detail": e.Detail,
	}
	if e.Claim.Origin != "" {
		d["origin"] = e.Claim.Origin
	}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
