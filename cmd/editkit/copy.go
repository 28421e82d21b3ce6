package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/notify"
	"github.com/editkit/editkit/internal/offload"
	"github.com/editkit/editkit/internal/ui"
	"github.com/editkit/editkit/internal/units"
	"github.com/editkit/editkit/internal/walk"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newCopyCmd(e *env) *cobra.Command {
	var (
		labels          []string
		jobs            int
		verify          string
		allowUnportable bool
		includeAvidDB   bool
		excludes        []string
		forCut          string
		sequence        string
		includes        []string
	)
	cmd := &cobra.Command{
		Use:   "copy SRC DEST [DEST...]",
		Short: "Copy media to one or more drives at once, verified",
		Long: `Copy the contents of SRC into each DEST (SRC's "Avid MediaFiles" lands at
DEST/Avid MediaFiles, where Avid looks for it). Every source byte is read once
and written to all destinations at the same time while BLAKE3 and xxh128 are
computed. Each file is written under a temporary name, synced, read back from
the drive (not from memory) and only then renamed; a final name never holds a
partial or unverified file.

Each destination gets, under .editkit/: its identity (label and ID), a
manifest, a b3sum checksum list (checksums.b3sum) and a copy report; and an
ASC MHL generation under ascmhl/.

Interrupted (Ctrl-C, kill, power cut, unplugged drive)? Run the same command
again: it skips what is complete and verified and redoes the rest.

Left out on purpose, and listed in the summary: .DS_Store, ._* AppleDouble
files, Thumbs.db, .Spotlight-V100, .Trashes, .fseventsd, .TemporaryItems,
Avid's msmMMOB.mdb and msmFMID.pmr (Avid rebuilds them; --include-avid-db keeps
them), and symbolic links (never followed).

--for CUT (an AAF, OTIO or EDL file; see editkit needs) copies only the media
that cut uses, found by reading the headers of SRC's MXF files (their UMIDs),
plus the files --include names (the project, say); what the cut needs that
SRC lacks is listed, and makes the exit code 1.

Exit codes: 0 every file copied and verified on every drive; 1 some files
failed (each listed), the cut needs media SRC lacks, or interrupted; 2 bad usage, or refused before writing
anything (missing or read-only destination, not enough space, names that
cannot live on exFAT/NTFS).`,
		Example: `  # Prepare three editors' drives from the media RAID
  editkit copy /Volumes/RAID/Show /Volumes/EDITOR1 /Volumes/EDITOR2 /Volumes/EDITOR3

  # Name the drives, and also re-read the source after copying
  editkit copy --label "Anna" --label "Ben" --verify=full /Volumes/RAID/Show /Volumes/A /Volumes/B

  # Leave out renders, keep Avid's media databases
  editkit copy --exclude "Renders/" --exclude "*.tmp" --include-avid-db SRC /Volumes/EDITOR1

  # The director's laptop drive: only what reel 3 uses, with the project
  editkit copy --for R3.aaf --include "Avid Projects/" /Volumes/RAID/Show /Volumes/DIRECTOR`,
		Args: argsRange(2, -1, "a source and at least one destination"),
		RunE: func(cmd *cobra.Command, args []string) error {
			defer collectLessOften()()
			mode, err := offload.ParseVerifyMode(verify)
			if err != nil {
				return &ui.UsageError{Err: err}
			}
			dests := args[1:]
			if len(labels) > 0 && len(labels) != len(dests) {
				return ui.Usagef("%d --label given for %d destinations: give one per destination, in the same order", len(labels), len(dests))
			}
			if jobs < 0 {
				return ui.Usagef("--jobs %d: must be 1 or more (0 picks a default)", jobs)
			}
			rules := walk.Rules{IncludeAvidDB: includeAvidDB, Excludes: excludes}
			cutOK := true
			if forCut != "" {
				var warnings []string
				if rules.Custom, warnings, err = cutSelection(cmd.Context(), args[0], forCut, sequence, includes); err != nil {
					return err
				}
				for _, w := range warnings {
					e.warn(w)
				}
				cutOK = len(warnings) == 0
			} else if sequence != "" || len(includes) > 0 {
				return ui.Usagef("--sequence and --include go with --for CUT")
			}
			progress := e.term.NewProgress("copy")
			defer progress.Close()
			res, err := offload.Run(cmd.Context(), offload.Options{
				Env:             e.runEnv(progress),
				Source:          args[0],
				Dests:           dests,
				Labels:          labels,
				Jobs:            jobs,
				Verify:          mode,
				AllowUnportable: allowUnportable,
				Rules:           rules,
				Hooks:           testPlaceHooks(),
			})
			progress.Close()
			var pe *offload.PreflightError
			if errors.As(err, &pe) {
				if e.term.JSON {
					e.term.PrintJSON(map[string]any{"ok": false, "refused": pe.Problems})
				}
				return &ui.UsageError{Err: pe}
			}
			if res == nil {
				return err
			}
			e.recordCopy(cmd.Context(), res)
			e.notify(cmd.Context(), notify.ForCopy(res)...)
			if res.Interrupted {
				e.term.Warnf("interrupted. Nothing partial was left under a final name. To resume, run the same command again:\n  editkit %s",
					shellJoin(append([]string{"copy"}, cmdArgs(cmd)...)))
				err = nil // said above; res.OK() is false
			}
			return e.conclude(res.OK() && cutOK, res, err, func() { printCopySummary(e.term, res) })
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&labels, "label", nil, "name of a destination drive, once per destination in order (default: its folder name)")
	f.IntVarP(&jobs, "jobs", "j", 0, "files copied at once (default: from the number of destinations and CPU cores)")
	f.StringVar(&verify, "verify", "dest", "read back after writing: none, dest (each destination, from the medium), full (also re-read the source)")
	f.BoolVar(&allowUnportable, "allow-unportable", false, "copy names that cannot live on exFAT/NTFS or that collide on case-insensitive drives")
	f.BoolVar(&includeAvidDB, "include-avid-db", false, "also copy Avid's msmMMOB.mdb and msmFMID.pmr (Avid rebuilds them otherwise)")
	f.StringArrayVar(&excludes, "exclude", nil, "leave out entries matching PATTERN (gitignore-style: \"*.tmp\", \"Renders/\", \"/Exports/Old\"); repeatable")
	f.StringVar(&forCut, "for", "", "copy only the media the cut in this AAF, OTIO or EDL file uses (and what --include names)")
	f.StringVar(&sequence, "sequence", "", "with --for: only this sequence of the cut")
	f.StringArrayVar(&includes, "include", nil, "with --for: also copy entries matching PATTERN (gitignore-style, e.g. \"Avid Projects/\"); repeatable")
	return cmd
}

// A copy allocates a few hundred bytes per file and keeps little alive (its
// live heap does not grow with the number of files): at Go's default the
// collector ran 29 times for 20 000 small files and took 240–320 ms of CPU,
// a tenth of the copy's. Letting the heap grow to four times what is live
// between collections instead of twice: 9 times, about 50 ms, the peak
// 76–87 MB instead of 59 MB; the soft limit bounds it whatever the tree.
const (
	copyGCPercent   = 300
	copyMemoryLimit = 256 << 20
)

// collectLessOften sets the collector for a copy (see copyGCPercent) unless
// the user set GOGC or GOMEMLIMIT, and returns what restores it.
func collectLessOften() (restore func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	limit := debug.SetMemoryLimit(copyMemoryLimit)
	percent := debug.SetGCPercent(copyGCPercent)
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}

func printCopySummary(t *ui.Terminal, r *offload.Result) {
	took := r.Finished.Sub(r.Started)
	state := "Copied"
	if !r.OK() {
		state = "Copy finished with problems:"
		if r.Interrupted {
			state = "Copy interrupted:"
		}
	}
	t.Printf("%s %s → %d drive(s): %d files, %s in %s (verify: %s)\n",
		state, r.Source, len(r.Destinations), r.Files, units.FormatBytes(r.Bytes), units.FormatDuration(took), r.Verify)
	for _, d := range r.Destinations {
		mark := "ok"
		if d.Error != "" || len(d.Failed) > 0 || r.Interrupted {
			mark = "FAILED"
			if r.Interrupted && d.Error == "" && len(d.Failed) == 0 {
				mark = "incomplete"
			}
		}
		t.Printf("  %-10s %s (%s): %d copied (%s, %s), %d already there, %d failed\n",
			mark, d.Root, d.Label, d.Copied, units.FormatBytes(d.CopiedBytes), units.FormatRate(d.CopiedBytes, took), d.AlreadyThere, len(d.Failed))
		if a := d.History; a != nil {
			t.Printf("             the drive's ASC MHL history (another tool's) was checked: %s matched and are now in editkit's manifest, %d damaged, %d missing\n",
				units.Count(a.Adopted, "file"), len(a.Damaged), len(a.Missing))
			for _, m := range a.Missing {
				t.Printf("             missing: %s: recorded in the drive's history, not on the drive\n", m)
			}
		}
		for _, n := range d.Notes {
			t.Printf("             note: %s\n", n)
		}
		if d.Error != "" {
			t.Printf("             %s\n", d.Error)
		}
		printFirst(t, d.Failed, 20, "             … %d more in the report\n", func(f offload.FileError) {
			t.Printf("             failed: %s: %s\n", f.Path, f.Err)
		})
		if d.Report != "" {
			t.Printf("             report: %s\n", d.Report)
		}
	}
	for _, f := range r.SourceErrors {
		t.Printf("  could not read source %s: %s\n", f.Path, f.Err)
	}
	if len(r.Skipped) > 0 {
		var parts []string
		n := 0
		for _, s := range r.Skipped {
			n += s.Count
			parts = append(parts, fmt.Sprintf("%d × %s", s.Count, s.Reason))
		}
		t.Printf("Not copied on purpose (%d): %s\n", n, strings.Join(parts, "; "))
	}
}

// cmdArgs returns the command line after the subcommand name, for the
// "run the same command again" hint.
func cmdArgs(cmd *cobra.Command) []string {
	var out []string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				out = append(out, "--"+f.Name+"="+v)
			}
			return
		}
		out = append(out, "--"+f.Name+"="+f.Value.String())
	})
	return append(out, cmd.Flags().Args()...)
}

// shellJoin quotes arguments for a POSIX shell where needed.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:@%+,", r))
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

// recordCopy records one "copied" event per destination that received files.
func (e *env) recordCopy(ctx context.Context, res *offload.Result) {
	var evs []event.Event
	for _, d := range res.Destinations {
		if d.Copied == 0 && d.Error == "" && len(d.Failed) == 0 {
			continue
		}
		ev := event.New(res.Finished, event.Copied)
		ev.Drive, ev.DriveID, ev.Path, ev.Size = d.Label, d.DriveID, res.Source, d.CopiedBytes
		ev.Note = fmt.Sprintf("%d files copied, %d already there, %d failed (verify: %s)", d.Copied, d.AlreadyThere, len(d.Failed), res.Verify)
		if d.Error != "" {
			ev.Note += "; " + d.Error
		}
		if sp, err := fsx.FreeSpace(d.Root); err == nil {
			ev.FreeSpace = sp.Free
		}
		evs = append(evs, ev)
	}
	if len(evs) == 0 {
		return
	}
	h := e.optionalHub(ctx)
	if h != nil {
		defer h.Close()
	}
	e.record(ctx, h, evs)
}
