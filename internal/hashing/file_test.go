package hashing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"

	"github.com/zeebo/blake3"
	"github.com/zeebo/xxh3"
)

// reference hashes data with the independent one-shot implementations
// (zeebo/blake3, xxh3).
func reference(data []byte) Sum {
	return Sum{BLAKE3: blake3.Sum256(data), XXH128: xxh3.Hash128(data).Bytes()}
}

func writeFile(t testing.TB, dir string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, fmt.Sprintf("clip-%d.mxf", len(data)))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestHashFileMatchesHasher(t *testing.T) {
	sizes := []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, segmentSize + 1,
		readSize - 1, readSize, readSize + 1, 2*readSize - 1, 2 * readSize, 2*readSize + chunkSize - 1,
		3*readSize + chunkSize + 1, 4*readSize + 1, 7*readSize + 12345, 2*mediumReadSize + 1}
	if !modest() {
		sizes = append(sizes, 50<<20+3, 64<<20)
	}
	options := []FileOptions{
		{BLAKE3: true, XXH128: true},
		{BLAKE3: true},
		{XXH128: true},
		{BLAKE3: true, XXH128: true, FromMedium: true},
		{BLAKE3: true, XXH128: true, Workers: 1},
		{BLAKE3: true, XXH128: true, Workers: 3},
		{BLAKE3: true, XXH128: true, Workers: 8},
	}
	dir := t.TempDir()
	for _, size := range sizes {
		data := pattern(size, uint64(size)+7)
		path := writeFile(t, dir, data)
		want := reference(data)
		for _, o := range options {
			var progress int64
			o.Progress = func(n int64) { progress += n }
			got, err := HashFile(context.Background(), path, o)
			if err != nil {
				t.Fatal(err)
			}
			w := FileSum{Sum: want, Size: int64(size)}
			if !o.BLAKE3 {
				w.BLAKE3 = [32]byte{}
			}
			if !o.XXH128 {
				w.XXH128 = [16]byte{}
			}
			if got.Sum != w.Sum || got.Size != w.Size {
				t.Errorf("size %d, %+v:\n got  %s %s %d\n want %s %s %d", size, o,
					got.BLAKE3Hex(), got.XXH128Hex(), got.Size, w.BLAKE3Hex(), w.XXH128Hex(), w.Size)
			}
			if progress != int64(size) {
				t.Errorf("size %d: progress adds up to %d", size, progress)
			}
		}
	}
}

// A drive's checksum lists are checked with the real tools where editkit is
// not installed; HashFile must agree with them on a multi-buffer file.
func TestHashFileMatchesReferenceTools(t *testing.T) {
	path := writeFile(t, t.TempDir(), pattern(5*readSize+segmentSize+777, 11))
	got, err := HashFile(context.Background(), path, FileOptions{BLAKE3: true, XXH128: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := toolDigest(t, "b3sum", path); got.BLAKE3Hex() != want {
		t.Errorf("BLAKE3 %s, b3sum says %s", got.BLAKE3Hex(), want)
	}
	if want := toolDigest(t, "xxhsum", "-H2", path); got.XXH128Hex() != want {
		t.Errorf("xxh128 %s, xxhsum -H2 says %s", got.XXH128Hex(), want)
	}
}

func TestHashFileErrorsNameThePath(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.mov")
	_, err := HashFile(context.Background(), missing, FileOptions{BLAKE3: true})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want fs.ErrNotExist", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "hash "+missing+": ") || strings.Count(msg, missing) != 1 {
		t.Errorf("error %q should name the path once, first", msg)
	}
	if _, err := HashFile(context.Background(), dir, FileOptions{BLAKE3: true}); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("hashing a folder: %v", err)
	}
	path := writeFile(t, dir, []byte("x"))
	if _, err := HashFile(context.Background(), path, FileOptions{}); err == nil {
		t.Error("no digest requested, yet no error")
	}
}

