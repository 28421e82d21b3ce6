//go:build linux || darwin

package place

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Dir is a folder under a Root, opened by walking from the root one
// component at a time with O_NOFOLLOW, so that everything done through it
// (create, rename, remove, set times) happens in that very folder: a link
// swapped in after the walk cannot redirect it.
type Dir struct {
	path string // for messages
	fd   int
	// unnamed caches whether files without a name may be created here
	// (see openUnnamed): 0 not asked yet, 1 yes, 2 no.
	unnamed atomic.Int32
	// linkViaProc notes that the kernel refused to link a file here
	// through its descriptor (AT_EMPTY_PATH: Linux before 6.10 without
	// privilege), so the next links go through /proc at once.
	linkViaProc atomic.Bool
}

// rootID is what identifies a root folder: its file system and inode.
type rootID struct{ dev, ino uint64 }

// identify notes which folder root is, opening it as every walk does
// (an automount point is mounted by the open, not by a stat).
func identify(root string) (rootID, error) {
	fd, id, err := openRoot(root)
	if err != nil {
		return rootID{}, err
	}
	unix.Close(fd)
	return id, nil
}

// openRoot opens the folder root (a link naming it is followed: the user
// named it) and says which folder it is, from the opened descriptor.
func openRoot(root string) (int, rootID, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return -1, rootID{}, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, rootID{}, err
	}
	return fd, rootID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil
}

// openRootDir opens the root folder and checks it is still the folder
// identified when the Root was opened: an unplugged drive leaves an empty
// mount point on another disk at the same path. The check is made on the
// opened descriptor, so nothing can swap the folder between check and use.
// Only a different folder, or one that is gone, is ErrGone; any other
// failure (too many open files, a permission) is returned as it is.
func openRootDir(root string, id rootID) (*Dir, error) {
	fd, got, err := openRoot(root)
	switch {
	case err != nil && rootGone(err):
		return nil, fmt.Errorf("%s %w: %w", root, ErrGone, err)
	case err != nil:
		return nil, &fs.PathError{Op: "open", Path: root, Err: err}
	case got != id:
		unix.Close(fd)
		return nil, fmt.Errorf("%s %w", root, ErrGone)
	}
	return &Dir{path: root, fd: fd}, nil
}

// rootGone tells whether a failure to open a root folder means the folder,
// or the drive it was on, is gone.
func rootGone(err error) bool {
	for _, e := range []error{unix.ENOENT, unix.ENOTDIR, unix.ENODEV, unix.ENXIO, unix.EIO, unix.ESTALE, unix.ENOTCONN} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// child opens the folder name in d, creating it when asked, refusing a
// link or a file in its place.
func (d *Dir) child(name string, create bool) (*Dir, error) {
	full := filepath.Join(d.path, name)
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(d.fd, name, flags, 0)
	if errors.Is(err, unix.ENOENT) && create {
		if err = unix.Mkdirat(d.fd, name, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
			fd, err = unix.Openat(d.fd, name, flags, 0)
		}
	}
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			var st unix.Stat_t
			if unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				return nil, &LinkError{Path: full}
			}
			return nil, fmt.Errorf("%s is a file where a folder is needed; move it away and run the same command again", full)
		}
		return nil, &fs.PathError{Op: "open", Path: full, Err: err}
	}
	return &Dir{path: full, fd: fd}, nil
}

// Close releases the folder.
func (d *Dir) Close() error {
	if d == nil || d.fd < 0 {
		return nil
	}
	err := unix.Close(d.fd)
	d.fd = -1
	return err
}

// OpenFile opens name in d without following a link at that name.
func (d *Dir) OpenFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	fd, err := d.openFD(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), filepath.Join(d.path, name)), nil
}

// openFD is OpenFile returning a plain descriptor.
func (d *Dir) openFD(name string, flag int, perm os.FileMode) (int, error) {
	fd, err := unix.Openat(d.fd, name, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		full := filepath.Join(d.path, name)
		if errors.Is(err, unix.ELOOP) {
			return -1, &LinkError{Path: full}
		}
		return -1, &fs.PathError{Op: "open", Path: full, Err: err}
	}
	return fd, nil
}

// Lstat describes name in d without following a link.
func (d *Dir) Lstat(name string) (fs.FileInfo, error) {
	return os.Lstat(filepath.Join(d.path, name))
}

// exists reports whether something (anything, links included) is at name.
func (d *Dir) exists(name string) (bool, error) {
	var st unix.Stat_t
	err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, &fs.PathError{Op: "stat", Path: filepath.Join(d.path, name), Err: err}
	}
	return true, nil
}

// Remove removes the file name in d (a link is removed, never followed).
func (d *Dir) Remove(name string) error {
	if err := unix.Unlinkat(d.fd, name, 0); err != nil {
		return &fs.PathError{Op: "remove", Path: filepath.Join(d.path, name), Err: err}
	}
	return nil
}

// rename renames old to new in d; with noReplace it fails with fs.ErrExist
// rather than replace something at new, where the file system can say so.
func (d *Dir) rename(old, new string, noReplace bool) error {
	var err error
	if noReplace {
		err = renameNoReplace(d.fd, old, new)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.ENOTSUP) {
			// The file system cannot do it (FUSE exFAT); the caller checked
			// the name just before.
			err = unix.Renameat(d.fd, old, d.fd, new)
		}
	} else {
		err = unix.Renameat(d.fd, old, d.fd, new)
	}
	if err != nil {
		if errors.Is(err, unix.EEXIST) {
			err = fs.ErrExist
		}
		return &os.LinkError{Op: "rename", Old: filepath.Join(d.path, old), New: filepath.Join(d.path, new), Err: err}
	}
	return nil
}

// renameExclusive renames old to new in d unless something is at new
// (fs.ErrExist); errNoExclusive when the file system cannot refuse so.
func (d *Dir) renameExclusive(old, new string) error {
	err := renameNoReplace(d.fd, old, new)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.ENOTSUP):
		return errNoExclusive
	case errors.Is(err, unix.EEXIST):
		err = fs.ErrExist
	}
	return &os.LinkError{Op: "rename", Old: filepath.Join(d.path, old), New: filepath.Join(d.path, new), Err: err}
}

// Sync makes d's entries (a rename, a new file) durable.
func (d *Dir) Sync() error {
	err := unix.Fsync(d.fd)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOTSUP) {
		// Some file systems (FUSE exFAT, SMB) do not support fsync on a
		// folder; their renames are as durable as they get. Anything else
		// is a real failure.
		return fmt.Errorf("sync folder %s: %w", d.path, err)
	}
	return nil
}

// chtimes sets name's access and modification times, not following a link.
func (d *Dir) chtimes(name string, mtime time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(d.fd, name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &fs.PathError{Op: "chtimes", Path: filepath.Join(d.path, name), Err: err}
	}
	return nil
}

// names lists the entries of d as the file system stores them.
func (d *Dir) names() ([]string, error) {
	fd, err := unix.Openat(d.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: d.path, Err: err}
	}
	f := os.NewFile(uintptr(fd), d.path)
	defer f.Close()
	return f.Readdirnames(-1)
}
