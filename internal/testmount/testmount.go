// Package testmount owns the small real file systems tests mount: a tmpfs
// of a given size (a disk that fills up), read-only, or with few inodes,
// unmounted when the test ends. A test that cannot mount one (not root,
// not Linux) is slowtest.Missing: skipped on a laptop, failed in CI.
package testmount

import (
	"testing"
)

// Tmpfs mounts a tmpfs on a new temporary folder and returns the folder.
// options are mount -o options, e.g. "size=64k", "ro,size=1m" or
// "size=64m,nr_inodes=150".
func Tmpfs(t testing.TB, options string) string {
	t.Helper()
	dir := t.TempDir()
	TmpfsAt(t, dir, options)
	return dir
}
