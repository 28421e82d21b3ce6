//go:build linux

// Package testfs owns the misbehaving drive of editkit's end-to-end tests: a
// pass-through FUSE file system over a backing folder, mounted from inside a
// Go test, with faults (corrupted reads, I/O errors, a drive that fills up,
// a source that changes, a yanked cable) that the test switches on and off
// while a separate editkit process uses the mount.
//
// # Kernel caching
//
// A fault only shows if the kernel asks this process for the data, so the
// mount is set up to let reads reach it whenever a real drive would be read:
//
//   - Open never returns FOPEN_KEEP_CACHE, so every open drops the file's
//     pages from the page cache and the new open reads from the file system.
//   - Within one open, the page cache works as on a drive the kernel owns:
//     what is cached, including what the process just wrote, is served from
//     memory until posix_fadvise(POSIX_FADV_DONTNEED) (after fsync) drops
//     it; the next read then reaches the file system. That is how editkit
//     verifies a copy.
//   - The kernel's auto_inval_data is off (ExplicitDataCacheControl). With
//     it, the mtime change every write causes would make the kernel drop
//     written pages at the next read, so a read-back would reach the file
//     system even without DONTNEED, and a test could not catch a verify that
//     reads its own cache.
//   - No FOPEN_DIRECT_IO: it would make mmap and fadvise behave unlike a
//     real drive, and is not needed for the above.
//   - No writeback cache (go-fuse's default): every write(2) reaches the file
//     system before it returns, so a write error is reported by that write,
//     not later by fsync or close, and byte counts are exact.
//   - FUSE passthrough is disabled: with it the kernel would read and write
//     the backing files itself and never show this process a byte.
//   - Entry, negative-entry and attribute timeouts are zero, so lookups and
//     stat see files the test adds, removes, resizes or touches directly in
//     the backing folder at once. Content it rewrites in place is seen by
//     the next open.
//   - copy_file_range is refused (ENOSYS), so the kernel copies through
//     read and write, where the faults are.
//
// Faults act on what the file system returns. A fault switched on after data
// is cached in an open file does not reach that cached data; a corrupted or
// changed page, once read, stays in the cache like any other.
//
// # The test process itself
//
// The file system is served by the test process, so that process must not
// wait on it in ways the Go runtime cannot see. Drive the mount from child
// processes; from the test process, plain system calls (open, read, write,
// fsync, stat) are fine, but:
//
//   - never touch mmapped memory of a file on the mount: a page fault is not
//     a system call, and a garbage collection that starts while one waits
//     for the file system stops the very goroutines that would answer it;
//   - close every file opened on the mount: a process exiting with one open
//     waits forever for the kernel's flush of it to be answered by its own,
//     already dead, file system. MustMount's cleanup finds such files, points
//     them at /dev/null and fails the test.
//
// Paths in globs and Stats are relative to the mount point, with '/'
// separators, as the file is named at the time of the operation (after any
// rename).
package testfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// FS is a mounted test file system. Its methods are safe for concurrent use.
type FS struct {
	// Dir is the mount point: the path the process under test uses.
	Dir string
	// Backing is the folder whose contents the mount shows.
	Backing string

	server  *fuse.Server
	stopped chan struct{} // closed when the server has stopped serving
	madeDir bool          // Mount created Dir, so Unmount removes it
	mountID uint64        // the kernel's id of the mount, as in /proc/self/fdinfo

	// gone is set by Unmount: from then on every operation fails with EIO,
	// as on a drive whose cable was pulled.
	gone atomic.Bool

	unmountOnce sync.Once
	unmountErr  error

	mu     sync.Mutex
	faults faults
	stats  Stats
	// stall, while not nil, holds every read until it is closed.
	stall chan struct{}
}

// Stats counts what went through the mount since it was mounted. Reads the
// kernel serves from its page cache never reach the file system and are not
// counted.
type Stats struct {
	BytesRead    int64          // bytes returned to the kernel by reads
	BytesWritten int64          // bytes written to the backing folder
	ReadsFailed  int64          // reads failed by FailReads
	WritesFailed int64          // writes, creates, folders and fallocates failed by FailWritesAfter
	Opens        map[string]int // opens and creates per path
}

