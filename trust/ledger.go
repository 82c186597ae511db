package trust

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/store"
)

// Bucket names the ledger owns in the node's store.
const (
	BucketPeers   = "trust.peers"   // fingerprint → JSON PeerState
	BucketHistory = "trust.history" // fingerprint 0x00 seq(8, big endian) → JSON Transition
)

// EventTransition is the event type emitted for every transition.
const EventTransition = "web4.trust.transition"

// Errors returned by the Ledger.
var (
	// ErrNotBlacklisted: Override was asked for a peer that is not blacklisted.
	ErrNotBlacklisted = errors.New("trust: peer is not blacklisted")
	// ErrRefused: Set was asked for a change only the peer's conduct can
	// make (a promotion), or one the FSM does not allow from its state.
	ErrRefused = errors.New("trust: operator change refused")
	// ErrInvalidCause: cause is not valid UTF-8 or too long.
	ErrInvalidCause = errors.New("trust: invalid cause")
)

// LedgerConfig configures a Ledger.
type LedgerConfig struct {
	// FSM tunes the state machine; zero fields take defaults.
	FSM Config
	// Anchors lists the fingerprints of operator-configured trust anchors.
	// Each is moved to trusted once, the first time the ledger sees it
	// listed; a later demotion is persisted and not undone by a restart.
	Anchors []string
	// Now is the clock (default time.Now). Tests inject a fake one.
	Now func() time.Time
	// Events receives web4.trust.transition and web4.error events; nil discards.
	Events *events.Emitter
}

// Ledger is the persistent trust view of this node: the FSM state of every
// peer plus each peer's full transition history, kept in the store and
// cached in memory. Safe for concurrent use.
//
// Every fp argument is the fingerprint of the authenticated delivering peer
// (see the package documentation), never one taken from an unverified
// envelope.
type Ledger struct {
	fsm *FSM
	db  *store.DB
	now func() time.Time
	em  *events.Emitter

	// Lock order: mu → pendMu. notifyMu is never taken while holding mu or
	// pendMu; subscribers run holding notifyMu only, so they may call back
	// into the ledger.
	mu    sync.RWMutex
	peers map[string]PeerState

	pendMu  sync.Mutex
	pending []Transition // appended under mu, in apply order

	notifyMu sync.Mutex // held by the one goroutine delivering pending
	subMu    sync.Mutex
	subs     map[uint64]func(Transition)
	subSeq   uint64

	// Writes go through a queue and reach the store by group commit (see
	// commit): records are encoded and queued under mu, so queue order is
	// apply order; commitMu is held while one batch is written and is
	// never taken while holding mu or qMu.
	qMu      sync.Mutex
	queue    []queuedWrite
	queued   uint64 // seq of the last queued write (under mu)
	commitMu sync.Mutex
	durable  atomic.Uint64 // every write with seq ≤ durable is in the store

	// inTx, if set (tests), runs inside each commit transaction; an error
	// rolls the transaction back like a failed write.
	inTx func(batch int) error
}

// queuedWrite is one record change waiting for the store: the peer's new
// record and, for a transition, its history entry, already encoded.
type queuedWrite struct {
	seq      uint64
	peer     []byte
	record   []byte
	histKey  []byte
	histItem []byte
}

