package main

import (
	"fmt"
	"strings"

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
		expires   string
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
--dest-path names the folder on the drives instead. A file from outside the
media root (or with no media root set) goes to its category's folder: VFX/NAME
for --category vfx, and so on ([push] folders in the settings file chooses
other folders); push says where it went.

--expires marks the media as review material: editkit purge --expired removes
it from drives once the time passes, and status shows what expires where. A
new version (--replace) keeps the expiry of the one it replaces unless given;
pushing the same content again keeps its expiry, or changes it when
--expires is given (--expires never clears it).

Pushing the same content again changes nothing else. A different file at a path
the catalog already has is refused unless --replace (the old version stays in
the catalog's history). Names that cannot live on exFAT/NTFS are refused.

Exit codes: 0 every file is in the catalog; 1 some were refused or failed (each
listed); 2 bad usage or configuration.`,
		Example: `  # New VFX shots for reel 2, into their own Avid folder
  editkit push --category vfx --note "VFX v3 from Acme" --dest-path "Avid MediaFiles/MXF/7" ~/Downloads/VFX_v3/*.mxf

  # Music, at the same place as under the media root
  editkit push --category music "/Volumes/RAID/Show/Music/Score v2"

  # Review copies of a cut, to be purged from editors' drives in two weeks
  editkit push --category footage --expires 14d --dest-path "Review/Reel 2" Reel2_v7.mov

  # A corrected version of a file already in the catalog
  editkit push --replace --dest-path "Avid MediaFiles/MXF/7" VFX_010_v4.mxf`,
		Args: argsRange(1, -1, "one or more files or folders"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Paths = args
			o.MediaRoot = pick(mediaRoot, "", e.cfg.MediaRoot)
			o.CategoryFolder = e.cfg.Push.Folder(o.Category)
			if err := catalog.ValidCategory(o.Category); err != nil {
				return &ui.UsageError{Err: err}
			}
			if expires != "" {
				var err error
				if o.Expires, o.NoExpiry, err = catalog.ParseExpiry(expires, e.runEnv(nil).Now()); err != nil {
					return &ui.UsageError{Err: err}
				}
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
					if it.Status == "unchanged" || it.Status == "expiry" {
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
	f.StringVar(&o.DestPath, "dest-path", "", "the folder on editors' drives the media goes to (default: its place under the media root, else the category's folder)")
	f.StringVar(&mediaRoot, "media-root", "", "the folder here that matches the root of editors' drives (default: media_root in the settings file)")
	f.StringVar(&expires, "expires", "", "review media: purge it from drives after this time from now (14d, 2w, 36h) or date (2026-12-31); never clears it")
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
			evs, err := catalog.Withdraw(cmd.Context(), h, args, e.run.User, e.run.Host, e.runEnv(nil).Now(), note)
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
