//go:build linux

package fsx

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// FSType names the file system holding path, as /proc/self/mountinfo does
// ("ext4", "exfat", "fuseblk.exfat"…), from the mount with the longest
// matching mount point. A FUSE block-device mount says only "fuseblk":
// its device's boot sector, when readable, tells exFAT ("fuseblk.exfat")
// from NTFS ("fuseblk.ntfs").
func FSType(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	best, kind, source := -1, "", ""
	for _, line := range strings.Split(string(data), "\n") {
		// id parent major:minor root mountpoint options [optional...] - fstype source superopts
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f := strings.Fields(pre)
		g := strings.Fields(post)
		if len(f) < 5 || len(g) < 2 {
			continue
		}
		mp := unescapeMount(f[4])
		if (abs == mp || strings.HasPrefix(abs, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > best {
			best, kind, source = len(mp), g[0], unescapeMount(g[1])
		}
	}
	if kind == "fuseblk" {
		kind += bootSectorKind(source)
	}
	return kind
}

// bootSectorKind reads the file-system name a FAT-family boot sector
// carries at byte 3: ".exfat", ".ntfs", or "" (unreadable, or other).
func bootSectorKind(device string) string {
	f, err := os.Open(device)
	if err != nil {
		return ""
	}
	defer f.Close()
	var b [11]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		return ""
	}
	switch string(b[3:11]) {
	case "EXFAT   ":
		return ".exfat"
	case "NTFS    ":
		return ".ntfs"
	}
	return ""
}

// unescapeMount decodes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range s[i+1 : i+4] {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + byte(c-'0')
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ReadsFromMedium says whether ReadFromMedium really bypasses the page
// cache on this platform (reports say how verification read).
const ReadsFromMedium = true
