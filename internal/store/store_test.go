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
