package knowledge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/store"
	"github.com/web4p2p/web4p2p/trust"
)

// Buckets the Store owns in the node's store.
const (
	BucketFacts = "knowledge.facts" // fact id → JSON Fact
	BucketVotes = "knowledge.votes" // fact id 0x00 voter → JSON Vote (the voter's latest)
)

// Event types emitted by the Store.
const (
	EventFactProposed  = "web4.knowledge.fact_proposed"
	EventFactConfirmed = "web4.knowledge.fact_confirmed"
	EventFactAccepted  = "web4.knowledge.fact_accepted"
	EventFactDisputed  = "web4.knowledge.fact_disputed"
	EventFactRejected  = "web4.knowledge.fact_rejected"
)

// Change describes a fact whose status changed. Every Store operation that
// can change a status returns its changes (raft's Ready, in small): the
// Store applies nothing outside itself, and the caller feeds them to the
// TrustFSM — an Accepted change earns the proposer trust.FactAccepted (with
// len(Result.Confirmers) confirmations); a Rejected change with reason
// ReasonTrustedRejects is a conflict the proposer lost (trust.ConflictLost).
// A trust change that follows may change statuses again (TrustChanged);
// each round is finite because a status only moves when votes or the trust
// view do.
type Change struct {
	Fact   Fact
	From   Status // 0 for a fact seen for the first time
	Result Result
}

// StoreConfig configures a Store.
type StoreConfig struct {
	// Rules are the quorum rules (zero = defaults).
	Rules Rules
	// TTL is the expiry given to facts proposed without one (default DefaultTTL).
	TTL time.Duration
	// View is the local trust view (normally trust.Ledger.State). nil
	// treats every peer as unknown.
	View func(fp string) trust.State
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Events receives the web4.knowledge.* events; nil discards.
	Events *events.Emitter
	// HoldUnknown keeps votes for facts not proposed here yet (up to
	// MaxOrphanFacts) and counts them when the proposal arrives, instead of
	// refusing them with ErrUnknownFact. Turn it on where the transport
	// reorders proposals and votes and the sender will not resend; off
	// (the default) a vote for a fact this node never saw is refused, so
	// made-up fact ids cost nothing.
	HoldUnknown bool
}

type entry struct {
	fact  *Fact           // nil while only votes (arrived first) are known
	votes map[string]Vote // voter → latest vote
	res   Result
}

func (e *entry) voteList() []Vote {
	out := make([]Vote, 0, len(e.votes))
	for _, v := range e.votes {
		out = append(out, v)
	}
	return out
}

// Store is the persistent fact and vote store. Safe for concurrent use.
type Store struct {
	db    *store.DB
	rules Rules
	ttl   time.Duration
	view  func(string) trust.State
	now   func() time.Time
	em    *events.Emitter
	// holdUnknown: see StoreConfig.HoldUnknown.
	holdUnknown bool

	mu      sync.Mutex
	entries map[string]*entry
	orphans int // entries holding votes but no fact yet
	quota   quota
}

