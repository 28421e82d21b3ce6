package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/catalog"
	"github.com/editkit/editkit/internal/ui"
	"github.com/editkit/editkit/internal/units"
	"github.com/spf13/cobra"
)

func newPushCmd(e *env) *cobra.Command {
	var (
		hf        hubFlags
		o         catalog.PushOptions
		mediaRoot string
	)
	cmd := &cobra.Command{
		Use:   "push PATH... [--category CATEGORY] [--note TEXT] [--dest-path PATH]",
		Short: "Upload new media to the hub and add it to the shared catalog",
		Long: `Upload files (or folders of files) to the hub and add each to the shared
media catalog, with its path on editors' drives, size, hashes, category, note,
who and when; one tracker row per item. Editors then get it with pull.

The path on the drives is, by default, the file's place under the media root
(media_root in the settings file, or --media-root): a file at
MEDIA_ROOT/Avid MediaFiles/MXF/7/A.mxf lands at DRIVE/Avid MediaFiles/MXF/7/A.mxf.
--dest-path names the folder on the drives instead.

Pushing the same content again changes nothing. A different file at a path
the catalog already has is refused unless --replace (the old version stays in
the catalog's history). Names that cannot live on exFAT/NTFS are refused.

Exit codes: 0 every file is in the catalog; 1 some were refused or failed (each
listed); 2 bad usage or configuration.`,
		Example: `  # New VFX shots for reel 2, into their own Avid folder
  editkit push --category vfx --note "VFX v3 from Acme" --dest-path "Avid MediaFiles/MXF/7" ~/Downloads/VFX_v3/*.mxf

  # Music, at the same place as under the media root
  editkit push --category music "/Volumes/RAID/Show/Music/Score v2"

  # A corrected version of a file already in the catalog
  editkit push --replace --dest-path "Avid MediaFiles/MXF/7" VFX_010_v4.mxf`,
		Args: argsRange(1, -1, "one or more files or folders"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Paths = args
			o.MediaRoot = pick(mediaRoot, "", e.cfg.MediaRoot)
			if err := catalog.ValidCategory(o.Category); err != nil {
				return &ui.UsageError{Err: err}
			}
			h, err := e.openHub(cmd.Context(), &hf)
			if err != nil {
				return err
			}
			defer h.Close()
			progress := e.progress("push")
			o.Env = e.runEnv(progress)
			o.Hook = testHook("push")
			o.Record, o.Warn = e.recorder(h), e.warn
			res, err := catalog.Push(cmd.Context(), h, o)
			progress.Close()
			if res == nil {
				return &ui.UsageError{Err: err}
			}
			return e.conclude(res.OK(), res, err, func() {
				failed := len(res.Items) - res.Pushed
				for _, it := range res.Items {
					if it.Status == "unchanged" {
						failed--
					}
				}
				switch {
				case res.Lost > 0:
					e.term.Printf("Pushed %s to %s (%s uploaded); %d lost a race to the same path (listed as conflict)\n", units.Count(res.Pushed, "file"), h.Location(), units.FormatBytes(res.Uploaded), res.Lost)
				case failed > 0:
					e.term.Printf("Pushed %s to %s (%s uploaded); %d not pushed (listed)\n", units.Count(res.Pushed, "file"), h.Location(), units.FormatBytes(res.Uploaded), failed)
				default:
					e.term.Printf("Pushed %s to %s (%s uploaded)\n", units.Count(res.Pushed, "file"), h.Location(), units.FormatBytes(res.Uploaded))
				}
				for _, it := range res.Items {
					line := fmt.Sprintf("  %-9s %s", it.Status, it.Path)
					if it.Path == "" {
						line = fmt.Sprintf("  %-9s %s", it.Status, it.Source)
					}
					if it.Detail != "" {
						line += ": " + it.Detail
					}
					e.term.Printf("%s\n", line)
				}
			})
		},
	}
	hf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Category, "category", "other", "kind of media: "+strings.Join(catalog.Categories, ", "))
	f.StringVar(&o.Note, "note", "", "a note for the catalog and the tracker")
	f.StringVar(&o.DestPath, "dest-path", "", "the folder on editors' drives the media goes to (default: its place under the media root)")
	f.StringVar(&mediaRoot, "media-root", "", "the folder here that matches the root of editors' drives (default: media_root in the settings file)")
	f.BoolVar(&o.Replace, "replace", false, "replace a different file the catalog has at the same path (its history is kept)")
	f.IntVarP(&o.Jobs, "jobs", "j", 0, "files hashed and uploaded at once (default 8)")
	return cmd
}

