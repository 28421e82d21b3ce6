package place

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/editkit/editkit/internal/fsx"
)

// tempFile is a file being placed, open under its temporary name or with
// no name at all (unnamed): a plain descriptor, made an *os.File only
// where a big file, a resumed one or a per-file sync needs one (file). A
// small file of a batch is created, written, described and closed without
// one: os.NewFile asks the descriptor's flags and sets a finalizer, more
// work than the file's own write.
type tempFile struct {
	*fsx.FD
	unnamed bool // created with O_TMPFILE, not linked anywhere yet
}

// openTemp opens the temporary file name in d.
func openTemp(d *Dir, name string, flag int, perm os.FileMode) (*tempFile, error) {
	fd, err := d.openFD(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &tempFile{FD: fsx.NewFD(fd, filepath.Join(d.path, name))}, nil
}

// openUnnamed creates a file with no name in d (O_TMPFILE), to be linked
// at name once it is settled; errors.ErrUnsupported where the file
// system is not known to handle such a file as any other (see
// unnamedWorks) or the kernel cannot (before 3.11: EISDIR or EINVAL).
func openUnnamed(d *Dir, name string, perm os.FileMode) (*tempFile, error) {
	if !unnamedWorks(d) {
		return nil, errors.ErrUnsupported
	}
	for {
		fd, err := unix.Openat(d.fd, ".", unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, uint32(perm.Perm()))
		switch {
		case err == nil:
			return &tempFile{FD: fsx.NewFD(fd, filepath.Join(d.path, name)), unnamed: true}, nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS):
			return nil, errors.ErrUnsupported
		}
		return nil, &fs.PathError{Op: "create", Path: filepath.Join(d.path, name), Err: err}
	}
}

// unnamedWorks tells whether d's file system is one whose files without a
// name are written, given times, synced and linked as named ones are
// (ext4, XFS, Btrfs, tmpfs). FUSE is left out: a daemon may accept
// O_TMPFILE and then fail to set the times of a file it cannot find by
// name. Asked once per folder handle.
func unnamedWorks(d *Dir) bool {
	switch d.unnamed.Load() {
	case 1:
		return true
	case 2:
		return false
	}
	var st unix.Statfs_t
	// Without /proc an unnamed file could be named only through
	// AT_EMPTY_PATH, which an unprivileged process may not use: named
	// temporary files then.
	works := unix.Fstatfs(d.fd, &st) == nil && unix.Access("/proc/self/fd", unix.X_OK) == nil
	if works {
		switch uint32(st.Type) {
		case ext4Magic, xfsMagic, btrfsMagic, tmpfsMagic:
		default:
			works = false
		}
	}
	answer := int32(2)
	if works {
		answer = 1
	}
	d.unnamed.Store(answer)
	return works
}

// link gives the unnamed file the name name in d, never replacing
// anything (fs.ErrExist). Through its descriptor (AT_EMPTY_PATH) where the
// kernel lets this process (root, or Linux 6.10 and later), else through
// the descriptor's /proc link, which needs no privilege.
func (t *tempFile) link(d *Dir, name string) error {
	viaProc := d.linkViaProc.Load()
	var err error
	if !viaProc {
		err = unix.Linkat(t.Fd(), "", d.fd, name, unix.AT_EMPTY_PATH)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EPERM) {
			d.linkViaProc.Store(true) // not asked again for this folder
			viaProc = true
		}
	}
	if viaProc {
		err = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(t.Fd()), d.fd, name, unix.AT_SYMLINK_FOLLOW)
	}
	if errors.Is(err, unix.EEXIST) {
		return fs.ErrExist
	}
	if err != nil {
		return &os.LinkError{Op: "link", Old: t.Name(), New: filepath.Join(d.path, name), Err: err}
	}
	return nil
}

// file is the temporary file as an *os.File, sharing its descriptor.
func (t *tempFile) file() *os.File { return t.File() }

// setTime gives the open temporary file its access and modification
// times through its descriptor (utimensat with no name, as futimens): no
// look-up of its name in the folder for each file.
func (t *tempFile) setTime(_ *Dir, _ string, mtime time.Time) error {
	ts := [2]unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	for {
		_, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(t.Fd()), 0, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		switch {
		case errno == 0:
			return nil
		case errors.Is(errno, unix.EINTR):
			continue
		}
		return &fs.PathError{Op: "chtimes", Path: t.Name(), Err: errno}
	}
}
