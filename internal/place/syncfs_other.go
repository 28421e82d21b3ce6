//go:build !linux

package place

import "os"

// syncFileSystem: only Linux has syncfs; elsewhere each file's own sync
// (F_FULLFSYNC on macOS) does all the work.
func syncFileSystem(*os.File, []*os.File, func(*os.File) error) bool { return false }

// syncfsCovers: never, without syncfs.
func syncfsCovers(*os.File) bool { return false }
