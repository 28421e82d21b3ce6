//go:build linux

package backend

import (
	"os"

	"golang.org/x/sys/unix"
)

// startPrefetch turns Linux's read-ahead off for f: objectReader asks for
// what it reads next itself. Advice only; a file system that ignores it
// reads ahead as before.
func startPrefetch(f *os.File) {
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_RANDOM)
}

// prefetch starts reading n bytes of f from off into the page cache and
// returns without waiting for them.
func prefetch(f *os.File, off, n int64) {
	unix.Fadvise(int(f.Fd()), off, n, unix.FADV_WILLNEED)
}
