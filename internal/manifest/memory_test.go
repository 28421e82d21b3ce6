package manifest

import (
	"fmt"
	"reflect"
	"testing"
)

// The end of a copy compacts the journal and then reads the manifest
// several times (checksum list, ASC MHL, report): what this process wrote
// is taken from memory, not decoded again, and reads exactly as the files
// do.
func TestRecordsAfterCompactComeFromMemory(t *testing.T) {
	root := t.TempDir()
	d, err := Create(root, "", t0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fromFiles := func() []Record {
		ro, err := Open(root)
		if err != nil {
			t.Fatal(err)
		}
		return collect(t, ro)
	}
	appendSome := func(from, n int) {
		for i := from; i < from+n; i++ {
			if err := d.Append(Record{Path: fmt.Sprintf("Bins %d/bin %05d.avb", i%7, i), Size: int64(i), Deleted: i%50 == 49}); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendSome(0, 2000)
	appendSome(10, 5) // newer records of paths already there
	if err := d.Compact(); err != nil {
		t.Fatal(err)
	}
	reads := d.mem.fileReads.Load() // the manifest.ekm, which does not exist yet
	for range 3 {
		if got, want := collect(t, d), fromFiles(); !reflect.DeepEqual(got, want) {
			t.Fatalf("records from memory differ from the files: %d against %d", len(got), len(want))
		}
	}
	appendSome(1990, 30)
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := collect(t, d), fromFiles(); !reflect.DeepEqual(got, want) {
		t.Fatalf("records with a journal differ from the files: %d against %d", len(got), len(want))
	}
	if err := d.Compact(); err != nil {
		t.Fatal(err)
	}
	if got, want := collect(t, d), fromFiles(); !reflect.DeepEqual(got, want) {
		t.Fatalf("records after a second compaction differ from the files: %d against %d", len(got), len(want))
	}
	if n := d.mem.fileReads.Load() - reads; n != 0 {
		t.Fatalf("%d journal or manifest files decoded again after the first compaction, want 0", n)
	}
}

// A journal that was not empty when the drive was opened, or that grew
// past what is kept in memory, is read from its file.
func TestRecordsBeyondMemoryComeFromTheFiles(t *testing.T) {
	root := t.TempDir()
	d, err := Create(root, "", t0)
	if err != nil {
		t.Fatal(err)
	}
	d.runSize = 100 // keeps at most 99
	for i := range 150 {
		d.Append(Record{Path: fmt.Sprintf("b/%03d", i), Size: int64(i)})
	}
	if d.mem.journalKnown {
		t.Fatal("a journal of 150 records is still kept in memory with a limit of 99")
	}
	d.Close()
	d, err = OpenForWrite(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.runSize = 100
	if d.mem.journalKnown {
		t.Fatal("a journal holding records when opened is taken as known")
	}
	d.Append(Record{Path: "b/150", Size: 150})
	if err := d.Compact(); err != nil {
		t.Fatal(err)
	}
	got := collect(t, d)
	if len(got) != 151 || got[150].Path != "b/150" {
		t.Fatalf("%d records after compaction, want 151", len(got))
	}
	if d.mem.baseKnown {
		t.Fatal("a manifest of 151 records is kept in memory with a limit of 99")
	}
}
