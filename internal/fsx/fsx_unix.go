//go:build linux || darwin

package fsx

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// SyncDir makes a folder's entries (a rename, a new file) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOTSUP) {
		// Some file systems (FUSE exFAT, SMB) do not support fsync on a
		// folder; their renames are as durable as they get.
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

// FreeSpace reports the space available under path.
func FreeSpace(path string) (Space, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return Space{}, fmt.Errorf("free space of %s: %w", path, err)
	}
	return Space{
		Free:      int64(st.Bavail) * int64(st.Bsize),
		Total:     int64(st.Blocks) * int64(st.Bsize),
		BlockSize: int64(st.Bsize),
	}, nil
}

// Writable reports why a folder cannot be written to, without writing.
func Writable(dir string) error {
	if err := unix.Access(dir, unix.W_OK); err != nil {
		return fmt.Errorf("%s is not writable: %w", dir, err)
	}
	if readOnlyMount(dir) {
		return fmt.Errorf("%s is on a read-only file system", dir)
	}
	return nil
}

// Lock takes an exclusive advisory lock on path (created if needed) and
// returns the function that releases it. It does not wait: a second editkit
// working on the same drive gets ErrLocked at once.
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
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f.Close, nil // closing the descriptor releases the lock
}

// DeviceID identifies the file system holding path, so that destinations on
// the same volume share one free-space budget.
func DeviceID(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, err
	}
	return uint64(st.Dev), nil
}

// Inode returns a file's inode number, which changes when a program saves
// by writing a new file and renaming it over the old one.
func Inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