// failingReader returns good bytes, then an I/O error, as a drive with a bad
// sector does.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) ReadAt(p []byte, off int64) (int, error) {
	n := copy(p, r.data[min(off, int64(len(r.data))):])
	if n < len(p) {
		if r.err == io.EOF {
			return n, io.EOF
		}
		return n, &fs.PathError{Op: "read", Path: "/Volumes/A001/clip.mxf", Err: r.err}
	}
	return n, nil
}

// An I/O error in the middle of a large file stops the pipeline and comes
// back as itself, with the offset it happened at.
func TestHashFileReadErrorInPipeline(t *testing.T) {
	good := 3*readSize + 4096
	h := fileHasher{o: FileOptions{BLAKE3: true, XXH128: true}, m: NewMultiHasher(BLAKE3, XXH128), src: &failingReader{pattern(good, 1), syscall.EIO}}
	err := h.run(context.Background(), 10*readSize)
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("got %v, want EIO", err)
	}
	if want := fmt.Sprintf("read at byte %d: ", good); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say where (%q)", err, want)
	}
}

// A file that grew since it was measured is hashed to its end.
func TestHashFileLargerThanStat(t *testing.T) {
	data := pattern(3*readSize+99, 2)
	h := fileHasher{o: FileOptions{BLAKE3: true, XXH128: true}, m: NewMultiHasher(BLAKE3, XXH128), src: &failingReader{data, io.EOF}}
	if err := h.run(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	if got, want := h.sum(), (FileSum{Sum: reference(data), Size: int64(len(data))}); got.Sum != want.Sum || got.Size != want.Size {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestHashFileCancel(t *testing.T) {
	path := writeFile(t, t.TempDir(), pattern(12*readSize, 3))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := HashFile(ctx, path, FileOptions{BLAKE3: true}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before: %v", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	var read int64
	_, err := HashFile(ctx, path, FileOptions{BLAKE3: true, XXH128: true, Progress: func(n int64) {
		read += n
		cancel()
	}})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), path) {
		t.Fatalf("cancelled during: %v", err)
	}
	if read > 2*readSize {
		t.Errorf("went on for %d bytes after cancel", read-readSize)
	}
}

// Hashing file after file (a restore reads back every file it writes)
// reuses its read buffers instead of allocating, and the runtime clearing,
// megabytes per file: that cost a restore more than the hashing did.
func TestHashFileReusesBuffers(t *testing.T) {
	dir := t.TempDir()
	small := writeFile(t, dir, make([]byte, 2*readSize-chunkSize))
	large := writeFile(t, dir, make([]byte, 2*mediumReadSize+1))
	for _, c := range []struct {
		what string
		path string
		o    FileOptions
	}{
		{"a file under 2 MiB", small, FileOptions{XXH128: true}},
		{"a read-back from the medium", large, FileOptions{XXH128: true, FromMedium: true, Workers: 1}},
		{"a file hashed on two workers", large, FileOptions{BLAKE3: true, XXH128: true, Workers: 2}},
	} {
		const files = 64
		hash := func() {
			if _, err := HashFile(context.Background(), c.path, c.o); err != nil {
				t.Fatal(err)
			}
		}
		// What one file costs with nothing to reuse: two collections
		// empty every sync.Pool, so the first file allocates its buffers.
		runtime.GC()
		runtime.GC()
		first := allocated(hash)
		// No collection while measuring: one would empty the pools the
		// way the race detector's drops do, at the machine's whim.
		gcPercent := debug.SetGCPercent(-1)
		per := allocated(func() {
			for range files {
				hash()
			}
		}) / files
		debug.SetGCPercent(gcPercent)
		// The race detector drops a quarter of what is put back in a
		// sync.Pool, on purpose: there, a file must cost well under what
		// it costs with nothing to reuse; elsewhere, next to nothing.
		limit := uint64(readSize / 2)
		if raceEnabled {
			limit = first / 2
		}
		if per > limit {
			t.Errorf("%s: %d bytes allocated a file (%d with nothing to reuse), want buffers reused", c.what, per, first)
		}
	}
}

// allocated is how many bytes fn allocates.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
