package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/notify"
	"github.com/editkit/editkit/internal/ui"
	"github.com/editkit/editkit/internal/units"
	"github.com/editkit/editkit/internal/verify"
	"github.com/spf13/cobra"
)

// verifyFlags are verify's flags, as given.
type verifyFlags struct {
	useMHL   bool
	b3list   string
	since    string
	sample   string
	seed     uint64
	jobs     int
	readOnly bool
	rebuild  bool
	stall    time.Duration
}

// options turns the flags and arguments into what verify.Run takes.
func (fl *verifyFlags) options(args []string) (verify.Options, error) {
	o := verify.Options{
		Drive:        args[0],
		Paths:        args[1:],
		Seed:         fl.seed,
		Jobs:         fl.jobs,
		ReadOnly:     fl.readOnly,
		Rebuild:      fl.rebuild,
		StallTimeout: fl.stall,
	}
	switch {
	case fl.useMHL && fl.b3list != "":
		return o, ui.Usagef("--mhl and --b3sum: choose one")
	case fl.useMHL:
		o.Against = verify.WithMHL
	case fl.b3list != "":
		o.Against, o.B3Sum = verify.WithB3Sum, fl.b3list
	}
	if fl.since != "" {
		t, err := parseSince(fl.since, time.Now())
		if err != nil {
			return o, &ui.UsageError{Err: err}
		}
		o.Since = t
	}
	if fl.sample != "" {
		pct, err := strconv.ParseFloat(strings.TrimSuffix(fl.sample, "%"), 64)
		if err != nil || pct <= 0 || pct > 100 {
			return o, ui.Usagef("--sample %q: want a percentage such as 5%%", fl.sample)
		}
		o.Sample = pct
	}
	return o, nil
}

// recordVerify records a finished run in the event log.
func recordVerify(ctx context.Context, e *env, res *verify.Result) {
	action := event.Verified
	if !res.OK() {
		action = event.VerifyFailed
	}
	ev := event.New(res.Finished, action)
	ev.Drive, ev.DriveID, ev.Path, ev.Size = res.Label, res.DriveID, res.Drive, res.Bytes
	ev.Note = fmt.Sprintf("%d of %d files intact against its %s, %d problems", res.Verified, res.Files, res.Against, len(res.Problems))
	if sp, err := fsx.FreeSpace(res.Drive); err == nil {
		ev.FreeSpace = sp.Free
	}
	h := e.optionalHub(ctx)
	e.record(ctx, h, []event.Event{ev})
	if h != nil {
		h.Close()
	}
}

