package main

import (
	"errors"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/units"
	"github.com/spf13/cobra"
)

func newSnapshotsCmd(e *env) *cobra.Command {
	var (
		hf  hubFlags
		set string
	)
	cmd := &cobra.Command{
		Use:   "snapshots [--set NAME]",
		Short: "List the backup snapshots in the hub, with sizes and what changed",
		Example: `  editkit snapshots
  editkit snapshots --set cutting-room --json`,
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
			snaps, err := h.Snapshots(cmd.Context(), set)
			if err != nil && !contenthub.OnlyDamaged(err) {
				return err
			}
			// Every readable snapshot is listed; damaged ones are reported
			// after the list with the way out (exit 1).
			damaged := err
			if e.term.JSON {
				if damaged != nil {
					return damaged
				}
				return e.term.PrintJSON(snaps)
			}
			if len(snaps) == 0 {
				e.term.Printf("No snapshots in %s.\n", h.Location())
				return damaged
			}
			e.term.Printf("%-32s %-16s %-16s %-14s %9s %10s %s\n", "SNAPSHOT", "SET", "TIME", "HOST", "FILES", "SIZE", "CHANGES (new / changed / removed, uploaded)")
			for _, s := range snaps {
				e.term.Printf("%-32s %-16s %-16s %-14s %9d %10s +%d ~%d -%d, %s\n", s.ID, s.Set, s.Time.Local().Format("2006-01-02 15:04"),
					s.Host, s.Files, units.FormatBytes(s.Bytes), s.New, s.Changed, s.Removed, units.FormatBytes(s.Uploaded))
			}
			return damaged
		},
	}
	hf.register(cmd)
	cmd.Flags().StringVar(&set, "set", "", "only this backup set")
	cmd.AddCommand(newForgetCmd(e))
	return cmd
}

func newForgetCmd(e *env) *cobra.Command {
	var hf hubFlags
	cmd := &cobra.Command{
		Use:   "forget ID...",
		Short: "Drop snapshots from the hub (a damaged one that stops prune, or one you no longer want)",
		Long: `Remove snapshots by ID, even one whose file list is damaged: prune and
hub check name such a snapshot and this command. The blobs only they used are
deleted by later prunes; every other snapshot keeps its files. A backup whose
last snapshot was dropped reads every file again.

Exit codes: 0 removed; 1 a snapshot was not found or the hub failed; 2 bad usage.`,
		Example: `  editkit snapshots forget 20261123T233000.123456Z-3f9a2c`,
		Args:    argsRange(1, -1, "one or more snapshot IDs (see editkit snapshots)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := e.openHub(cmd.Context(), &hf)
			if err != nil {
				return err
			}
			defer h.Close()
			var errs []error
			for _, id := range args {
				set, err := h.ForgetSnapshot(cmd.Context(), id)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				e.term.Printf("Dropped snapshot %s of set %s\n", id, set)
			}
			return errors.Join(errs...)
		},
	}
	hf.register(cmd)
	return cmd
}
