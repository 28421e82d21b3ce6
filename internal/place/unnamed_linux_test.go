package place

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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
