//go:build linux || darwin

package place

import (
	"errors"

	"golang.org/x/sys/unix"
)

// isNoPerm reports an error of a file system without permission bits.
func isNoPerm(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP)
}
