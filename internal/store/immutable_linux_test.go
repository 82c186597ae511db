package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fsImmutableFL is FS_IMMUTABLE_FL from linux/fs.h (chattr +i), which
// x/sys/unix does not export.
const fsImmutableFL = 0x00000010

// setImmutable sets or clears the immutable attribute of path.
func setImmutable(path string, on bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		return err
	}
	if on {
		flags |= fsImmutableFL
	} else {
		flags &^= fsImmutableFL
	}
	return unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags))
}

// TestImmutableStoreSaysWhy is the refused-open case root can meet (root
// reads and writes a mode-000 file, see TestUnreadableStoreSaysWhy): a
// store file with the immutable attribute cannot be opened for writing
// by anyone. Open says so, names the attribute, and neither calls it
// corrupt nor suggests moving it aside.
func TestImmutableStoreSaysWhy(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: only root may set the immutable attribute; as this user the mode-000 case of TestUnreadableStoreSaysWhy checks a refused open")
	}
	p := filepath.Join(t.TempDir(), FileName)
	db, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := setImmutable(p, true); err != nil {
		// tmpfs before Linux 6.0 has no attributes, and a container may
		// lack CAP_LINUX_IMMUTABLE.
		t.Skipf("SKIPPED: cannot make %s immutable here (%v: the file system has no attributes or the process lacks CAP_LINUX_IMMUTABLE), so a refused open is NOT checked as root", p, err)
	}
	// The temporary directory's cleanup cannot remove an immutable file.
	t.Cleanup(func() {
		if err := setImmutable(p, false); err != nil {
			t.Errorf("clearing the immutable attribute of %s: %v", p, err)
		}
	})
	_, err = Open(p)
	if err == nil || errors.Is(err, ErrCorrupt) || strings.Contains(err.Error(), "move it aside") ||
		!strings.Contains(err.Error(), "permission denied") || !strings.Contains(err.Error(), "immutable") {
		t.Fatalf("got %v", err)
	}
	if testing.Verbose() {
		t.Log(err)
	}
}