// Mount mounts a pass-through file system showing backing on mountpoint,
// creating mountpoint if it does not exist. It needs /dev/fuse and either
// root or fusermount3 (Debian: apt install fuse3).
func Mount(backing, mountpoint string) (*FS, error) {
	backing, err := filepath.Abs(backing)
	if err != nil {
		return nil, err
	}
	mountpoint, err = filepath.Abs(mountpoint)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(backing); err != nil {
		return nil, err
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("testfs: backing %s is not a folder", backing)
	}
	madeDir := false
	if err := os.Mkdir(mountpoint, 0o755); err == nil {
		madeDir = true
	} else if !errors.Is(err, os.ErrExist) {
		return nil, err
	}

	root, err := fs.NewLoopbackRoot(backing)
	if err != nil {
		return nil, err
	}
	f := &FS{
		Dir:     mountpoint,
		Backing: backing,
		stopped: make(chan struct{}),
		madeDir: madeDir,
		stats:   Stats{Opens: map[string]int{}},
	}
	// See the package comment for why each of these is set.
	zero := time.Duration(0)
	opts := &fs.Options{
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		MountOptions: fuse.MountOptions{
			FsName: "testfs",
			Name:   "testfs",
			// As root, mount(2) directly rather than depend on fusermount.
			DirectMount:          os.Geteuid() == 0,
			DisabledCapabilities: fuse.CAP_PASSTHROUGH,
			// No auto_inval_data: see the package comment.
			ExplicitDataCacheControl: true,
		},
	}
	server, err := fs.Mount(mountpoint, &node{LoopbackNode: root.(*fs.LoopbackNode), fs: f}, opts)
	if err != nil {
		if madeDir {
			os.Remove(mountpoint)
		}
		return nil, fmt.Errorf("testfs: mount %s on %s: %w", backing, mountpoint, err)
	}
	f.server = server
	var stx unix.Statx_t
	if unix.Statx(unix.AT_FDCWD, mountpoint, 0, unix.STATX_MNT_ID, &stx) == nil && stx.Mask&unix.STATX_MNT_ID != 0 {
		f.mountID = stx.Mnt_id
	}
	go func() {
		server.Wait()
		close(f.stopped)
	}()
	return f, nil
}

// MustMount mounts backing on a fresh mount point under t.TempDir() and
// unmounts it when the test ends. If FUSE is unavailable the test fails: an
// end-to-end test that silently skips proves nothing.
func MustMount(t testing.TB, backing string) *FS {
	t.Helper()
	if fi, err := os.Stat(backing); err != nil || !fi.IsDir() {
		t.Fatalf("testfs: backing folder %s: not a folder (%v)", backing, err)
		return nil
	}
	f, err := Mount(backing, filepath.Join(t.TempDir(), "mnt"))
	if err != nil {
		// go-fuse's fusermount errors end in a newline.
		t.Fatalf("FUSE not available: %s (needs /dev/fuse, and root or fusermount3; apt install fuse3)", strings.TrimSpace(err.Error()))
		return nil
	}
	// Registered after t.TempDir's cleanup, so it runs first: the temp
	// folder is never removed through a live mount.
	t.Cleanup(func() {
		if err := f.Unmount(); err != nil {
			t.Errorf("testfs: %v", err)
		}
		if n := f.releaseOwnFiles(); n > 0 {
			t.Errorf("testfs: the test process left %d files open on %s; they now point at /dev/null "+
				"(a process exiting with files open on its own FUSE mount hangs forever)", n, f.Dir)
		}
		select {
		case <-f.stopped:
		case <-time.After(5 * time.Second):
			t.Logf("testfs: %s still has open files after unmount; the file system keeps answering EIO until they are closed", f.Dir)
		}
	})
	return f
}

// Unmount detaches the mount, as when a drive is pulled out. It works while
// other processes have files open on it and does not wait for them; nothing
// blocks. Afterwards:
//
//   - operations on descriptors they still hold fail with EIO: write, fsync,
//     fstat, close, and reads the page cache cannot serve (data still cached
//     in that open reads fine, as it would from a real pulled drive);
//   - paths under Dir give ENOENT, because Dir leaves the namespace and, if
//     Mount created it (MustMount always does), is removed, like the folder
//     under /media of a drive that is gone. A mount point that existed before
//     Mount is left empty, so new files would land in it.
//
// The server stops once the last such descriptor is closed. Unmount is
// idempotent; it also serves to unmount cleanly at the end.
func (f *FS) Unmount() error {
	f.unmountOnce.Do(func() {
		err := detach(f.Dir)
		// Fail everything even if detaching failed, so that a mount left
		// behind cannot be used to delete the backing files (os.RemoveAll
		// of a temp folder in a test's cleanup, for one).
		f.gone.Store(true)
		f.releaseStall()
		if err != nil {
			f.unmountErr = err
			return
		}
		if f.madeDir {
			os.Remove(f.Dir)
		}
	})
	return f.unmountErr
}

// releaseOwnFiles points every descriptor this process still has open on the
// mount at /dev/null and returns how many there were. At exit the kernel
// flushes a process's open files and waits for each flush to be answered;
// for a file on this mount the answer would come from this very process,
// whose threads are already gone, so it would never exit. dup3 rather than
// close, so that the owner's own Close later does not close a reused number.
func (f *FS) releaseOwnFiles() int {
	if f.mountID == 0 {
		return 0
	}
	ents, err := os.ReadDir("/proc/self/fdinfo")
	if err != nil {
		return 0
	}
	null, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0
	}
	defer unix.Close(null)
	n := 0
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd == null {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + e.Name())
		if err != nil {
			continue // closed meanwhile, or the folder's own descriptor
		}
		for line := range strings.Lines(string(info)) {
			k, v, _ := strings.Cut(line, ":")
			if k != "mnt_id" {
				continue
			}
			if id, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64); id == f.mountID {
				if unix.Dup3(null, fd, unix.O_CLOEXEC) == nil {
					n++
				}
			}
		}
	}
	return n
}

