package events

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// readEvents returns the seq numbers of the events in file, checking every
// line is one whole event.
func readEvents(t *testing.T, file string) []int {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []int
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: a line that is not one event (%v): %.80s", file, err, sc.Text())
		}
		if err := Validate(sc.Bytes()); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		n, err := strconv.Atoi(e.Subject)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func rotEmitter(s Sink) *Emitter {
	fixed := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	return NewEmitter(testPeer, s, func() time.Time { return fixed })
}

func TestRotatingFileKeepsEveryEventWholeAndInOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	const max = 2000
	r, err := OpenRotatingFile(path, max, 3, func(err error) { t.Errorf("rotation failed: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	em := rotEmitter(r)
	// Enough events for three rotations, few enough that none is dropped;
	// one bigger than the limit on its own.
	const total = 20
	for i := range total {
		d := map[string]any{"pad": strings.Repeat("x", 100)}
		if i == 11 {
			d["pad"] = strings.Repeat("y", 3*max)
		}
		em.Emit("web4.test.rotate", strconv.Itoa(i), d)
	}
	if err := r.Close(); err != nil || r.Close() != nil {
		t.Fatalf("close: %v", err)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	var seen []int
	for _, f := range []string{path + ".3", path + ".2", path + ".1", path} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatalf("after rotations: %v", err)
		}
		got := readEvents(t, f)
		if st.Size() > max && len(got) != 1 {
			t.Errorf("%s: %d bytes in %d events, over the %d limit", f, st.Size(), len(got), max)
		}
		seen = append(seen, got...)
	}
	if _, err := os.Stat(path + ".4"); !os.IsNotExist(err) {
		t.Fatalf("a fourth old file: %v", err)
	}
	// The oldest files were dropped, so seen is the tail of 0..total-1.
	for i, n := range seen {
		if want := total - len(seen) + i; n != want {
			t.Fatalf("events %v: want a contiguous tail ending at %d", seen, total-1)
		}
	}
	if len(seen) < 8 {
		t.Fatalf("only %d events kept in 4 files of %d bytes: %v", len(seen), max, seen)
	}
}

func TestRotatingFileNoEventLostWhileFilesSuffice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	r, err := OpenRotatingFile(path, 1500, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	em := rotEmitter(r)
	// Concurrent emitters: rotation happens between whole lines.
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				em.Emit("web4.test.rotate", strconv.Itoa(g*5+i), nil)
			}
		}()
	}
	wg.Wait()
	_ = r.Close()
	got := map[int]bool{}
	for _, f := range []string{path + ".3", path + ".2", path + ".1", path} {
		if _, err := os.Stat(f); err != nil {
			continue
		}
		for _, n := range readEvents(t, f) {
			if got[n] {
				t.Fatalf("event %d twice", n)
			}
			got[n] = true
		}
	}
	if len(got) != 20 {
		t.Fatalf("%d of 20 events found", len(got))
	}
	if _, err := os.Stat(path + ".1"); err != nil {
		t.Fatalf("no rotation happened: %v", err)
	}
}

func TestRotatingFileFailedRotationKeepsWriting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.jsonl")
	// path.1 is a non-empty directory: renaming the file onto it fails
	// (for root too).
	if err := os.MkdirAll(filepath.Join(path+".1", "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	var errs []error
	var em *Emitter
	r, err := OpenRotatingFile(path, 2000, 1, func(err error) {
		errs = append(errs, err)
		em.Error("events", "rotate_failed", path, err, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	em = rotEmitter(r)
	const total = 30
	for i := range total {
		em.Emit("web4.test.rotate", strconv.Itoa(i), nil)
	}
	_ = r.Close()
	if r.Err() != nil {
		t.Fatalf("the sink stopped: %v", r.Err())
	}
	if len(errs) == 0 || len(errs) > 8 {
		t.Fatalf("%d rotation errors reported for %d events (want a few, not one per event): %v", len(errs), total, errs)
	}
	// Every event, and the error events, are in the one file.
	var n, errLines int
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		switch e.Type {
		case "web4.error":
			errLines++
			if e.Data["kind"] != "rotate_failed" || !strings.Contains(fmt.Sprint(e.Data["detail"]), "rotating events file") {
				t.Fatalf("error event: %+v", e)
			}
		default:
			if e.Subject != strconv.Itoa(n) {
				t.Fatalf("event %s where %d was expected", e.Subject, n)
			}
			n++
		}
	}
	if n != total || errLines != len(errs) {
		t.Fatalf("%d events and %d error events in the file, want %d and %d", n, errLines, total, len(errs))
	}
}

func TestOpenRotatingFileRejectsBadLimits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.jsonl")
	if _, err := OpenRotatingFile(path, 0, 3, nil); err == nil || !strings.Contains(err.Error(), "rotation size") {
		t.Fatalf("max 0: %v", err)
	}
	if _, err := OpenRotatingFile(path, 10, 0, nil); err == nil || !strings.Contains(err.Error(), "at least 1") {
		t.Fatalf("keep 0: %v", err)
	}
	if _, err := OpenRotatingFile(filepath.Join(path, "sub", "x"), 10, 1, nil); err == nil {
		t.Fatal("open under a missing directory succeeded")
	}
}