func newVerifyCmd(e *env) *cobra.Command {
	var fl verifyFlags
	cmd := &cobra.Command{
		Use:   "verify DRIVE [PATH...]",
		Short: "Re-hash a drive from the medium against its manifest or ASC MHL history",
		Long: `Re-read every file of DRIVE from the medium (its cached pages are dropped
first, so the operating system's memory cannot hide a bad drive) and compare
it with what the drive should hold:

  - its editkit manifest (.editkit/), when it has one;
  - otherwise, or with --mhl, its ASC MHL history (ascmhl/, as written by
    editkit, Silverstack, Hedge/OffShoot, ShotPut Pro…): the newest recorded
    hash of every file in md5, sha1, xxh64, xxh3, xxh128 or c4, nested
    histories of copied cards, and the chain of generations (a generation
    edited after the fact is reported as tampered);
  - or a b3sum-format list (--b3sum FILE, paths relative to DRIVE).
Whatever it verifies against, the chain of a drive's ASC MHL history is
checked: a generation edited, deleted or added after the fact is reported as
tampered, and nothing is appended to a broken chain.

Every problem is listed: modified (hash differs), size or mtime changed,
missing, moved (found intact under another name), extra (on the drive but
not recorded; OS junk aside) and files that could not be read (each one; the
run goes on, and gives up on a drive that stops answering instead of hanging).

Against an ASC MHL history, every file it records is checked whatever its
name (a ._ file, a Thumbs.db, a file under an ignore pattern); renames it
records (previousPath) are followed, and a good copy put back after a
"failed" record verifies against the hash recorded before the failure.

Unless --read-only, a verify report is written to DRIVE/.editkit/reports, the
drive's last-verify date is recorded and an ASC MHL generation with the
results is appended, as the reference tool does: "verified" for intact files,
"failed" for changed ones, a moved file under its new name with its
previousPath — problems included, but never onto a broken chain nor after a
file could not be read.

A manifest that cannot be read in full (truncated, a flipped byte, a bad
journal line) is reported as damaged, exit 1: nothing is checked against it.
With no manifest at all, the drive's ASC MHL history is used (and said so).

--rebuild makes a new manifest from the files on the drive: every file is
re-hashed from the medium (BLAKE3 and xxh128); one whose hash matches the
drive's ASC MHL history (or an intact line of the old manifest) is recorded
as verified; one that differs is reported as modified and left out, never
adopted; one nothing records is recorded as new, unverified. The old
manifest and journal are kept aside (.editkit/manifest.ekm.damaged-TIME),
never deleted. Files in the history but not on the drive are reported.

Exit codes: 0 all well; 1 any problem (or interrupted); 2 bad usage, or
nothing to verify against.`,
		Example: `  # Before starting work: is my drive complete and intact?
  editkit verify /Volumes/EDITOR1

  # Just the new VFX, and a 5% spot check of everything that arrived this week
  editkit verify /Volumes/EDITOR1 "Avid MediaFiles/MXF/7"
  editkit verify --since 2026-11-17 --sample 5% /Volumes/EDITOR1

  # A camera card or drive made by an offload tool, without writing to it
  editkit verify --mhl --read-only /Volumes/A001

  # Against a b3sum list
  editkit verify --b3sum /Volumes/EDITOR1/.editkit/checksums.b3sum /Volumes/EDITOR1

  # The manifest is damaged: rebuild it from the drive and its ASC MHL history
  editkit verify --rebuild /Volumes/EDITOR1`,
		Args: argsRange(1, -1, "a drive"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := fl.options(args)
			if err != nil {
				return err
			}
			progress := e.term.NewProgress("verify")
			o.Env = e.runEnv(progress)
			res, err := verify.Run(cmd.Context(), o)
			progress.Close()
			var ue *verify.UsageError
			if errors.As(err, &ue) {
				return &ui.UsageError{Err: ue}
			}
			if res == nil {
				return err
			}
			if res.Rebuild != nil {
				if res.Interrupted {
					e.term.Warnf("interrupted: the manifest was not rebuilt; run the same command again")
					err = nil
				}
				return e.conclude(res.OK() && err == nil, res, err, func() { printRebuildSummary(e.term, res, err) })
			}
			if !res.Interrupted && !fl.readOnly {
				recordVerify(cmd.Context(), e, res)
			}
			e.notify(cmd.Context(), notify.ForVerify(res)...)
			if res.Interrupted {
				e.term.Warnf("interrupted: the drive was not fully verified")
				err = nil // said above; res.OK() is false
			}
			return e.conclude(res.OK(), res, err, func() { printVerifySummary(e.term, res, err) })
		},
	}
	f := cmd.Flags()
	f.BoolVar(&fl.useMHL, "mhl", false, "verify against the ASC MHL history even if the drive has an editkit manifest")
	f.StringVar(&fl.b3list, "b3sum", "", "verify against a b3sum-format checksum list (paths relative to DRIVE)")
	f.StringVar(&fl.since, "since", "", "only files that arrived since DATE (2026-11-17, 2026-11-17T09:00:00Z, or a duration such as 48h or 7d)")
	f.StringVar(&fl.sample, "sample", "", "spot check: re-hash a random N% of the files (missing and extra files are still all checked)")
	f.Uint64Var(&fl.seed, "seed", 0, "with --sample: pick the same files as an earlier run (its seed is in its report)")
	f.IntVarP(&fl.jobs, "jobs", "j", 0, "files read at once (default 4, or the number of CPUs if more; on a single spinning disk, 1 or 2 can be faster)")
	f.BoolVar(&fl.readOnly, "read-only", false, "write nothing to the drive: no report, no state, no ASC MHL generation")
	f.BoolVar(&fl.rebuild, "rebuild", false, "rebuild the drive's manifest from its files, checked against its ASC MHL history; the old one is kept aside")
	f.DurationVar(&fl.stall, "stall-timeout", 2*time.Minute, "give up on a drive that returns no data for this long")
	return cmd
}

// parseSince reads a date, a date-time, or a duration back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	if strings.HasSuffix(s, "d") {
		if n, err := strconv.Atoi(strings.TrimSuffix(s, "d")); err == nil && n >= 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want a date (2026-11-17), a date-time (2026-11-17T09:00:00Z) or a duration (48h, 7d)", s)
}

