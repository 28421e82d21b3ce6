//go:build linux

package backend

import (
	"context"
	"crypto/rand"
	"io"
	"os"
	"testing"
	"unsafe"

	"github.com/editkit/editkit/internal/slowtest"
	"golang.org/x/sys/unix"
)

// residentBytes is how much of the file at path is in the page cache.
func residentBytes(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	page := os.Getpagesize()
	vec := make([]byte, (len(m)+page-1)/page)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	var n int64
	for _, v := range vec {
		n += int64(v & 1)
	}
	return n * int64(page)
}

// dropFromPageCache has the file at path read from the disk again.
func dropFromPageCache(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Sync()
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	if got := residentBytes(t, path); got > 0 {
		slowtest.Missing(t, "a disk file system for the test's temporary folder (this one keeps a file's pages after they were dropped)")
	}
}

// A folder hub's object is read ahead only a little past each read, not
// Linux's up to 8 MiB a time: restore then reads bytes that came into the
// page cache just before, and copying them out cost several times less
// system time when decryption kept the cores busy.
func TestLocalGetReadsAheadALittle(t *testing.T) {
	ctx := context.Background()
	l := openLocalTest(t)
	data := make([]byte, 64<<20)
	rand.Read(data)
	if err := l.Put(ctx, "blobs/ab/big", BytesSource(data), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	path := l.path("blobs/ab/big")
	const read = 8 << 20
	for _, r := range []struct{ off, length int64 }{{0, -1}, {read, 3 * read}} {
		dropFromPageCache(t, path)
		rc, err := l.Get(ctx, "blobs/ab/big", r.off, r.length)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1<<20)
		for done := 0; done < read; done += len(buf) {
			if _, err := io.ReadFull(rc, buf); err != nil {
				t.Fatal(err)
			}
		}
		rc.Close()
		if got, most := residentBytes(t, path), read+int64(prefetchAhead); got > most {
			t.Errorf("after reading %d MiB from %d MiB: %d MiB of the object in the page cache, want at most %d", read>>20, r.off>>20, got>>20, most>>20)
		}
	}
	// What is read is still the object.
	rc, err := l.Get(ctx, "blobs/ab/big", 100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || string(got) != string(data[100:100+1<<20]) {
		t.Fatalf("range read: %v, %d bytes, not the object's", err, len(got))
	}
}
