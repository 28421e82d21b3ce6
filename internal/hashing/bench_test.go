package hashing

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/zeebo/blake3"
)

// BenchmarkBLAKE3 compares ParallelBLAKE3 with zeebo/blake3 (one core) on a
// 256 MiB buffer, larger than any cache.
func BenchmarkBLAKE3(b *testing.B) {
	data := pattern(256<<20, 1)
	b.Run("zeebo", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			blake3.Sum256(data)
		}
	})
	for _, workers := range []int{1, 0} {
		name := "parallel-1"
		if workers == 0 {
			name = "parallel-NumCPU"
		}
		b.Run(name, func(b *testing.B) {
			h := NewParallelBLAKE3(workers)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				h.Reset()
				h.Write(data)
				h.Sum256()
			}
		})
	}
}

// BenchmarkHashFileHot hashes a 1 GiB file that is in the page cache: the
// CPU-bound case, where b3sum (run on the same file, as a separate process,
// if installed) is the yardstick.
func BenchmarkHashFileHot(b *testing.B) {
	path := filepath.Join(b.TempDir(), "clip.mxf")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	block := pattern(64<<20, 5)
	for range 16 {
		if _, err := f.Write(block); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, f) // into the page cache
	f.Close()
	b.Run("b3sum", func(b *testing.B) {
		if _, err := exec.LookPath("b3sum"); err != nil {
			b.Skip("b3sum is not installed")
		}
		b.SetBytes(1 << 30)
		for b.Loop() {
			if out, err := exec.Command("b3sum", path).CombinedOutput(); err != nil {
				b.Fatalf("b3sum: %v: %s", err, out)
			}
		}
	})
	for _, bc := range []struct {
		name string
		o    FileOptions
	}{
		{"blake3+xxh128", FileOptions{BLAKE3: true, XXH128: true}},
		{"blake3", FileOptions{BLAKE3: true}},
		{"xxh128", FileOptions{XXH128: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(1 << 30)
			for b.Loop() {
				if _, err := HashFile(context.Background(), path, bc.o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
