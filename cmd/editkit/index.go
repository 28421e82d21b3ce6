package main

import (
	"github.com/editkit/editkit/internal/mxfindex"
	"github.com/spf13/cobra"
)

func newIndexCmd(e *env) *cobra.Command {
	var hf hubFlags
	cmd := &cobra.Command{
		Use:   "index [DRIVE...]",
		Short: "Read the MXF headers of media recorded before editkit kept them",
		Long: `copy, push and pull keep each MXF file's header metadata (its UMIDs, clip
and tape name, kind, edit rate, start timecode and duration) with the file, so
'editkit needs' can find the media a cut uses. index fills it in for what was
recorded before: with DRIVEs, the drives' manifests (each file read where it
is, if it is still as recorded); without, the hub's catalog (a few range reads
of each blob's header, never the whole blob). Only headers are read. What has
the metadata already is skipped, so a second run does nothing and an
interrupted one picks up where it stopped. verify does the same for each file
it reads.

A file whose header cannot be read is listed and recorded as having no MXF
metadata; it never stops the run.

Exit codes: 0 done (unreadable headers are listed, not failures); 2 bad
usage, or a drive or hub that cannot be opened.`,
		Example: `  editkit index /Volumes/EDITOR1
  editkit index                      # the hub's catalog
  editkit index --hub s3://show-hub/editorial --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			type driveResult struct {
				Drive string `json:"drive"`
				*mxfindex.Result
			}
			var out struct {
				Drives []driveResult    `json:"drives,omitempty"`
				Hub    *mxfindex.Result `json:"hub,omitempty"`
			}
			report := func(what string, r *mxfindex.Result) {
				e.term.Printf("%s: %d indexed, %d had it already, %d not MXF, %d unreadable\n", what, r.Indexed, r.Already, r.NotMXF, r.Unreadable)
				for _, p := range r.Problems {
					e.term.Warnf("no MXF metadata for %s: %s", p.Path, p.Detail)
				}
			}
			if len(args) > 0 {
				for _, d := range args {
					r, err := mxfindex.Drive(cmd.Context(), d)
					if err != nil {
						return err
					}
					out.Drives = append(out.Drives, driveResult{d, r})
				}
				return e.conclude(true, out, nil, func() {
					for _, d := range out.Drives {
						report(d.Drive, d.Result)
					}
				})
			}
			h, err := e.openHub(cmd.Context(), &hf)
			if err != nil {
				return err
			}
			defer h.Close()
			r := e.runEnv(nil)
			out.Hub, err = mxfindex.Hub(cmd.Context(), h, mxfindex.HubOptions{User: r.User, Host: r.Host, Now: r.Now})
			if out.Hub == nil {
				return err
			}
			return e.conclude(true, out, err, func() { report("catalog in "+h.Location(), out.Hub) })
		},
	}
	hf.register(cmd)
	return cmd
}
