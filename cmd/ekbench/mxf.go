//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/mxf/mxftest"
)

// mxfSuite measures issue 14's indexing target: the time and memory of
// `editkit index` reading the headers of 10 000 MXF files on a local disk
// (EKBENCH_MXF_FILES changes the count), each a copy of an ffmpeg-made
// fixture with its own UMIDs. The drive is made with copy (which records
// the metadata as it copies, also measured), then its records are stripped
// of it, as an older editkit wrote them, and index fills it in; a second
// index, with nothing to do, is measured too.
func (b *bench) mxfSuite() error {
	n := 10_000
	if s := os.Getenv("EKBENCH_MXF_FILES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			return fmt.Errorf("EKBENCH_MXF_FILES=%q: want a positive number", s)
		}
		n = v
	}
	tree := filepath.Join(b.work, "mxf-tree")
	if err := b.mxfTree(tree, n); err != nil {
		return err
	}
	drive := filepath.Join(b.work, "mxf-drive")
	fmt.Printf("\nMXF headers: %d OP-Atom and OP1a files\n", n)
	if err := b.fresh(drive); err != nil {
		return err
	}
	if _, err := b.measure("mxf", "editkit copy (records each header)", "", [][]string{{b.editkit, "copy", "--quiet", tree, drive}}); err != nil {
		return err
	}
	if err := forgetMXF(drive); err != nil {
		return err
	}
	if err := b.dropCaches(); err != nil {
		return err
	}
	took, err := b.measure("mxf", fmt.Sprintf("editkit index DRIVE (%d headers)", n), "", [][]string{{b.editkit, "index", "--quiet", drive}})
	if err != nil {
		return err
	}
	if _, err := b.measure("mxf", "editkit index DRIVE again (nothing to do)", "", [][]string{{b.editkit, "index", "--quiet", drive}}); err != nil {
		return err
	}
	last := b.results[len(b.results)-2]
	verdict := "met"
	if took.Seconds() > 60 {
		verdict = "MISSED"
	}
	fmt.Printf("\n%-66s %.2f s, %.0f files/s  (target well under 60 s: %s)\n", "index of MXF headers", took.Seconds(), float64(n)/took.Seconds(), verdict)
	fmt.Println(peakMemory("index peak memory", last.maxRSS))
	return nil
}

// mxfTree makes (once) n MXF files: copies of a few fixtures, each with
// its own material and file package UMIDs.
func (b *bench) mxfTree(dir string, n int) error {
	marker := dir + ".done"
	want := strconv.Itoa(n)
	if got, err := os.ReadFile(marker); err == nil && string(got) == want {
		return nil
	}
	os.RemoveAll(dir)
	os.Remove(marker)
	seeds := filepath.Join(b.work, "mxf-seeds")
	os.RemoveAll(seeds)
	if err := os.MkdirAll(seeds, 0o755); err != nil {
		return err
	}
	var bases [][]byte
	for _, o := range []mxftest.Opts{{Tape: "A001", Audio: 2}, {OP1a: true}} {
		paths, _, err := mxftest.Make(b.ctx, seeds, "seed", o)
		if err != nil {
			return err
		}
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			bases = append(bases, data)
		}
	}
	for i := range n {
		sub := filepath.Join(dir, "Avid MediaFiles", "MXF", strconv.Itoa(i/1000+1))
		if i%1000 == 0 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return err
			}
		}
		name := fmt.Sprintf("C%05d", i)
		data, err := mxftest.WithUMIDs(bases[i%len(bases)], mxftest.UMIDFor(name, "material"), mxftest.UMIDFor(name, "file"), mxftest.UMIDFor("A001", "tape"))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(sub, name+".mxf"), data, 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(marker, []byte(want), 0o644)
}

// forgetMXF strips a drive's records of their MXF metadata.
func forgetMXF(root string) error {
	drv, err := manifest.OpenForWrite(root)
	if err != nil {
		return err
	}
	defer drv.Close()
	var strip []manifest.Record
	for r, err := range drv.Records() {
		if err != nil {
			return err
		}
		if r.MXF != nil {
			r.MXF = nil
			strip = append(strip, r)
		}
	}
	if err := drv.Append(strip...); err != nil {
		return err
	}
	return drv.Compact()
}
