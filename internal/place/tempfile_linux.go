package place

import (
	"io/fs"
	"os"
	"path/filepath"

	"github.com/editkit/editkit/internal/fsx"
	"golang.org/x/sys/unix"
)

// tempFile is a file being placed, open under its temporary name: a plain
// descriptor, made an *os.File only where a big file, a resumed one or a
// per-file sync needs one (file). A small file of a batch is created,
// written, described and closed without one: os.NewFile asks the
// descriptor's flags and sets a finalizer, more work than the file's own
// write.
type tempFile struct {
	fd   int
	name string   // absolute path, for messages
	f    *os.File // once file was called: owns fd
}

// openTemp opens the temporary file name in d.
func openTemp(d *Dir, name string, flag int, perm os.FileMode) (*tempFile, error) {
	fd, err := d.openFD(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &tempFile{fd: fd, name: filepath.Join(d.path, name)}, nil
}

// Name is the temporary file's path.
func (t *tempFile) Name() string { return t.name }

// file is the temporary file as an *os.File, sharing its descriptor.
func (t *tempFile) file() *os.File {
	if t.f == nil {
		t.f = os.NewFile(uintptr(t.fd), t.name)
	}
	return t.f
}

func (t *tempFile) Write(b []byte) (int, error) {
	if t.f != nil {
		return t.f.Write(b)
	}
	k, err := fsx.WriteFD(t.fd, b)
	if err != nil {
		err = &fs.PathError{Op: "write", Path: t.name, Err: err}
	}
	return k, err
}

// Stat describes the file from its descriptor.
func (t *tempFile) Stat() (fs.FileInfo, error) {
	fi, err := fsx.Fstat(t.fd, filepath.Base(t.name))
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: t.name, Err: err}
	}
	return fi, nil
}

func (t *tempFile) Close() error {
	if t.f != nil {
		return t.f.Close()
	}
	if err := unix.Close(t.fd); err != nil {
		return &fs.PathError{Op: "close", Path: t.name, Err: err}
	}
	return nil
}