// OpenLedger loads the ledger from db and applies newly listed anchors.
// db stays owned by the caller; the ledger starts no goroutines and needs
// no Close.
func OpenLedger(db *store.DB, cfg LedgerConfig) (*Ledger, error) {
	if db == nil {
		return nil, errors.New("trust: OpenLedger: nil store")
	}
	l := &Ledger{
		fsm:   NewFSM(cfg.FSM),
		db:    db,
		now:   cfg.Now,
		em:    cfg.Events,
		peers: map[string]PeerState{},
		subs:  map[uint64]func(Transition){},
	}
	if l.now == nil {
		l.now = time.Now
	}
	err := db.ForEach(BucketPeers, func(k, v []byte) error {
		var ps PeerState
		if err := json.Unmarshal(v, &ps); err != nil {
			return fmt.Errorf("trust: ledger record %q corrupt: %w", k, err)
		}
		if ps.Peer != string(k) {
			return fmt.Errorf("trust: ledger record %q names peer %q", k, ps.Peer)
		}
		l.peers[ps.Peer] = ps
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, fp := range cfg.Anchors {
		if err := CheckFingerprint(fp); err != nil {
			return nil, fmt.Errorf("trust: anchor %q: %w", fp, err)
		}
		if l.peers[fp].Anchor {
			continue
		}
		if _, err := l.ApplyInput(fp, Input{Event: Anchor, Cause: "config:trust_anchor"}); err != nil {
			return nil, fmt.Errorf("trust: anchor %s: %w", fp, err)
		}
	}
	return l, nil
}

// FSM returns the ledger's state machine.
func (l *Ledger) FSM() *FSM { return l.fsm }

// Apply feeds ev about the peer fp (the authenticated delivering peer) into
// the FSM, caused by the message cause (a msg_id). It persists the new state
// and, if the state changed, the transition, emits web4.trust.transition and
// notifies subscribers. It returns the transition, or nil if the state did
// not change.
func (l *Ledger) Apply(fp string, ev Event, cause string) (*Transition, error) {
	return l.ApplyInput(fp, Input{Event: ev, Cause: cause})
}

// ApplyInput is Apply with the full Input (e.g. a fact's confirmation count).
func (l *Ledger) ApplyInput(fp string, in Input) (*Transition, error) {
	tr, commit, err := l.Stage(fp, "", in)
	if err != nil {
		return nil, err
	}
	return tr, commit()
}

// Stage is ApplyInput that also binds peerID (the PeerID fp connected
// with; "" leaves the binding alone) in the same write, and that does not
// wait for the write: the new state is in effect at once — State and View
// show it, the transition is emitted and subscribers are notified — and it
// is in the store once commit returns nil. A handshake stages its verdict
// and commits while its last messages are in flight, rather than stalling
// on the disk in between.
//
// commit may be called from any goroutine, any number of times. Writes
// reach the store in apply order, and whoever commits first writes every
// write queued so far in one transaction (group commit), so concurrent
// applies share a sync. A write that fails stays queued, is retried by the
// next commit, and is reported as web4.error (persist_failed); the
// in-memory state keeps it meanwhile, as the running node's view of the
// peer. Flush commits everything queued.
func (l *Ledger) Stage(fp, peerID string, in Input) (tr *Transition, commit func() error, err error) {
	if err := l.check(fp, in); err != nil {
		l.em.Error("trust", "invalid_input", fp, err, map[string]any{"event": in.Event.String()})
		return nil, nil, err
	}
	l.mu.Lock()
	cur, ok := l.peers[fp]
	if !ok {
		cur = PeerState{Peer: fp, State: Unknown}
	}
	before := cur
	if peerID != "" {
		cur.PeerID = peerID
	}
	next, tr := l.fsm.StepInput(cur, in, l.now().UTC())
	if tr == nil && equalState(before, next) {
		// Nothing changed (also for a stranger: no record is created).
		l.mu.Unlock()
		return nil, noCommit, nil
	}
	seq, err := l.enqueueLocked(next, tr)
	if err != nil {
		l.mu.Unlock()
		l.em.Error("trust", "persist_failed", fp, err, nil)
		return nil, nil, err
	}
	l.peers[fp] = next
	commit = func() error { return l.commit(seq) }
	if tr == nil {
		l.mu.Unlock()
		return nil, commit, nil
	}
	l.emit(*tr)
	l.pendMu.Lock()
	l.pending = append(l.pending, *tr)
	l.pendMu.Unlock()
	l.mu.Unlock()
	l.deliver()
	return tr, commit, nil
}

func noCommit() error { return nil }

// Flush writes every queued change to the store (see Stage).
func (l *Ledger) Flush() error {
	l.mu.Lock()
	seq := l.queued
	l.mu.Unlock()
	return l.commit(seq)
}

// deliver hands queued transitions to subscribers, in apply order, from
// whichever applying goroutine gets the notify lock first; the others
// return at once (their transitions are delivered by the holder, which
// re-checks the queue after releasing the lock, so none is stranded).
func (l *Ledger) deliver() {
	for {
		if !l.notifyMu.TryLock() {
			return
		}
		for {
			l.pendMu.Lock()
			if len(l.pending) == 0 {
				l.pendMu.Unlock()
				break
			}
			tr := l.pending[0]
			l.pending = l.pending[1:]
			l.pendMu.Unlock()
			l.notify(tr)
		}
		l.notifyMu.Unlock()
		l.pendMu.Lock()
		empty := len(l.pending) == 0
		l.pendMu.Unlock()
		if empty {
			return
		}
	}
}

// Override lifts a blacklisting on the operator's authority: blacklisted →
// probing, with reason recorded as the transition's cause.
func (l *Ledger) Override(fp, reason string) (*Transition, error) {
	if err := l.check(fp, Input{Event: ManualOverride, Cause: reason}); err != nil {
		l.em.Error("trust", "invalid_input", fp, err, map[string]any{"event": ManualOverride.String()})
		return nil, err
	}
	if st := l.State(fp); st != Blacklisted {
		err := fmt.Errorf("%w: %s is %s", ErrNotBlacklisted, fp, st)
		l.em.Error("trust", "override_refused", fp, err, nil)
		return nil, err
	}
	if reason == "" {
		reason = "manual override"
	}
	tr, err := l.ApplyInput(fp, Input{Event: ManualOverride, Cause: reason})
	if err == nil && tr == nil {
		// Someone else changed the state between the check and the apply.
		return nil, fmt.Errorf("%w: %s changed concurrently", ErrNotBlacklisted, fp)
	}
	return tr, err
}

// Set moves fp to the state want on the operator's authority, with reason
// recorded as the cause of every transition it makes:
//
//	blacklisted → probing             ManualOverride (lift a blacklisting)
//	trusted → probing                 ManualDemote (un-anchors an anchor)
//	unknown/probing/trusted → untrusted ManualDistrust (cooldown starts)
//	any but blacklisted → blacklisted ManualBlacklist
//
// Trust is never granted by hand (→ trusted: earned or an anchor listing),
// unknown is not a state one can go back to, and a change the FSM refuses
// from the current state (say untrusted → probing: the cooldown and a
// handshake decide that) returns ErrRefused naming both states. An anchor
// demoted here stays demoted across restarts even if it is still listed:
// the listing was applied once (see LedgerConfig.Anchors).
func (l *Ledger) Set(fp string, want State, reason string) (*Transition, error) {
	if reason == "" {
		reason = "operator"
	}
	from := l.State(fp)
	var ev Event
	switch {
	case !want.Valid():
		return nil, fmt.Errorf("%w: %w", ErrRefused, ErrInvalidState)
	case from == want:
		return nil, fmt.Errorf("%w: %s is already %s", ErrRefused, fp, want)
	case want == Trusted:
		return nil, fmt.Errorf("%w: trust is earned (verified knowledge) or configured (--trust-anchor), never set by hand", ErrRefused)
	case want == Unknown:
		return nil, fmt.Errorf("%w: a peer cannot be made unknown again (its history stays); use untrusted or blacklisted", ErrRefused)
	case want == Probing && from == Blacklisted:
		return l.Override(fp, reason)
	case want == Probing && from == Trusted:
		ev = ManualDemote
	case want == Untrusted && from != Blacklisted:
		ev = ManualDistrust
	case want == Blacklisted:
		ev = ManualBlacklist
	default:
		return nil, fmt.Errorf("%w: %s → %s is not an operator transition (SPEC §5): %s is left by a handshake after its cooldown or by a manual override of a blacklisting", ErrRefused, from, want, from)
	}
	in := Input{Event: ev, Cause: reason}
	if err := l.check(fp, in); err != nil {
		l.em.Error("trust", "invalid_input", fp, err, map[string]any{"event": ev.String()})
		return nil, err
	}
	tr, err := l.ApplyInput(fp, in)
	if err == nil && tr == nil {
		return nil, fmt.Errorf("%w: %s changed concurrently", ErrRefused, fp)
	}
	return tr, err
}

// BindPeerID records the libp2p PeerID for fp (for display and for mapping
// trust into GossipSub scores). It does not change the trust state.
func (l *Ledger) BindPeerID(fp, peerID string) error {
	if err := CheckFingerprint(fp); err != nil {
		return err
	}
	l.mu.Lock()
	cur, ok := l.peers[fp]
	if !ok {
		cur = PeerState{Peer: fp, State: Unknown}
	}
	if cur.PeerID == peerID {
		l.mu.Unlock()
		return nil
	}
	cur.PeerID = peerID
	seq, err := l.enqueueLocked(cur, nil)
	if err == nil {
		l.peers[fp] = cur
	}
	l.mu.Unlock()
	if err != nil {
		return err
	}
	return l.commit(seq)
}

// State returns the peer's current state (Unknown if never seen).
func (l *Ledger) State(fp string) State {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if ps, ok := l.peers[fp]; ok {
		return ps.current()
	}
	return Unknown
}

// Peer returns a copy of the peer's full record.
func (l *Ledger) Peer(fp string) (PeerState, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	ps, ok := l.peers[fp]
	return ps.clone(), ok
}

// Standing returns the peer's state and whether its cooldown is over at the
// ledger's clock (always true unless untrusted). The router's trust gate
// uses it for "untrusted: HELLO only after cooldown".
func (l *Ledger) Standing(fp string) (State, bool) {
	l.mu.RLock()
	ps, ok := l.peers[fp]
	l.mu.RUnlock()
	if !ok {
		return Unknown, true
	}
	return ps.current(), l.fsm.CooldownOver(ps, l.now().UTC())
}

// View returns every known peer's record, sorted by fingerprint.
func (l *Ledger) View() []PeerState {
	l.mu.RLock()
	out := make([]PeerState, 0, len(l.peers))
	for _, ps := range l.peers {
		out = append(out, ps.clone())
	}
	l.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Peer < out[j].Peer })
	return out
}

