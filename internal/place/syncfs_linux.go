//go:build linux

package place

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFileSystem writes out everything the file system of f holds dirty,
// in one pass and one journal commit. Its error is deliberately not used:
// it names no file, and each file's own fsync after it still reports that
// file's write-back error (the kernel keeps one error cursor per open
// file), so a failure is reported for exactly the files it hit.
func syncFileSystem(f *os.File) { _ = unix.Syncfs(int(f.Fd())) }
