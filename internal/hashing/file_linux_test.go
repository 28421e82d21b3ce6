//go:build linux

package hashing

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/editkit/editkit/internal/fsx"
)

// verify's claim that it checked the drive, not RAM, rests on FromMedium
// reading every page from the medium and leaving none behind.
func TestHashFileFromMediumLeavesNoPagesCached(t *testing.T) {
	data := pattern(5*readSize+333, 9)
	path := writeFile(t, t.TempDir(), data)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := fsx.Sync(f); err != nil { // dirty pages cannot be dropped
		t.Fatal(err)
	}
	got, err := HashFile(context.Background(), path, FileOptions{BLAKE3: true, XXH128: true, FromMedium: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.Sum != reference(data) {
		t.Fatal("wrong digest")
	}
	if resident, total, err := fsx.Residency(f); err != nil || resident != 0 {
		t.Fatalf("%d of %d pages still cached after hashing from the medium (%v)", resident, total, err)
	}
}

// A real EIO from the kernel (reading unmapped memory through /proc/self/mem
// is one) comes back matching syscall.EIO, naming the path.
func TestHashFileEIO(t *testing.T) {
	const path = "/proc/self/mem"
	_, err := HashFile(context.Background(), path, FileOptions{BLAKE3: true, XXH128: true})
	if !errors.Is(err, syscall.EIO) || !strings.HasPrefix(err.Error(), "hash "+path+": read at byte 0: ") {
		t.Fatalf("got %v, want EIO naming %s", err, path)
	}
}