// History returns the peer's transitions, oldest first, from the store
// (after writing what is still queued).
func (l *Ledger) History(fp string) ([]Transition, error) {
	if err := CheckFingerprint(fp); err != nil {
		return nil, err
	}
	if err := l.Flush(); err != nil {
		return nil, err
	}
	var out []Transition
	prefix := append([]byte(fp), 0)
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(BucketHistory))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && len(k) == len(prefix)+8 && string(k[:len(prefix)]) == string(prefix); k, v = c.Next() {
			var t Transition
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("trust: history %s #%d corrupt: %w", fp, binary.BigEndian.Uint64(k[len(prefix):]), err)
			}
			out = append(out, t)
		}
		return nil
	})
	return out, err
}

// OnChange subscribes fn to every transition. fn is called after the
// transition took effect and was emitted (with Stage, possibly before its
// write reached the store), in apply order, one call at a time,
// on one of the goroutines calling Apply (not necessarily the one that
// caused it), holding no ledger lock: it may read the ledger and may even
// call Apply (that transition is delivered after fn returns). It should not
// block for long, since it delays the applying goroutine. The returned
// function unsubscribes (idempotent).
func (l *Ledger) OnChange(fn func(Transition)) (cancel func()) {
	l.subMu.Lock()
	l.subSeq++
	id := l.subSeq
	l.subs[id] = fn
	l.subMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.subMu.Lock()
			delete(l.subs, id)
			l.subMu.Unlock()
		})
	}
}

