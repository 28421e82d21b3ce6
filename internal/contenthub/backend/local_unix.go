//go:build unix

package backend

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// isLocalTransient reports the errors of a share (NFS, SMB) that dropped
// for a moment, and of a disk that may read on the next try.
func isLocalTransient(err error) bool {
	for _, e := range []error{
		unix.ESTALE, unix.ETIMEDOUT, unix.ENOTCONN, unix.EHOSTDOWN, unix.EHOSTUNREACH,
		unix.ENETDOWN, unix.ENETUNREACH, unix.ECONNRESET, unix.EIO, unix.EAGAIN,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return isNetworkError(err)
}

// processAlive reports whether a process with that id runs: signal 0
// checks without sending anything.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
