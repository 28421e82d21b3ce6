//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/editkit/editkit/internal/aaf/aaftest"
	"github.com/editkit/editkit/internal/catalog"
	"github.com/editkit/editkit/internal/cut"
	"github.com/editkit/editkit/internal/mxf"
	"github.com/editkit/editkit/internal/mxf/mxftest"
	"github.com/editkit/editkit/internal/units"
)

// cutSuite measures what `editkit needs` and `pull --for` do before they
// touch a drive: read a 2 000-clip AAF (made by pyaaf2 the way Avid links
// media, 2 000 distinct clips) and match it against a 50 000-item catalog
// whose items carry MXF metadata; and the memory that takes. Target: under
// 2 s. The catalog is built in memory (loading it from the hub is the
// catalog's own cost, measured by the hub suite).
func (b *bench) cutSuite() error {
	const clips, items = 2000, 50_000
	name := func(i int) string { return fmt.Sprintf("C%05d", i) }
	aafPath := filepath.Join(b.work, fmt.Sprintf("cut-%d.aaf", clips))
	if _, err := os.Stat(aafPath); err != nil {
		fmt.Printf("\ncut: making a %d-clip AAF with pyaaf2 (once; kept in %s)\n", clips, b.work)
		spec := aaftest.Spec{}
		var seq []aaftest.Clip
		for i := range clips {
			n := name(i * (items / clips))
			spec.Synthetic = append(spec.Synthetic, aaftest.Synthetic{Name: n,
				FileUMID: mxftest.UMIDFor(n, "file:V1").String(), MaterialUMID: mxftest.UMIDFor(n, "material").String()})
			seq = append(seq, aaftest.Clip{Media: i, Length: 25})
		}
		spec.Compositions = []aaftest.Composition{{Name: "BENCH", Tracks: []aaftest.Track{{Kind: "sound", Clips: seq}}}}
		if err := aaftest.MakeFile(b.ctx, aafPath+".tmp", spec); err != nil {
			return err
		}
		if err := os.Rename(aafPath+".tmp", aafPath); err != nil {
			return err
		}
	}
	state := catalog.NewState()
	for i := range items {
		n := name(i)
		p := "Avid MediaFiles/MXF/1/" + n + ".V1.mxf"
		state.Items[p] = &catalog.Item{Path: p, Size: 40 << 20, B3: fmt.Sprintf("%064x", i), MXF: &mxf.Info{
			FilePackage: mxftest.UMIDFor(n, "file:V1"), MaterialPackage: mxftest.UMIDFor(n, "material"), ClipName: n,
			Kind: "video", EditRate: mxf.Rational{Num: 25, Den: 1}, Duration: 250, TimecodeRate: 25}}
	}
	fi, err := os.Stat(aafPath)
	if err != nil {
		return err
	}
	fmt.Printf("\ncut: resolve a %d-clip AAF (%s) against a %d-item catalog, %d rounds\n", clips, units.FormatBytes(fi.Size()), items, b.rounds)
	var reads, totals []time.Duration
	var alloc, heap uint64
	for range b.rounds {
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		start := time.Now()
		nd, err := cut.Read(aafPath, "")
		if err != nil {
			return err
		}
		read := time.Since(start)
		rep := cut.Plan(nd, state, nil, 0)
		total := time.Since(start)
		runtime.ReadMemStats(&m1)
		if len(rep.Media) != clips || len(rep.Unknown) != 0 {
			return fmt.Errorf("cut: resolved %d media, %d unknown; want %d and 0", len(rep.Media), len(rep.Unknown), clips)
		}
		reads, totals = append(reads, read), append(totals, total)
		alloc, heap = m1.TotalAlloc-m0.TotalAlloc, max(heap, m1.HeapInuse)
	}
	slices.Sort(reads)
	slices.Sort(totals)
	med := func(d []time.Duration) time.Duration { return d[len(d)/2] }
	verdict := "within"
	if med(totals) > 2*time.Second {
		verdict = "OVER"
	}
	fmt.Printf("  AAF read %v, matched against the catalog %v, total %v (%s the 2 s target)\n", med(reads), med(totals)-med(reads), med(totals), verdict)
	fmt.Printf("  memory: %s allocated per resolve, heap in use %s (the catalog itself included)\n", units.FormatBytes(int64(alloc)), units.FormatBytes(int64(heap)))
	b.results = append(b.results, row{group: "cut", name: fmt.Sprintf("resolve %d-clip AAF vs %d items", clips, items), took: med(totals)})
	return nil
}