func (l *Ledger) notify(t Transition) {
	l.subMu.Lock()
	ids := make([]uint64, 0, len(l.subs))
	for id := range l.subs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	fns := make([]func(Transition), 0, len(ids))
	for _, id := range ids {
		fns = append(fns, l.subs[id])
	}
	l.subMu.Unlock()
	for _, fn := range fns {
		fn(t)
	}
}

func (l *Ledger) check(fp string, in Input) error {
	if err := CheckFingerprint(fp); err != nil {
		return err
	}
	if !in.Event.Valid() {
		return fmt.Errorf("%w: %d", ErrInvalidEvent, uint8(in.Event))
	}
	if len(in.Cause) > maxCauseLen {
		return fmt.Errorf("%w: %d bytes, max %d", ErrInvalidCause, len(in.Cause), maxCauseLen)
	}
	if !utf8.ValidString(in.Cause) {
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidCause)
	}
	if in.Confirmations < 0 {
		return fmt.Errorf("trust: input.confirmations: must be ≥ 0, got %d", in.Confirmations)
	}
	return nil
}

// enqueueLocked encodes the peer's new record (and transition) and queues
// it for the store; l.mu is held, which orders the queue.
func (l *Ledger) enqueueLocked(ps PeerState, tr *Transition) (uint64, error) {
	w := queuedWrite{peer: []byte(ps.Peer)}
	var err error
	if w.record, err = json.Marshal(ps); err != nil {
		return 0, fmt.Errorf("trust: encode %s: %w", ps.Peer, err)
	}
	if tr != nil {
		if w.histItem, err = json.Marshal(tr); err != nil {
			return 0, fmt.Errorf("trust: encode transition %s: %w", ps.Peer, err)
		}
		w.histKey = historyKey(ps.Peer, tr.Seq)
	}
	l.queued++
	w.seq = l.queued
	l.qMu.Lock()
	l.queue = append(l.queue, w)
	l.qMu.Unlock()
	return w.seq, nil
}

