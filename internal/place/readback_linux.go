//go:build linux

package place

import "golang.org/x/sys/unix"

// dropPages drops f's cached pages (clean, once it is synced), so that the
// next read comes from the medium.
func dropPages(f *tempFile) error { return unix.Fadvise(f.Fd(), 0, 0, unix.FADV_DONTNEED) }

// readOnce reads f from byte 0 into buf in one call: a regular file reads
// short only at its end.
func readOnce(f *tempFile, buf []byte) (int, error) {
	for {
		k, err := unix.Pread(f.Fd(), buf, 0)
		if err != unix.EINTR {
			return max(k, 0), err
		}
	}
}
