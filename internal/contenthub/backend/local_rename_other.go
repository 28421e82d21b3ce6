//go:build !linux && !darwin && !windows

package backend

// renameNoReplace is not available here; Put falls back to check-then-rename.
func renameNoReplace(oldpath, newpath string) error { return errNoExclusiveRename }
