package offload

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/place"
	"github.com/editkit/editkit/internal/report"
	"github.com/editkit/editkit/internal/units"
)

// ReportsDir holds the copy reports on a drive, relative to its root.
const ReportsDir = ".editkit/reports"

func summaryLine(r *Result, d *DestResult) string {
	s := fmt.Sprintf("%d copied (%s), %d already there, %d failed", d.Copied, units.FormatBytes(d.CopiedBytes), d.AlreadyThere, len(d.Failed))
	if r.Interrupted {
		s += ", interrupted"
	}
	if d.Error != "" {
		s += ": " + d.Error
	}
	return s
}

// writeReport writes the human-readable chain-of-custody record of this
// run to the destination, and the same facts as JSON and HTML beside it.
func (c *copier) writeReport(d *dest, rows *reportRows) (string, error) {
	started := c.res.Started.UTC()
	name := "copy_" + started.Format("2006-01-02_150405Z")
	js, err := json.MarshalIndent(struct {
		*Result
		Destination *DestResult `json:"destination"`
	}{c.res, d.res}, "", "  ")
	if err != nil {
		return "", err
	}
	// One folder sync for the three.
	err = d.place.WriteFiles(ReportsDir,
		place.NewFile{Name: name + ".txt", Perm: 0o644, Fill: func(out io.Writer) error { return c.fillReport(out, d, rows, started) }},
		place.NewFile{Name: name + ".json", Perm: 0o644, Fill: place.Bytes(js)},
		place.NewFile{Name: name + ".html", Perm: 0o644, Fill: func(out io.Writer) error { return c.fillHTMLReport(out, d, rows, started) }})
	if err != nil {
		return "", err
	}
	return filepath.Join(d.arg, filepath.FromSlash(ReportsDir), name+".txt"), nil
}

// reportRows is what the reports list of the files this run wrote or
// verified, gathered in one pass over the manifest: the text report's
// lines and the HTML page's tally.
type reportRows struct {
	text    []byte
	tally   report.Tally
	readErr error // the manifest could not be read to the end
}

// collectReportRows reads the manifest's records of this run once for
// both reports. It only reads the drive, so it runs while the checksum
// list and the ASC MHL generation are written.
func collectReportRows(d *dest) *reportRows {
	rows := &reportRows{}
	for r, err := range d.drive.Records() {
		if err != nil {
			rows.readErr = err
			rows.text = fmt.Appendf(rows.text, "  (manifest could not be read: %v)\n", err)
			break
		}
		if r.Dir || r.Seq < d.firstSeq {
			continue
		}
		rows.text = appendReportLine(rows.text, r)
		f := report.File{Path: r.Path, Size: r.Size}
		if len(rows.tally.Listed) < report.MaxHashes { // the page lists no more
			f.Hashes = []report.Hash{{Format: "BLAKE3", Digest: r.BLAKE3}, {Format: "xxh128", Digest: r.XXH128}}
		}
		rows.tally.Add(f)
	}
	if rows.tally.Count == 0 && rows.readErr == nil {
		rows.text = append(rows.text, "  (none)\n"...)
	}
	rows.tally.ListedRows() // here, not in the page's rendering after the wait
	return rows
}

// appendReportLine appends the text report's line for r: what
// fmt's "  %s  %s  %12d  %s\n" writes, without its cost per file.
func appendReportLine(b []byte, r manifest.Record) []byte {
	b = append(b, "  "...)
	b = append(b, r.BLAKE3...)
	b = append(b, "  "...)
	b = append(b, r.XXH128...)
	b = append(b, "  "...)
	var num [20]byte
	n := strconv.AppendInt(num[:0], r.Size, 10)
	for i := len(n); i < 12; i++ {
		b = append(b, ' ')
	}
	b = append(b, n...)
	b = append(b, "  "...)
	b = append(b, r.Path...)
	return append(b, '\n')
}

