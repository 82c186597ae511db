package hcp

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestHumanKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	k1, err := LoadOrCreateHumanKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, HumanKeyFile)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %04o, want 0600", st.Mode().Perm())
	}
	k2, err := LoadOrCreateHumanKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1, k2) {
		t.Fatal("second load returned a different key")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateHumanKey(dir); !errors.Is(err, ErrKeyPermissions) {
		t.Fatalf("group-readable key: err = %v, want ErrKeyPermissions", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateHumanKey(dir); !errors.Is(err, ErrKeyFile) {
		t.Fatalf("garbage key: err = %v, want ErrKeyFile", err)
	}
}

func TestHumanKeyRandomnessFailure(t *testing.T) {
	if _, err := loadOrCreateKey(t.TempDir(), bytes.NewReader(nil)); !errors.Is(err, ErrKeyFile) {
		t.Fatalf("err = %v, want ErrKeyFile", err)
	}
}