func newWithdrawCmd(e *env) *cobra.Command {
	var (
		hf   hubFlags
		note string
	)
	cmd := &cobra.Command{
		Use:     "withdraw PATH...",
		Short:   "Take media out of the shared catalog (pull --prune then removes it from drives)",
		Example: `  editkit withdraw "Avid MediaFiles/MXF/7/VFX_010_v1.mxf" --note "superseded by v4"`,
		Args:    argsRange(1, -1, "one or more catalog paths"),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := e.openHub(cmd.Context(), &hf)
			if err != nil {
				return err
			}
			defer h.Close()
			evs, err := catalog.Withdraw(cmd.Context(), h, args, e.run.User, e.run.Host, time.Now(), note)
			if len(evs) > 0 {
				e.record(cmd.Context(), h, evs)
				e.term.Printf("Withdrew %d items from the catalog; editors' pull --prune removes them from drives\n", len(evs))
			}
			if err != nil {
				return &ui.UsageError{Err: err}
			}
			return nil
		},
	}
	hf.register(cmd)
	cmd.Flags().StringVar(&note, "note", "", "why (shown in the tracker)")
	return cmd
}

func newPullCmd(e *env) *cobra.Command {
	var (
		hf hubFlags
		o  catalog.PullOptions
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

Exit codes: 0 the drive has everything; 1 conflicts, refused entries,
failures or damaged recorded files (each listed), a broken ASC MHL chain, or
interrupted; 2 bad usage, not enough space.`,
		Example: `  # Each morning
  editkit pull /Volumes/EDITOR1

  # What would come, and how long it would take at 20 Mbit/s
  editkit pull --dry-run --bwlimit 20Mbit /Volumes/EDITOR1`,
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
			for _, w := range res.Warnings {
				e.warn(w)
			}
			kept := len(res.Events) == 0 || e.record(cmd.Context(), h, res.Events)
			if !res.DryRun && kept {
				// Delivered or waiting in the outbox: no longer pending
				// on the drive.
				if err := catalog.EventsRecorded(o.Drive); err != nil {
					e.term.Warnf("%v", err)
				}
			}
			if err != nil && cmd.Context().Err() != nil {
				e.term.Warnf("interrupted; run the same command again: pulled files are kept and a partial download resumes")
			}
			return e.conclude(res.OK(), res, err, func() { printPull(e.term, res, bps) })
		},
	}
	hf.register(cmd)
	f := cmd.Flags()
	f.BoolVarP(&o.DryRun, "dry-run", "n", false, "list what would come and how long it would take; download nothing")
	f.BoolVar(&o.Prune, "prune", false, "remove from the drive media that was withdrawn from the catalog")
	f.BoolVar(&o.KeepAvidDB, "keep-avid-db", false, "leave Avid's media databases in folders that receive new media")
	f.StringVar(&o.Label, "label", "", "label for a drive editkit has not prepared before")
	f.IntVarP(&o.Jobs, "jobs", "j", 0, "files downloaded at once (default 3)")
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

func newStatusCmd(e *env) *cobra.Command {
	var hf hubFlags
	cmd := &cobra.Command{
		Use:   "status [DRIVE]",
		Short: "Who has which media, what a drive lacks, and the last backups",
		Example: `  editkit status
  editkit status /Volumes/EDITOR1
  editkit status --json`,
		Args: argsRange(0, 1, "at most one drive"),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := e.openHub(cmd.Context(), &hf)
			if err != nil {
				return err
			}
			defer h.Close()
			drive := ""
			if len(args) == 1 {
				drive = args[0]
			}
			st, err := catalog.GetStatus(cmd.Context(), h, drive)
			if err != nil {
				return err
			}
			if e.term.JSON {
				return e.term.PrintJSON(st)
			}
			t := e.term
			t.Printf("Media catalog (%d items, %d events):\n", len(st.Items), st.Catalog.Events)
			for _, it := range st.Items {
				var who []string
				for _, d := range it.Drives {
					who = append(who, d.Label)
				}
				has := "on no drive yet"
				if len(who) > 0 {
					has = "on " + strings.Join(who, ", ")
				}
				mark := ""
				if it.OnDrive != "" && it.OnDrive != "yes" {
					mark = "  [" + it.OnDrive + " on this drive]"
				}
				t.Printf("  %-8s %s (%s, pushed %s by %s) %s%s\n", it.Category, it.Path, units.FormatBytes(it.Size),
					it.Time.Local().Format("2006-01-02"), it.User, has, mark)
			}
			if d := st.Drive; d != nil {
				t.Printf("\n%s (%s) lacks %d items (%s); pull it to bring them\n", d.Path, d.Label, len(d.Missing), units.FormatBytes(d.Bytes))
				for _, p := range d.Differs {
					t.Printf("  different file at %s\n", p)
				}
			}
			if len(st.Drives) > 0 {
				t.Printf("\nDrives:\n")
				for _, d := range st.Drives {
					t.Printf("  %-12s %-24s last pull %s, last verify %s, %d catalog items\n", d.Label, d.ID, when(d.LastPull), when(d.LastVerify), len(d.Has))
				}
			}
			t.Printf("\nLast backups:\n")
			if len(st.Backups) == 0 {
				t.Printf("  none\n")
			}
			for _, b := range st.Backups {
				t.Printf("  %-16s %s by %s@%s: %s\n", b.Set, b.Time.Local().Format("2006-01-02 15:04"), b.User, b.Host, b.Note)
			}
			for _, rj := range st.Rejected {
				t.Printf("\nrefused catalog entry %q (pushed by %s on %s): %s\n", rj.Path, rj.User, rj.Host, rj.Reason)
			}
			for _, c := range st.Conflicts {
				t.Printf("\nconflict: %s pushed a different file to %s at the same time as another push (%s); the catalog kept the first\n", c.User, c.Path, c.Time.Local().Format("2006-01-02 15:04"))
			}
			return nil
		},
	}
	hf.register(cmd)
	return cmd
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func newWatchCmd(e *env) *cobra.Command {
	var (
		hf        hubFlags
		o         catalog.WatchOptions
		mediaRoot string
	)
	cmd := &cobra.Command{
		Use:   "watch FOLDER [--category CATEGORY] [--dest-path PATH]",
		Short: "A hot folder: push files that appear in FOLDER once they stop growing",
		Long: `Watch FOLDER and push every file that appears in it once its size and
modification time have stayed the same for --settle (a file still being
written, downloaded or rendered is never pushed; names like *.part, *.tmp,
*.crdownload are ignored). Runs until stopped (Ctrl-C, or the service manager);
when the hub is unreachable it keeps watching and tries again. What was
pushed is remembered across restarts.

Files go to --dest-path (plus their place below FOLDER) on editors' drives,
or to their place under the media root.`,
		Example: `  editkit watch ~/Incoming/VFX --category vfx --dest-path "Avid MediaFiles/MXF/7"`,
		Args:    argsRange(1, 1, "a folder"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Folder = args[0]
			o.Push.MediaRoot = pick(mediaRoot, "", e.cfg.MediaRoot)
			o.Push.Env = e.runEnv(nil)
			o.StateDir = e.stateDir()
			if err := catalog.ValidCategory(o.Push.Category); err != nil {
				return &ui.UsageError{Err: err}
			}
			if o.Push.DestPath == "" && o.Push.MediaRoot == "" {
				return ui.Usagef("give --dest-path (the folder on editors' drives), or set media_root in the settings file")
			}
			h, err := e.openHub(cmd.Context(), &hf)
			if err != nil {
				return err
			}
			defer h.Close()
			o.Push.Record, o.Push.Warn = e.recorder(h), e.warn
			o.Pushed = func(res *catalog.PushResult) {
				for _, it := range res.Items {
					e.term.Infof("%s %s %s", it.Status, it.Path, it.Detail)
				}
			}
			o.Problem = func(err error) { e.term.Warnf("%v", err) }
			e.term.Infof("watching %s (every %s, settle %s); Ctrl-C stops", o.Folder, o.Interval, o.Settle)
			return catalog.Watch(cmd.Context(), h, o)
		},
	}
	hf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Push.Category, "category", "other", "kind of media: "+strings.Join(catalog.Categories, ", "))
	f.StringVar(&o.Push.Note, "note", "", "a note for the catalog and the tracker")
	f.StringVar(&o.Push.DestPath, "dest-path", "", "the folder on editors' drives")
	f.StringVar(&mediaRoot, "media-root", "", "the folder here that matches the root of editors' drives")
	f.DurationVar(&o.Interval, "interval", 5*time.Second, "how often to look at the folder")
	f.DurationVar(&o.Settle, "settle", 15*time.Second, "how long a file must stay unchanged before it is pushed")
	return cmd
}
