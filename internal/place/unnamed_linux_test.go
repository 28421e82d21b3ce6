package place

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A small file begun without a name (O_TMPFILE) has no entry in its folder
// until its batch has synced and read it back: a kill -9 before then
// leaves nothing, not even a temporary name. It is then named in one call
// that never replaces; a file already at its final name goes the way of a
// named file: replaced only when asked and only at exactly that name.
func TestUnnamedFileIsNamedOnlyOncePlaced(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "stale.avb"), []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "theirs.avb"), []byte("theirs"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, _ := Open(root, Hooks{})
	mt := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	b := r.NewBatch(10)
	var res batchResult
	for _, c := range []struct {
		name    string
		replace bool
	}{{"new.avb", false}, {"stale.avb", true}, {"theirs.avb", false}} {
		p, err := r.Begin(c.name, BeginOptions{Perm: 0o644, Hash: true, Unnamed: true})
		if err != nil {
			t.Fatal(err)
		}
		p.Write([]byte("ours: " + c.name))
		b.Add(context.Background(), p, SettleOptions{MTime: mt, ReadBack: true, XXH128: p.Sum().XXH128Hex()}, c.replace, res.done(c.name))
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("before the batch placed them, the folder holds %v; want only the two files that were there", entries)
	}
	b.Flush(context.Background())
	for name, want := range map[string]string{"new.avb": "ours: new.avb", "stale.avb": "ours: stale.avb", "theirs.avb": "theirs"} {
		got, err := os.ReadFile(filepath.Join(root, name))
		if err != nil || string(got) != want {
			t.Errorf("%s holds %q (%v), want %q", name, got, err, want)
		}
	}
	for _, name := range []string{"new.avb", "stale.avb"} {
		if err := res.errs[name]; err != nil {
			t.Errorf("%s: %v", name, err)
		} else if fi, _ := os.Stat(filepath.Join(root, name)); !fi.ModTime().Equal(mt) || !res.fis[name].ModTime().Equal(mt) {
			t.Errorf("%s has mtime %v (reported %v), want %v", name, fi.ModTime(), res.fis[name].ModTime(), mt)
		}
	}
	var ee *ExistsError
	if !errors.As(res.errs["theirs.avb"], &ee) {
		t.Errorf("theirs.avb: %v, want an ExistsError", res.errs["theirs.avb"])
	}
	assertNoTemps(t, root)
	if r.noUnnamed.Load() {
		t.Fatalf("the temporary folder's file system refused O_TMPFILE: the files above were named all along")
	}
}

// A file linked without ever having had a name was synced with a link
// count of 0, and a folder's fsync does not write the inode of a file
// linked into it on every file system (ext4 without a journal, ext2). So
// after the links the inodes are written again: by one syncfs where one
// stood for the group's fsyncs (even when the group is in one folder, where
// named files need only that folder's fsync), else by each file's own
// fsync; and when that syncfs fails, no file of the group is reported
// placed.
func TestUnnamedFilesAreSyncedOnceLinked(t *testing.T) {
	mt := time.Date(2026, 12, 7, 19, 0, 0, 0, time.UTC)
	unnamed := BeginOptions{Perm: 0o644, Hash: true, Unnamed: true}
	files := map[string]string{}
	for f := range 10 {
		files[fmt.Sprintf("Bins/bin %02d.avb", f)] = fmt.Sprintf("bin %d", f)
	}

	root := t.TempDir()
	r, _ := Open(root, Hooks{})
	syncfsAfterLinks := 0
	r.faults.syncfsFolders = func(d *Dir) error { syncfsAfterLinks++; return syncFolders(d) }
	var res batchResult
	writeBatchAs(t, r, r.NewBatch(100), unnamed, files, nil, mt, &res)
	for rel := range files {
		if err := res.errs[rel]; err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
	}
	if r.noUnnamed.Load() {
		t.Fatalf("the temporary folder's file system refused O_TMPFILE: the files above were named all along")
	}
	fileSyncs, _ := r.Syncs()
	if wantFileSyncs(t, root, 1) == 0 {
		if syncfsAfterLinks != 1 || fileSyncs != 0 {
			t.Errorf("a group of unnamed files in one folder: %d syncfs after the links and %d file syncs; want 1 and 0", syncfsAfterLinks, fileSyncs)
		}
	} else if fileSyncs != 2*int64(len(files)) {
		t.Errorf("%d file syncs; want each file synced before and after its link (%d)", fileSyncs, 2*len(files))
	}

	// One file alone is fsynced, linked, fsynced again.
	root = t.TempDir()
	r, _ = Open(root, Hooks{})
	res = batchResult{}
	writeBatchAs(t, r, r.NewBatch(100), unnamed, map[string]string{"bin.avb": "alone"}, nil, mt, &res)
	if err := res.errs["bin.avb"]; err != nil {
		t.Fatal(err)
	}
	if fileSyncs, _ := r.Syncs(); fileSyncs != 2 {
		t.Errorf("a single unnamed file: %d file syncs; want 2 (before and after its link)", fileSyncs)
	}

	// The syncfs after the links fails: every file of the group fails.
	root = t.TempDir()
	r, _ = Open(root, Hooks{})
	if wantFileSyncs(t, root, 1) != 0 {
		return // no syncfs stands for the fsyncs here; covered above
	}
	r.faults.syncfsFolders = func(*Dir) error { return syscall.EIO }
	res = batchResult{}
	writeBatchAs(t, r, r.NewBatch(100), unnamed, files, nil, mt, &res)
	for rel := range files {
		if !errors.Is(res.errs[rel], syscall.EIO) {
			t.Errorf("%s after a failed syncfs of its group: %v, want the I/O error", rel, res.errs[rel])
		}
	}
}

// Where the kernel will not link a file through its descriptor (Linux
// before 6.10, unprivileged), it is linked through /proc: the file is
// named all the same, and the folder remembers not to ask again.
func TestUnnamedFileLinkedThroughProc(t *testing.T) {
	root := t.TempDir()
	r, _ := Open(root, Hooks{})
	p, err := r.Begin("Bins/bin.avb", BeginOptions{Perm: 0o644, Hash: true, Unnamed: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.f == nil || !p.f.unnamed {
		t.Fatalf("the temporary folder's file system refused O_TMPFILE")
	}
	p.dir.linkViaProc.Store(true) // as after a refusal
	p.Write([]byte("through proc"))
	var res batchResult
	b := r.NewBatch(10)
	b.Add(context.Background(), p, SettleOptions{ReadBack: true, XXH128: p.Sum().XXH128Hex()}, false, res.done("bin"))
	b.Flush(context.Background())
	if err := res.errs["bin"]; err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(root, "Bins", "bin.avb")); err != nil || string(got) != "through proc" {
		t.Fatalf("bin.avb holds %q (%v)", got, err)
	}
	assertNoTemps(t, root)
}
