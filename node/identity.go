package node

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// ErrIdentity marks a problem with the identity key file.
var ErrIdentity = errors.New("identity key")

// LoadOrCreateIdentity returns the node's Ed25519 key from dataDir, creating
// it (0600, in a 0700 directory) on first use. It refuses a key file readable
// or writable by group/others, and a file that does not hold an Ed25519 key;
// it never overwrites an existing file.
func LoadOrCreateIdentity(dataDir string, rnd io.Reader) (crypto.PrivKey, bool, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	path := filepath.Join(dataDir, IdentityFile)
	st, err := os.Stat(path)
	switch {
	case err == nil:
		if !st.Mode().IsRegular() {
			return nil, false, fmt.Errorf("%w %s: not a regular file", ErrIdentity, path)
		}
		if perm := st.Mode().Perm(); perm&0o077 != 0 {
			return nil, false, fmt.Errorf("%w %s: mode %04o lets group/others read it; fix with: chmod 600 %s", ErrIdentity, path, perm, path)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, false, fmt.Errorf("%w %s: %v", ErrIdentity, path, err)
		}
		k, err := crypto.UnmarshalPrivateKey(raw)
		if err != nil {
			return nil, false, fmt.Errorf("%w %s: corrupt (not a libp2p private key); move it aside to create a new identity: %v", ErrIdentity, path, err)
		}
		if k.Type() != crypto.Ed25519 {
			return nil, false, fmt.Errorf("%w %s: key type %v, web4p2p needs Ed25519", ErrIdentity, path, k.Type())
		}
		return k, false, nil
	case errors.Is(err, fs.ErrNotExist):
	default:
		return nil, false, fmt.Errorf("%w %s: %v", ErrIdentity, path, err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, false, fmt.Errorf("data dir %s: %w", dataDir, err)
	}
	k, _, err := crypto.GenerateEd25519Key(rnd)
	if err != nil {
		return nil, false, fmt.Errorf("%w: generate: %v", ErrIdentity, err)
	}
	raw, err := crypto.MarshalPrivateKey(k)
	if err != nil {
		return nil, false, fmt.Errorf("%w: marshal: %v", ErrIdentity, err)
	}
	// O_EXCL: never overwrite a key another process created meanwhile.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("%w %s: %v", ErrIdentity, path, err)
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		os.Remove(path)
		return nil, false, fmt.Errorf("%w %s: write: %v", ErrIdentity, path, err)
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("%w %s: %v", ErrIdentity, path, err)
	}
	return k, true, nil
}
