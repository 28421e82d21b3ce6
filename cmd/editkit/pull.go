package main

import (
	"errors"
	"fmt"

	"github.com/editkit/editkit/internal/catalog"
	"github.com/editkit/editkit/internal/cut"
	"github.com/editkit/editkit/internal/ui"
	"github.com/editkit/editkit/internal/units"
	"github.com/spf13/cobra"
)

func newPullCmd(e *env) *cobra.Command {
	var (
		hf       hubFlags
		o        catalog.PullOptions
		forCut   string
		sequence string
	)
	cmd := &cobra.Command{
		Use:   "pull DRIVE",
		Short: "Bring onto a drive everything in the shared catalog that it lacks",
		Long: `Download onto DRIVE every catalog item the drive lacks, in parallel and
within --bwlimit, each checked against the catalog's BLAKE3 before it gets
its final name, synced and read back from the drive; record it in the drive's
manifest, checksum list and ASC MHL history, and in the tracker.

Media for "Avid MediaFiles/MXF/N" lands there, and that folder's Avid media
databases are removed so Avid rescans it and finds the new media when the
project opens (--keep-avid-db leaves them).

A different file already at a catalog path is never overwritten (it is
reported as a conflict), and nothing is deleted unless --prune, which removes
media withdrawn from the catalog. Free space is checked first. Interrupted?
Run it again: finished files are kept and a partial download resumes.

A drive another tool prepared (its ASC MHL history records files editkit's
manifest lacks) has those files checked against the history once and taken
into the manifest; one that no longer matches is reported damaged and
recorded as failed. A history whose chain is broken is never extended.

--for CUT (an AAF, OTIO or EDL file; see editkit needs) pulls only the media
that cut needs, with the same guarantees; what it needs that the hub lacks is
listed, and makes the exit code 1.

Exit codes: 0 the drive has everything; 1 conflicts, refused entries,
failures or damaged recorded files (each listed), a broken ASC MHL chain, or
interrupted; 2 bad usage, not enough space.`,
		Example: `  # Each morning
  editkit pull /Volumes/EDITOR1

  # What would come, and how long it would take at 20 Mbit/s
  editkit pull --dry-run --bwlimit 20Mbit /Volumes/EDITOR1

  # Only what the turnover needs
  editkit pull --for Turnover_R3.aaf /Volumes/SOUND1`,
		Args: argsRange(1, 1, "a drive"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Drive = args[0]
			o.Hooks = testPlaceHooks()
			bps, err := e.bytesPerSecond(&hf)
			if err != nil {
				return err
			}
			o.BytesPerSecond = bps
			h, err := e.openHub(cmd.Context(), &hf)
			if err != nil {
				return err
			}
			defer h.Close()
			var forRep *cut.Report
			if forCut != "" {
				if o.Prune {
					return ui.Usagef("--prune with --for: a pull for one cut removes nothing; run pull --prune on its own")
				}
				if o.Only, forRep, err = cutHubPaths(cmd.Context(), h, e.runEnv(nil).Now(), forCut, sequence); err != nil {
					return err
				}
			} else if sequence != "" {
				return ui.Usagef("--sequence needs --for CUT")
			}
			progress := e.progress("pull")
			o.Env = e.runEnv(progress)
			res, err := catalog.Pull(cmd.Context(), h, o)
			progress.Close()
			var se *catalog.SpaceError
			if errors.As(err, &se) {
				return &ui.UsageError{Err: se}
			}
			if res == nil {
				return &ui.UsageError{Err: err}
			}
			cutOK := true
			if forRep != nil {
				res.Warnings = append(res.Warnings, cutWarnings(forRep)...)
				cutOK = forRep.Complete()
			}
			for _, w := range res.Warnings {
				e.warn(w)
			}
			kept := len(res.Events) == 0 || e.record(cmd.Context(), h, res.Events)
			if !res.DryRun && kept {
				// Delivered or waiting in the outbox: no longer pending
				// on the drive.
				if err := res.EventsRecorded(); err != nil {
					e.term.Warnf("%v", err)
				}
			}
			if err != nil && cmd.Context().Err() != nil {
				e.term.Warnf("interrupted; run the same command again: pulled files are kept and a partial download resumes")
			}
			return e.conclude(res.OK() && cutOK, res, err, func() { printPull(e.term, res, bps) })
		},
	}
	hf.register(cmd)
	f := cmd.Flags()
	f.BoolVarP(&o.DryRun, "dry-run", "n", false, "list what would come and how long it would take; download nothing")
	f.BoolVar(&o.Prune, "prune", false, "remove from the drive media that was withdrawn from the catalog")
	f.BoolVar(&o.KeepAvidDB, "keep-avid-db", false, "leave Avid's media databases in folders that receive new media")
	f.StringVar(&o.Label, "label", "", "label for a drive editkit has not prepared before")
	f.IntVarP(&o.Jobs, "jobs", "j", 0, "files downloaded at once (default 3)")
	f.StringVar(&forCut, "for", "", "pull only the media the cut in this AAF, OTIO or EDL file needs")
	f.StringVar(&sequence, "sequence", "", "with --for: only this sequence of the cut")
	return cmd
}

func printPull(t *ui.Terminal, r *catalog.PullResult, bps int64) {
	if r.DryRun {
		eta := "no --bwlimit set"
		if bps > 0 {
			eta = "about " + units.FormatDuration(r.ETA) + " at " + units.FormatBytes(bps) + "/s"
		}
		t.Printf("%s would receive %s (%s; %s); %d already there\n", r.Drive, units.Count(r.ToPull, "file"), units.FormatBytes(r.ToPullSize), eta, r.Present)
		if r.ToRemove > 0 {
			t.Printf("%s withdrawn from the catalog would be removed (listed as would-remove)\n", units.Count(r.ToRemove, "file"))
		}
	} else {
		t.Printf("Pulled %s (%s) onto %s (%s); %d already there\n", units.Count(r.Pulled, "file"), units.FormatBytes(r.Bytes), r.Drive, r.Label, r.Present)
	}
	if a := r.History; a != nil {
		t.Printf("The drive's ASC MHL history (another tool's) was checked: %s matched and are now in editkit's manifest (%s read), %d damaged, %d missing\n",
			units.Count(a.Adopted, "file"), units.FormatBytes(a.Bytes), len(a.Damaged), len(a.Missing))
	}
	for _, it := range r.Items {
		if it.Status == "pulled" && len(r.Items) > 50 {
			continue
		}
		line := fmt.Sprintf("  %-10s %s", it.Status, it.Path)
		if it.Detail != "" {
			line += ": " + it.Detail
		}
		t.Printf("%s\n", line)
	}
}
