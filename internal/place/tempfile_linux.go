package place

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

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

// setTime gives the open temporary file its access and modification
// times through its descriptor (utimensat with no name, as futimens): no
// look-up of its name in the folder for each file.
func (t *tempFile) setTime(_ *Dir, _ string, mtime time.Time) error {
	ts := [2]unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	for {
		_, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(t.Fd()), 0, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		switch {
		case errno == 0:
			return nil
		case errors.Is(errno, unix.EINTR):
			continue
		}
		return &fs.PathError{Op: "chtimes", Path: t.Name(), Err: errno}
	}
}