// fillReport writes the text of the report.
func (c *copier) fillReport(out io.Writer, d *dest, rows *reportRows, started time.Time) error {
	w := bufio.NewWriterSize(out, 64<<10)
	finished := c.opts.Now()
	took := finished.Sub(c.res.Started)
	_, status := c.outcome(d)
	fmt.Fprintf(w, "editkit copy report\n===================\n\n")
	fmt.Fprintf(w, "Status:       %s\n", status)
	fmt.Fprintf(w, "Source:       %s\n", c.opts.Source)
	fmt.Fprintf(w, "Destination:  %s (label %q, drive %s)\n", d.arg, d.drive.Info.Label, d.drive.Info.ID)
	if len(c.dests) > 1 {
		var others []string
		for _, o := range c.dests {
			if o != d {
				others = append(others, o.arg)
			}
		}
		fmt.Fprintf(w, "Copied with:  %s (same run)\n", strings.Join(others, ", "))
	}
	fmt.Fprintf(w, "Started:      %s\n", started.Format(time.RFC3339))
	fmt.Fprintf(w, "Finished:     %s (%s)\n", finished.UTC().Format(time.RFC3339), units.FormatDuration(took))
	fmt.Fprintf(w, "Host:         %s (user %s)\n", c.opts.Host, c.opts.User)
	fmt.Fprintf(w, "Tool:         %s %s\n", c.opts.Tool, c.opts.Version)
	fmt.Fprintf(w, "Verification: %s\n", verifyText(c.opts.Verify))
	fmt.Fprintf(w, "\nCopied:        %d files, %s (%s)\n", d.res.Copied, units.FormatBytes(d.res.CopiedBytes), units.FormatRate(d.res.CopiedBytes, took))
	fmt.Fprintf(w, "Already there: %d files (complete from an earlier run)\n", d.res.AlreadyThere)
	if a := d.res.History; a != nil {
		fmt.Fprintf(w, "Adopted:       %d files the drive's own ASC MHL history records, checked against it (%s read); %d damaged, %d missing\n",
			a.Adopted, units.FormatBytes(a.Bytes), len(a.Damaged), len(a.Missing))
		for _, m := range a.Missing {
			fmt.Fprintf(w, "  missing %s: recorded in the drive's history, not on the drive\n", m)
		}
	}
	for _, n := range d.res.Notes {
		fmt.Fprintf(w, "Note:          %s\n", n)
	}
	fmt.Fprintf(w, "Failed:        %d files\n", len(d.res.Failed))
	if len(d.res.Failed) > 0 {
		for _, f := range d.res.Failed {
			fmt.Fprintf(w, "  %s: %s\n", f.Path, f.Err)
		}
	}
	if len(c.res.SourceErrors) > 0 {
		fmt.Fprintf(w, "Unreadable at the source: %d\n", len(c.res.SourceErrors))
		for _, f := range c.res.SourceErrors {
			fmt.Fprintf(w, "  %s: %s\n", f.Path, f.Err)
		}
	}
	skips := c.skips.summary()
	if len(skips) > 0 {
		fmt.Fprintf(w, "\nNot copied on purpose:\n")
		for _, s := range skips {
			fmt.Fprintf(w, "  %d × %s\n", s.Count, s.Reason)
			for _, p := range s.Paths {
				fmt.Fprintf(w, "      %s\n", p)
			}
		}
	}
	if d.res.Checksums != "" {
		fmt.Fprintf(w, "\nChecksum list: %s (check without editkit: cd to the drive, then b3sum --check %s)\n", ChecksumsFile, ChecksumsFile)
	}
	if d.res.MHL != "" {
		fmt.Fprintf(w, "ASC MHL:       %s\n", d.res.MHL)
	}
	fmt.Fprintf(w, "\nFiles written or verified in this run (BLAKE3, xxh128, bytes, path):\n")
	w.Write(rows.text)
	return w.Flush()
}

func verifyText(m VerifyMode) string {
	if !fsx.ReadsFromMedium && m != VerifyNone {
		return m.String() + ": each file read back after sync and compared by xxh128 — through the operating system's cache (this platform cannot drop a file's cached pages)"
	}
	switch m {
	case VerifyNone:
		return "none (--verify=none): files were synced but not read back"
	case VerifyFull:
		return "full: each file read back from every drive after sync with its cached pages dropped, and the source re-read, compared by xxh128"
	}
	return "dest: each file read back from every drive after sync with its cached pages dropped, compared by xxh128"
}
