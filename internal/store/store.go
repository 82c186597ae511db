// Package store is the node's embedded persistent store: one bbolt file in
// the data directory, with named buckets owned by the components (trust
// ledger, knowledge, liminal queue, causal memory). It adds little to bbolt
// beyond opening with a timeout, a clear error for a corrupt or locked file,
// and small helpers for JSON values.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrNotFound is returned by Get when the key is absent.
var ErrNotFound = errors.New("store: not found")

// DB is an open store. Safe for concurrent use.
type DB struct {
	bolt *bolt.DB
	path string
}

// FileName is the store's file name inside the data directory.
const FileName = "web4p2p.db"

// Open opens (creating if needed, 0600) the store at path. A file held by
// another process yields an error after a short timeout instead of hanging;
// a corrupt file yields an error naming the path and nothing is overwritten.
func Open(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("store %s: locked by another process (is another web4p2p running on this data dir?)", path)
		}
		return nil, fmt.Errorf("store %s: cannot open (corrupt or unreadable; move it aside to start fresh): %w", path, err)
	}
	return &DB{bolt: b, path: path}, nil
}

// Path returns the file path.
func (d *DB) Path() string { return d.path }

// Close closes the file. Idempotent.
func (d *DB) Close() error {
	if d == nil || d.bolt == nil {
		return nil
	}
	return d.bolt.Close()
}

// Bolt exposes the underlying database for components that need
// multi-bucket transactions.
func (d *DB) Bolt() *bolt.DB { return d.bolt }

// Put stores value under key in bucket (created on demand).
func (d *DB) Put(bucket string, key, value []byte) error {
	return d.bolt.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		return b.Put(key, value)
	})
}

// Get returns a copy of the value under key, or ErrNotFound.
func (d *DB) Get(bucket string, key []byte) ([]byte, error) {
	var out []byte
	err := d.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return ErrNotFound
		}
		v := b.Get(key)
		if v == nil {
			return ErrNotFound
		}
		out = append([]byte(nil), v...)
		return nil
	})
	return out, err
}

// Delete removes key from bucket; absent keys are not an error.
func (d *DB) Delete(bucket string, key []byte) error {
	return d.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		return b.Delete(key)
	})
}

// ForEach calls fn for every key/value in bucket in key order. The slices
// are only valid during the call.
func (d *DB) ForEach(bucket string, fn func(k, v []byte) error) error {
	return d.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		return b.ForEach(fn)
	})
}

// Batch runs fn in a bbolt batch transaction: concurrent callers are
// coalesced into one disk sync, which is what makes high ingest rates
// possible. fn may be called more than once and must be idempotent.
func (d *DB) Batch(fn func(tx *bolt.Tx) error) error { return d.bolt.Batch(fn) }

// Update runs fn in a read-write transaction.
func (d *DB) Update(fn func(tx *bolt.Tx) error) error { return d.bolt.Update(fn) }

// View runs fn in a read-only transaction.
func (d *DB) View(fn func(tx *bolt.Tx) error) error { return d.bolt.View(fn) }

// PutJSON stores v encoded as JSON.
func (d *DB) PutJSON(bucket string, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return d.Put(bucket, key, b)
}

// GetJSON decodes the value under key into v.
func (d *DB) GetJSON(bucket string, key []byte, v any) error {
	b, err := d.Get(bucket, key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("store %s/%s: corrupt value: %w", bucket, key, err)
	}
	return nil
}
