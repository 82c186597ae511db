package knowledge

import (
	"errors"
	"fmt"
	"time"
)

// Errors for votes the Store refuses to record. Both leave the store
// untouched (the whole Ingest batch is refused) and emit
// EventVoteRejected.
var (
	// ErrUnknownFact: a vote names a fact_ref this node has no proposal
	// for (and StoreConfig.HoldUnknown is off).
	ErrUnknownFact = errors.New("knowledge: unknown fact")
	// ErrExpired: a vote was cast (its envelope timestamp) after the fact's
	// expiry.
	ErrExpired = errors.New("knowledge: fact expired")
)

// EventVoteRejected is emitted for a vote refused with ErrUnknownFact or
// ErrExpired; data.reason is "unknown_fact" or "expired".
const EventVoteRejected = "web4.knowledge.vote_rejected"

// checkRefs refuses votes on facts that are neither known nor in the same
// batch (unless holding them is configured), and votes cast after their
// fact expired.
//
// Why the expiry test uses the vote's own time, not the arrival time:
// Tally already ignores votes cast after expiry, so refusing them changes no
// status; refusing a vote cast before expiry but delivered late would make
// the status depend on delivery order (SPEC §8 wants a pure function of the
// set of votes). Such a late vote is recorded and counted like any other.
func (s *Store) checkRefs(facts []Fact, votes []Vote) error {
	inBatch := make(map[string]Fact, len(facts))
	for _, f := range facts {
		inBatch[f.ID] = f
	}
	s.mu.Lock()
	var err error
	var bad Vote
	var reason string
	for i, v := range votes {
		f, ok := inBatch[v.FactID]
		if e := s.entries[v.FactID]; e != nil && e.fact != nil {
			if ok {
				f = mergeFact(*e.fact, f)
			} else {
				f, ok = *e.fact, true
			}
		}
		switch {
		case !ok && !s.holdUnknown:
			err, bad, reason = fmt.Errorf("votes[%d]: %w: fact_ref %s has no proposal here", i, ErrUnknownFact, v.FactID), v, "unknown_fact"
		case ok && !f.Expires.IsZero() && v.Time.After(f.Expires):
			err, bad, reason = fmt.Errorf("votes[%d]: %w: vote of %s cast %s after the fact expired at %s", i, ErrExpired,
				v.Time.Format(time.RFC3339), v.Time.Sub(f.Expires).Round(time.Millisecond), f.Expires.Format(time.RFC3339)), v, "expired"
		}
		if err != nil {
			break
		}
	}
	s.mu.Unlock()
	if err != nil {
		s.em.Emit(EventVoteRejected, bad.FactID, map[string]any{
			"fact_id": bad.FactID, "voter": clip(bad.Voter), "msg_id": clip(bad.MsgID),
			"kind": bad.Kind.String(), "reason": reason, "detail": err.Error(),
		})
	}
	return err
}

// ExpireDue rejects the facts whose expiry has passed at now without
// reaching acceptance (SPEC §8: "expiry without quorum"), emitting
// web4.knowledge.fact_rejected for each, and returns the changes. The node calls it on a ticker; between ticks a fact's status
// is brought up to date whenever a vote touches it anyway. Only undecided
// facts (not accepted or rejected) whose Expires ≤ now are re-tallied, so a
// tick with nothing due costs one pass over the in-memory index and no
// disk access. Rejection by expiry is not persisted separately: it is a
// function of the stored fact and the clock, recomputed at OpenStore.
func (s *Store) ExpireDue(now time.Time) []Change {
	s.mu.Lock()
	ids := s.factIDsLocked(func(e *entry) bool {
		st := e.res.Status
		return !e.fact.Expires.IsZero() && !now.Before(e.fact.Expires) && st != Accepted && st != Rejected
	})
	changes := s.reevaluateLocked(ids, now)
	if err := s.evictExpiredLocked(changes, now); err != nil {
		s.em.Error("knowledge", "evict_failed", "", err, nil)
	}
	s.mu.Unlock()
	return changes
}
