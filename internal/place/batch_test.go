//go:build linux || darwin

package place

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/hashing"
)

// batchResult collects what done reported per file.
type batchResult struct {
	mu   sync.Mutex
	errs map[string]error
	fis  map[string]fs.FileInfo
}

func (b *batchResult) done(rel string) func(fs.FileInfo, error) {
	return func(fi fs.FileInfo, err error) {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.errs == nil {
			b.errs, b.fis = map[string]error{}, map[string]fs.FileInfo{}
		}
		b.errs[rel], b.fis[rel] = err, fi
	}
}

// writeBatch writes files (rel → content) to their temporary names from
// several goroutines and hands them to b; xxh overrides what a file must
// read back as.
func writeBatch(t *testing.T, r *Root, b *Batch, files map[string]string, xxh map[string]string, mt time.Time, res *batchResult) {
	t.Helper()
	var wg sync.WaitGroup
	for rel, content := range files {
		wg.Go(func() {
			p, err := r.Begin(rel, BeginOptions{Perm: 0o644, Hash: true})
			if err != nil {
				t.Error(err)
				return
			}
			p.Write([]byte(content))
			want := p.Sum().XXH128Hex()
			if x, ok := xxh[rel]; ok {
				want = x
			}
			b.Add(context.Background(), p, SettleOptions{MTime: mt, ReadBack: true, XXH128: want}, false, res.done(rel))
		})
	}
	wg.Wait()
	b.Flush(context.Background())
}

// A batch places every file, verified, with its time, and syncs each
// file once and each folder once, not once per file.
func TestBatchSyncsEachFolderOnce(t *testing.T) {
	root := t.TempDir()
	r, _ := Open(root, Hooks{})
	files := map[string]string{}
	for d := range 3 {
		for f := range 40 {
			files[fmt.Sprintf("Bins/Reel %d/bin %02d.avb", d, f)] = fmt.Sprintf("bin %d/%d", d, f)
		}
	}
	mt := time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)
	var res batchResult
	writeBatch(t, r, r.NewBatch(1000), files, nil, mt, &res)
	for rel, content := range files {
		if err := res.errs[rel]; err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if fi := res.fis[rel]; fi == nil || !fi.ModTime().Equal(mt) {
			t.Fatalf("%s: placed as %v", rel, fi)
		}
		if got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel))); err != nil || string(got) != content {
			t.Fatalf("%s: %q, %v", rel, got, err)
		}
	}
	assertNoTemps(t, root)
	fileSyncs, dirSyncs := r.Syncs()
	if fileSyncs != int64(len(files)) || dirSyncs != 3 {
		t.Fatalf("%d file syncs and %d folder syncs for %d files in 3 folders; want one per file and one per folder", fileSyncs, dirSyncs, len(files))
	}
}

// A file that reads back wrong in the middle of a batch fails alone,
// named, and its final name stays free; the others land.
func TestBatchReadBackMismatchFailsThatFileOnly(t *testing.T) {
	root := t.TempDir()
	r, _ := Open(root, Hooks{})
	files := map[string]string{}
	for f := range 20 {
		files[fmt.Sprintf("Audio/take %02d.wav", f)] = fmt.Sprintf("take %d", f)
	}
	bad := "Audio/take 07.wav"
	var res batchResult
	writeBatch(t, r, r.NewBatch(8), files, map[string]string{bad: "00000000000000000000000000000000"}, time.Time{}, &res)
	var rb *ReadBackError
	if !errors.As(res.errs[bad], &rb) {
		t.Fatalf("%s: %v, want a ReadBackError", bad, res.errs[bad])
	}
	if _, err := os.Lstat(filepath.Join(root, "Audio", "take 07.wav")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the file that failed is at its final name: %v", err)
	}
	for rel := range files {
		if rel == bad {
			continue
		}
		if res.errs[rel] != nil {
			t.Fatalf("%s: %v", rel, res.errs[rel])
		}
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel))); err != nil {
			t.Fatal(err)
		}
	}
	assertNoTemps(t, root)
}

// A batch flushed after its context is cancelled places nothing and
// leaves no temporary file.
func TestBatchCancelledPlacesNothing(t *testing.T) {
	root := t.TempDir()
	r, _ := Open(root, Hooks{})
	b := r.NewBatch(100)
	ctx, cancel := context.WithCancel(context.Background())
	var res batchResult
	for f := range 5 {
		rel := fmt.Sprintf("f%d", f)
		p, _ := r.Begin(rel, BeginOptions{Perm: 0o644, Hash: true})
		p.Write([]byte(rel))
		b.Add(ctx, p, SettleOptions{ReadBack: true, XXH128: p.Sum().XXH128Hex()}, false, res.done(rel))
	}
	cancel()
	b.Flush(ctx)
	for rel, err := range res.errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v", rel, err)
		}
	}
	if len(res.errs) != 5 {
		t.Fatalf("done called for %d files, want 5", len(res.errs))
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Fatalf("left: %v", entries)
	}
}

// The per-file path is the batch of one: Settle and Commit sync the file
// and its folder once each.
func TestSingleFileSyncs(t *testing.T) {
	root := t.TempDir()
	r, _ := Open(root, Hooks{})
	p, _ := r.Begin("a/b.mxf", BeginOptions{Perm: 0o644, Hash: true})
	p.Write([]byte("media"))
	want := hashing.NewMultiHasher(hashing.BLAKE3, hashing.XXH128)
	want.Write([]byte("media"))
	if err := p.Settle(context.Background(), SettleOptions{ReadBack: true, XXH128: want.Sum().XXH128Hex()}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Commit(false); err != nil {
		t.Fatal(err)
	}
	if f, d := r.Syncs(); f != 1 || d != 1 {
		t.Fatalf("%d file syncs, %d folder syncs", f, d)
	}
}