// OpenStore loads every fact and vote from db and evaluates them (without
// emitting: the statuses were announced before the restart). db stays owned
// by the caller; the Store starts no goroutines and needs no Close.
func OpenStore(db *store.DB, cfg StoreConfig) (*Store, error) {
	if db == nil {
		return nil, errors.New("knowledge: OpenStore: nil store")
	}
	s := &Store{db: db, rules: cfg.Rules, ttl: cfg.TTL, view: cfg.View, now: cfg.Now,
		em: cfg.Events, holdUnknown: cfg.HoldUnknown, entries: map[string]*entry{}, quota: newQuota()}
	if s.ttl <= 0 {
		s.ttl = DefaultTTL
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.view == nil {
		s.view = func(string) trust.State { return trust.Unknown }
	}
	err := db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte(BucketFacts)); b != nil {
			if err := b.ForEach(func(k, v []byte) error {
				var f Fact
				if err := json.Unmarshal(v, &f); err != nil {
					return fmt.Errorf("knowledge: fact %q corrupt: %w", k, err)
				}
				s.entry(f.ID).fact = &f
				return nil
			}); err != nil {
				return err
			}
		}
		if b := tx.Bucket([]byte(BucketVotes)); b != nil {
			return b.ForEach(func(k, v []byte) error {
				var vt Vote
				if err := json.Unmarshal(v, &vt); err != nil {
					return fmt.Errorf("knowledge: vote %q corrupt: %w", k, err)
				}
				s.entry(vt.FactID).votes[vt.Voter] = vt
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	now := s.now()
	for _, e := range s.entries {
		if e.fact != nil {
			e.res = s.rules.Tally(*e.fact, e.voteList(), s.view, now)
			s.quota.account(e, 1)
		} else {
			s.orphans++
		}
		for voter := range e.votes {
			s.quota.vote(voter, 1)
		}
	}
	return s, nil
}

func (s *Store) entry(id string) *entry {
	e := s.entries[id]
	if e == nil {
		e = &entry{votes: map[string]Vote{}}
		s.entries[id] = e
	}
	return e
}

// prepareFact validates f and fills ID and Expires.
func (s *Store) prepareFact(f Fact) (Fact, error) {
	if err := f.Validate(); err != nil {
		return f, err
	}
	if f.ID == "" {
		f.ID, _ = factID(f.Domain, f.Statement) // Validate checked it
	}
	if f.Expires.IsZero() {
		f.Expires = f.ProposedAt.Add(s.ttl)
	}
	f.ProposedAt, f.Expires = f.ProposedAt.UTC(), f.Expires.UTC()
	return f, nil
}

// Propose records a proposed fact and returns its tally and the status
// changes. Proposing a statement that is already known merges the two (see
// mergeFact).
func (s *Store) Propose(ctx context.Context, f Fact) (Result, []Change, error) {
	res, changes, err := s.Ingest(ctx, []Fact{f}, nil)
	if err != nil {
		return Result{}, nil, err
	}
	return res[0], changes, nil
}

// Vote records a vote and returns the tally of its fact. A vote for a fact
// not proposed here is refused with ErrUnknownFact (or, with HoldUnknown,
// kept for it, returning the zero Result); one cast after the fact's
// expiry with ErrExpired. The changes are those it caused.
func (s *Store) Vote(ctx context.Context, v Vote) (Result, []Change, error) {
	res, changes, err := s.Ingest(ctx, nil, []Vote{v})
	if err != nil {
		return Result{}, nil, err
	}
	return res[0], changes, nil
}

// Ingest validates and records facts and votes in one batch transaction,
// then re-evaluates the facts they touch. It returns one Result per fact
// followed by one per vote, and the status changes. Nothing is recorded if any item is invalid,
// names an unknown fact (ErrUnknownFact) or was cast after its fact's
// expiry (ErrExpired); a vote may name a fact proposed in the same batch.
func (s *Store) Ingest(ctx context.Context, facts []Fact, votes []Vote) ([]Result, []Change, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	prepared := make([]Fact, len(facts))
	for i, f := range facts {
		p, err := s.prepareFact(f)
		if err != nil {
			s.em.Error("knowledge", "invalid_fact", clip(f.ID), err, map[string]any{"proposer": clip(f.Proposer), "msg_id": clip(f.MsgID)})
			return nil, nil, fmt.Errorf("facts[%d]: %w", i, err)
		}
		prepared[i] = p
	}
	votes = append([]Vote(nil), votes...) // normalised copy; the caller's slice is not touched
	for i, v := range votes {
		if err := v.Validate(); err != nil {
			s.em.Error("knowledge", "invalid_vote", clip(v.FactID), err, map[string]any{"voter": clip(v.Voter), "msg_id": clip(v.MsgID)})
			return nil, nil, fmt.Errorf("votes[%d]: %w", i, err)
		}
		votes[i].Time = v.Time.UTC()
	}
	if err := s.checkRefs(prepared, votes); err != nil {
		return nil, nil, err
	}
	if err := s.checkLimits(prepared, votes); err != nil {
		s.em.Error("knowledge", "limit", "", err, nil)
		return nil, nil, err
	}
	if err := s.persist(prepared, votes); err != nil {
		s.em.Error("knowledge", "persist_failed", "", err, nil)
		return nil, nil, err
	}

	s.mu.Lock()
	now := s.now()
	touched := map[string]bool{}
	var newFacts []string
	for _, f := range prepared {
		e := s.entry(f.ID)
		s.quota.account(e, -1)
		if e.fact == nil {
			if len(e.votes) > 0 {
				s.orphans--
			}
			newFacts = append(newFacts, f.ID)
			fc := f
			e.fact = &fc
		} else {
			m := mergeFact(*e.fact, f)
			e.fact = &m
		}
		s.quota.account(e, 1)
		touched[f.ID] = true
	}
	for _, v := range votes {
		e := s.entry(v.FactID)
		if e.fact == nil && len(e.votes) == 0 {
			s.orphans++
		}
		cur, had := e.votes[v.Voter]
		if !had {
			s.quota.vote(v.Voter, 1)
		}
		if !had || Supersedes(v, cur) {
			e.votes[v.Voter] = v
		}
		touched[v.FactID] = true
	}
	for _, id := range newFacts {
		f := s.entries[id].fact
		s.em.Emit(EventFactProposed, id, factData(*f, nil))
	}
	changes := s.reevaluateLocked(sortedKeys(touched), now)
	out := make([]Result, 0, len(prepared)+len(votes))
	for _, f := range prepared {
		out = append(out, cloneResult(s.entries[f.ID].res))
	}
	for _, v := range votes {
		out = append(out, cloneResult(s.entries[v.FactID].res))
	}
	s.mu.Unlock()
	return out, changes, nil
}

// checkLimits refuses votes that would exceed MaxVotersPerFact or
// MaxOrphanFacts. (Checked before persisting; concurrent ingesters may
// overshoot a bound by their batch sizes, which keeps it a bound.)
func (s *Store) checkLimits(facts []Fact, votes []Vote) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	inBatch := make(map[string]bool, len(facts))
	for _, f := range facts {
		inBatch[f.ID] = true
	}
	if err := s.checkQuotaLocked(facts, votes); err != nil {
		return err
	}
	extra := map[string]map[string]bool{}
	newOrphans := 0
	for _, v := range votes {
		e := s.entries[v.FactID]
		if e == nil && extra[v.FactID] == nil && !inBatch[v.FactID] {
			newOrphans++
			if s.orphans+newOrphans > MaxOrphanFacts {
				return fmt.Errorf("%w: %d facts have votes but no proposal yet, max %d", ErrLimit, s.orphans+newOrphans, MaxOrphanFacts)
			}
		}
		if e != nil {
			if _, ok := e.votes[v.Voter]; ok {
				continue
			}
		}
		if extra[v.FactID] == nil {
			extra[v.FactID] = map[string]bool{}
		}
		extra[v.FactID][v.Voter] = true
		n := len(extra[v.FactID])
		if e != nil {
			n += len(e.votes)
		}
		if n > MaxVotersPerFact {
			return fmt.Errorf("%w: fact %s has %d voters, max %d", ErrLimit, v.FactID, n, MaxVotersPerFact)
		}
	}
	return nil
}

// persist writes facts and votes in one bbolt batch. Each write is a merge
// with what is stored (earliest proposal, latest vote per voter), so the
// function is idempotent as Batch requires, and concurrent ingesters
// converge on the same stored state whatever order their batches commit in.
func (s *Store) persist(facts []Fact, votes []Vote) error {
	run := s.db.Batch
	if len(facts)+len(votes) >= bulkThreshold {
		// Already a batch: waiting up to bbolt's MaxBatchDelay for company
		// would only add latency.
		run = s.db.Update
	}
	return run(func(tx *bolt.Tx) error {
		if len(facts) > 0 {
			b, err := tx.CreateBucketIfNotExists([]byte(BucketFacts))
			if err != nil {
				return err
			}
			for _, f := range facts {
				if old := b.Get([]byte(f.ID)); old != nil {
					var prev Fact
					if err := json.Unmarshal(old, &prev); err == nil {
						f = mergeFact(prev, f)
					}
				}
				raw, err := json.Marshal(f)
				if err != nil {
					return err
				}
				if err := b.Put([]byte(f.ID), raw); err != nil {
					return err
				}
			}
		}
		if len(votes) > 0 {
			b, err := tx.CreateBucketIfNotExists([]byte(BucketVotes))
			if err != nil {
				return err
			}
			for _, v := range votes {
				k := voteKey(v)
				if old := b.Get(k); old != nil {
					var prev Vote
					if err := json.Unmarshal(old, &prev); err == nil && !Supersedes(v, prev) {
						continue
					}
				}
				raw, err := json.Marshal(v)
				if err != nil {
					return err
				}
				if err := b.Put(k, raw); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func voteKey(v Vote) []byte {
	k := make([]byte, 0, len(v.FactID)+1+len(v.Voter))
	k = append(k, v.FactID...)
	k = append(k, 0)
	return append(k, v.Voter...)
}

// mergeFact decides which proposal of one statement is kept: the earliest
// ProposedAt, ties by the smaller proposer fingerprint, then msg_id. Being
// a deterministic choice, every node keeps the same proposer.
func mergeFact(a, b Fact) Fact {
	switch {
	case !a.ProposedAt.Equal(b.ProposedAt):
		if b.ProposedAt.Before(a.ProposedAt) {
			return b
		}
		return a
	case a.Proposer != b.Proposer:
		if b.Proposer < a.Proposer {
			return b
		}
		return a
	case b.MsgID < a.MsgID:
		return b
	}
	return a
}

// Reevaluate re-tallies every fact at the current time (expiry, trust view
// changes), emits the status changes and returns them.
func (s *Store) Reevaluate(ctx context.Context) ([]Change, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	changes := s.reevaluateLocked(s.factIDsLocked(func(*entry) bool { return true }), s.now())
	s.mu.Unlock()
	return changes, nil
}

// TrustChanged re-tallies the facts proposed or voted on by fp; wire it to
// trust.Ledger.OnChange. It returns the status changes.
func (s *Store) TrustChanged(ctx context.Context, fp string) ([]Change, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	ids := s.factIDsLocked(func(e *entry) bool {
		_, voted := e.votes[fp]
		return voted || e.fact.Proposer == fp
	})
	changes := s.reevaluateLocked(ids, s.now())
	s.mu.Unlock()
	return changes, nil
}

func (s *Store) factIDsLocked(pred func(*entry) bool) []string {
	var ids []string
	for id, e := range s.entries {
		if e.fact != nil && pred(e) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// reevaluateLocked tallies the given facts and emits events for changes.
func (s *Store) reevaluateLocked(ids []string, now time.Time) []Change {
	var changes []Change
	for _, id := range ids {
		e := s.entries[id]
		if e == nil || e.fact == nil {
			continue
		}
		old := e.res
		res := s.rules.Tally(*e.fact, e.voteList(), s.view, now)
		s.quota.account(e, -1)
		e.res = res
		s.quota.account(e, 1)
		for _, c := range newNames(old.Confirmers, res.Confirmers) {
			d := factData(*e.fact, &res)
			d["confirmer"] = c
			s.em.Emit(EventFactConfirmed, id, d)
		}
		if old.Status == res.Status {
			continue
		}
		d := factData(*e.fact, &res)
		if old.Status.Valid() {
			d["from"] = old.Status.String()
		}
		switch res.Status {
		case Accepted:
			s.em.Emit(EventFactAccepted, id, d)
		case Disputed:
			s.em.Emit(EventFactDisputed, id, d)
		case Rejected:
			s.em.Emit(EventFactRejected, id, d)
		}
		changes = append(changes, Change{Fact: *e.fact, From: old.Status, Result: cloneResult(res)})
	}
	return changes
}

// Fact returns a fact and its current tally.
func (s *Store) Fact(id string) (Fact, Result, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[id]
	if e == nil || e.fact == nil {
		return Fact{}, Result{}, false
	}
	return *e.fact, cloneResult(e.res), true
}

// Votes returns the latest vote of every voter on fact id, sorted by voter.
func (s *Store) Votes(id string) []Vote {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[id]
	if e == nil {
		return nil
	}
	out := e.voteList()
	sort.Slice(out, func(i, j int) bool { return out[i].Voter < out[j].Voter })
	return out
}

// Facts returns every known fact with its status, sorted by id.
func (s *Store) Facts() []FactStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]FactStatus, 0, len(s.entries))
	for _, e := range s.entries {
		if e.fact != nil {
			out = append(out, FactStatus{Fact: *e.fact, Status: e.res.Status})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Fact.ID < out[j].Fact.ID })
	return out
}

// FactStatus pairs a fact with its status.
type FactStatus struct {
	Fact   Fact
	Status Status
}

func factData(f Fact, r *Result) map[string]any {
	d := map[string]any{
		"fact_id":   f.ID,
		"domain":    clip(f.Domain),
		"statement": clipN(f.Statement, maxEventStatement),
		"proposer":  f.Proposer,
		"msg_id":    f.MsgID,
	}
	if r != nil {
		d["status"] = r.Status.String()
		d["reason"] = r.Reason
		d["confirmers"] = len(r.Confirmers)
		d["rejecters"] = len(r.Rejecters)
		d["challengers"] = len(r.Challengers)
		d["uncounted"] = r.Uncounted
	}
	return d
}

func cloneResult(r Result) Result {
	r.Confirmers = append([]string(nil), r.Confirmers...)
	r.Rejecters = append([]string(nil), r.Rejecters...)
	r.Challengers = append([]string(nil), r.Challengers...)
	return r
}

// newNames returns the names in b that are not in a (both sorted).
func newNames(a, b []string) []string {
	var out []string
	i := 0
	for _, n := range b {
		for i < len(a) && a[i] < n {
			i++
		}
		if i < len(a) && a[i] == n {
			continue
		}
		out = append(out, n)
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func clip(s string) string { return clipN(s, MaxIDBytes) }

// clipN shortens s to at most n bytes (on a rune boundary) plus an ellipsis.
func clipN(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
