package place

import (
	"fmt"
	"io/fs"

	"github.com/editkit/editkit/internal/treepath"
)

// RemoveFile deliberately removes the regular file rel (purge): its folder
// is reached from the root without following a link, what is at rel is
// described without following one and handed to check, which may refuse
// it (a file changed since it was placed); only then is it removed, the
// folder synced, and the name looked up again to confirm it is gone. A
// link or anything else that is not a regular file at rel is refused, and
// so is a link among its folders (a LinkError). A file already gone is
// fs.ErrNotExist.
func (r *Root) RemoveFile(rel string, check func(fs.FileInfo) error) error {
	if err := treepath.Validate(rel); err != nil {
		return fmt.Errorf("%s: %w", r.Join(rel), err)
	}
	d, err := r.OpenDir(treepath.Parent(rel), false)
	if err != nil {
		return err
	}
	defer d.Close()
	name := treepath.Base(rel)
	fi, err := d.Lstat(name)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return &LinkError{Path: r.Join(rel)}
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file; editkit removes only files it placed", r.Join(rel))
	}
	if check != nil {
		if err := check(fi); err != nil {
			return err
		}
	}
	if err := d.Remove(name); err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		return fmt.Errorf("%s was removed but its folder could not be synced (%w); run the same command again", r.Join(rel), err)
	}
	there, err := d.exists(name)
	if err != nil {
		return fmt.Errorf("%s was removed but could not be looked up again to confirm it is gone: %w", r.Join(rel), err)
	}
	if there {
		return fmt.Errorf("%s is still there after it was removed; check the drive (is it read-only or failing?) and run the same command again", r.Join(rel))
	}
	return nil
}
