// Package store is the node's embedded persistent store: one bbolt file in
// the data directory, with named buckets owned by the components (trust
// ledger, knowledge, liminal queue, causal memory). It adds little to bbolt
// beyond opening with a timeout, a clear error for a corrupt, unreadable or
// locked file (never a panic),
// and small helpers for JSON values.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
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

// ErrCorrupt marks a store file that is not a valid bbolt database or
// whose pages do not hold together. Moving the file aside (and starting
// fresh) is the remedy; for any other failure (permissions, a directory in
// its place, a lock) it is not, and the error says what is wrong instead.
var ErrCorrupt = errors.New("store: corrupt")

// Open opens (creating if needed, 0600) the store at path. A file held by
// another process yields an error after a short timeout instead of hanging;
// a corrupt file yields an error wrapping ErrCorrupt, naming the path, and
// nothing is overwritten; a file that cannot be read says why (permission,
// not a regular file) without suggesting to move it aside.
//
// bbolt panics on some corruptions (a freelist or branch page of garbage)
// rather than returning an error, at open or at the first read of the bad
// page. Open therefore recovers from a panic while opening and then reads
// every bucket and key once (every reachable page is touched, so a later
// read does not panic on the node's goroutines); that pass costs a read
// of the whole file at start.
func Open(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	if err := checkReadable(path); err != nil {
		return nil, err
	}
	b, err := openBolt(path)
	if err != nil {
		switch {
		case errors.Is(err, bolt.ErrTimeout):
			return nil, fmt.Errorf("store %s: locked by another process (is another web4p2p running on this data dir?)", path)
		case errors.Is(err, ErrCorrupt):
			return nil, fmt.Errorf("store %s: %w: move it aside to start with an empty store", path, err)
		case errors.Is(err, bolt.ErrInvalid), errors.Is(err, bolt.ErrVersionMismatch), errors.Is(err, bolt.ErrChecksum):
			return nil, fmt.Errorf("store %s: %w (%v): move it aside to start with an empty store", path, ErrCorrupt, err)
		case errors.Is(err, fs.ErrPermission):
			return nil, fmt.Errorf("store %s: permission denied: %v (check the file's owner and mode)", path, err)
		}
		return nil, fmt.Errorf("store %s: cannot open: %w", path, err)
	}
	if err := walk(b); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("store %s: %w (%v): move it aside to start with an empty store", path, ErrCorrupt, err)
	}
	return &DB{bolt: b, path: path}, nil
}

// checkReadable refuses an existing path that is not a regular file, or
// that this process may not read and write.
func checkReadable(path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store %s: cannot read it: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("store %s: is a %s, not a database file (remove or rename it)", path, kindOf(st.Mode()))
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, syscall.EPERM) {
			// EPERM, not EACCES: no mode lets anyone write the file, not
			// even root — an immutable or append-only attribute.
			return fmt.Errorf("store %s: permission denied (operation not permitted, mode %v): the file refuses writes whatever the mode; is it immutable or append-only (lsattr, chattr -i)?", path, st.Mode().Perm())
		}
		if errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("store %s: permission denied (mode %v): run as the user owning the data dir or fix the mode (chmod 600)", path, st.Mode().Perm())
		}
		return fmt.Errorf("store %s: cannot read it: %w", path, err)
	}
	return f.Close()
}

func kindOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// openBolt is bolt.Open with a panic turned into ErrCorrupt.
func openBolt(path string) (b *bolt.DB, err error) {
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, fmt.Errorf("%w: %v", ErrCorrupt, p)
		}
	}()
	return bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
}

// walk reads every bucket (nested ones too) and key once, turning a panic
// of bbolt on a bad page into an error.
func walk(b *bolt.DB) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	return b.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, bk *bolt.Bucket) error { return walkBucket(bk, 0) })
	})
}

// maxBucketDepth bounds nesting in walk, so a cyclic corruption cannot
// recurse forever.
const maxBucketDepth = 16

func walkBucket(bk *bolt.Bucket, depth int) error {
	if depth > maxBucketDepth {
		return errors.New("buckets nested too deep")
	}
	return bk.ForEach(func(k, v []byte) error {
		if v == nil {
			if sub := bk.Bucket(k); sub != nil {
				return walkBucket(sub, depth+1)
			}
		}
		return nil
	})
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
