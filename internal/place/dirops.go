package place

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/editkit/editkit/internal/treepath"
)

// Path is the folder's absolute path, for messages.
func (d *Dir) Path() string { return d.path }

// OpenDir opens the folder name in d (one component), creating it when
// create is set, never through a link.
func (d *Dir) OpenDir(name string, create bool) (*Dir, error) {
	if err := oneName(name); err != nil {
		return nil, fmt.Errorf("%s: %w", d.path, err)
	}
	return d.child(name, create)
}

// Rename renames old to new in d without replacing anything at new
// (fs.ErrExist), where the file system can refuse so; on one that cannot
// (FUSE exFAT) the caller has looked at new just before.
func (d *Dir) Rename(old, new string) error {
	if err := oneName(old); err != nil {
		return err
	}
	if err := oneName(new); err != nil {
		return err
	}
	return d.rename(old, new, true)
}

// Names lists d's entries as the file system stores them.
func (d *Dir) Names() ([]string, error) { return d.names() }

// CreateExclusive creates the new file name in d for reading and writing;
// something already at name (a link included) is an error.
func (d *Dir) CreateExclusive(name string, perm os.FileMode) (*os.File, error) {
	if err := oneName(name); err != nil {
		return nil, err
	}
	return d.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
}

// oneName refuses a name that is not a single entry of a folder.
func oneName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return fmt.Errorf("%q is not a name in a folder", name)
	}
	return nil
}

// RemoveFolder removes the folder rel and the files in it (a folder of
// editkit's own, with no sub-folders: a drive test's), never through a
// link. A folder already gone is not an error.
func (r *Root) RemoveFolder(rel string) error {
	parent, err := r.OpenDir(treepath.Parent(rel), false)
	if err != nil {
		return err
	}
	defer parent.Close()
	name := treepath.Base(rel)
	d, err := parent.OpenDir(name, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	names, err := d.Names()
	if err == nil {
		for _, n := range names {
			if rerr := d.Remove(n); rerr != nil && err == nil {
				err = rerr
			}
		}
	}
	d.Close()
	if err != nil {
		return err
	}
	if err := parent.RemoveDir(name); err != nil {
		return err
	}
	return parent.Sync()
}
