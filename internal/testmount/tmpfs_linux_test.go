package testmount

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The tmpfs is real and as asked: a size-limited one fills up, a read-only
// one refuses writes, and each is unmounted when its test ends, so the
// folder is again on the file system it was made on.
func TestTmpfs(t *testing.T) {
	var full, readOnly string
	t.Run("size", func(t *testing.T) {
		full = Tmpfs(t, "size=64k")
		err := os.WriteFile(filepath.Join(full, "filler"), make([]byte, 128<<10), 0o644)
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("128 KiB onto a 64 KiB tmpfs: %v, want no space left", err)
		}
		if !mountPoint(t, full) {
			t.Fatalf("%s is not a mount point", full)
		}
	})
	t.Run("read-only", func(t *testing.T) {
		readOnly = Tmpfs(t, "ro,size=1m")
		if err := os.WriteFile(filepath.Join(readOnly, "x"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
			t.Fatalf("a write to a read-only tmpfs: %v, want read-only file system", err)
		}
	})
	for _, dir := range []string{full, readOnly} {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after its test: %v; want it unmounted and removed", dir, err)
		}
	}
	// A folder that outlives the test it was mounted in is unmounted.
	keep := t.TempDir()
	t.Run("at", func(t *testing.T) { TmpfsAt(t, keep, "size=1m") })
	if mountPoint(t, keep) {
		t.Errorf("%s is still a mount point after its test", keep)
	}
}

func mountPoint(t *testing.T, dir string) bool {
	t.Helper()
	var in, parent syscall.Stat_t
	if err := syscall.Stat(dir, &in); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(filepath.Dir(dir), &parent); err != nil {
		t.Fatal(err)
	}
	return in.Dev != parent.Dev
}
