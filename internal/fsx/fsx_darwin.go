//go:build darwin

package fsx

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// Sync flushes a file to the medium. On macOS fsync only reaches the drive's
// cache; F_FULLFSYNC asks the drive to write it out.
func Sync(f *os.File) error {
	if _, err := unix.FcntlInt(f.Fd(), unix.F_FULLFSYNC, 0); err != nil {
		return f.Sync() // not supported by every file system (e.g. SMB)
	}
	return nil
}

// DropCache turns off caching for f: macOS has no call that evicts a file's
// pages, but with F_NOCACHE set, reads through this descriptor bypass the
// unified buffer cache.
func DropCache(f *os.File) error {
	_, err := unix.FcntlInt(f.Fd(), unix.F_NOCACHE, 1)
	return err
}

// ReadFromMedium makes reads through f bypass the cache (F_NOCACHE).
func ReadFromMedium(f *os.File) error { return DropCache(f) }

// Forget is a no-op on macOS: descriptors opened for the medium use F_NOCACHE.
func Forget(f *os.File, off, n int64) {}

func readOnlyMount(dir string) bool {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return false
	}
	return st.Flags&unix.MNT_RDONLY != 0
}

// Residency is not available on macOS (x/sys has no mincore there).
func Residency(f *os.File) (resident, total int, err error) {
	return 0, 0, errors.ErrUnsupported
}

// StartWriteback is a no-op on macOS.
func StartWriteback(f *os.File, off, n int64) {}

// FSType names the file system holding path ("apfs", "exfat", "hfs"…).
func FSType(path string) string {
	var st unix.Statfs_t
	if unix.Statfs(path, &st) != nil {
		return ""
	}
	b := st.Fstypename[:]
	n := 0
	for n < len(b) && b[n] != 0 {
		n++
	}
	return string(b[:n])
}

// ReadsFromMedium says whether ReadFromMedium really bypasses the cache.
const ReadsFromMedium = true
