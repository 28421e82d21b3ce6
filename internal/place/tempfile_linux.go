package place

import (
	"os"
	"path/filepath"

	"github.com/editkit/editkit/internal/fsx"
)

// tempFile is a file being placed, open under its temporary name: a plain
// descriptor, made an *os.File only where a big file, a resumed one or a
// per-file sync needs one (file). A small file of a batch is created,
// written, described and closed without one: os.NewFile asks the
// descriptor's flags and sets a finalizer, more work than the file's own
// write.
type tempFile struct{ *fsx.FD }

// openTemp opens the temporary file name in d.
func openTemp(d *Dir, name string, flag int, perm os.FileMode) (*tempFile, error) {
	fd, err := d.openFD(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &tempFile{fsx.NewFD(fd, filepath.Join(d.path, name))}, nil
}

// file is the temporary file as an *os.File, sharing its descriptor.
func (t *tempFile) file() *os.File { return t.File() }
