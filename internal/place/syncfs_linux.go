//go:build linux

package place

import (
	"bytes"
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// syncFileSystem writes out everything dirty on the file system of f in one
// pass and one journal commit, and reports whether that made durable, with
// any write-back error reported, every file opened on it since f was — so
// that their own fsyncs can be skipped. It is true only when all of these
// hold:
//
//   - the kernel is 5.8 or later: since then the kernel records write-back
//     errors on the file system as well as on the file (mapping_set_error
//     also advances sb->s_wb_err), and syncfs returns an error when one
//     happened since its file descriptor was opened (errseq f_sb_err,
//     commit 735e4ae5ba28, "vfs: track per-sb writeback errors and report
//     them to syncfs"); before, syncfs returned 0 whatever was lost;
//   - the file system's syncfs writes data and inodes, waits for them and
//     flushes the drive's cache as fsync does (ext2/3/4, XFS, Btrfs; tmpfs
//     has nothing to write). FUSE file systems (exFAT) are left out: their
//     syncfs does not reach the daemon that holds the data;
//   - syncfs itself succeeded.
//
// Otherwise the caller fsyncs each file, whose own error cursor names the
// file that was hit.
//
// syncfs covers one file system: a group whose files are not all on f's
// (a folder under the root that is another drive's mount point) is
// reported as not covered.
func syncFileSystem(f *os.File, group []*os.File, syncfs func(*os.File) error) bool {
	if syncfs == nil {
		syncfs = func(f *os.File) error { return unix.Syncfs(int(f.Fd())) }
	}
	err := syncfs(f)
	return err == nil && syncfsCovers(f) && sameFileSystem(f, group)
}

// sameFileSystem tells whether every file of group is on f's file system.
func sameFileSystem(f *os.File, group []*os.File) bool {
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil {
		return false
	}
	dev := st.Dev
	for _, g := range group {
		if unix.Fstat(int(g.Fd()), &st) != nil || st.Dev != dev {
			return false
		}
	}
	return true
}

// syncfsCovers tells whether a successful syncfs on f stands for an fsync
// of every file opened on its file system since f was.
func syncfsCovers(f *os.File) bool { return syncfsReportsErrors() && syncfsIsDurable(f) }

// syncfsReportsErrors tells whether the running kernel is 5.8 or later.
func syncfsReportsErrors() bool { return runningKernelAtLeast(5, 8) }

// syncFolders makes the renames of a group durable with one syncfs through
// d, one of the group's folders, instead of an fsync of each folder: one
// drive cache flush, not one per folder. It is used only where the group's
// own syncfs stood for its files' fsyncs (so its folders are on one file
// system whose syncfs writes inodes and folders and reports write-back
// errors), and it needs kernel 5.17 or later: since then syncfs also
// returns the errors of writing out metadata (the folders' blocks), not
// only those of files' data (sync_filesystem returns sync_blockdev's and
// ->sync_fs's errors). An error, any write-back error on the file system
// since d was opened included, is returned: the caller then fsyncs each
// folder, whose own error names it.
func syncFolders(d *Dir) error {
	if !runningKernelAtLeast(5, 17) {
		return errors.ErrUnsupported
	}
	return unix.Syncfs(d.fd)
}

// runningKernelAtLeast tells whether the running kernel is major.minor or
// later.
func runningKernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	release := u.Release[:]
	if i := bytes.IndexByte(release, 0); i >= 0 {
		release = release[:i]
	}
	return kernelAtLeast(string(release), major, minor)
}

// kernelAtLeast reads a release such as "6.1.0-13-amd64".
func kernelAtLeast(release string, major, minor int) bool {
	parts := bytes.SplitN([]byte(release), []byte("."), 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(string(parts[0]))
	mi, err2 := strconv.Atoi(string(bytes.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' })))
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// File systems whose syncfs is as durable as fsync of each file.
const (
	ext4Magic  = 0xEF53
	xfsMagic   = 0x58465342
	btrfsMagic = 0x9123683E
	tmpfsMagic = 0x01021994
)

func syncfsIsDurable(f *os.File) bool {
	var st unix.Statfs_t
	if unix.Fstatfs(int(f.Fd()), &st) != nil {
		return false
	}
	switch uint32(st.Type) {
	case ext4Magic, xfsMagic, btrfsMagic, tmpfsMagic:
		return true
	}
	return false
}
