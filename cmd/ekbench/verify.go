//go:build linux

package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/editkit/editkit/internal/hashing"
	"github.com/editkit/editkit/internal/samplemedia"
	"github.com/editkit/editkit/internal/units"
)

// verifySuite races `editkit verify` against b3sum and xxhsum over the same
// drive, and the hashing engine alone against a hot b3sum.
func (b *bench) verifySuite() error {
	fmt.Printf("\nverify: %s drive prepared by editkit copy\n", units.FormatBytes(b.size))
	drive, files, list, err := b.editkitDrive("verify")
	if err != nil {
		return err
	}
	q := shellQuote
	drop := "sync; echo 3 > /proc/sys/vm/drop_caches; "
	if !b.cold {
		drop = ""
	}
	b3All := "xargs -0 b3sum < " + q(list) + " > /dev/null"
	xxhAll := "xargs -0 xxhsum -q -H2 < " + q(list) + " > /dev/null"
	type m struct{ name, script string }
	runs := []m{
		{"editkit verify (cold: every file read from the drive)", drop + q(b.editkit) + " verify --quiet --read-only " + q(drive)},
		{"b3sum of every file, cold", drop + b3All},
		{"editkit verify --mhl (xxh128, cold)", drop + q(b.editkit) + " verify --quiet --read-only --mhl " + q(drive)},
		{"xxhsum -H2 of every file, cold", drop + xxhAll},
		{"b3sum of every file, hot (page cache)", "cat " + q(list) + " | xargs -0 cat > /dev/null; " + b3All},
	}
	samples := map[string][]time.Duration{}
	var engine []time.Duration
	for round := 1; round <= b.rounds; round++ {
		fmt.Printf(" round %d of %d\n", round, b.rounds)
		for _, r := range runs {
			t, err := b.measure("verify", r.name, "", [][]string{sh(r.script)})
			if err != nil {
				return err
			}
			samples[r.name] = append(samples[r.name], t)
		}
		// The engine alone, in this process, fed from the page cache the
		// hot b3sum run just filled.
		t, err := hashTree(b.ctx, files)
		if err != nil {
			return err
		}
		fmt.Printf("  %-58s %9s\n", "editkit hashing engine (BLAKE3), hot", t.Round(10*time.Millisecond))
		engine = append(engine, t)
	}
	took := map[string]time.Duration{}
	for _, r := range runs {
		took[r.name] = median(samples[r.name])
	}
	eng := median(engine)

	many, err := b.tree("many", samplemedia.Options{Seed: 1, ManyFiles: b.many})
	if err != nil {
		return err
	}
	manyDrive := filepath.Join(b.work, "verify-many")
	if err := b.fresh(manyDrive); err != nil {
		return err
	}
	if _, err := b.measure("verify", "(prepare: editkit copy, many files)", "", [][]string{sh(q(b.editkit) + " copy --quiet " + q(many) + " " + q(manyDrive))}); err != nil {
		return err
	}
	b.results = b.results[:len(b.results)-1]
	if _, err := b.measure("verify", fmt.Sprintf("editkit verify, %d small files", b.many), "", [][]string{sh(drop + q(b.editkit) + " verify --quiet --read-only " + q(manyDrive))}); err != nil {
		return err
	}
	peak := b.results[len(b.results)-1].maxRSS
	b.fresh(manyDrive)

	fmt.Printf("\nverify ratios (throughput, editkit ÷ other; medians of %d rounds; above 1 means editkit is faster):\n", b.rounds)
	tp := func(what string, ours, theirs time.Duration, target float64) {
		r := theirs.Seconds() / ours.Seconds()
		verdict := "met"
		if r < target {
			verdict = "MISSED"
		}
		fmt.Printf("  %-66s %5.2f×  (target ≥ %.2f×: %s)\n", what, r, target, verdict)
	}
	tp("verify, cold vs b3sum cold", took[runs[0].name], took[runs[1].name], 0.95)
	tp("hashing engine, hot vs b3sum hot", eng, took[runs[4].name], 0.90)
	tp("verify --mhl (xxh128), cold vs xxhsum -H2 cold", took[runs[2].name], took[runs[3].name], 1.0)
	fmt.Println("  " + peakMemory(fmt.Sprintf("peak memory, verify of %d files", b.many), peak))
	return nil
}

// editkitDrive copies the generated media tree with editkit to a fresh
// folder (name-drive) and returns it, the media files on it and a file
// listing them NUL-separated (name-files.txt), for xargs -0.
func (b *bench) editkitDrive(name string) (drive string, files []string, list string, err error) {
	src, err := b.tree("media", samplemedia.Options{Seed: 1, TotalBytes: b.size})
	if err != nil {
		return "", nil, "", err
	}
	drive = filepath.Join(b.work, name+"-drive")
	if err := b.fresh(drive); err != nil {
		return "", nil, "", err
	}
	if out, err := exec.CommandContext(b.ctx, b.editkit, "copy", "--quiet", src, drive).CombinedOutput(); err != nil {
		return "", nil, "", fmt.Errorf("preparing %s with editkit copy: %w\n%s", drive, err, out)
	}
	if files, err = mediaFiles(drive); err != nil {
		return "", nil, "", err
	}
	list = filepath.Join(b.work, name+"-files.txt")
	return drive, files, list, os.WriteFile(list, []byte(strings.Join(files, "\x00")), 0o644)
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// mediaFiles lists the files of a drive that verify reads (not editkit's own).
func mediaFiles(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".editkit" || d.Name() == "ascmhl") {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// hashTree hashes every file with editkit's engine from the page cache, on
// as many goroutines as verify uses.
func hashTree(ctx context.Context, files []string) (time.Duration, error) {
	start := time.Now()
	jobs := make(chan string)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range max(2, runtime.NumCPU()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range jobs {
				if _, err := hashing.HashFile(ctx, f, hashing.FileOptions{BLAKE3: true}); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}
		}()
	}
	for _, f := range files {
		jobs <- f
	}
	close(jobs)
	wg.Wait()
	return time.Since(start), firstErr
}
