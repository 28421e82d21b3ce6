package backend

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// isNetworkError reports errors of the connection rather than of the request:
// the same request may well succeed on a new connection.
func isNetworkError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	for _, e := range []error{
		io.ErrUnexpectedEOF, syscall.ECONNRESET, syscall.ECONNREFUSED,
		syscall.ECONNABORTED, syscall.EPIPE, syscall.ETIMEDOUT,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// errNoExclusiveRename: the file system cannot rename without replacing.
var errNoExclusiveRename = errors.New("exclusive rename not supported")
