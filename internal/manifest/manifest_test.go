package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/place"
	"github.com/editkit/editkit/internal/treepath"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// placeRoot opens dir as a command's placement root.
func placeRoot(t testing.TB, dir string) *place.Root {
	t.Helper()
	r, err := place.Open(dir, place.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func collect(t *testing.T, d *Drive) []Record {
	t.Helper()
	var out []Record
	for r, err := range d.Records() {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func paths(rs []Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Path)
	}
	return out
}

func TestCreateAppendCompactReopen(t *testing.T) {
	root := t.TempDir()
	d, err := Create(root, "EDITOR 1", t0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(d.Info.ID, "ek-") || d.Info.Label != "EDITOR 1" {
		t.Fatalf("identity %+v", d.Info)
	}
	in := []string{"b.mxf", "a b/x", "a/z", "a", "a/b/c.wav"}
	for i, p := range in {
		if err := d.Append(Record{Path: p, Size: int64(i), BLAKE3: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(in)
	slices.SortFunc(want, treepath.Compare)
	if got := paths(collect(t, d)); !slices.Equal(got, want) {
		t.Fatalf("before compaction: %q, want %q", got, want)
	}
	// An update and a deletion: the newest record wins.
	if err := d.Append(Record{Path: "a/z", Size: 99}, Record{Path: "b.mxf", Deleted: true}); err != nil {
		t.Fatal(err)
	}
	if err := d.Compact(); err != nil {
		t.Fatal(err)
	}
	id := d.Info.ID
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	d, err = OpenForWrite(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Info.ID != id {
		t.Fatalf("ID changed on reopen: %s → %s", id, d.Info.ID)
	}
	got := collect(t, d)
	want = slices.DeleteFunc(want, func(p string) bool { return p == "b.mxf" })
	if !slices.Equal(paths(got), want) {
		t.Fatalf("after compaction: %q, want %q", paths(got), want)
	}
	for _, r := range got {
		if r.Path == "a/z" && r.Size != 99 {
			t.Fatalf("a/z: size %d, want the newest record's 99", r.Size)
		}
	}
	if d.LastSeq() != 7 {
		t.Fatalf("LastSeq = %d, want 7", d.LastSeq())
	}
	if fi, _ := os.Stat(filepath.Join(root, DirName, journalFile)); fi.Size() != 0 {
		t.Fatalf("journal not emptied by compaction: %d bytes", fi.Size())
	}
}

// A crash can cut the journal's last line anywhere; everything before it
// must survive, and appends after reopening must not be lost behind it.
func TestTornJournalTail(t *testing.T) {
	root := t.TempDir()
	d, err := Create(root, "", t0)
	if err != nil {
		t.Fatal(err)
	}
	d.Append(Record{Path: "one"}, Record{Path: "two"})
	d.Close()
	jpath := filepath.Join(root, DirName, journalFile)
	full, _ := os.ReadFile(jpath)
	line, _ := appendLine(nil, Record{Path: "three", Seq: 3})
	for cut := 1; cut < len(line); cut++ {
		torn := append(slices.Clone(full), line[:cut]...)
		if err := os.WriteFile(jpath, torn, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := OpenForWrite(root)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if got := paths(collect(t, d)); !slices.Equal(got, []string{"one", "two"}) {
			t.Fatalf("cut %d: %q", cut, got)
		}
		d.Append(Record{Path: "four"})
		if err := d.Sync(); err != nil {
			t.Fatal(err)
		}
		if got := paths(collect(t, d)); !slices.Equal(got, []string{"four", "one", "two"}) {
			t.Fatalf("cut %d after append: %q", cut, got)
		}
		d.Close()
		os.WriteFile(jpath, full, 0o644)
	}
	// A flipped bit in the last line is caught by its checksum: it reads as
	// a torn tail. (In the first line, with an intact one after it, it is
	// damage: see TestDamageIsReportedWithTheWayOut.)
	bad := slices.Clone(full)
	bad[len(bad)-12] ^= 1
	os.WriteFile(jpath, bad, 0o644)
	d, _ = Open(root)
	if got := paths(collect(t, d)); !slices.Equal(got, []string{"one"}) {
		t.Fatalf("damaged last line accepted: %q", got)
	}
}

func TestDamagedManifestIsReported(t *testing.T) {
	root := t.TempDir()
	d, _ := Create(root, "", t0)
	d.Append(Record{Path: "a"}, Record{Path: "b"})
	if err := d.Compact(); err != nil {
		t.Fatal(err)
	}
	d.Close()
	base := filepath.Join(root, DirName, baseFile)
	b, _ := os.ReadFile(base)
	b[len(b)/2] ^= 0x20
	os.WriteFile(base, b, 0o644)
	d, _ = Open(root)
	var gotErr error
	for _, err := range d.Records() {
		if err != nil {
			gotErr = err
		}
	}
	if gotErr == nil || !strings.Contains(gotErr.Error(), "damaged") {
		t.Fatalf("flipped byte in manifest: err = %v", gotErr)
	}
}

func TestHostilePathsRefused(t *testing.T) {
	d, _ := Create(t.TempDir(), "", t0)
	defer d.Close()
	for _, p := range []string{"../x", "/etc/passwd", "a/../../b", ""} {
		if err := d.Append(Record{Path: p}); err == nil {
			t.Errorf("Append(%q) accepted", p)
		}
	}
}

func TestLockedDrive(t *testing.T) {
	root := t.TempDir()
	d, _ := Create(root, "", t0)
	defer d.Close()
	if _, err := OpenForWrite(root); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second writer: %v", err)
	}
	if _, err := Open(root); err != nil {
		t.Fatalf("a reader must not need the lock: %v", err)
	}
}

// Journals longer than one sort run go through the on-disk merge; a cursor
// walks the result in tree order.
func TestExternalSortAndCursor(t *testing.T) {
	root := t.TempDir()
	d, _ := Create(root, "", t0)
	d.runSize = 1000
	var want []string
	for i := 0; i < 5500; i++ {
		p := fmt.Sprintf("MXF/%d/clip %05d.mxf", i%7, (i*7919)%5500)
		want = append(want, p)
		d.Append(Record{Path: p, Size: int64(i)})
	}
	d.Append(Record{Path: want[3], Size: -1}) // newer version of a path
	if err := d.Compact(); err != nil {
		t.Fatal(err)
	}
	updated := want[3]
	slices.SortFunc(want, treepath.Compare)
	if got := paths(collect(t, d)); !slices.Equal(got, want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	c := d.Cursor()
	defer c.Close()
	for i, p := range want {
		if i%3 != 0 {
			continue
		}
		r, ok, err := c.Seek(p)
		if err != nil || !ok || r.Path != p {
			t.Fatalf("Seek(%q) = %v %v %v", p, r.Path, ok, err)
		}
		if p == updated && r.Size != -1 {
			t.Fatalf("stale record for %s", p)
		}
		if _, ok, _ := c.Seek(p + " missing"); ok {
			t.Fatalf("Seek found a missing path")
		}
	}
	d.Close()
	entries, _ := os.ReadDir(filepath.Join(root, DirName))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "compact-") {
			t.Fatalf("compaction left %s behind", e.Name())
		}
	}
}
