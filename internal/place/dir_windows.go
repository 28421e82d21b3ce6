//go:build windows

package place

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Dir is a folder under a Root. Windows has no openat; each step of the
// walk is checked with Lstat instead (links there need privileges to make).
type Dir struct{ path string }

// rootID is what identifies a root folder (os.SameFile compares volume
// and file index).
type rootID struct{ fi fs.FileInfo }

func identify(root string) (rootID, error) {
	fi, err := os.Stat(root)
	if err == nil {
		// os.Stat leaves the volume and file index to be read, by path, at
		// the first SameFile: read them now, while root is that folder.
		os.SameFile(fi, fi)
	}
	return rootID{fi}, err
}

// openRootDir checks the root is still the folder identified when the Root
// was opened (by path: Windows has no openat).
func openRootDir(root string, id rootID) (*Dir, error) {
	fi, err := os.Stat(root)
	if err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%s %w: %v", root, ErrGone, err)
	}
	if !os.SameFile(fi, id.fi) {
		return nil, fmt.Errorf("%s %w", root, ErrGone)
	}
	return &Dir{path: root}, nil
}

func (d *Dir) child(name string, create bool) (*Dir, error) {
	full := filepath.Join(d.path, name)
	fi, err := os.Lstat(full)
	if errors.Is(err, fs.ErrNotExist) && create {
		if err = os.Mkdir(full, 0o755); err == nil || errors.Is(err, fs.ErrExist) {
			fi, err = os.Lstat(full)
		}
	}
	switch {
	case err != nil:
		return nil, err
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, &LinkError{Path: full}
	case !fi.IsDir():
		return nil, fmt.Errorf("%s is a file where a folder is needed; move it away and run the same command again", full)
	}
	return &Dir{path: full}, nil
}

func (d *Dir) Close() error { return nil }

func (d *Dir) OpenFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	full := filepath.Join(d.path, name)
	if fi, err := os.Lstat(full); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, &LinkError{Path: full}
	}
	return os.OpenFile(full, flag, perm)
}

func (d *Dir) Lstat(name string) (fs.FileInfo, error) { return os.Lstat(filepath.Join(d.path, name)) }

func (d *Dir) exists(name string) (bool, error) {
	_, err := os.Lstat(filepath.Join(d.path, name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (d *Dir) Remove(name string) error { return os.Remove(filepath.Join(d.path, name)) }

func (d *Dir) rename(old, new string, noReplace bool) error {
	return os.Rename(filepath.Join(d.path, old), filepath.Join(d.path, new))
}

// renameExclusive is not offered here: the caller checks the name first.
func (d *Dir) renameExclusive(old, new string) error { return errNoExclusive }

func (d *Dir) Sync() error { return nil }

func (d *Dir) chtimes(name string, mtime time.Time) error {
	return os.Chtimes(filepath.Join(d.path, name), mtime, mtime)
}

func (d *Dir) names() ([]string, error) {
	f, err := os.Open(d.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

func killSelf() { os.Exit(137) }
