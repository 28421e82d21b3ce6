package main

import (
	"errors"

	"github.com/editkit/editkit/internal/backup"
	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/ui"
	"github.com/editkit/editkit/internal/units"
	"github.com/spf13/cobra"
)

func newRestoreCmd(e *env) *cobra.Command {
	var (
		hf        hubFlags
		set       string
		at        string
		to        string
		overwrite bool
		jobs      int
	)
	cmd := &cobra.Command{
		Use:   "restore SNAPSHOT|latest [PATH...] --to DIR",
		Short: "Restore a backup snapshot (or part of it) into a folder",
		Long: `Restore a snapshot into DIR: each backed-up folder becomes a sub-folder of
DIR with its name ("Avid Projects", "Pro Tools"…). PATHs restrict the restore
to files or folders named as they will appear under DIR.

Every file is checked against its BLAKE3 on the way down and given its name
only then; nothing is written outside DIR, whatever the snapshot holds. A
file already in DIR with the same content is kept (so an interrupted restore
resumes); a different one is reported as a conflict unless --overwrite.

Exit codes: 0 every file restored; 1 some failed or conflicted (each listed),
or a PATH matched nothing in the snapshot; 2 bad usage, no such snapshot, or
a --to folder that cannot be written.

Interrupted (Ctrl-C, kill -9)? Run the same command again: restored files are
kept and a partial download resumes where it stopped.`,
		Example: `  # Yesterday's project, as it was at 18:00
  editkit restore latest --set cutting-room --at "2026-11-23 18:00" --to ~/Restored

  # One bin from a given snapshot
  editkit restore 20261123T233000 "Avid Projects/Show/Reel 1.avb" --to ~/Restored`,
		Args: argsRange(1, -1, "a snapshot (an ID, or latest)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return ui.Usagef("give the folder to restore into with --to DIR")
			}
			if err := checkSetFlag(set); err != nil {
				return err
			}
			o := backup.RestoreOptions{Snapshot: args[0], Set: set, Paths: args[1:], To: to, Overwrite: overwrite,
				Jobs: jobs, TempDir: e.stateDir(), Hooks: testPlaceHooks()}
			if at != "" {
				t, err := parseSince(at, timeNow())
				if err != nil {
					return ui.Usagef("--at %q: want a date or date-time (2026-11-23, 2026-11-23 18:00, 2026-11-23T18:00:00Z)", at)
				}
				o.At = t
			}
			h, err := e.openHub(cmd.Context(), &hf)
			if err != nil {
				return err
			}
			defer h.Close()
			progress := e.progress("restore")
			o.Env = e.runEnv(progress)
			res, err := backup.Restore(cmd.Context(), h, o)
			progress.Close()
			if res == nil {
				// Nothing was restored: a snapshot, path or --to the hub or
				// the disk cannot serve is the user's to correct (exit 2); a
				// damaged snapshot or an unreachable hub is a failure (1).
				var dmg *contenthub.DamagedError
				var gaveUp *backend.GaveUpError
				if errors.As(err, &dmg) || errors.As(err, &gaveUp) {
					return err
				}
				return &ui.UsageError{Err: err}
			}
			if len(res.Events) > 0 {
				e.record(cmd.Context(), h, res.Events)
			}
			return e.conclude(res.OK(), res, err, func() {
				e.term.Printf("Restored snapshot %s (set %s, %s) into %s: %d of %d files (%s), %d already there\n",
					res.Snapshot, res.Set, res.Time.Local().Format("2006-01-02 15:04"), res.To, res.Restored, res.Files, units.FormatBytes(res.Bytes), res.Present)
				for _, c := range res.Conflicts {
					e.term.Printf("  conflict: %s: %s\n", c.Path, c.Err)
				}
				for _, f := range res.Failed {
					e.term.Printf("  failed: %s: %s\n", f.Path, f.Err)
				}
				for _, p := range res.Unmatched {
					e.term.Printf("  not in the snapshot: %s (name paths as they appear under --to: the backed-up folder's name, then the path in it)\n", p)
				}
			})
		},
	}
	hf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&set, "set", "", "the backup set (for latest and --at, when the hub holds several)")
	f.StringVar(&at, "at", "", "the newest snapshot at or before this date-time")
	f.StringVar(&to, "to", "", "the folder to restore into (required)")
	f.BoolVar(&overwrite, "overwrite", false, "replace different files already in DIR")
	f.IntVarP(&jobs, "jobs", "j", 0, "files downloaded at once (default 4)")
	return cmd
}
