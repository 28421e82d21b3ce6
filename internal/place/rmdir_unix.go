//go:build linux || darwin

package place

import (
	"io/fs"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// RemoveDir removes the empty folder name in d (never through a link).
func (d *Dir) RemoveDir(name string) error {
	if err := oneName(name); err != nil {
		return err
	}
	if err := unix.Unlinkat(d.fd, name, unix.AT_REMOVEDIR); err != nil {
		return &fs.PathError{Op: "remove", Path: filepath.Join(d.path, name), Err: err}
	}
	return nil
}
