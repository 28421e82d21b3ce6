package verify

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/editkit/editkit/internal/b3sum"
	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/mhl"
	"github.com/editkit/editkit/internal/place"
	"github.com/editkit/editkit/internal/report"
	"github.com/editkit/editkit/internal/treepath"
	"github.com/editkit/editkit/internal/units"
)

// againstB3Sum checks the files a b3sum-format list names, relative to the
// drive's root (editkit's own list is .editkit/checksums.b3sum).
func (v *verifier) againstB3Sum(ctx context.Context) error {
	list := v.opts.B3Sum
	f, err := os.Open(list)
	if err != nil {
		return &UsageError{fmt.Errorf("--b3sum: %w", err)}
	}
	defer f.Close()
	type line struct {
		path   string
		digest string
	}
	var lines []line
	listed := 0
	for l, err := range b3sum.Parse(f) {
		if err != nil {
			return &UsageError{fmt.Errorf("--b3sum %s: %w", list, err)}
		}
		if err := treepath.Validate(l.Path); err != nil {
			return &UsageError{fmt.Errorf("--b3sum %s: %w", list, err)}
		}
		listed++
		if v.inScope(l.Path) {
			lines = append(lines, line{l.Path, fmt.Sprintf("%x", l.Digest)})
		}
	}
	if listed == 0 {
		return &UsageError{fmt.Errorf("--b3sum %s lists no files: nothing to verify against", list)}
	}
	var total int64
	for _, l := range lines {
		if fi, err := os.Stat(filepath.Join(v.root, filepath.FromSlash(l.path))); err == nil {
			total += fi.Size()
		}
	}
	v.addTotal(total, len(lines))
	pick := v.sampler()
	p := newPool(ctx, v.opts.Jobs, v.opts.Progress, v.beat)
	var submitErr error
	for _, l := range lines {
		v.res.Files++
		if !pick(l.path) {
			v.res.NotSampled++
			continue
		}
		full := filepath.Join(v.root, filepath.FromSlash(l.path))
		if _, err := os.Lstat(full); os.IsNotExist(err) {
			v.problem(Problem{Kind: Missing, Path: l.path})
			continue
		}
		if submitErr = p.Submit(func(ctx context.Context) {
			defer v.fileDone()
			sum, err := p.hashFile(ctx, full, false)
			var mismatch string
			if got := sum.BLAKE3Hex(); got != l.digest {
				mismatch = fmt.Sprintf("BLAKE3 %s, listed %s", got, l.digest)
			}
			if v.judge(ctx, l.path, err, false, mismatch) == matches {
				v.verified(l.path, sum.Size, report.Hash{Format: "BLAKE3", Digest: sum.BLAKE3Hex()})
			}
		}); submitErr != nil {
			break
		}
	}
	return firstErr(p.Wait(), submitErr)
}

// writeOutputs records the verification on the drive: a report, the
// drive's last-verify state, and an ASC MHL generation with the results,
// problems included (spec 5.6.4: the results of a verification shall be
// appended) — but never onto a chain that does not hold (see mayAppend).
func (v *verifier) writeOutputs() error {
	if v.writeMHL != nil && v.mayAppend() && dirExists(filepath.Join(v.root, "ascmhl")) {
		path, err := v.writeMHL()
		if err != nil {
			return fmt.Errorf("recording the verification in the ASC MHL history: %w", err)
		}
		v.res.MHL = path
	}
	report, err := v.writeReport()
	if err != nil {
		return fmt.Errorf("writing the verify report: %w", err)
	}
	v.res.Report = report
	if v.drive != nil {
		summary := fmt.Sprintf("%d of %d files verified, %d problems", v.res.Verified, v.res.Files, len(v.res.Problems))
		v.drive.Info.LastVerify = &manifest.Activity{At: v.opts.Now().UTC(), Host: v.opts.Host, User: v.opts.User, OK: v.res.OK(), Summary: summary}
		if err := v.drive.SaveInfo(); err != nil {
			return err
		}
	}
	return nil
}

// mayAppend reports whether the run's results may go into the drive's
// ASC MHL history: not onto a chain found broken (or a history that could
// not be read), and not when a file could not be read — the generation's
// directory hashes would describe a tree the run did not see.
func (v *verifier) mayAppend() bool {
	return !slices.ContainsFunc(v.res.Problems, func(p Problem) bool { return p.Kind == Tampered || p.Kind == ReadError })
}

// checkedFile is what manifest mode found re-hashing a recorded file.
type checkedFile struct {
	xxh128 string
	size   int64
	mod    time.Time
	intact bool // same bytes as recorded
}

// movedRecord is a moved file with what its generation entry needs.
type movedRecord struct {
	movedFile
	xxh128 string
	size   int64
	mod    time.Time
}

