package main

import (
	"github.com/editkit/editkit/internal/backup"
	"github.com/editkit/editkit/internal/units"
	"github.com/spf13/cobra"
)

func newHubCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "hub", Short: "Check the hub", Example: "  editkit hub check --read-data"}
	var (
		hf       hubFlags
		readData bool
	)
	check := &cobra.Command{
		Use:   "check [--read-data]",
		Short: "Check that every blob a snapshot or the media catalog uses is in the hub",
		Long: `Check that every blob a backup snapshot or the media catalog references
exists in the hub with the right size; with --read-data, download each one and
re-hash it (slow on a home line: it reads everything).

Exit codes: 0 all there; 1 problems (each listed); 2 bad usage.`,
		Example: `  editkit hub check
  editkit hub check --read-data --bwlimit 20Mbit`,
		Args: argsRange(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := e.openHub(cmd.Context(), &hf)
			if err != nil {
				return err
			}
			defer h.Close()
			progress := e.progress("hub check")
			res, err := backup.Check(cmd.Context(), h, backup.CheckOptions{ReadData: readData, TempDir: e.stateDir(), Progress: progress, ExtraRefs: e.catalogRefs(h)})
			progress.Close()
			if err != nil {
				return err
			}
			return e.conclude(res.OK(), res, nil, func() {
				e.term.Printf("Hub %s: %d snapshots, %d blobs referenced", h.Location(), res.Snapshots, res.Blobs)
				if readData {
					e.term.Printf(", %d re-hashed (%s)", res.Checked, units.FormatBytes(res.Bytes))
				}
				if res.OK() {
					e.term.Printf(": all there\n")
				} else {
					e.term.Printf(": %d PROBLEMS\n", len(res.Problems))
					for _, p := range res.Problems {
						e.term.Printf("  %s: %s\n", p.Path, p.Err)
					}
				}
			})
		},
	}
	hf.register(check)
	check.Flags().BoolVar(&readData, "read-data", false, "download and re-hash every blob")
	cmd.AddCommand(check)
	return cmd
}
