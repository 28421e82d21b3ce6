package offload

import (
	"fmt"
	"io"
	"time"

	"github.com/editkit/editkit/internal/report"
	"github.com/editkit/editkit/internal/units"
)

// outcome is a destination's overall result: its state and the status line
// of the text report.
func (c *copier) outcome(d *dest) (report.State, string) {
	switch {
	case c.res.Interrupted:
		return report.Interrupted, "INTERRUPTED: run the same command again to resume"
	case d.brokenErr != nil || d.res.Error != "":
		return report.Problems, "FAILED: " + d.res.Error
	case len(d.res.Failed) > 0 || len(c.res.SourceErrors) > 0:
		return report.Problems, fmt.Sprintf("INCOMPLETE: %d files failed on this drive, %d could not be read from the source",
			len(d.res.Failed), len(c.res.SourceErrors))
	case c.opts.Verify == VerifyNone:
		return report.OK, "COMPLETE: every file copied (not read back: --verify=none)"
	}
	return report.OK, "COMPLETE: every file copied and verified"
}

// fillHTMLReport writes the report a person reads (a producer, on a phone)
// with the same facts as the text report.
func (c *copier) fillHTMLReport(out io.Writer, d *dest, rows *reportRows, started time.Time) error {
	finished := c.opts.Now()
	r := &report.DriveReport{
		Title: "editkit copy report",
		Drive: report.Drive{Label: d.drive.Info.Label, ID: d.drive.Info.ID, Path: d.arg},
		Facts: []report.Fact{
			{Name: "Source", Value: c.opts.Source},
			{Name: "Started", Value: started.Format(time.RFC3339)},
			{Name: "Finished", Value: fmt.Sprintf("%s (%s)", finished.UTC().Format(time.RFC3339), units.FormatDuration(finished.Sub(c.res.Started)))},
			{Name: "Host", Value: fmt.Sprintf("%s (user %s)", c.opts.Host, c.opts.User)},
			{Name: "Tool", Value: c.opts.Tool + " " + c.opts.Version},
			{Name: "Verification", Value: verifyText(c.opts.Verify)},
			{Name: "Copied", Value: fmt.Sprintf("%d files, %s; %d already there from an earlier run", d.res.Copied, units.FormatBytes(d.res.CopiedBytes), d.res.AlreadyThere)},
		},
		Notes:           d.res.Notes,
		HashesElsewhere: "in this run's text report beside this page, and in " + ChecksumsFile,
	}
	if d.res.Checksums != "" {
		r.Facts = append(r.Facts, report.Fact{Name: "Checksum list", Value: ChecksumsFile + " (check without editkit: b3sum --check " + ChecksumsFile + ")"})
	}
	if d.res.MHL != "" {
		r.Facts = append(r.Facts, report.Fact{Name: "ASC MHL", Value: d.res.MHL})
	}
	if d.res.Error != "" {
		r.Problems = append(r.Problems, d.res.Error)
	}
	for _, f := range d.res.Failed {
		r.Problems = append(r.Problems, f.Path+": "+f.Err)
	}
	for _, f := range c.res.SourceErrors {
		r.Problems = append(r.Problems, f.Path+": unreadable at the source: "+f.Err)
	}
	if a := d.res.History; a != nil {
		for _, m := range a.Missing {
			r.Problems = append(r.Problems, m+": recorded in the drive's history, not on the drive")
		}
	}
	for _, s := range c.skips.summary() {
		r.Notes = append(r.Notes, fmt.Sprintf("not copied on purpose: %d × %s", s.Count, s.Reason))
	}
	if rows.readErr != nil {
		r.Problems = append(r.Problems, fmt.Sprintf("the manifest could not be read: %v", rows.readErr))
	}
	r.Files = rows.tally
	files, bytes := r.Files.Count, r.Files.Bytes
	state, _ := c.outcome(d)
	r.State = state
	switch {
	case state == report.Interrupted:
		r.Verdict = "Interrupted: run the same command again to resume (" + report.Verdict("checked so far", files, files, bytes, len(r.Problems)) + ")"
	case d.brokenErr != nil || d.res.Error != "":
		r.Verdict = "Failed: " + d.res.Error
	case c.opts.Verify == VerifyNone && state == report.OK:
		r.Verdict = report.Verdict("Copied, not read back", files, files, bytes, 0)
	case state == report.OK:
		r.Verdict = report.Verdict("Copied and verified", files, files, bytes, 0)
	default:
		r.Verdict = report.Verdict("Incomplete", files, files, bytes, len(r.Problems))
	}
	return report.WriteDrive(out, r)
}
