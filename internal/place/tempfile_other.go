//go:build !linux

package place

import (
	"errors"
	"os"
	"time"
)

// tempFile is a file being placed, open under its temporary name.
type tempFile struct {
	*os.File
	unnamed bool // never: files without a name are Linux's (O_TMPFILE)
}

// openTemp opens the temporary file name in d.
func openTemp(d *Dir, name string, flag int, perm os.FileMode) (*tempFile, error) {
	f, err := d.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &tempFile{File: f}, nil
}

// openUnnamed is not supported here: every file has its temporary name.
func openUnnamed(*Dir, string, os.FileMode) (*tempFile, error) { return nil, errors.ErrUnsupported }

// link is never called here (no file is unnamed).
func (t *tempFile) link(*Dir, string) error { return errors.ErrUnsupported }

// file is the temporary file as an *os.File.
func (t *tempFile) file() *os.File { return t.File }

// setTime gives the temporary file name in d its times.
func (t *tempFile) setTime(d *Dir, name string, mtime time.Time) error {
	return d.chtimes(name, mtime)
}
