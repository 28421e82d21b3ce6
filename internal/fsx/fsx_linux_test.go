//go:build linux

package fsx

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// The page-cache claims editkit makes (verify reads the medium) rest on
// DropCache really evicting pages; mincore shows it.
func TestDropCacheEvictsPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clip.mxf")
	data := make([]byte, 8<<20)
	for i := range data {
		data[i] = byte(i * 31)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(io.Discard, f); err != nil {
		t.Fatal(err)
	}
	resident, total, err := Residency(f)
	if err != nil {
		t.Fatal(err)
	}
	if total != len(data)/os.Getpagesize() || resident == 0 {
		t.Fatalf("after a read: %d of %d pages resident; expected the file in cache", resident, total)
	}
	if err := Sync(f); err != nil {
		t.Fatal(err)
	}
	if err := DropCache(f); err != nil {
		t.Fatal(err)
	}
	if resident, _, _ = Residency(f); resident != 0 {
		t.Fatalf("after DropCache: %d pages still resident", resident)
	}
}

func TestWriteFileAtomicReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	for _, body := range []string{"one", "two"} {
		if err := WriteFileAtomic(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(path)
		if string(got) != body {
			t.Fatalf("got %q, want %q", got, body)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temp files left behind: %v", entries)
	}
}

func TestLockIsExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	unlock, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Lock: %v, want ErrLocked", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	unlock, err = Lock(path)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock()
}

func TestFreeSpaceAndWritable(t *testing.T) {
	dir := t.TempDir()
	sp, err := FreeSpace(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sp.Total <= 0 || sp.Free < 0 || sp.BlockSize <= 0 {
		t.Fatalf("implausible space %+v", sp)
	}
	if got := (Space{BlockSize: 4096}).RoundUp(1); got != 4096 {
		t.Fatalf("RoundUp(1) = %d", got)
	}
	if err := Writable(dir); err != nil {
		t.Fatal(err)
	}
	if err := Writable(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing folder reported writable")
	}
}
