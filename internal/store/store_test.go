package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPutGetPersist(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", FileName)
	db, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutJSON("b", []byte("k"), map[string]int{"n": 7}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get("b", []byte("missing")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	if _, err := db.Get("nobucket", []byte("k")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing bucket: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v map[string]int
	if err := db.GetJSON("b", []byte("k"), &v); err != nil || v["n"] != 7 {
		t.Fatalf("after reopen: %v %v", v, err)
	}
	n := 0
	_ = db.ForEach("b", func(k, v []byte) error { n++; return nil })
	if n != 1 {
		t.Fatalf("ForEach saw %d", n)
	}
	if err := db.Delete("b", []byte("k")); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
}

func TestCorruptFileIsReportedNotOverwritten(t *testing.T) {
	p := filepath.Join(t.TempDir(), FileName)
	junk := []byte(strings.Repeat("not a bolt file ", 512))
	if err := os.WriteFile(p, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("want error naming the path, got %v", err)
	}
	after, _ := os.ReadFile(p)
	if string(after) != string(junk) {
		t.Fatal("corrupt file was modified")
	}
}

// Garbage inside a real store (pages after the meta pages overwritten) is
// one ErrCorrupt error, never a bbolt panic.
func TestDamagedStoreIsErrorNotPanic(t *testing.T) {
	p := filepath.Join(t.TempDir(), FileName)
	db, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if err := db.Put("b", []byte(strings.Repeat("k", 40)+string(rune('a'+i%26))+strings.Repeat("x", i)), make([]byte, 300)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	// Deterministic junk over everything past the two meta pages.
	for i := 2 * 4096; i < len(raw); i++ {
		raw[i] = byte(i*7 + 13)
	}
	if err := os.WriteFile(p, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(p)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "move it aside") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("want one ErrCorrupt line, got %v", err)
	}
	if testing.Verbose() {
		t.Log(err)
	}
}

// A store that cannot be read is not called corrupt, and moving it aside
// is not suggested.
func TestUnreadableStoreSaysWhy(t *testing.T) {
	t.Run("directory in its place", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), FileName)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		_, err := Open(p)
		if err == nil || errors.Is(err, ErrCorrupt) || strings.Contains(err.Error(), "move it aside") || !strings.Contains(err.Error(), "is a directory") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("mode 000", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("SKIPPED as root: root reads and writes a mode-000 file anyway, so this case cannot happen here; TestImmutableStoreSaysWhy checks the refused open root can meet (an immutable file)")
		}
		p := filepath.Join(t.TempDir(), FileName)
		db, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		_ = db.Close()
		if err := os.Chmod(p, 0); err != nil {
			t.Fatal(err)
		}
		_, err = Open(p)
		if err == nil || errors.Is(err, ErrCorrupt) || strings.Contains(err.Error(), "move it aside") || !strings.Contains(err.Error(), "permission denied") {
			t.Fatalf("got %v", err)
		}
	})
}