// commit returns once the write seq (and every write before it) is in the
// store, writing all that is queued in one transaction if nobody else has.
func (l *Ledger) commit(seq uint64) error {
	if l.durable.Load() >= seq {
		return nil
	}
	l.commitMu.Lock()
	defer l.commitMu.Unlock()
	if l.durable.Load() >= seq {
		return nil // written by the batch we waited for
	}
	l.qMu.Lock()
	batch := l.queue
	l.queue = nil
	l.qMu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := l.db.Update(func(tx *bolt.Tx) error {
		if l.inTx != nil {
			if err := l.inTx(len(batch)); err != nil {
				return err
			}
		}
		pb, err := tx.CreateBucketIfNotExists([]byte(BucketPeers))
		if err != nil {
			return err
		}
		hb, err := tx.CreateBucketIfNotExists([]byte(BucketHistory))
		if err != nil {
			return err
		}
		for _, w := range batch {
			if err := pb.Put(w.peer, w.record); err != nil {
				return err
			}
			if w.histKey != nil {
				if err := hb.Put(w.histKey, w.histItem); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		l.qMu.Lock()
		l.queue = append(batch, l.queue...)
		l.qMu.Unlock()
		for _, w := range batch {
			l.em.Error("trust", "persist_failed", string(w.peer), err, nil)
		}
		return fmt.Errorf("trust: write %d ledger records: %w", len(batch), err)
	}
	l.durable.Store(batch[len(batch)-1].seq)
	return nil
}

func historyKey(fp string, seq uint64) []byte {
	k := make([]byte, len(fp)+1+8)
	copy(k, fp)
	binary.BigEndian.PutUint64(k[len(fp)+1:], seq)
	return k
}

func (l *Ledger) emit(t Transition) {
	l.em.Emit(EventTransition, t.Peer, map[string]any{
		"peer":    t.Peer,
		"peer_id": t.PeerID,
		"from":    t.From.String(),
		"to":      t.To.String(),
		"event":   t.Event.String(),
		"cause":   t.Cause,
		"seq":     t.Seq,
		"at":      t.Time.Format(time.RFC3339Nano),
		"counters": map[string]any{
			"invalid_in_window": t.Counters.InvalidInWindow,
			"accepted_facts":    t.Counters.AcceptedFacts,
			"vouched":           t.Counters.Vouched,
		},
	})
}

func equalState(a, b PeerState) bool {
	if a.Peer != b.Peer || a.PeerID != b.PeerID || a.State != b.State || !a.Since.Equal(b.Since) ||
		!a.UntrustedAt.Equal(b.UntrustedAt) || !a.LastFailure.Equal(b.LastFailure) ||
		a.AcceptedFacts != b.AcceptedFacts || a.Vouched != b.Vouched || a.Anchor != b.Anchor ||
		a.Seq != b.Seq || len(a.Invalid) != len(b.Invalid) {
		return false
	}
	for i := range a.Invalid {
		if !a.Invalid[i].Equal(b.Invalid[i]) {
			return false
		}
	}
	return true
}
