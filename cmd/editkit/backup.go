package main

import (
	"errors"
	"time"

	"github.com/editkit/editkit/internal/backup"
	"github.com/editkit/editkit/internal/ui"
	"github.com/editkit/editkit/internal/units"
	"github.com/spf13/cobra"
)

func newBackupCmd(e *env) *cobra.Command {
	var (
		hf       hubFlags
		set      string
		excludes []string
		dryRun   bool
		logPath  string
		jobs     int
	)
	cmd := &cobra.Command{
		Use:   "backup [--set NAME] PATH...",
		Short: "Back up project folders and new media to the hub as a snapshot",
		Long: `Back up folders (the Avid project folder with its bins and Attic, Pro Tools
sessions, new-media folders) to the hub as a point-in-time snapshot of a
backup set, restorable with editkit restore.

Only what changed goes up: files with the same size, mtime and inode as in
the set's last snapshot are not even read; changed files are hashed, and
only content the hub lacks is uploaded (deduplicated across files, sets and
computers). A large file whose upload was interrupted (a dropped connection,
a killed job) resumes from the parts already stored.

Made for cron and launchd: no prompts; a lock keeps two runs of the same set
from overlapping (a lock left by a crash is taken over); with --log FILE the
output goes to the log and the run is silent unless something fails.

Safe while someone prunes the hub: before and after the snapshot is written,
every blob it reuses that a prune marked or is deleting is checked, and
uploaded again if it is gone.

If the last snapshot's file list is damaged, every file is read instead (the
run says so). An interrupted or failed run prints no summary and writes no
snapshot.

Exit codes: 0 snapshot written with every file; 1 some files failed (each
listed; the snapshot holds the rest), no snapshot was written (interrupted,
the hub failed), or another run holds the lock; 2 bad usage or configuration
(a set name other than letters, digits, '-', '_', '.').`,
		Example: `  # Tonight's backup of the project and new media
  editkit backup --set cutting-room "/Volumes/RAID/Show/Avid Projects" /Volumes/RAID/Show/Pro\ Tools

  # What would go, and how long it would take on a 12 Mbit/s line
  editkit backup --set cutting-room --dry-run --bwlimit 12Mbit /Volumes/RAID/Show/Avid\ Projects

  # crontab: every night at 23:30, to the hub in the settings file
  30 23 * * * /usr/local/bin/editkit backup --quiet --log "$HOME/Library/Logs/editkit-backup.log"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			closer, err := e.logTo(pick(logPath, "", e.cfg.Backup.Log))
			if err != nil {
				return err
			}
			defer closer.Close()
			set = pick(set, "", e.cfg.Backup.Set)
			if set == "" {
				set = "default"
			}
			if err := checkSetFlag(set); err != nil {
				return err
			}
			paths := args
			if len(paths) == 0 {
				paths = e.cfg.Backup.Paths
			}
			if len(paths) == 0 {
				return ui.Usagef("nothing to back up: name one or more folders, or set paths in [backup] of %s", e.cfgPath)
			}
			if len(excludes) == 0 {
				excludes = e.cfg.Backup.Excludes
			}
			bps, err := e.bytesPerSecond(&hf)
			if err != nil {
				return err
			}
			unlock, note, err := backup.LockSet(e.stateDir(), set, e.run.Host, time.Now())
			if err != nil {
				return err
			}
			defer unlock()
			if note != "" {
				e.term.Warnf("%s", note)
			}
			h, err := e.openHub(cmd.Context(), &hf)
			if err != nil {
				return err
			}
			defer h.Close()
			progress := e.progress("backup")
			res, err := backup.Run(cmd.Context(), h, backup.Options{
				Env:            e.runEnv(progress),
				Set:            set,
				Paths:          paths,
				Excludes:       excludes,
				DryRun:         dryRun,
				BytesPerSecond: bps,
				Jobs:           jobs,
				TempDir:        e.stateDir(),
				Hook:           testHook("backup"),
				Note:           func(msg string) { e.term.Warnf("%s", msg) },
			})
			progress.Close()
			if res == nil {
				return err
			}
			if err != nil || (!dryRun && res.Snapshot == "") {
				// No snapshot was written: no summary line that says so.
				for _, f := range res.Failed {
					e.term.Warnf("not backed up: %s: %s", f.Path, f.Err)
				}
				if cmd.Context().Err() != nil {
					e.term.Warnf("interrupted; no snapshot was written; run the same command again: finished uploads are kept and an interrupted large upload resumes")
				}
				if err == nil {
					err = errors.New("no snapshot was written")
				}
				if e.term.JSON {
					e.term.PrintJSON(withOK(false, res))
				}
				return err
			}
			if len(res.Events) > 0 {
				e.record(cmd.Context(), h, res.Events)
			}
			for _, f := range res.Failed {
				e.term.Warnf("not backed up: %s: %s", f.Path, f.Err)
			}
			return e.conclude(res.OK(), res, nil, func() { printBackup(e.term, res, bps) })
		},
	}
	hf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&set, "set", "", "backup set name (default: set in [backup] of the settings file, else \"default\")")
	f.StringArrayVar(&excludes, "exclude", nil, "leave out entries matching PATTERN (gitignore-style, as for copy); repeatable")
	f.BoolVarP(&dryRun, "dry-run", "n", false, "show what would be uploaded, how many bytes, and the time it would take at --bwlimit; upload nothing")
	f.StringVar(&logPath, "log", "", "append the run's output to FILE (time-stamped) and stay silent unless something fails")
	f.IntVarP(&jobs, "jobs", "j", 0, "files hashed and uploaded at once (default 8)")
	return cmd
}

func printBackup(t *ui.Terminal, r *backup.Result, bps int64) {
	took := r.Finished.Sub(r.Started)
	if r.DryRun {
		eta := "no --bwlimit set"
		if bps > 0 {
			eta = units.FormatDuration(r.ETA) + " at " + units.FormatBytes(bps) + "/s"
		}
		t.Printf("Dry run of set %s: %d files (%s); %d new, %d changed, %d removed, %d unchanged; would upload %s (%s)\n",
			r.Set, r.Files, units.FormatBytes(r.Bytes), r.New, r.Changed, r.Removed, r.Unchanged, units.FormatBytes(r.ToUpload), eta)
		return
	}
	t.Printf("Backed up set %s as snapshot %s in %s: %d files (%s); %d new, %d changed, %d removed, %d unchanged; uploaded %s in %d blobs\n",
		r.Set, r.Snapshot, units.FormatDuration(took), r.Files, units.FormatBytes(r.Bytes), r.New, r.Changed, r.Removed, r.Unchanged,
		units.FormatBytes(r.Uploaded), r.Blobs)
	if len(r.Failed) > 0 {
		t.Printf("  %d files failed (listed above)\n", len(r.Failed))
	}
}
