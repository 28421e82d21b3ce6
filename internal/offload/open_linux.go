package offload

import (
	"errors"
	"io/fs"
	"os"

	"github.com/editkit/editkit/internal/fsx"
	"golang.org/x/sys/unix"
)

// source is a source file being copied: a plain blocking descriptor, made
// an *os.File only when a big file or --verify=full needs one (file).
// os.Open would offer a regular file to the network poller, which refuses
// it, and os.NewFile asks the descriptor's flags and sets a finalizer: for
// a file of a few KB, more work than its own read.
type source struct{ *fsx.FD }

// file is the source as an *os.File, sharing its descriptor and offset.
func (s *source) file() *os.File { return s.File() }

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
		return &source{fsx.NewFD(fd, path)}, nil
	}
}
