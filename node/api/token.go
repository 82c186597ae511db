package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// TokenFile is the token's file name in the data directory.
const TokenFile = "api.token"

// LoadOrCreateToken returns the bearer token at path, creating a random
// 256-bit one (0600) if the file does not exist. A token file readable by
// group/others is refused, like the identity key.
func LoadOrCreateToken(path string) (string, error) {
	st, err := os.Stat(path)
	if err == nil {
		if st.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("api token %s: mode %04o lets group/others read it; fix with: chmod 600 %s", path, st.Mode().Perm(), path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("api token %s: %w", path, err)
		}
		tok := strings.TrimSpace(string(b))
		if len(tok) < 32 {
			return "", fmt.Errorf("api token %s: too short (%d chars); delete it to create a new one", path, len(tok))
		}
		return tok, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("api token %s: %w", path, err)
	}
	tok := randHex()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("api token %s: %w", path, err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return "", err
	}
	return tok, f.Close()
}

// ReadToken reads an existing token file (for clients).
func ReadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("api token %s: %w (is the node started with this data dir?)", path, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// randHex returns 256 random bits in hex: the API token and the console's
// session ids and CSRF tokens. crypto/rand.Read does not fail (Go 1.24+).
func randHex() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
