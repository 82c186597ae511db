package hcp

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrKeyPermissions reports a human key file readable or writable by group
// or others; the node refuses to use it (SPEC §1 applies the same rule to
// the node key).
var ErrKeyPermissions = errors.New("hcp: human key file permissions too open")

// ErrKeyFile reports a human key file that exists but cannot be used.
var ErrKeyFile = errors.New("hcp: bad human key file")

// LoadOrCreateHumanKey returns the human's Ed25519 signing key from
// dir/human.key, creating the file (mode 0600, base64 of the 32-byte seed)
// with crypto/rand on first use. A file with any group/other permission bit
// is refused with ErrKeyPermissions and a message saying how to fix it.
func LoadOrCreateHumanKey(dir string) (ed25519.PrivateKey, error) {
	return loadOrCreateKey(dir, rand.Reader)
}

func loadOrCreateKey(dir string, rnd io.Reader) (ed25519.PrivateKey, error) {
	path := filepath.Join(dir, HumanKeyFile)
	k, err := readKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKeyFile, dir, err)
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(rnd, seed); err != nil {
		return nil, fmt.Errorf("%w: randomness: %w", ErrKeyFile, err)
	}
	// Write to a temporary file and link it into place, so a crash never
	// leaves a truncated key and two racing creators agree on one key.
	tmp, err := os.CreateTemp(dir, ".human.key-*")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	if _, err := tmp.WriteString(base64.StdEncoding.EncodeToString(seed) + "\n"); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	return readKey(path)
}

func readKey(path string) (ed25519.PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%w: %s is a directory", ErrKeyFile, path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; run: chmod 600 %s", ErrKeyPermissions, path, st.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	seed, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: %s: want base64 of a %d-byte Ed25519 seed", ErrKeyFile, path, ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}
