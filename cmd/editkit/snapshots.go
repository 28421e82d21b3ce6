package main

import (
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
			h, err := e.openHub(cmd.Context(), &hf)
			if err != nil {
				return err
			}
			defer h.Close()
			snaps, err := h.Snapshots(cmd.Context(), set)
			if err != nil {
				return err
			}
			if e.term.JSON {
				return e.term.PrintJSON(snaps)
			}
			if len(snaps) == 0 {
				e.term.Printf("No snapshots in %s.\n", h.Location())
				return nil
			}
			e.term.Printf("%-32s %-16s %-16s %-14s %9s %10s %s\n", "SNAPSHOT", "SET", "TIME", "HOST", "FILES", "SIZE", "CHANGES (new / changed / removed, uploaded)")
			for _, s := range snaps {
				e.term.Printf("%-32s %-16s %-16s %-14s %9d %10s +%d ~%d -%d, %s\n", s.ID, s.Set, s.Time.Local().Format("2006-01-02 15:04"),
					s.Host, s.Files, units.FormatBytes(s.Bytes), s.New, s.Changed, s.Removed, units.FormatBytes(s.Uploaded))
			}
			return nil
		},
	}
	hf.register(cmd)
	cmd.Flags().StringVar(&set, "set", "", "only this backup set")
	return cmd
}
