package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"
)

// Rotation bounds for the events file (SPEC §11).
const (
	// DefaultRotateBytes is the size past which the events file is rotated
	// when the operator does not say (start --events-file-max-mb 64).
	DefaultRotateBytes = 64 << 20
	// DefaultRotateKeep is how many rotated files (path.1 … path.N) are kept.
	DefaultRotateKeep = 3
)

// RotatingFile is a JSON-lines file sink (SPEC §11) that rotates by size:
// before an event would take the file past MaxBytes, path.N-1 … path.1 move
// up one (path.Keep is dropped), path becomes path.1 and a new path is
// opened. Rotation happens only between events, and each event is one write
// of one whole line, so no event is split across files or lost by rotating.
// An event larger than MaxBytes on its own goes whole into a fresh file.
//
// A failed rotation (rename or open refused) never stops the sink: it keeps
// appending to the file it has open — even if that one was already renamed
// to path.1 — reports the error through OnError, and tries again only after
// another MaxBytes has been written, so a failing disk does not turn each
// event into an error event. A failed write is remembered (Err) and ends
// writing, as for JSONLines.
type RotatingFile struct {
	path     string
	maxBytes int64
	keep     int
	onError  func(error)

	mu      sync.Mutex
	f       *os.File
	size    int64
	retryAt int64 // after a failed rotation: no new try before size reaches it
	// reporting is set while OnError runs: the event it emits about the
	// failure is written without trying to rotate again (no recursion).
	reporting bool
	err       error
	closed    bool
}

// OpenRotatingFile opens (append, create 0600) path and returns a sink that
// rotates it past maxBytes keeping keep old files. onError (may be nil) is
// told about failed rotations; it is called on the emitting goroutine with no
// lock held, so it may emit an event (which this sink then writes).
func OpenRotatingFile(path string, maxBytes int64, keep int, onError func(error)) (*RotatingFile, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("events file %s: rotation size must be > 0, got %d", path, maxBytes)
	}
	if keep < 1 {
		return nil, fmt.Errorf("events file %s: must keep at least 1 rotated file, got %d", path, keep)
	}
	r := &RotatingFile{path: path, maxBytes: maxBytes, keep: keep, onError: onError}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *RotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("events file %s: %w", r.path, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("events file %s: %w", r.path, err)
	}
	r.f, r.size, r.retryAt = f, st.Size(), 0
	return nil
}

// Emit implements Sink.
func (r *RotatingFile) Emit(e Event) {
	b, err := json.Marshal(e)
	if err != nil {
		r.mu.Lock()
		if r.err == nil {
			r.err = err
		}
		r.mu.Unlock()
		return
	}
	line := append(b, '\n')
	r.mu.Lock()
	if r.err != nil || r.closed {
		r.mu.Unlock()
		return
	}
	var rerr error
	if r.size > 0 && r.size+int64(len(line)) > r.maxBytes && r.size >= r.retryAt && !r.reporting {
		if rerr = r.rotateLocked(); rerr != nil {
			r.retryAt = r.size + r.maxBytes
		}
	}
	n, werr := r.f.Write(line)
	r.size += int64(n)
	if werr != nil {
		r.err = fmt.Errorf("events file %s: %w", r.path, werr)
	}
	report := rerr != nil && r.onError != nil
	if report {
		r.reporting = true
	}
	r.mu.Unlock()
	if report {
		r.onError(rerr)
		r.mu.Lock()
		r.reporting = false
		r.mu.Unlock()
	}
}

// rotateLocked shifts the old files up and reopens path. On failure the
// sink still has a file open to write to.
func (r *RotatingFile) rotateLocked() error {
	for i := r.keep - 1; i >= 1; i-- {
		from, to := r.path+"."+strconv.Itoa(i), r.path+"."+strconv.Itoa(i+1)
		if err := os.Rename(from, to); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotating events file: %w", err)
		}
	}
	if err := os.Rename(r.path, r.path+".1"); err != nil {
		return fmt.Errorf("rotating events file: %w", err)
	}
	old := r.f
	if err := r.open(); err != nil {
		r.f = old // now named path.1: written on rather than lose events
		return fmt.Errorf("rotating events file: %w", err)
	}
	_ = old.Close()
	return nil
}

// Err returns the first write error, if any.
func (r *RotatingFile) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Close closes the file. Idempotent; events emitted after it are dropped.
func (r *RotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	return r.f.Close()
}
