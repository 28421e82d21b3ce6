package main

import (
	"time"

	"github.com/editkit/editkit/internal/backup"
	"github.com/editkit/editkit/internal/ui"
	"github.com/editkit/editkit/internal/units"
	"github.com/spf13/cobra"
)

func newPruneCmd(e *env) *cobra.Command {
	var (
		hf     hubFlags
		set    string
		policy backup.Policy
		grace  time.Duration
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "prune --keep-daily N --keep-weekly N --keep-monthly N",
		Short: "Remove old snapshots, and the hub's blobs nothing uses any more",
		Long: `Keep, for each backup set, the newest snapshot of each of the last N days,
weeks and months (and the last N with --keep-last); remove the others, then
the blobs no snapshot and no media-catalog entry uses.

Safe while others back up or push: a blob is deleted only after it has been
unused for the --grace period across two prunes, and only if it was uploaded
longer ago than that, so an upload in progress is never taken away. Multipart
uploads abandoned for longer than the grace period are cleaned up too.

A blob is announced before it is deleted, and the snapshots and catalog
events that appeared since the prune started are read again: what they use is
kept. A backup or push that finishes later sees the announcement and uploads
again what it needs (see README, "prune").

A kept snapshot whose file list is damaged is reported (with the command that
drops it, editkit snapshots forget ID), and no blob is deleted until it is
dropped.

One prune (or hub pack) rewrites the hub's packs at a time, from any
computer: one that starts while another does removes snapshots and marks
blobs, deletes none (the next prune does), and says who is compacting.

Exit codes: 0 done; 1 the hub failed, or a snapshot's file list is damaged;
2 bad usage (an empty policy is refused).`,
		Example: `  # Weekly, from cron
  editkit prune --keep-daily 14 --keep-weekly 8 --keep-monthly 12

  # What would go
  editkit prune --keep-daily 7 --dry-run`,
		Args: argsRange(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkSetFlag(set); err != nil {
				return err
			}
			h, err := e.openHub(cmd.Context(), &hf)
			if err != nil {
				return err
			}
			defer h.Close()
			res, err := backup.Prune(cmd.Context(), h, backup.PruneOptions{
				Set: set, Policy: policy, Grace: grace, DryRun: dryRun, TempDir: e.stateDir(),
				Env: e.runEnv(nil), ExtraRefs: e.catalogRefs(h), Hook: testHook("prune"),
				CompactHook: testHook("prune-compact"),
			})
			if res == nil {
				if policy == (backup.Policy{}) {
					return &ui.UsageError{Err: err}
				}
				return err
			}
			if len(res.Events) > 0 {
				e.record(cmd.Context(), h, res.Events)
			}
			if e.term.JSON {
				e.term.PrintJSON(res)
			} else {
				verb := "Removed"
				if dryRun {
					verb = "Would remove"
				}
				e.term.Printf("%s %d snapshots (kept %d) and %d blobs (%s); %d unused blobs wait out the grace period; %d abandoned uploads cleaned\n",
					verb, len(res.Removed), len(res.Kept), res.BlobsDeleted, units.FormatBytes(res.BytesFreed), res.BlobsPending, res.UploadsAborted)
				if res.NotCompacted != "" {
					e.term.Printf("%s; the unused blobs wait for the next prune\n", res.NotCompacted)
				}
				if c := res.Compact; c != nil && c.PacksRepacked+c.PacksDeleted+c.LoosePacked > 0 {
					e.term.Printf("Packs: %d deleted, %d repacked into %d; %d small blobs of an older hub packed\n", c.PacksDeleted, c.PacksRepacked, c.PacksWritten, c.LoosePacked)
				}
				if res.BlobsKept > 0 {
					e.term.Printf("%d blobs were kept after all: a backup or push that finished meanwhile uses them\n", res.BlobsKept)
				}
			}
			for _, d := range res.Damaged {
				e.term.Warnf("%s", d.Error)
			}
			if err != nil {
				return err
			}
			if !res.OK() {
				e.term.Warnf("no blob was deleted while %d snapshots cannot be read (one of them might use it); drop them with `editkit snapshots forget ID`, then prune again", len(res.Damaged))
				return &ui.ExitError{Code: ui.ExitFailed}
			}
			return nil
		},
	}
	hf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&set, "set", "", "only this backup set (default: every set)")
	f.IntVar(&policy.Last, "keep-last", 0, "keep the last N snapshots")
	f.IntVar(&policy.Daily, "keep-daily", 0, "keep the newest snapshot of each of the last N days")
	f.IntVar(&policy.Weekly, "keep-weekly", 0, "keep the newest snapshot of each of the last N weeks")
	f.IntVar(&policy.Monthly, "keep-monthly", 0, "keep the newest snapshot of each of the last N months")
	f.DurationVar(&grace, "grace", 24*time.Hour, "how long a blob must be unused before it is deleted (0 deletes at once: only when nobody else uses the hub)")
	f.BoolVarP(&dryRun, "dry-run", "n", false, "show what would be removed; remove nothing")
	return cmd
}
