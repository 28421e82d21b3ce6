package verify

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/report"
	"github.com/editkit/editkit/internal/treepath"
	"github.com/editkit/editkit/internal/units"
)

// writeHTMLReport writes the report a person reads, with the same facts as
// the text report: the verdict first, every problem, the files found intact
// by folder, their digests folded away.
func (v *verifier) writeHTMLReport(out io.Writer) error {
	r := v.res
	v.mu.Lock()
	files := v.intact
	v.mu.Unlock()
	slices.SortFunc(files.Listed, func(a, b report.File) int { return treepath.Compare(a.Path, b.Path) })
	against := string(r.Against)
	if r.Against == WithB3Sum {
		against += " (" + v.opts.B3Sum + ")"
	}
	rep := &report.DriveReport{
		Title: "editkit verify report",
		Drive: report.Drive{Label: r.Label, ID: r.DriveID, Path: v.root},
		Facts: []report.Fact{
			{Name: "Against", Value: against},
			{Name: "Started", Value: r.Started.UTC().Format(time.RFC3339)},
			{Name: "Finished", Value: fmt.Sprintf("%s (%s)", r.Finished.UTC().Format(time.RFC3339), units.FormatDuration(r.Finished.Sub(r.Started)))},
			{Name: "Host", Value: fmt.Sprintf("%s (user %s)", v.opts.Host, v.opts.User)},
			{Name: "Tool", Value: v.opts.Tool + " " + v.opts.Version},
			{Name: "Files", Value: fmt.Sprintf("%d in scope, %d verified intact, %d not sampled", r.Files, r.Verified, r.NotSampled)},
		},
		Files:           files,
		HashesElsewhere: "in the drive's checksum list (" + manifest.ChecksumsFile + ") or its ASC MHL history",
	}
	if len(v.scope) > 0 {
		rep.Facts = append(rep.Facts, report.Fact{Name: "Scope", Value: fmt.Sprint(v.scope)})
	}
	if v.opts.Sample > 0 {
		rep.Facts = append(rep.Facts, report.Fact{Name: "Sample", Value: fmt.Sprintf("%g%% (seed %d)", v.opts.Sample, r.Seed)})
	}
	if r.MHL != "" {
		rep.Facts = append(rep.Facts, report.Fact{Name: "ASC MHL", Value: r.MHL})
	}
	if r.Note != "" {
		rep.Notes = append(rep.Notes, r.Note)
	}
	for _, p := range r.Problems {
		rep.Problems = append(rep.Problems, p.String())
	}
	rep.State, rep.Verdict = report.OK, report.Verdict("Verified", r.Verified, r.Files, r.Bytes, len(r.Problems))
	switch {
	case r.Interrupted:
		rep.State, rep.Verdict = report.Interrupted, "Interrupted: run verify again ("+rep.Verdict+")"
	case !r.OK():
		rep.State = report.Problems
	}
	return report.WriteDrive(out, rep)
}
