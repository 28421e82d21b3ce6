package manifest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// damagedTestDrive makes a drive with a compacted manifest (a, b, c) and a
// journal (d, e) after it, and returns its root.
func damagedTestDrive(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	d, err := Create(root, "", t0)
	if err != nil {
		t.Fatal(err)
	}
	d.Append(Record{Path: "a", Size: 1, BLAKE3: "aa"}, Record{Path: "b", Size: 2, BLAKE3: "bb"}, Record{Path: "c", Size: 3, BLAKE3: "cc"})
	if err := d.Compact(); err != nil {
		t.Fatal(err)
	}
	d.Append(Record{Path: "d", Size: 4, BLAKE3: "dd"}, Record{Path: "e", Size: 5, BLAKE3: "ee"})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	return root
}

func readDamaged(root string) ([]string, error) {
	d, err := Open(root)
	if err != nil {
		return nil, err
	}
	var got []string
	for r, err := range d.Records() {
		if err != nil {
			return got, err
		}
		got = append(got, r.Path)
	}
	return got, nil
}

// Every way a manifest or journal can be damaged is reported as damage,
// naming the file and the command that rebuilds it; none reads as a
// shorter, "intact" manifest. A crash's torn journal tail is not damage.
func TestDamageIsReportedWithTheWayOut(t *testing.T) {
	edit := func(name string, f func([]byte) []byte) func(t *testing.T, root string) {
		return func(t *testing.T, root string) {
			p := filepath.Join(root, DirName, name)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, f(b), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	lines := func(b []byte) [][]byte { return bytes.SplitAfter(b, []byte("\n")) }
	dropLine := func(i int) func([]byte) []byte { // i < 0 counts from the end (the last, empty split excluded)
		return func(b []byte) []byte {
			ls := lines(b)
			ls = ls[:len(ls)-1]
			if i < 0 {
				i += len(ls)
			}
			return bytes.Join(slices.Delete(ls, i, i+1), nil)
		}
	}
	cases := []struct {
		name     string
		damage   func(t *testing.T, root string)
		file     string // the file the error must name; "" = no damage
		what     string // in the message
		openFail bool   // OpenForWrite (copy, verify) refuses too
		missing  bool
		want     []string // records when there is no damage
	}{
		{name: "truncated mid-line", damage: edit(baseFile, func(b []byte) []byte { return b[:len(b)*2/3] }), file: baseFile, what: "truncated"},
		{name: "truncated at a line end (no trailer)", damage: edit(baseFile, dropLine(-1)), file: baseFile, what: "trailer"},
		{name: "flipped byte mid-file", damage: edit(baseFile, func(b []byte) []byte { b[len(b)/2] ^= 0x04; return b }), file: baseFile, what: "checksum"},
		{name: "flipped byte in the header", damage: edit(baseFile, func(b []byte) []byte { b[5] ^= 0x04; return b }), file: baseFile, what: "header", openFail: true},
		{name: "empty manifest", damage: edit(baseFile, func([]byte) []byte { return nil }), file: baseFile, what: "empty", openFail: true},
		{name: "a record line removed", damage: edit(baseFile, dropLine(2)), file: baseFile, what: "trailer"},
		{name: "data after the trailer", damage: edit(baseFile, func(b []byte) []byte { return append(b, lines(b)[1]...) }), file: baseFile, what: "after the trailer"},
		{name: "journal: bad line in the middle", damage: edit(journalFile, func(b []byte) []byte { b[3] ^= 0x04; return b }), file: journalFile, what: "followed by intact lines", openFail: true},
		{name: "journal: intact checksum, not JSON", damage: edit(journalFile, func(b []byte) []byte {
			l, _ := appendLine(nil, "not a record")
			return append(l, b...)
		}), file: journalFile, what: "line 1", openFail: true},
		{name: "drive.json not JSON", damage: edit(infoFile, func(b []byte) []byte { return b[:len(b)/2] }), file: infoFile, what: "not JSON", openFail: true},
		{name: "journal: torn tail (a crash)", damage: edit(journalFile, func(b []byte) []byte { return b[:len(b)-5] }), want: []string{"a", "b", "c", "d"}},
		{name: "manifest gone, journal after it", damage: func(t *testing.T, root string) { os.Remove(filepath.Join(root, DirName, baseFile)) },
			file: baseFile, what: "records 1 to 3", openFail: true, missing: true},
		{name: "manifest and journal gone after an ASC MHL generation", damage: func(t *testing.T, root string) {
			os.Remove(filepath.Join(root, DirName, baseFile))
			os.Remove(filepath.Join(root, DirName, journalFile))
			d, _ := OpenForWrite(root)
			d.Info.MHLThrough = 5
			d.SaveInfo()
			d.Close()
		}, file: baseFile, what: "ASC MHL", openFail: true, missing: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := damagedTestDrive(t)
			tc.damage(t, root)
			jpath := filepath.Join(root, DirName, journalFile)
			journalBefore, _ := os.ReadFile(jpath)
			got, err := readDamaged(root)
			if tc.file == "" {
				if err != nil || !slices.Equal(got, tc.want) {
					t.Fatalf("records %q, err %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("damage not reported; records %q", got)
			}
			var de *DamagedError
			if !errors.As(err, &de) || !errors.Is(err, ErrDamaged) || errors.Is(err, ErrMissing) != tc.missing {
				t.Fatalf("error %v (%T) is not a DamagedError (missing=%v)", err, err, tc.missing)
			}
			msg := err.Error()
			for _, want := range []string{filepath.Join(root, DirName, tc.file), tc.what, "editkit verify --rebuild " + shellQuote(root)} {
				if !strings.Contains(msg, want) {
					t.Errorf("message lacks %q:\n%s", want, msg)
				}
			}
			d, err := OpenForWrite(root)
			if tc.openFail {
				if !errors.Is(err, ErrDamaged) {
					t.Fatalf("OpenForWrite: %v, want the damage", err)
				}
			} else {
				if err != nil {
					t.Fatalf("OpenForWrite: %v", err)
				}
				if err := d.Compact(); !errors.Is(err, ErrDamaged) {
					t.Errorf("Compact over the damage: %v", err)
				}
				d.Close()
			}
			// Nothing was "repaired" by cutting records off.
			if after, _ := os.ReadFile(jpath); !bytes.Equal(after, journalBefore) {
				t.Errorf("the journal was changed: %d bytes, was %d", len(after), len(journalBefore))
			}
		})
	}
}

// A first copy killed before any compaction leaves only a journal starting
// at record 1: complete, not damage.
func TestJournalOnlyDriveIsComplete(t *testing.T) {
	root := t.TempDir()
	d, _ := Create(root, "", t0)
	d.Append(Record{Path: "x"}, Record{Path: "y"})
	d.Close()
	if got, err := readDamaged(root); err != nil || !slices.Equal(got, []string{"x", "y"}) {
		t.Fatalf("%q, %v", got, err)
	}
}

// A rebuild keeps the old files aside, salvages what their intact lines
// say, numbers its records above every old seq and leaves a drive that
// reads cleanly and takes new records.
func TestRebuildReplacesAndKeepsAside(t *testing.T) {
	root := damagedTestDrive(t)
	d, _ := OpenForWrite(root)
	d.Info.MHLThrough = 40
	d.SaveInfo()
	d.Close()
	base := filepath.Join(root, DirName, baseFile)
	damaged, _ := os.ReadFile(base)
	damaged[len(damaged)/2] ^= 0x04 // one record's line
	os.WriteFile(base, damaged, 0o644)
	journal, _ := os.ReadFile(filepath.Join(root, DirName, journalFile))

	rb, err := OpenForRebuild(placeRoot(t, root), "", t0)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(rb.Damage, ErrDamaged) {
		t.Errorf("Damage = %v", rb.Damage)
	}
	var hinted []string
	for p := range rb.Hints {
		hinted = append(hinted, p)
	}
	slices.Sort(hinted)
	if len(hinted) != 4 || !slices.Contains(hinted, "d") || !slices.Contains(hinted, "e") {
		t.Errorf("salvaged %q from the intact lines", hinted)
	}
	if _, err := OpenForWrite(root); err == nil {
		t.Fatal("a rebuild must hold the drive's lock")
	}
	kept, err := rb.Replace([]Record{{Path: "z", Size: 9, BLAKE3: "zz"}, {Path: "a", Size: 1, BLAKE3: "aa"}, {Path: "dir", Dir: true}}, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 2 || !strings.Contains(kept[0], "manifest.ekm.damaged-") || !strings.Contains(kept[1], "journal.ekj.damaged-") {
		t.Fatalf("kept aside %q", kept)
	}
	if b, _ := os.ReadFile(kept[0]); !bytes.Equal(b, damaged) {
		t.Error("the damaged manifest was not kept as it was")
	}
	if b, _ := os.ReadFile(kept[1]); !bytes.Equal(b, journal) {
		t.Error("the old journal was not kept as it was")
	}
	if err := rb.Drive.Append(Record{Path: "new"}); err != nil {
		t.Fatal(err)
	}
	rb.Close()
	d, err = OpenForWrite(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got := collect(t, d)
	if !slices.Equal(paths(got), []string{"a", "dir", "new", "z"}) {
		t.Fatalf("rebuilt manifest holds %q", paths(got))
	}
	for _, r := range got {
		if r.Seq <= 40 {
			t.Errorf("%s got seq %d, not above the ASC MHL state's 40: the next generation would leave it out", r.Path, r.Seq)
		}
	}
}

// A drive.json that is not JSON: the rebuild keeps it aside and takes the
// drive's ID back from the manifest's header, so the drive stays the same
// drive for the hub and the tracker.
func TestRebuildRestoresIdentity(t *testing.T) {
	root := damagedTestDrive(t)
	d, _ := Open(root)
	id := d.Info.ID
	info := filepath.Join(root, DirName, infoFile)
	os.WriteFile(info, []byte(`{"format":"editkit-dr`), 0o644)
	rb, err := OpenForRebuild(placeRoot(t, root), "", t0)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := rb.Replace([]Record{{Path: "a"}}, t0)
	rb.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) == 0 || !strings.Contains(kept[0], "drive.json.damaged-") {
		t.Errorf("kept aside %q", kept)
	}
	d, err = Open(root)
	if err != nil || d.Info.ID != id {
		t.Fatalf("after the rebuild: %v, ID %q, want %q", err, d.Info.ID, id)
	}
}
