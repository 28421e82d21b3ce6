//go:build !linux

package place

import (
	"errors"
	"os"
)

// syncFileSystem: only Linux has syncfs; elsewhere each file's own sync
// (F_FULLFSYNC on macOS) does all the work.
func syncFileSystem(*os.File, []*os.File, func(*os.File) error) bool { return false }

// syncfsCovers: never, without syncfs.
func syncfsCovers(*os.File) bool { return false }

// syncFolders: without syncfs, each folder is synced by itself.
func syncFolders(*Dir) error { return errors.ErrUnsupported }
