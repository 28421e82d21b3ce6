package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/editkit/editkit/internal/catalog"
	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/purge"
	"github.com/editkit/editkit/internal/ui"
	"github.com/editkit/editkit/internal/units"
	"github.com/spf13/cobra"
)

func newPurgeCmd(e *env) *cobra.Command {
	var (
		hf hubFlags
		o  purge.Options
	)
	cmd := &cobra.Command{
		Use:   "purge DRIVE [PATH...] [--expired] [--category C] [--all] [--dry-run] [--force]",
		Short: "Remove media from a drive on purpose (expired review copies), on the record",
		Long: `Remove from DRIVE the media editkit placed there: the catalog's review media
whose expiry passed (--expired, see push --expires), a category (--category),
the files or folders named, or everything editkit placed (--all). Paths,
--expired and --category narrow each other.

Each file is removed without following any link, and checked gone. The drive's
manifest records the removal as deliberate (.editkit/purged.ekj says what,
when, by whom and why), its checksum list is rewritten and a new ASC MHL
generation ignores the purged files, so verify afterwards passes and lists
them as purged. One "purged" event per file goes to the hub's event log and
the tracker, once, even if the purge is interrupted and run again.

Never removed without --force: a file editkit did not place (not in the
drive's manifest), or one that changed since (size or modification time).
Never removed at all: anything reached through a symbolic link. Each is
listed with the reason.

Removing is not erasing: on SSDs and flash drives, copy-on-write file systems
(APFS, Btrfs) and with snapshots or Time Machine, the bytes can survive. Keep
review media on drives with full-disk encryption (see the README).

Exit codes: 0 everything selected is gone (or, with --dry-run, would be);
1 some files were skipped or failed (each listed); 2 bad usage or
configuration.`,
		Example: `  # Review copies whose expiry passed
  editkit purge /Volumes/EDITOR1 --expired

  # What would go, without removing anything
  editkit purge /Volumes/EDITOR1 --category footage --dry-run

  # A folder, including files editkit did not place there
  editkit purge /Volumes/EDITOR1 "Review/Reel 2" --force`,
		Args: argsRange(1, -1, "a drive, then optional paths on it"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			o.Drive, o.Paths = args[0], args[1:]
			o.Hooks, o.Hook = testPlaceHooks(), testHook("purge")
			var h *contenthub.Hub
			if o.Expired || o.Category != "" {
				var err error
				if h, err = e.openHub(ctx, &hf); err != nil {
					return err
				}
				if o.Catalog, _, err = catalog.Load(ctx, h, e.runEnv(nil).Now(), true); err != nil {
					return err
				}
			} else if hf.url != "" {
				var err error
				if h, err = e.openHub(ctx, &hf); err != nil {
					return err
				}
			} else {
				h = e.optionalHub(ctx)
			}
			if h != nil {
				defer h.Close()
			}
			o.Env = e.runEnv(nil)
			o.Record = recorderFunc(func(ctx context.Context, evs []event.Event) error {
				if e.record(ctx, h, evs) {
					return nil
				}
				return errors.New("this computer's outbox could not keep them")
			})
			res, err := purge.Run(ctx, o)
			var ue *purge.UsageError
			if errors.As(err, &ue) || res == nil && err != nil {
				return &ui.UsageError{Err: err}
			}
			return e.conclude(res.OK(), res, err, func() { printPurge(e, res) })
		},
	}
	hf.register(cmd)
	f := cmd.Flags()
	f.BoolVar(&o.Expired, "expired", false, "the catalog's review media whose expiry has passed")
	f.StringVar(&o.Category, "category", "", "the catalog's media of this category")
	f.BoolVar(&o.All, "all", false, "everything editkit placed on the drive")
	f.BoolVar(&o.DryRun, "dry-run", false, "list what would be removed; change nothing")
	f.BoolVar(&o.Force, "force", false, "also remove files editkit did not place or that changed since (never through a link)")
	return cmd
}

func printPurge(e *env, res *purge.Result) {
	t := e.term
	verb := "Purged"
	n, bytes := res.Purged, res.Bytes
	if res.DryRun {
		verb = "Would purge"
		for _, it := range res.Items {
			if it.Status == "would-purge" {
				n++
				bytes += it.Size
			}
		}
	}
	switch {
	case len(res.Items) == 0:
		t.Printf("Nothing to purge on %s (%s)\n", res.Drive, res.Label)
	default:
		t.Printf("%s %s (%s) from %s (%s)", verb, units.Count(n, "file"), units.FormatBytes(bytes), res.Drive, res.Label)
		if res.Skipped+res.Failed > 0 {
			t.Printf("; %d skipped, %d failed (listed)", res.Skipped, res.Failed)
		}
		t.Printf("\n")
	}
	for _, it := range res.Items {
		line := fmt.Sprintf("  %-11s %s", it.Status, it.Path)
		if it.Why != "" && it.Status != "skipped" {
			line += " (" + it.Why + ")"
		}
		if it.Detail != "" {
			line += ": " + it.Detail
		}
		t.Printf("%s\n", line)
	}
	if res.MHL != "" {
		t.Printf("Recorded in the drive's manifest and ASC MHL history (%s); editkit verify lists these files as purged\n", res.MHL)
	}
	if res.Purged > 0 {
		t.Printf("Removed is not erased: on flash, copy-on-write file systems and snapshots the bytes may survive; see \"editkit purge\" in the README\n")
	}
}

// printExpiring shows, per drive, the review media it holds: what expires
// when, and what expired and is still there.
func printExpiring(e *env, drives []catalog.DriveExpiry, now time.Time) {
	if len(drives) == 0 {
		return
	}
	t := e.term
	t.Printf("\nReview media on drives (push --expires; purge --expired removes it):\n")
	for _, d := range drives {
		expired := 0
		for _, c := range d.Items {
			if c.Expired {
				expired++
			}
		}
		t.Printf("  %s (%s): %d items, %d expired and still there\n", d.Label, d.ID, len(d.Items), expired)
		for _, c := range d.Items {
			t.Printf("    %-26s %s (%s, %s)\n", expiresIn(c.Expires, now), c.Path, units.FormatBytes(c.Size), c.Expires.Local().Format("2006-01-02 15:04"))
		}
	}
}

// expiresIn says how long until t, or how long ago it passed, in days
// when it is days away.
func expiresIn(t, now time.Time) string {
	d := t.Sub(now)
	past := d < 0
	if past {
		d = -d
	}
	s := units.FormatDuration(d.Round(time.Minute))
	if d >= 48*time.Hour {
		s = fmt.Sprintf("%d days", int(d.Hours()/24))
	}
	if past {
		return "EXPIRED " + s + " ago"
	}
	return "expires in " + s
}
