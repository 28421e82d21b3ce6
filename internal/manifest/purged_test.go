package manifest

import (
	"os"
	"slices"
	"testing"

	"github.com/editkit/editkit/internal/mhl"
)

// A deliberate removal: the manifest drops the file, the purge log keeps
// it (newest state per path, a crash's torn tail ignored, compaction
// leaves it), and the purge patterns ignore what is gone and re-include
// what was placed again.
func TestPurgeLog(t *testing.T) {
	root := t.TempDir()
	d, err := Create(root, "EDITOR 1", t0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.Append(Record{Path: "Review/a.mov", Size: 1, BLAKE3: "x"}, Record{Path: "Review/b [v2].mov", Size: 2, BLAKE3: "y"})
	l, err := d.OpenPurgeLog()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []Purge{
		{Path: "Review/a.mov", State: PurgeRemoving, Event: "e1"},
		{Path: "Review/a.mov", State: PurgeDone, Event: "e1"},
		{Path: "Review/b [v2].mov", State: PurgeRemoving, Event: "e2"},
	} {
		if err := l.Log(p); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	// A crash mid-line.
	f, _ := os.OpenFile(d.path(purgeFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"path":"Review/b [v2].mov","state":"pur`)
	f.Close()
	if err := d.Compact(); err != nil {
		t.Fatal(err)
	}
	if got := paths(collect(t, d)); !slices.Equal(got, []string{"Review/b [v2].mov"}) {
		t.Fatalf("manifest after the purge: %v", got)
	}
	ps, err := Purges(root)
	if err != nil || len(ps) != 2 || ps[0].State != PurgeDone || ps[1].State != PurgeRemoving {
		t.Fatalf("purge log: %+v %v", ps, err)
	}
	done, err := d.PurgedPaths()
	if err != nil || len(done) != 1 || done[0].Path != "Review/a.mov" {
		t.Fatalf("purged paths: %+v %v", done, err)
	}
	pats, err := d.purgeIgnore()
	if err != nil || !slices.Equal(pats, []string{mhl.PurgedPattern("Review/a.mov")}) {
		t.Fatalf("ignore patterns: %v %v", pats, err)
	}
	// Placed again: re-included, and no longer listed as purged.
	d.Append(Record{Path: "Review/a.mov", Size: 1, BLAKE3: "x"})
	d.Sync()
	if pats, _ := d.purgeIgnore(); !slices.Equal(pats, []string{mhl.Unignore(mhl.PurgedPattern("Review/a.mov"))}) {
		t.Fatalf("ignore patterns after placing it again: %v", pats)
	}
	if done, _ := d.PurgedPaths(); len(done) != 0 {
		t.Fatalf("placed again, still purged: %+v", done)
	}
}
