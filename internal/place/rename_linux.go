//go:build linux

package place

import "golang.org/x/sys/unix"

func renameNoReplace(dirfd int, old, new string) error {
	return unix.Renameat2(dirfd, old, dirfd, new, unix.RENAME_NOREPLACE)
}

func killSelf() { _ = unix.Kill(unix.Getpid(), unix.SIGKILL) }
