//go:build windows

package backend

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// renameNoReplace renames oldpath to newpath unless newpath exists, in one
// step: MoveFileEx without MOVEFILE_REPLACE_EXISTING fails on an existing
// target (os.Rename passes that flag).
func renameNoReplace(oldpath, newpath string) error {
	from, err := windows.UTF16PtrFromString(oldpath)
	if err != nil {
		return err
	}
	to, err := windows.UTF16PtrFromString(newpath)
	if err != nil {
		return err
	}
	err = windows.MoveFileEx(from, to, windows.MOVEFILE_WRITE_THROUGH)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, windows.ERROR_ALREADY_EXISTS), errors.Is(err, windows.ERROR_FILE_EXISTS):
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: os.ErrExist}
	case errors.Is(err, windows.ERROR_NOT_SUPPORTED), errors.Is(err, windows.ERROR_INVALID_FUNCTION):
		return errNoExclusiveRename
	}
	return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
}

// isLocalTransient reports the errors of a share that dropped for a moment.
func isLocalTransient(err error) bool {
	for _, e := range []error{
		windows.ERROR_NETNAME_DELETED, windows.ERROR_UNEXP_NET_ERR, windows.ERROR_SEM_TIMEOUT,
		windows.ERROR_NETWORK_UNREACHABLE, windows.ERROR_BAD_NETPATH, windows.ERROR_DEV_NOT_EXIST,
		windows.ERROR_NETWORK_BUSY, windows.ERROR_CONNECTION_ABORTED,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return isNetworkError(err)
}

// processAlive reports whether a process with that id runs.
func processAlive(pid int) bool {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		// No such process gives ERROR_INVALID_PARAMETER; anything else
		// (access denied) means it exists.
		return !errors.Is(err, windows.ERROR_INVALID_PARAMETER)
	}
	defer windows.CloseHandle(h)
	var code uint32
	if err := windows.GetExitCodeProcess(h, &code); err != nil {
		return true
	}
	const stillActive = 259
	return code == stillActive
}
