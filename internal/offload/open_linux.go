package offload

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/editkit/editkit/internal/fsx"

	"golang.org/x/sys/unix"
)

// source is a source file being copied: a plain blocking descriptor, made
// an *os.File only when a big file or --verify=full needs one (file).
// os.Open would offer a regular file to the network poller, which refuses
// it, and os.NewFile asks the descriptor's flags and sets a finalizer: for
// a file of a few KB, more work than its own read.
type source struct {
	fd   int
	path string
	f    *os.File // once file was called: owns fd
}

// openSourceFile opens a source file for reading. The walk took it as a
// regular file from its folder's listing: a link put in its place since
// is refused (O_NOFOLLOW), not followed.
func openSourceFile(path string) (*source, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return &source{fd: fd, path: path}, nil
	}
}

// file is the source as an *os.File, sharing its descriptor and offset.
func (s *source) file() *os.File {
	if s.f == nil {
		s.f = os.NewFile(uintptr(s.fd), s.path)
	}
	return s.f
}

func (s *source) Read(b []byte) (int, error) {
	if s.f != nil {
		return s.f.Read(b)
	}
	for {
		k, err := unix.Read(s.fd, b)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return 0, &fs.PathError{Op: "read", Path: s.path, Err: err}
		case k == 0 && len(b) > 0:
			return 0, io.EOF
		}
		return k, nil
	}
}

func (s *source) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		k, err := unix.Pread(s.fd, b[n:], off+int64(n))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return n, &fs.PathError{Op: "read", Path: s.path, Err: err}
		}
		if k == 0 {
			return n, io.EOF
		}
		n += k
	}
	return n, nil
}

// Stat describes the open source file.
func (s *source) Stat() (os.FileInfo, error) {
	fi, err := fsx.Fstat(s.fd, filepath.Base(s.path))
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: s.path, Err: err}
	}
	return fi, nil
}

func (s *source) Close() error {
	if s.f != nil {
		return s.f.Close()
	}
	return unix.Close(s.fd)
}