// verifyVerdict sums a run up without ever saying more than was checked:
// "all intact" only for a run that finished, found nothing wrong and
// failed in no other way.
func verifyVerdict(r *verify.Result, err error) string {
	switch {
	case r.Interrupted:
		return fmt.Sprintf("INTERRUPTED, %d PROBLEMS so far; the drive was not fully verified", len(r.Problems))
	case len(r.Problems) > 0:
		return fmt.Sprintf("%d PROBLEMS", len(r.Problems))
	case err != nil:
		return "NOT COMPLETED (see the error below)"
	}
	return "all intact"
}

// driveName names a verified drive, with its label if it has one.
func driveName(r *verify.Result) string {
	if r.Label != "" {
		return fmt.Sprintf("%s (%s)", r.Drive, r.Label)
	}
	return r.Drive
}

// printProblems prints a run's first problems; the report and --json hold
// them all.
func printProblems(t *ui.Terminal, problems []verify.Problem) {
	printFirst(t, problems, 50, "  … %d more (see the report or --json)\n", func(p verify.Problem) { t.Printf("  %s\n", p) })
}

// printFirst prints the first n items with line, then, in the format more,
// how many it left out.
func printFirst[T any](t *ui.Terminal, items []T, n int, more string, line func(T)) {
	for i, item := range items {
		if i == n {
			t.Printf(more, len(items)-n)
			return
		}
		line(item)
	}
}

func printVerifySummary(t *ui.Terminal, r *verify.Result, err error) {
	took := r.Finished.Sub(r.Started)
	name := driveName(r)
	if r.Note != "" {
		t.Printf("%s\n", r.Note)
	}
	if r.Counts[verify.DamagedManifest] > 0 {
		damaged := ".editkit/manifest.ekm"
		for _, p := range r.Problems {
			if p.Kind == verify.DamagedManifest {
				damaged = p.Path
			}
		}
		t.Printf("Could not verify %s: its %s is damaged, so there is nothing to check the files against (%d of %d files checked): %d PROBLEMS\n",
			name, damaged, r.Verified, r.Files, len(r.Problems))
	} else {
		t.Printf("Verified %s against its %s: %d of %d files intact, %s read in %s (%s): %s\n",
			name, r.Against, r.Verified, r.Files, units.FormatBytes(r.Bytes), units.FormatDuration(took), units.FormatRate(r.Bytes, took), verifyVerdict(r, err))
	}
	if r.NotSampled > 0 {
		t.Printf("  spot check: %d files not sampled (seed %d)\n", r.NotSampled, r.Seed)
	}
	printProblems(t, r.Problems)
	if len(r.Purged) > 0 {
		t.Printf("  purged on purpose (editkit purge, not missing): %s\n", units.Count(len(r.Purged), "file"))
		printFirst(t, r.Purged, 50, "    … %d more (see the report or --json)\n", func(p manifest.Purge) {
			t.Printf("    %s  %s by %s (%s)\n", p.Path, p.Time.Local().Format("2006-01-02 15:04"), p.User, p.Why)
		})
	}
	if r.Report != "" {
		t.Printf("  report: %s\n", r.Report)
	}
	if r.MHL != "" {
		t.Printf("  ASC MHL: %s\n", r.MHL)
	}
}

func printRebuildSummary(t *ui.Terminal, r *verify.Result, err error) {
	took := r.Finished.Sub(r.Started)
	name := driveName(r)
	rb := r.Rebuild
	if r.Interrupted || rb.Manifest == "" {
		t.Printf("Did not rebuild the manifest of %s: %s; the old manifest is unchanged\n", name, verifyVerdict(r, err))
	} else {
		against := "no ASC MHL history on the drive"
		if rb.History {
			against = "checked against its ASC MHL history"
		}
		t.Printf("Rebuilt the manifest of %s from its files (%s): %d files re-hashed from the medium, %s in %s (%s); %d recorded: %d match the history, %d an intact line of the old manifest, %d new (unverified)\n",
			name, against, rb.Hashed, units.FormatBytes(rb.HashedBytes), units.FormatDuration(took), units.FormatRate(rb.HashedBytes, took),
			rb.Recorded, rb.FromHistory, rb.FromOld, len(rb.New))
		for _, k := range rb.KeptAside {
			t.Printf("  old file kept aside: %s\n", k)
		}
		if len(r.Problems) == 0 {
			t.Printf("  no problems\n")
		} else {
			t.Printf("  %d PROBLEMS:\n", len(r.Problems))
		}
	}
	printProblems(t, r.Problems)
	printFirst(t, rb.New, 50, "  … %d more new files (see --json)\n", func(p string) {
		t.Printf("  %-13s %s: in no history; recorded unverified\n", "new", p)
	})
	if r.Report != "" {
		t.Printf("  report: %s\n", r.Report)
	}
}
