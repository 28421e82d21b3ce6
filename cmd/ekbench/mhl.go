//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/editkit/editkit/internal/units"
)

// mhlSuite races `editkit verify --mhl` against the ASC's reference tool
// (its verify, which re-hashes every file against the same history) and
// xxhsum -H2 (xxh128, the history's format, and nothing else) over the
// same drive, every run cold. The reference tool is the one the
// conformance tests use (--ascmhl).
func (b *bench) mhlSuite() error {
	runner := filepath.Join(b.ascmhl, "run-ascmhl-debug")
	if _, err := os.Stat(runner); err != nil {
		return fmt.Errorf("the ASC MHL reference tool is missing (%w): pass --ascmhl, or see ../shared/reference/ascmhl-tool/README.md", err)
	}
	fmt.Printf("\nASC MHL verify: %s drive with the ASC MHL history editkit copy writes (xxh128)\n", units.FormatBytes(b.size))
	drive, files, list, err := b.editkitDrive("mhl")
	if err != nil {
		return err
	}
	var total int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return err
		}
		total += fi.Size()
	}
	q := shellQuote
	drop := "sync; echo 3 > /proc/sys/vm/drop_caches; "
	if !b.cold {
		drop = ""
	}
	runs := []struct{ name, script string }{
		{"editkit verify --mhl (cold)", drop + q(b.editkit) + " verify --quiet --read-only --mhl " + q(drive)},
		// Its progress goes to a log, as xxhsum -q keeps quiet.
		{"reference tool verify (cold)", drop + q(runner) + " verify " + q(drive) + " > " + q(filepath.Join(b.work, "mhl-reference.log")) + " 2>&1"},
		{"xxhsum -H2 of every file (cold)", drop + "xargs -0 xxhsum -q -H2 < " + q(list) + " > /dev/null"},
	}
	samples := map[string][]time.Duration{}
	for round := 1; round <= b.rounds; round++ {
		fmt.Printf(" round %d of %d\n", round, b.rounds)
		for _, r := range runs {
			t, err := b.measure("mhl", r.name, "", [][]string{sh(r.script)})
			if err != nil {
				return err
			}
			samples[r.name] = append(samples[r.name], t)
		}
	}
	ours := median(samples[runs[0].name])
	fmt.Printf("\nASC MHL verify throughput (%s in %d files; medians of %d rounds):\n", units.FormatBytes(total), len(files), b.rounds)
	for _, r := range runs {
		took := median(samples[r.name])
		fmt.Printf("  %-40s %12s  editkit's throughput ÷ this one's: %5.2f×\n", r.name, units.FormatRate(total, took), took.Seconds()/ours.Seconds())
	}
	return b.fresh(drive)
}