// manifestMHL appends an in-place generation to an editkit drive's history
// with this run's results: each file re-hashed, "verified" when intact and
// "failed" (with the hash it has now) when not; a file found under another
// name under that name, with its previous path; files gone left out. Files
// not re-hashed (unreadable) keep the manifest's xxh128 in the directory
// hashes without being listed.
func (v *verifier) manifestMHL(checked map[string]checkedFile, moved []movedRecord, gone []string) (string, error) {
	now := v.opts.Now()
	skip := map[string]bool{}
	for _, g := range gone {
		skip[g] = true
	}
	for _, m := range moved {
		skip[m.from] = true
	}
	slices.SortFunc(moved, func(a, b movedRecord) int { return treepath.Compare(a.to, b.to) })
	movedEntry := func(m movedRecord) mhl.Entry {
		return mhl.Entry{Path: m.to, Size: m.size, ModTime: m.mod, Listed: true, PreviousPath: m.from,
			Hashes: []mhl.Hash{{Format: mhl.XXH128, Digest: m.xxh128, Action: mhl.Verified, HashDate: now}}}
	}
	entries := func(yield func(mhl.Entry, error) bool) {
		for r, err := range v.drive.Records() {
			if err != nil {
				yield(mhl.Entry{}, err)
				return
			}
			for len(moved) > 0 && treepath.Compare(moved[0].to, r.Path) < 0 {
				if !yield(movedEntry(moved[0]), nil) {
					return
				}
				moved = moved[1:]
			}
			if skip[r.Path] {
				continue
			}
			e := mhl.Entry{Path: r.Path, Dir: r.Dir}
			if !r.Dir {
				e.Size, e.ModTime = r.Size, r.MTime()
				e.Hashes = []mhl.Hash{{Format: mhl.XXH128, Digest: r.XXH128, Action: mhl.Verified, HashDate: now}}
				if c, ok := checked[r.Path]; ok {
					e.Listed = true
					if !c.intact {
						e.Size, e.ModTime = c.size, c.mod
						e.Hashes[0].Digest, e.Hashes[0].Action = c.xxh128, mhl.Failed
					}
				}
			}
			if !yield(e, nil) {
				return
			}
		}
		for _, m := range moved {
			if !yield(movedEntry(m), nil) {
				return
			}
		}
	}
	paths := func(yield func(string, bool) bool) {
		for p, isDir := range v.drive.RecordPaths() {
			if !yield(p, isDir) {
				return
			}
		}
		for _, m := range moved {
			if !yield(m.to, false) {
				return
			}
		}
	}
	return v.appendGeneration(now, mhl.XXH128, paths, entries)
}

// writeReport writes the human-readable verify report and its JSON twin
// under .editkit/reports on the drive.
func (v *verifier) writeReport() (string, error) {
	dir := filepath.Join(v.root, manifest.DirName, "reports")
	name := "verify_" + v.res.Started.UTC().Format("2006-01-02_150405Z")
	var text bytes.Buffer
	w := bufio.NewWriter(&text)
	r := v.res
	took := r.Finished.Sub(r.Started)
	status := "OK: every file checked is complete and intact"
	if !r.OK() {
		status = fmt.Sprintf("PROBLEMS: %d", len(r.Problems))
	}
	fmt.Fprintf(w, "editkit verify report\n=====================\n\n")
	fmt.Fprintf(w, "Status:    %s\n", status)
	fmt.Fprintf(w, "Drive:     %s", v.root)
	if r.Label != "" {
		fmt.Fprintf(w, " (label %q, drive %s)", r.Label, r.DriveID)
	}
	fmt.Fprintf(w, "\nAgainst:   %s", r.Against)
	if r.Against == WithB3Sum {
		fmt.Fprintf(w, " (%s)", v.opts.B3Sum)
	}
	fmt.Fprintf(w, "\nStarted:   %s\nFinished:  %s (%s)\n", r.Started.UTC().Format(time.RFC3339), r.Finished.UTC().Format(time.RFC3339), units.FormatDuration(took))
	fmt.Fprintf(w, "Host:      %s (user %s)\nTool:      %s %s\n", v.opts.Host, v.opts.User, v.opts.Tool, v.opts.Version)
	if fsx.ReadsFromMedium {
		fmt.Fprintf(w, "Read:      from the medium (cached pages dropped before reading)\n")
	} else {
		fmt.Fprintf(w, "Read:      through the operating system's cache (this platform cannot drop a file's cached pages)\n")
	}
	if len(v.scope) > 0 {
		fmt.Fprintf(w, "Scope:     %v\n", v.scope)
	}
	if !v.opts.Since.IsZero() {
		fmt.Fprintf(w, "Since:     %s\n", v.opts.Since.Format(time.RFC3339))
	}
	if v.opts.Sample > 0 {
		fmt.Fprintf(w, "Sample:    %g%% (seed %d)\n", v.opts.Sample, r.Seed)
	}
	fmt.Fprintf(w, "\nFiles:     %d in scope, %d verified intact (%s, %s), %d not sampled\n",
		r.Files, r.Verified, units.FormatBytes(r.Bytes), units.FormatRate(r.Bytes, took), r.NotSampled)
	printPurged(w, r.Purged)
	if len(r.Problems) > 0 {
		fmt.Fprintf(w, "\nProblems:\n")
		for _, p := range r.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	if r.MHL != "" {
		fmt.Fprintf(w, "\nASC MHL:   %s\n", r.MHL)
	}
	writeRebuildReport(w, r)
	if err := w.Flush(); err != nil {
		return "", err
	}
	// Through the placement path: never through a link, readable by every
	// user (0644).
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	err = v.place.WriteFiles(manifest.DirName+"/reports",
		place.NewFile{Name: name + ".txt", Perm: 0o644, Fill: place.Bytes(text.Bytes())},
		place.NewFile{Name: name + ".json", Perm: 0o644, Fill: place.Bytes(js)},
		place.NewFile{Name: name + ".html", Perm: 0o644, Fill: v.writeHTMLReport})
	return filepath.Join(dir, name+".txt"), err
}

// printPurged lists the files removed on purpose.
func printPurged(w io.Writer, purged []manifest.Purge) {
	if len(purged) == 0 {
		return
	}
	fmt.Fprintf(w, "\nPurged on purpose (editkit purge; not missing): %d files\n", len(purged))
	for _, p := range purged {
		fmt.Fprintf(w, "  %s  %s by %s@%s (%s)\n", p.Path, p.Time.Local().Format("2006-01-02 15:04"), p.User, p.Host, p.Why)
	}
}
