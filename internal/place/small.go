package place

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/treepath"
)

// WriteFile replaces the small file rel under the root with what fill
// writes, atomically: a reader (or a crash) sees the old file or the new
// one. The temporary file has the fixed name TempName(base) beside it, so
// one left by a killed run is simply reused. Nothing is written through a
// link, nor anywhere once the root is no longer the folder it was at Open
// (ErrGone). perm is applied exactly (not reduced by the umask): 0o644 for
// what a drive offers every user (checksum lists, reports, ASC MHL), 0o600
// for secrets; file systems without permission bits (exFAT) are left as
// they are.
func (r *Root) WriteFile(rel string, perm os.FileMode, fill func(io.Writer) error) error {
	return r.WriteFiles(treepath.Parent(rel), NewFile{Name: treepath.Base(rel), Perm: perm, Fill: fill})
}

// NewFile is one file for WriteFiles: its name in the folder, its
// permissions (as WriteFile's perm) and what it holds.
type NewFile struct {
	Name string
	Perm os.FileMode
	Fill func(io.Writer) error
}

// WriteFiles replaces each of files in the folder dir under the root as
// WriteFile does (see Dir.WriteFiles).
func (r *Root) WriteFiles(dir string, files ...NewFile) error {
	d, err := r.OpenDir(dir, true)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.WriteFiles(files...)
}

// WriteFiles replaces each of files in d, one after the other, and syncs
// the folder once for all of them: each file is synced before it takes its
// name, so a final name never holds a partial file, and the folder's one
// sync makes every rename durable. It stops at the first file that fails;
// those before it are in place.
func (d *Dir) WriteFiles(files ...NewFile) error {
	for _, nf := range files {
		if err := d.writeFile(nf); err != nil {
			return err
		}
	}
	return d.Sync()
}

// writeFile writes nf under its temporary name, syncs it and renames it;
// the caller syncs the folder.
func (dir *Dir) writeFile(nf NewFile) error {
	name, perm := nf.Name, nf.Perm
	tmp := TempName(name)
	full := filepath.Join(dir.path, name)
	f, err := dir.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		f.Close()
		dir.Remove(tmp)
		return err
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	if err := nf.Fill(bw); err != nil {
		return fail(err)
	}
	if err := bw.Flush(); err != nil {
		return fail(fmt.Errorf("write %s: %w", full, err))
	}
	if err := f.Chmod(perm); err != nil && !errors.Is(err, errors.ErrUnsupported) && !isNoPerm(err) {
		return fail(fmt.Errorf("chmod %s: %w", full, err))
	}
	if err := fsx.Sync(f); err != nil {
		return fail(fmt.Errorf("sync %s: %w", full, err))
	}
	if err := f.Close(); err != nil {
		dir.Remove(tmp)
		return fmt.Errorf("write %s: %w", full, err)
	}
	if fi, err := dir.Lstat(name); err == nil && !fi.Mode().IsRegular() {
		dir.Remove(tmp)
		if fi.Mode()&os.ModeSymlink != 0 {
			return &LinkError{Path: full}
		}
		return fmt.Errorf("%s: something other than a file is there; move it away and run the same command again", full)
	}
	if err := dir.rename(tmp, name, false); err != nil {
		dir.Remove(tmp)
		return err
	}
	return nil
}

// Bytes fills a NewFile with data.
func Bytes(data []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}
}

// WriteFileBytes is WriteFile with the content at hand.
func (r *Root) WriteFileBytes(rel string, data []byte, perm os.FileMode) error {
	return r.WriteFile(rel, perm, Bytes(data))
}

// WriteFileAt is WriteFile for a one-shot file in a folder that is not a
// drive (a settings file, a page the user named): that folder is the root,
// opened for this one write.
func WriteFileAt(path string, perm os.FileMode, fill func(io.Writer) error) error {
	r, err := Open(filepath.Dir(path), Hooks{})
	if err != nil {
		return err
	}
	return r.WriteFile(filepath.Base(path), perm, fill)
}