// detach lazily unmounts dir: it leaves the namespace now, and the kernel
// lets go of the file system when its last open file is closed.
func detach(dir string) error {
	err := unix.Unmount(dir, unix.MNT_DETACH)
	if err == nil || !errors.Is(err, unix.EPERM) {
		if err != nil {
			return fmt.Errorf("unmount %s: %w", dir, err)
		}
		return nil
	}
	// Not root: fusermount is setuid and may unmount the user's own mount.
	for _, name := range []string{"fusermount3", "fusermount"} {
		bin, lerr := exec.LookPath(name)
		if lerr != nil {
			continue
		}
		if out, err := exec.Command(bin, "-u", "-z", dir).CombinedOutput(); err != nil {
			return fmt.Errorf("%s -u -z %s: %v: %s", bin, dir, err, out)
		}
		return nil
	}
	return fmt.Errorf("unmount %s: %w, and no fusermount3 to do it", dir, err)
}

// CorruptReads makes reads of files matching glob return the byte at file
// offset offset XORed with 0x01, when a read covers that offset: a drive
// that silently returns wrong data.
//
// glob is matched with path.Match against the path relative to the mount,
// or against the file's base name if glob has no '/'. Calls add up. It
// panics if glob is malformed.
func (f *FS) CorruptReads(glob string, offset int64) {
	mustGlob(glob)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults.corrupt = append(slices.Clip(f.faults.corrupt), corruptRule{glob, offset})
}

// FailReads makes reads of files matching glob (see CorruptReads) fail with
// errno when they return any byte at or beyond file offset afterBytes: a bad
// sector. The kernel reads whole pages, retrying page by page after a failed
// readahead, so a reader gets the data up to afterBytes rounded down to 4 KiB
// and then the error. Files no longer than afterBytes read normally.
func (f *FS) FailReads(glob string, afterBytes int64, errno syscall.Errno) {
	mustGlob(glob)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults.failReads = append(slices.Clip(f.faults.failReads), failReadRule{glob, afterBytes, errno})
}

// FailWritesAfter lets totalBytes more bytes be written through the mount
// and then fails every write, create, mkdir, mknod, link, symlink and
// fallocate with errno: a drive that fills up (ENOSPC) or dies (EIO). The
// write that crosses the limit is cut short, so write(2) returns a short
// count and the next write gets errno, as on a full disk. Free space
// reported by statfs is not changed, so a copy passes its free-space check
// and fails midway. A later call replaces the limit.
func (f *FS) FailWritesAfter(totalBytes int64, errno syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults.writes = &writeBudget{left: totalBytes, errno: errno}
}

// ChangeContent makes files matching glob (see CorruptReads) a source that
// changes under the reader: the first open that reads such a file reads its
// true data; every later open, and any re-read of a range that was already
// returned once (after the reader dropped its cached pages, as editkit does
// when it re-reads a source through the same descriptor), returns the data
// with each byte at an offset divisible by 4096 XORed with 0xFF. Size and
// mtime are unchanged. Counting starts at the call, per path.
func (f *FS) ChangeContent(glob string) {
	mustGlob(glob)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults.change = append(slices.Clip(f.faults.change), &changeRule{
		glob:  glob,
		reads: map[string]int{},
		seen:  map[string]*spans{},
	})
}

// StallReads makes every read block, as a USB drive that stops answering:
// the reading process waits in the kernel. Reset or Unmount lets the reads
// go on (or fail, after Unmount); a fatal signal ends the waiting process.
func (f *FS) StallReads() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stall == nil {
		f.stall = make(chan struct{})
	}
}

// waitIfStalled blocks a read while StallReads is on.
func (f *FS) waitIfStalled(ctx context.Context) syscall.Errno {
	f.mu.Lock()
	st := f.stall
	f.mu.Unlock()
	if st == nil {
		return 0
	}
	select {
	case <-st:
		return 0
	case <-ctx.Done():
		return syscall.EINTR
	}
}

func (f *FS) releaseStall() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stall != nil {
		close(f.stall)
		f.stall = nil
	}
}

// Reset switches every fault off. Counters are kept.
func (f *FS) Reset() {
	f.releaseStall()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = faults{}
}

// Stats returns a copy of the counters.
func (f *FS) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.stats
	s.Opens = make(map[string]int, len(f.stats.Opens))
	for k, v := range f.stats.Opens {
		s.Opens[k] = v
	}
	return s
}
