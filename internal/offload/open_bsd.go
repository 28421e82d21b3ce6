//go:build unix && !linux

package offload

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// openRead opens a source file for reading as a plain blocking descriptor:
// os.Open first offers a regular file to the network poller, which refuses
// it, costing four fcntl and one epoll_ctl per file — more than a small
// file's own read.
func openRead(path string) (*os.File, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}
