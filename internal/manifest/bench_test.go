package manifest

import (
	"fmt"
	"testing"
)

// benchDrive is a drive whose journal holds n records of small files in
// 100 folders, appended out of order within groups as a copy's workers do.
func benchDrive(b *testing.B, n int) *Drive {
	b.Helper()
	d, err := Create(b.TempDir(), "", t0)
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		j := i ^ 7 // a little out of order
		if j >= n {
			j = i
		}
		err := d.Append(Record{Path: fmt.Sprintf("Project/Bins %03d/bin %05d.avb", j%100, j), Size: 1500, ModTime: 1e18 + int64(j),
			SrcMTime: 1e18 + int64(j), BLAKE3: fmt.Sprintf("%064x", j), XXH128: fmt.Sprintf("%032x", j), Origin: "copy", Written: 1.7e9})
		if err != nil {
			b.Fatal(err)
		}
	}
	return d
}

// The end of a copy of 20 000 small files: compact the journal, then read
// the manifest back (checksum list, ASC MHL, report each read it once).
func BenchmarkCompactAndRead(b *testing.B) {
	for range b.N {
		b.StopTimer()
		d := benchDrive(b, 20000)
		b.StartTimer()
		if err := d.Compact(); err != nil {
			b.Fatal(err)
		}
		for range 4 {
			for _, err := range d.Records() {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StopTimer()
		d.Close()
		b.StartTimer()
	}
}

func BenchmarkRecordsAfterCompact(b *testing.B) {
	d := benchDrive(b, 20000)
	defer d.Close()
	if err := d.Compact(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, err := range d.Records() {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
