//go:build windows

package fsx

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows"
)

// Sync flushes a file to the medium (FlushFileBuffers).
func Sync(f *os.File) error { return f.Sync() }

// SyncDir is a no-op: Windows has no folder fsync; NTFS journals renames.
func SyncDir(dir string) error { return nil }

// DropCache is a no-op on Windows: the cache manager cannot be told to evict
// one file's pages; reads that must bypass it open the file unbuffered.
func DropCache(f *os.File) error { return nil }

// ReadFromMedium is a no-op on Windows (see DropCache); verify there reads
// through the cache, which the report says.
func ReadFromMedium(f *os.File) error { return nil }

// Forget is a no-op on Windows.
func Forget(f *os.File, off, n int64) {}

// FreeSpace reports the space available under path.
func FreeSpace(path string) (Space, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return Space{}, err
	}
	var free, total, totalFree uint64
	if err := windows.GetDiskFreeSpaceEx(p, &free, &total, &totalFree); err != nil {
		return Space{}, fmt.Errorf("free space of %s: %w", path, err)
	}
	// exFAT cluster sizes vary; 4 KiB is NTFS's default and a safe floor.
	return Space{Free: int64(free), Total: int64(total), BlockSize: 4096}, nil
}

// Writable reports why a folder cannot be written to, without writing.
func Writable(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o200 == 0 {
		return fmt.Errorf("%s is read-only", dir)
	}
	return nil
}

// Lock takes an exclusive lock on path (created if needed) and returns the
// function that releases it.
func Lock(path string) (unlock func() error, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	return LockFile(f)
}

// LockFile is Lock for a file already open (one opened without following
// a link, on a drive); it closes f when the lock cannot be taken.
func LockFile(f *os.File) (unlock func() error, err error) {
	path := f.Name()
	// Lock a byte far beyond any data, so the file's content stays
	// writable through other handles (Windows locks are mandatory).
	ol := &windows.Overlapped{OffsetHigh: 0x7fffffff}
	err = windows.LockFileEx(windows.Handle(f.Fd()),
		windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	if err != nil {
		f.Close()
		if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
			return nil, fmt.Errorf("%s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f.Close, nil
}

// Residency is not available on Windows.
func Residency(f *os.File) (resident, total int, err error) {
	return 0, 0, errors.ErrUnsupported
}

// DeviceID identifies the volume holding path by its name (C:, \\server\share).
func DeviceID(path string) (uint64, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return 0, err
	}
	h := fnv.New64a()
	h.Write([]byte(strings.ToUpper(filepath.VolumeName(abs))))
	return h.Sum64(), nil
}

// StartWriteback is a no-op on Windows.
func StartWriteback(f *os.File, off, n int64) {}

// FSType names the file system holding path ("NTFS", "exFAT"…).
func FSType(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	root := filepath.VolumeName(abs) + `\`
	p, err := windows.UTF16PtrFromString(root)
	if err != nil {
		return ""
	}
	var name [windows.MAX_PATH + 1]uint16
	if windows.GetVolumeInformation(p, nil, 0, nil, nil, nil, &name[0], uint32(len(name))) != nil {
		return ""
	}
	return windows.UTF16ToString(name[:])
}

// Inode is not available from os.FileInfo on Windows; size and mtime decide.
func Inode(fi os.FileInfo) uint64 { return 0 }

// ReadsFromMedium is false: Windows cannot drop one file's cached pages.
const ReadsFromMedium = false
