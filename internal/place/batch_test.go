//go:build linux || darwin

package place

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
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
	writeBatchAs(t, r, b, BeginOptions{Perm: 0o644, Hash: true}, files, xxh, mt, res)
}

// writeBatchAs is writeBatch beginning each file with o.
func writeBatchAs(t *testing.T, r *Root, b *Batch, o BeginOptions, files map[string]string, xxh map[string]string, mt time.Time, res *batchResult) {
	t.Helper()
	var wg sync.WaitGroup
	for rel, content := range files {
		wg.Go(func() {
			p, err := r.Begin(rel, o)
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
	want, wantDirs := wantFileSyncs(t, root, len(files)), wantFolderSyncs(t, root, 3)
	if fileSyncs != want || dirSyncs != wantDirs {
		t.Fatalf("%d file syncs and %d folder syncs for %d files in 3 folders; want %d and %d", fileSyncs, dirSyncs, len(files), want, wantDirs)
	}
}

// wantFolderSyncs is how many folder syncs a batch whose files are in n
// folders under root needs: one syncfs for all of them where a syncfs
// stands for the files' fsyncs and reports the folders' write-back errors
// too (Linux ≥ 5.17), one fsync per folder elsewhere.
func wantFolderSyncs(t *testing.T, root string, n int) int64 {
	t.Helper()
	r, err := Open(root, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.OpenDir("", false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if wantFileSyncs(t, root, 1) == 0 && syncFolders(d) == nil {
		return 1
	}
	t.Logf("%s: syncfs does not stand for a folder's fsync here; every folder is fsynced", root)
	return int64(n)
}

// When the syncfs that stands for the folders' fsyncs fails (a write-back
// error on the drive since the group began), every folder is fsynced, so
// that the error is reported for the folder it hit; the files land.
func TestBatchFolderSyncfsErrorFsyncsEachFolder(t *testing.T) {
	root := t.TempDir()
	r, _ := Open(root, Hooks{})
	failed := 0
	r.faults.syncfsFolders = func(*Dir) error { failed++; return syscall.EIO }
	files := map[string]string{}
	for d := range 3 {
		for f := range 10 {
			files[fmt.Sprintf("Reel %d/clip %02d.mov", d, f)] = fmt.Sprintf("clip %d/%d", d, f)
		}
	}
	var res batchResult
	writeBatch(t, r, r.NewBatch(1000), files, nil, time.Time{}, &res)
	for rel := range files {
		if err := res.errs[rel]; err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
	}
	assertNoTemps(t, root)
	if _, dirSyncs := r.Syncs(); dirSyncs != 3 {
		t.Fatalf("%d folder syncs after the folders' syncfs failed; want one fsync per folder (3)", dirSyncs)
	}
	if wantFileSyncs(t, root, 1) == 0 && failed != 1 {
		t.Fatalf("the folders' syncfs was tried %d times; want once", failed)
	}
}

// wantFileSyncs is how many fsyncs a batch of n files under root needs:
// none where one syncfs stands for them (Linux ≥ 5.8 on ext4, XFS, Btrfs,
// tmpfs), one per file elsewhere.
func wantFileSyncs(t *testing.T, root string, n int) int64 {
	t.Helper()
	f, err := os.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if syncfsCovers(f) {
		return 0
	}
	t.Logf("%s: syncfs does not stand for fsync here; every file is fsynced", root)
	return int64(n)
}

// When the group's syncfs fails, every file of the group is fsynced, so
// that the write-back error is reported for exactly the file it hit: that
// file fails, named, its final name stays free, and the others land.
func TestBatchSyncfsErrorFsyncsEachFile(t *testing.T) {
	root := t.TempDir()
	r, _ := Open(root, Hooks{})
	bad := filepath.Join(root, "Audio", TempName("take 07.wav"))
	r.faults.syncfs = func(*os.File) error { return syscall.EIO }
	r.faults.fsync = func(f *os.File) error {
		if f.Name() == bad {
			return syscall.EIO
		}
		return f.Sync()
	}
	files := map[string]string{}
	for f := range 20 {
		files[fmt.Sprintf("Audio/take %02d.wav", f)] = fmt.Sprintf("take %d", f)
	}
	var res batchResult
	writeBatch(t, r, r.NewBatch(len(files)), files, nil, time.Time{}, &res)
	if err := res.errs["Audio/take 07.wav"]; !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("the file whose write-back failed: %v; want an I/O error naming %s", err, bad)
	}
	if _, err := os.Lstat(filepath.Join(root, "Audio", "take 07.wav")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the file that failed is at its final name: %v", err)
	}
	for rel := range files {
		if rel != "Audio/take 07.wav" && res.errs[rel] != nil {
			t.Errorf("%s: %v", rel, res.errs[rel])
		}
	}
	if fileSyncs, _ := r.Syncs(); fileSyncs != int64(len(files)) {
		t.Fatalf("%d file syncs after a failed syncfs; want one per file (%d)", fileSyncs, len(files))
	}
	assertNoTemps(t, root)
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

// The group's syncfs runs on the file of the group opened first, whatever
// order the files were handed over in: syncfs reports the write-back
// errors since its descriptor was opened, which must cover every write of
// the group.
func TestBatchSyncfsOnFirstOpenedFile(t *testing.T) {
	root := t.TempDir()
	r, _ := Open(root, Hooks{})
	var synced []string
	r.faults.syncfs = func(f *os.File) error {
		synced = append(synced, filepath.Base(f.Name()))
		return nil
	}
	var files []*File
	for i := range 5 {
		p, err := r.Begin(fmt.Sprintf("f%d", i), BeginOptions{Perm: 0o644, Hash: true})
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	b := r.NewBatch(len(files))
	var res batchResult
	for i := len(files) - 1; i >= 0; i-- {
		p := files[i]
		p.Write([]byte{byte(i)})
		b.Add(context.Background(), p, SettleOptions{ReadBack: true, XXH128: p.Sum().XXH128Hex()}, false, res.done(p.rel))
	}
	if len(synced) != 1 || synced[0] != TempName("f0") {
		t.Fatalf("syncfs ran on %v; want once, on %s (opened first)", synced, TempName("f0"))
	}
	for rel, err := range res.errs {
		if err != nil {
			t.Errorf("%s: %v", rel, err)
		}
	}
}

// The files of a group share their folder, walked to once from the root,
// not once per file; the next group walks again, so a link swapped in for
// the folder meanwhile is refused even while a file begun before is still
// open in the old one.
func TestBatchWalksEachFolderOncePerGroup(t *testing.T) {
	root := t.TempDir()
	r, _ := Open(root, Hooks{})
	early, err := r.Begin("Bins/early.avb", BeginOptions{Perm: 0o644, Hash: true})
	if err != nil {
		t.Fatal(err)
	}
	defer early.Abort()
	b := r.NewBatch(1000)
	var res batchResult
	for i := range 40 {
		rel := fmt.Sprintf("Bins/bin %02d.avb", i)
		p, err := r.Begin(rel, BeginOptions{Perm: 0o644, Hash: true})
		if err != nil {
			t.Fatal(err)
		}
		p.Write([]byte(rel))
		b.Add(context.Background(), p, SettleOptions{ReadBack: true, XXH128: p.Sum().XXH128Hex()}, false, res.done(rel))
	}
	b.Flush(context.Background())
	for rel, err := range res.errs {
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
	}
	if len(res.errs) != 40 {
		t.Fatalf("%d files placed, want 40", len(res.errs))
	}
	if n := r.walks.Load(); n != 1 {
		t.Fatalf("41 files in one folder walked to it %d times; want once", n)
	}

	elsewhere := t.TempDir()
	if err := os.Rename(filepath.Join(root, "Bins"), filepath.Join(root, "Bins.old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(root, "Bins")); err != nil {
		t.Fatal(err)
	}
	_, err = r.Begin("Bins/late.avb", BeginOptions{Perm: 0o644})
	var le *LinkError
	if !errors.As(err, &le) {
		t.Fatalf("Begin through a link swapped in after the group: %v, want a LinkError", err)
	}
	if names, _ := os.ReadDir(elsewhere); len(names) != 0 {
		t.Fatalf("written through the link: %v", names)
	}
}

// A batch limited in bytes places its files in groups of about that many
// bytes, each with its own folder sync: the limit bounds what one sync
// waits for whatever the number of files.
func TestBatchLimitBytes(t *testing.T) {
	root := t.TempDir()
	r, _ := Open(root, Hooks{})
	files := map[string]string{}
	for f := range 10 {
		files[fmt.Sprintf("Bins/bin %02d.avb", f)] = strings.Repeat(fmt.Sprint(f), 100)
	}
	b := r.NewBatch(1000)
	b.LimitBytes(250) // every third file fills a group
	var res batchResult
	writeBatch(t, r, b, files, nil, time.Time{}, &res)
	for rel := range files {
		if err := res.errs[rel]; err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
	}
	assertNoTemps(t, root)
	if _, dirSyncs := r.Syncs(); dirSyncs != 4 {
		t.Fatalf("%d folder syncs for 10 files of 100 bytes with a limit of 250 bytes; want 4 (groups of 3, 3, 3 and 1)", dirSyncs)
	}
}

// openDescriptors counts the process's open file descriptors.
func openDescriptors(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/dev/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// A group of small files in which every file fails, each at another step
// (its write-back, its read-back, its final name taken, the run
// cancelled), leaves no descriptor open: a small file being placed is a
// plain descriptor with no finalizer, so a Close forgotten on any failure
// path would leak one per file for the rest of the run, and a copy of a
// tree of small files onto a failing drive would run out of them.
func TestBatchFailedGroupLeavesNoDescriptorOpen(t *testing.T) {
	for _, unnamed := range []bool{false, true} {
		t.Run(fmt.Sprintf("unnamed=%v", unnamed), func(t *testing.T) { failGroupEveryWay(t, unnamed) })
	}
}

// failGroupEveryWay is TestBatchFailedGroupLeavesNoDescriptorOpen for files
// begun with or without a name (BeginOptions.Unnamed; a file without one
// is known by its final path until it is named).
func failGroupEveryWay(t *testing.T, unnamed bool) {
	root := t.TempDir()
	r, _ := Open(root, Hooks{})
	r.faults.syncfs = func(*os.File) error { return syscall.EIO }
	lost := map[string]bool{}
	for f := range 10 {
		name := fmt.Sprintf("lost %d.avb", f)
		if !unnamed {
			name = TempName(name)
		}
		lost[filepath.Join(root, "Bins", name)] = true
	}
	r.faults.fsync = func(f *os.File) error {
		if lost[f.Name()] {
			return syscall.EIO
		}
		return f.Sync()
	}
	if err := os.MkdirAll(filepath.Join(root, "Bins"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	xxh := map[string]string{}
	for f := range 10 {
		files[fmt.Sprintf("Bins/lost %d.avb", f)] = "write-back fails"
		xxh[fmt.Sprintf("Bins/misread %d.avb", f)] = "00000000000000000000000000000000"
		files[fmt.Sprintf("Bins/misread %d.avb", f)] = "reads back wrong"
		taken := fmt.Sprintf("Bins/taken %d.avb", f)
		files[taken] = "its final name is taken"
		if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(taken)), []byte("already there"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o := BeginOptions{Perm: 0o644, Hash: true, Unnamed: unnamed}
	before := openDescriptors(t)
	var res batchResult
	writeBatchAs(t, r, r.NewBatch(8), o, files, xxh, time.Now(), &res)
	for rel := range files {
		if res.errs[rel] == nil {
			t.Fatalf("%s was placed; every file of this group must fail", rel)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := r.NewBatch(100)
	for f := range 10 {
		p, err := r.Begin(fmt.Sprintf("Bins/cancelled %d.avb", f), o)
		if err != nil {
			t.Fatal(err)
		}
		p.Write([]byte("cancelled"))
		b.Add(ctx, p, SettleOptions{ReadBack: true, XXH128: p.Sum().XXH128Hex()}, false, res.done(p.rel))
	}
	cancel()
	b.Flush(ctx)
	if after := openDescriptors(t); after != before {
		t.Fatalf("%d descriptors open after the failed groups, %d before: failing files leak their descriptors", after, before)
	}
	assertNoTemps(t, root)
	for f := range 10 {
		taken := filepath.Join(root, "Bins", fmt.Sprintf("taken %d.avb", f))
		if got, err := os.ReadFile(taken); err != nil || string(got) != "already there" {
			t.Errorf("%s: %q, %v; the file that was there must be left alone", taken, got, err)
		}
	}
}
