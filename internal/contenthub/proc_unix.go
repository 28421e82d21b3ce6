//go:build unix

package contenthub

import (
	"errors"
	"syscall"
)

// processAlive reports whether a process with that id runs on this
// computer (signal 0 checks without sending anything).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
