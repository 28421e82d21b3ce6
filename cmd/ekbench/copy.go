//go:build linux

package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/samplemedia"
	"github.com/editkit/editkit/internal/units"
)

// copySuite races `editkit copy` against cp, rsync, rclone and cp + b3sum on
// one generated tree, cold cache each time.
func (b *bench) copySuite() error {
	src, err := b.tree("media", samplemedia.Options{Seed: 1, TotalBytes: b.size})
	if err != nil {
		return err
	}
	d := func(i int) string { return filepath.Join(b.work, fmt.Sprintf("dest%d", i)) }
	d1, d2, d3 := d(1), d(2), d(3)
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	cpTo := func(dst string) string { return "cp -r " + q(src) + "/. " + q(dst) + "/" }
	// b3sum of every file of a tree, cold, the way a careful assistant checks by hand.
	b3 := func(dir string) string {
		return "cd " + q(dir) + " && find . -type f ! -path './.editkit/*' -print0 | xargs -0 b3sum > /dev/null"
	}
	// ek runs editkit copy with flags and destinations: editkit copy FLAGS SRC DESTS.
	ek := func(flagsAndDests ...string) string {
		var flags, dests []string
		for _, a := range flagsAndDests {
			if strings.HasPrefix(a, "--") {
				flags = append(flags, a)
			} else {
				dests = append(dests, a)
			}
		}
		return q(b.editkit) + " copy --quiet " + strings.Join(flags, " ") + " " + q(src) + " " + strings.Join(dests, " ")
	}
	fmt.Printf("\ncopy: %s of sample media, page cache dropped before each run\n", units.FormatBytes(b.size))

	type m struct {
		name, note string
		prep       []string
		steps      [][][]string
	}
	drop := [][]string{{"sh", "-c", "sync; [ $(id -u) = 0 ] && echo 3 > /proc/sys/vm/drop_caches || true"}}
	runs := []m{
		{"cp -r + sync (1 destination)", "", []string{d1}, [][][]string{{sh(cpTo(d1) + " && sync")}}},
		{"editkit copy --verify=none (1 destination)", "", []string{d1}, [][][]string{{sh(ek("--verify=none", q(d1)) + " && sync")}}},
		{"3 × cp -r in parallel + sync (3 destinations)", "", []string{d1, d2, d3}, [][][]string{{sh(cpTo(d1)), sh(cpTo(d2)), sh(cpTo(d3))}, {{"sync"}}}},
		{"editkit copy --verify=none (3 destinations)", "", []string{d1, d2, d3}, [][][]string{{sh(ek("--verify=none", q(d1), q(d2), q(d3)) + " && sync")}}},
		{"cp -r + sync + cold b3sum of the destination", "", []string{d1}, [][][]string{{sh(cpTo(d1) + " && sync")}, drop, {sh(b3(d1))}}},
		{"editkit copy (default: verify each destination)", "", []string{d1}, [][][]string{{sh(ek(q(d1)) + " && sync")}}},
		{"editkit copy (default verify, 3 destinations)", "", []string{d1, d2, d3}, [][][]string{{sh(ek(q(d1), q(d2), q(d3)) + " && sync")}}},
		{"rsync -a + sync", "", []string{d1}, [][][]string{{sh("rsync -a " + q(src) + "/ " + q(d1) + "/ && sync")}}},
		{"rclone copy (local to local) + sync", "", []string{d1}, [][][]string{{sh("rclone copy --local-no-check-updated " + q(src) + " " + q(d1) + " && sync")}}},
		{"cp -r + sync, then cold b3sum of source and destination", "", []string{d1}, [][][]string{{sh(cpTo(d1) + " && sync")}, drop, {sh(b3(src) + " && " + b3(d1))}}},
	}
	// Rounds interleave the commands, so a slow spell of the machine hits
	// all of them; each ratio uses the medians.
	samples := map[string][]time.Duration{}
	for round := 1; round <= b.rounds; round++ {
		fmt.Printf(" round %d of %d\n", round, b.rounds)
		for _, r := range runs {
			if err := b.fresh(r.prep...); err != nil {
				return err
			}
			t, err := b.measure("copy", r.name, r.note, r.steps...)
			if err != nil {
				return err
			}
			samples[r.name] = append(samples[r.name], t)
		}
	}
	took := map[string]time.Duration{}
	fmt.Printf(" medians:\n")
	for _, r := range runs {
		took[r.name] = median(samples[r.name])
		fmt.Printf("  %-58s %9s\n", r.name, took[r.name].Round(10*time.Millisecond))
	}
	for _, dd := range []string{d1, d2, d3} {
		b.fresh(dd)
	}

	// Peak memory on a tree of many small files.
	many, err := b.tree("many", samplemedia.Options{Seed: 1, ManyFiles: b.many})
	if err != nil {
		return err
	}
	if err := b.fresh(d1); err != nil {
		return err
	}
	manyName := fmt.Sprintf("editkit copy, %d small files (1 destination)", b.many)
	if _, err := b.measure("copy", manyName, "", [][]string{sh(q(b.editkit) + " copy --quiet " + q(many) + " " + q(d1))}); err != nil {
		return err
	}
	peak := b.results[len(b.results)-1].maxRSS
	b.fresh(d1)

	fmt.Printf("\ncopy ratios (editkit ÷ other, medians of %d interleaved rounds; below 1 means editkit is faster):\n", b.rounds)
	lines := []string{
		ratio("1→1 --verify=none vs cp -r + sync", took["editkit copy --verify=none (1 destination)"], took["cp -r + sync (1 destination)"], 1.05, true),
		ratio("1→3 --verify=none vs 3 parallel cp -r + sync", took["editkit copy --verify=none (3 destinations)"], took["3 × cp -r in parallel + sync (3 destinations)"], 1.05, true),
		ratio("1→1 verified vs cp -r + sync + cold b3sum of destination", took["editkit copy (default: verify each destination)"], took["cp -r + sync + cold b3sum of the destination"], 1.05, true),
		ratio("1→1 verified vs rsync -a", took["editkit copy (default: verify each destination)"], took["rsync -a + sync"], 1.0, true),
		ratio("1→1 verified vs rclone copy", took["editkit copy (default: verify each destination)"], took["rclone copy (local to local) + sync"], 1.0, true),
		ratio("1→1 verified vs cp + b3sum of source and destination", took["editkit copy (default: verify each destination)"], took["cp -r + sync, then cold b3sum of source and destination"], 1.0, true),
	}
	for _, l := range lines {
		fmt.Println("  " + l)
	}
	fmt.Println("  " + peakMemory(fmt.Sprintf("peak memory, %d files", b.many), peak))
	return nil
}
