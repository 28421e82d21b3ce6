// Package fsx owns the file-system operations editkit needs beyond package os,
// with one implementation per platform behind build tags: durable writes
// (fsync, folder fsync, atomic replace), reading from the medium instead of
// the page cache, free space, and an exclusive lock on a drive.
package fsx

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrLocked is returned by Lock when another process holds the lock.
var ErrLocked = errors.New("locked by another process")

// Space describes a file system's capacity as seen by an unprivileged writer.
type Space struct {
	Free      int64 // bytes available to us
	Total     int64
	BlockSize int64 // allocation unit: every file occupies a multiple of it
}

// RoundUp returns the bytes a file of size n occupies on a file system with
// the given allocation unit.
func (s Space) RoundUp(n int64) int64 {
	bs := s.BlockSize
	if bs <= 0 {
		bs = 4096
	}
	return (n + bs - 1) / bs * bs
}

// WriteFileAtomic replaces path with data so that a reader (or a crash) sees
// either the old file or the new one, never a mix: temp file beside it,
// fsync, rename, fsync of the folder.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmpName, err)
	}
	if err := tmp.Chmod(perm); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		// exFAT and friends have no permission bits; that is fine.
		_ = err
	}
	if err := Sync(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", tmpName, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmpName, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// RandomID returns n random bytes as lowercase hex.
func RandomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}
