//go:build linux

package fsx

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Sync flushes a file's data and metadata to the medium.
func Sync(f *os.File) error { return f.Sync() }

// DropCache evicts a file's clean pages from the page cache, so the next read
// comes from the medium. Call it after Sync: dirty pages are not dropped.
func DropCache(f *os.File) error {
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}

// ReadFromMedium prepares f so that reading it reads the medium: whatever is
// cached is dropped first, and the kernel is told the reads are sequential.
func ReadFromMedium(f *os.File) error {
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return err
	}
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_SEQUENTIAL)
}

// Forget tells the kernel a range that was just read or written will not be
// needed again, so a multi-GiB copy does not push everything else out of the
// page cache. Only clean pages go; it is advice, errors are irrelevant.
func Forget(f *os.File, off, n int64) {
	_ = unix.Fadvise(int(f.Fd()), off, n, unix.FADV_DONTNEED)
}

func readOnlyMount(dir string) bool {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return false
	}
	return st.Flags&unix.ST_RDONLY != 0
}

// Residency reports how many of a file's pages are in the page cache. Tests
// use it to show that data was really read back from the medium.
func Residency(f *os.File) (resident, total int, err error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	if fi.Size() == 0 {
		return 0, 0, nil
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 0, 0, fmt.Errorf("mmap %s: %w", f.Name(), err)
	}
	defer unix.Munmap(m)
	page := os.Getpagesize()
	vec := make([]byte, (len(m)+page-1)/page)
	// x/sys has no Mincore wrapper; the system call is simple enough.
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		return 0, 0, fmt.Errorf("mincore %s: %w", f.Name(), errno)
	}
	for _, v := range vec {
		if v&1 != 0 {
			resident++
		}
	}
	return resident, len(vec), nil
}

// StartWriteback asks the kernel to start writing a range of f to the medium
// now, without waiting, so a large file's final fsync has little left to do
// and writing overlaps with reading the next chunk.
func StartWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
