package reconcile

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/web4p2p/web4p2p/internal/negentropy"
	"github.com/web4p2p/web4p2p/internal/store"
)

// bucketLog holds the log: key timestamp (8 bytes big-endian, seconds) ||
// id, value the envelope's bytes.
const bucketLog = "sync_log"

// ID names an envelope in the log: the SHA-256 of its bytes.
type ID = [negentropy.IDSize]byte

// IDOf returns the id of raw.
func IDOf(raw []byte) ID { return sha256.Sum256(raw) }

// Log is the set of envelopes a node reconciles. Safe for concurrent use.
type Log struct {
	db        *store.DB
	retention time.Duration
	max       int

	mu      sync.Mutex
	items   map[ID]uint64 // id → timestamp (seconds)
	pending map[ID][]byte // added, not yet on disk (Flush)
	snap    *negentropy.Vector
}

// flushAt is how many added envelopes wait in memory before Add writes
// them in one transaction. The log is a cache of what peers can send
// again: losing the last few to a crash costs a re-sync, not data.
const flushAt = 512

// errTooOld: an envelope older than the retention is not kept.
var errTooOld = errors.New("reconcile: envelope older than the log keeps")

// OpenLog loads the log from db. Items older than retention are pruned on
// load and by Prune; beyond max items the oldest go.
func OpenLog(db *store.DB, retention time.Duration, max int) (*Log, error) {
	l := &Log{db: db, retention: retention, max: max, items: map[ID]uint64{}, pending: map[ID][]byte{}}
	err := db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketLog))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			if len(k) != 8+negentropy.IDSize {
				return fmt.Errorf("reconcile: log key of %d bytes", len(k))
			}
			var id ID
			copy(id[:], k[8:])
			l.items[id] = binary.BigEndian.Uint64(k[:8])
			return nil
		})
	})
	return l, err
}

func key(ts uint64, id ID) []byte {
	k := make([]byte, 8+len(id))
	binary.BigEndian.PutUint64(k, ts)
	copy(k[8:], id[:])
	return k
}

// Add keeps raw (signed at at). It reports whether it was new. Added
// envelopes reach the disk in batches (Flush).
func (l *Log) Add(raw []byte, at, now time.Time) (bool, error) {
	if now.Sub(at) > l.retention {
		return false, errTooOld
	}
	id, ts := IDOf(raw), uint64(max(at.Unix(), 0))
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.items[id]; ok {
		return false, nil
	}
	l.items[id] = ts
	l.pending[id] = append([]byte(nil), raw...)
	l.snap = nil
	if len(l.pending) >= flushAt {
		if err := l.flushLocked(); err != nil {
			return true, err
		}
	}
	if len(l.items) > l.max {
		l.pruneLocked(func(ids []ID) []ID { return ids[:len(l.items)-l.max] })
	}
	return true, nil
}

// Flush writes the envelopes added since the last flush.
func (l *Log) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flushLocked()
}

func (l *Log) flushLocked() error {
	if len(l.pending) == 0 {
		return nil
	}
	err := l.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucketLog))
		if err != nil {
			return err
		}
		for id, raw := range l.pending {
			if err := b.Put(key(l.items[id], id), raw); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	clear(l.pending)
	return nil
}

// GetMany returns the kept envelopes among ids, in order, read in one
// transaction; ids no longer kept are skipped.
func (l *Log) GetMany(ids []ID) [][]byte {
	out := make([][]byte, 0, len(ids))
	keys := make([][]byte, len(ids))
	l.mu.Lock()
	for i, id := range ids {
		if raw, waiting := l.pending[id]; waiting {
			keys[i] = nil
			out = append(out, raw)
			continue
		}
		if ts, ok := l.items[id]; ok {
			keys[i] = key(ts, id)
		}
	}
	l.mu.Unlock()
	_ = l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketLog))
		if b == nil {
			return nil
		}
		for _, k := range keys {
			if k == nil {
				continue
			}
			if v := b.Get(k); v != nil {
				out = append(out, append([]byte(nil), v...))
			}
		}
		return nil
	})
	return out
}

// Has reports whether id is kept.
func (l *Log) Has(id ID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.items[id]
	return ok
}

// Len is the number of envelopes kept.
func (l *Log) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.items)
}

// Snapshot returns the sealed negentropy storage of the log as it is now.
// It is rebuilt only after the log changed.
func (l *Log) Snapshot() (*negentropy.Vector, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.snap != nil {
		return l.snap, nil
	}
	v := &negentropy.Vector{}
	for id, ts := range l.items {
		if err := v.Insert(ts, id); err != nil {
			return nil, err
		}
	}
	if err := v.Seal(); err != nil {
		return nil, err
	}
	l.snap = v
	return v, nil
}

// Prune forgets envelopes older than the retention.
func (l *Log) Prune(now time.Time) int {
	cut := uint64(max(now.Add(-l.retention).Unix(), 0))
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pruneLocked(func(ids []ID) []ID {
		n := sort.Search(len(ids), func(i int) bool { return l.items[ids[i]] >= cut })
		return ids[:n]
	})
}

// pruneLocked deletes the ids pick chooses from the oldest-first list.
func (l *Log) pruneLocked(pick func(oldestFirst []ID) []ID) int {
	ids := make([]ID, 0, len(l.items))
	for id := range l.items {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := l.items[ids[i]], l.items[ids[j]]
		if a != b {
			return a < b
		}
		return string(ids[i][:]) < string(ids[j][:])
	})
	gone := pick(ids)
	if len(gone) == 0 {
		return 0
	}
	_ = l.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketLog))
		if b == nil {
			return nil
		}
		for _, id := range gone {
			if err := b.Delete(key(l.items[id], id)); err != nil {
				return err
			}
		}
		return nil
	})
	for _, id := range gone {
		delete(l.items, id)
		delete(l.pending, id)
	}
	l.snap = nil
	return len(gone)
}
