package knowledge

import (
	"bytes"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/web4p2p/web4p2p/trust"
)

// Quotas bound what identities that have not proven themselves (any trust
// state but trusted) can make a node store: an identity that proposes or
// votes without ever reaching quorum can fill neither the disk nor memory.
//
// Counted are the facts a proposer has in the store that are not accepted
// (pending, disputed, rejected but not yet evicted) and the votes a voter
// has recorded. A proposal or vote beyond its identity's quota, or a
// proposal beyond the total of unaccepted facts, is refused with ErrLimit
// (no trust consequence: it may be honest, just not yet proven). Facts that
// expire without quorum are evicted with their votes when their proposer is
// not trusted, which frees the quota; accepted facts count against no one.
const (
	// MaxUnacceptedPerIdentity bounds the unaccepted facts of one
	// proposer that is not trusted.
	MaxUnacceptedPerIdentity = 100
	// MaxUnacceptedFacts bounds the unaccepted facts of all proposers, past
	// which proposers that are not trusted are refused.
	MaxUnacceptedFacts = 10000
	// MaxVotesPerIdentity bounds the votes recorded for one voter that is
	// not trusted.
	MaxVotesPerIdentity = 1000
)

// quota is the Store's accounting (guarded by Store.mu).
type quota struct {
	unaccepted map[string]int // proposer → facts not accepted
	total      int
	votes      map[string]int // voter → votes recorded
}

func newQuota() quota { return quota{unaccepted: map[string]int{}, votes: map[string]int{}} }

// account adds delta to e's proposer's count if e counts (it has a fact
// and is not accepted). Call it with -1 before changing e's fact or
// result and with +1 after.
func (q *quota) account(e *entry, delta int) {
	if e.fact == nil || e.res.Status == Accepted {
		return
	}
	p := e.fact.Proposer
	q.unaccepted[p] += delta
	q.total += delta
	if q.unaccepted[p] <= 0 {
		delete(q.unaccepted, p)
	}
}

func (q *quota) vote(voter string, delta int) {
	q.votes[voter] += delta
	if q.votes[voter] <= 0 {
		delete(q.votes, voter)
	}
}

// checkQuotaLocked refuses the new facts and votes of a batch that would
// take an identity that is not trusted past its quota.
func (s *Store) checkQuotaLocked(facts []Fact, votes []Vote) error {
	newFacts := map[string]int{}
	total := 0
	for _, f := range facts {
		if e := s.entries[f.ID]; e != nil && e.fact != nil {
			continue // a merge adds nothing
		}
		total++
		if s.view(f.Proposer) == trust.Trusted {
			continue
		}
		newFacts[f.Proposer]++
		if n := s.quota.unaccepted[f.Proposer] + newFacts[f.Proposer]; n > MaxUnacceptedPerIdentity {
			return fmt.Errorf("%w: proposer %.16s… has %d unaccepted facts here, max %d for an identity that is not trusted",
				ErrLimit, f.Proposer, n, MaxUnacceptedPerIdentity)
		}
		if n := s.quota.total + total; n > MaxUnacceptedFacts {
			return fmt.Errorf("%w: %d unaccepted facts here, max %d; only trusted proposers are taken now", ErrLimit, n, MaxUnacceptedFacts)
		}
	}
	newVotes := map[string]int{}
	for _, v := range votes {
		if e := s.entries[v.FactID]; e != nil {
			if _, ok := e.votes[v.Voter]; ok {
				continue // a newer vote replaces the voter's old one
			}
		}
		if s.view(v.Voter) == trust.Trusted {
			continue
		}
		newVotes[v.Voter]++
		if n := s.quota.votes[v.Voter] + newVotes[v.Voter]; n > MaxVotesPerIdentity {
			return fmt.Errorf("%w: voter %.16s… has %d votes here, max %d for an identity that is not trusted",
				ErrLimit, v.Voter, n, MaxVotesPerIdentity)
		}
	}
	return nil
}

// evictExpired forgets facts that expired without quorum and whose
// proposer is not trusted, with their votes, in memory and on disk.
// Called with s.mu held, after the expiry was evaluated.
func (s *Store) evictExpiredLocked(changes []Change, now time.Time) error {
	var ids []string
	for _, c := range changes {
		if c.Result.Status != Rejected || s.view(c.Fact.Proposer) == trust.Trusted {
			continue
		}
		e := s.entries[c.Fact.ID]
		if e == nil || e.fact == nil || e.fact.Expires.IsZero() || now.Before(e.fact.Expires) {
			continue
		}
		s.quota.account(e, -1)
		for voter := range e.votes {
			s.quota.vote(voter, -1)
		}
		delete(s.entries, c.Fact.ID)
		ids = append(ids, c.Fact.ID)
	}
	if len(ids) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte(BucketFacts)); b != nil {
			for _, id := range ids {
				if err := b.Delete([]byte(id)); err != nil {
					return err
				}
			}
		}
		b := tx.Bucket([]byte(BucketVotes))
		if b == nil {
			return nil
		}
		for _, id := range ids {
			prefix := append([]byte(id), 0)
			c := b.Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				if err := c.Delete(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	for _, id := range ids {
		s.em.Emit(EventFactEvicted, id, map[string]any{"fact_id": id, "reason": "expired_unproven"})
	}
	return err
}

// EventFactEvicted: an expired fact of a proposer that is not trusted was
// forgotten, with its votes, freeing its proposer's quota.
const EventFactEvicted = "web4.knowledge.fact_evicted"
