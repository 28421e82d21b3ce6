package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/editkit/editkit/internal/catalog"
	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/cut"
	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/ui"
	"github.com/editkit/editkit/internal/units"
	"github.com/editkit/editkit/internal/walk"
	"github.com/spf13/cobra"
)

func newNeedsCmd(e *env) *cobra.Command {
	var (
		hf       hubFlags
		sequence string
	)
	cmd := &cobra.Command{
		Use:   "needs CUT [DRIVE...]",
		Short: "List the media a cut (AAF, OTIO, EDL) needs, where it is, and what each drive lacks",
		Long: `Read the media references of CUT — an AAF exported from Avid with media
linked (its compositions' clips, through master mobs to the file source mobs
whose MobIDs are the UMIDs in the MXF files), an OpenTimelineIO .otio file
(media URLs, and UMIDs in clip metadata), or a CMX 3600 EDL (reel/tape and
clip names with source timecode ranges) — and match them to the media the
catalog and the DRIVEs' manifests know: by UMID, by file name, or by name and
timecode range. Each needed file is listed with where it is (the hub, which
drives); for each DRIVE, what it lacks, with sizes and how long a pull would
take at --bwlimit (no rate, no time: editkit does not guess one).

A reference nothing matches is listed as unknown, never dropped; one that
several different clips fit is listed as ambiguous (all of them are needed).
An AAF with several sequences: all of them, or --sequence NAME.

Without a hub configured, only the DRIVEs are looked at. MXF metadata comes
from copy, push and pull, or editkit index for media put there before.

Exit codes: 0 every reference matched and every DRIVE has everything; 1 some
DRIVE lacks media, or some references are unknown (each listed); 2 bad usage,
a CUT that cannot be read, or a DRIVE that is not an editkit drive.`,
		Example: `  # What does the turnover need, and what does my drive lack?
  editkit needs Turnover_R3.aaf /Volumes/EDITOR1

  # One sequence of several, as JSON
  editkit needs --sequence "R3 v12" --json Reel3.aaf`,
		Args: argsRange(1, -1, "a cut file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			bps, err := e.bytesPerSecond(&hf)
			if err != nil {
				return err
			}
			nd, err := cut.Read(args[0], sequence)
			if err != nil {
				return &ui.UsageError{Err: err}
			}
			var drives []cut.Drive
			for _, root := range args[1:] {
				d, err := readDrive(root)
				if err != nil {
					return &ui.UsageError{Err: err}
				}
				drives = append(drives, d)
			}
			var state *catalog.State
			if pick(hf.url, "EDITKIT_HUB", e.cfg.Hub) != "" {
				h, err := e.openHub(cmd.Context(), &hf)
				if err != nil {
					return err
				}
				defer h.Close()
				if state, _, err = catalog.Load(cmd.Context(), h, e.runEnv(nil).Now(), false); err != nil {
					return err
				}
			} else {
				e.term.Warnf("no hub configured: looking only at the drives given")
			}
			rep := cut.Plan(nd, state, drives, bps)
			return e.conclude(rep.OK(), rep, nil, func() { printNeeds(e.term, rep, state != nil) })
		},
	}
	hf.register(cmd)
	cmd.Flags().StringVar(&sequence, "sequence", "", "read only the sequence (AAF composition, OTIO timeline) of this name")
	return cmd
}

// readDrive reads what a drive's manifest records.
func readDrive(root string) (cut.Drive, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return cut.Drive{}, err
	}
	drv, err := manifest.Open(abs)
	if err != nil {
		if errors.Is(err, manifest.ErrNotADrive) {
			return cut.Drive{}, fmt.Errorf("%s: %w; copy or pull to it first", root, err)
		}
		return cut.Drive{}, fmt.Errorf("%s: %w", root, err)
	}
	d := cut.Drive{Root: root, Label: drv.Info.Label, ID: drv.Info.ID}
	for r, err := range drv.Records() {
		if err != nil {
			return cut.Drive{}, fmt.Errorf("%s: reading its manifest: %w", root, err)
		}
		d.Records = append(d.Records, r)
	}
	return d, nil
}

// cutHubPaths resolves a cut against the catalog: the catalog paths of the
// media it needs, and what could not be matched (for `pull --for`); now is
// the command's clock.
func cutHubPaths(ctx context.Context, h *contenthub.Hub, now time.Time, file, sequence string) (map[string]bool, *cut.Report, error) {
	nd, err := cut.Read(file, sequence)
	if err != nil {
		return nil, nil, &ui.UsageError{Err: err}
	}
	state, _, err := catalog.Load(ctx, h, now, false)
	if err != nil {
		return nil, nil, err
	}
	rep := cut.Plan(nd, state, nil, 0)
	return rep.HubPaths(), rep, nil
}

// cutWarnings says what a cut needs that cannot be brought: unknown
// references, media not in the hub, and ambiguous matches.
func cutWarnings(rep *cut.Report) []string {
	var out []string
	for _, r := range rep.Unknown {
		out = append(out, "the cut needs media the catalog does not know (if it was pushed before editkit read MXF headers, run editkit index --hub): "+r.String())
	}
	for _, n := range rep.Media {
		if !n.InHub {
			out = append(out, fmt.Sprintf("the cut needs %s, which is not in the hub (on: %v)", n.Path, n.Drives))
		}
	}
	for _, a := range rep.Ambiguous {
		out = append(out, fmt.Sprintf("%s fits several clips; all are taken: %v", a.Ref, a.Paths))
	}
	return out
}

func printNeeds(t *ui.Terminal, r *cut.Report, hub bool) {
	var total int64
	for _, n := range r.Media {
		total += n.Size
	}
	t.Printf("%s (%s, %s): needs %s (%s)\n", r.Cut, r.Format, units.Count(len(r.Sequences), "sequence"), units.Count(len(r.Media), "media file"), units.FormatBytes(total))
	for _, n := range r.Media {
		where := ""
		if n.InHub {
			where = "hub"
		}
		for _, d := range n.Drives {
			if where != "" {
				where += ", "
			}
			where += d
		}
		if where == "" {
			where = "nowhere known"
		}
		t.Printf("  %s (%s): %s\n", n.Path, units.FormatBytes(n.Size), where)
	}
	for _, a := range r.Ambiguous {
		t.Printf("  ambiguous: %s fits several clips, all listed above: %v\n", a.Ref, a.Paths)
	}
	for _, u := range r.Unknown {
		t.Printf("  unknown: %s: no media known to the catalog or the drives matches it\n", u)
	}
	if len(r.Unknown) > 0 {
		t.Printf("  (media recorded before editkit read MXF headers is matched after editkit index DRIVE or editkit index --hub)\n")
	}
	for _, d := range r.Drives {
		if len(d.Missing) == 0 {
			t.Printf("%s (%s) has everything the cut needs\n", d.Drive, d.Label)
			continue
		}
		eta := "no rate known: give --bwlimit RATE for a time"
		if r.BytesPerSecond > 0 {
			eta = "about " + units.FormatDuration(d.PullTime) + " at " + units.FormatBytes(r.BytesPerSecond) + "/s (--bwlimit)"
		}
		t.Printf("%s (%s) lacks %s (%s); %d of them in the hub: a pull --for brings %s, %s\n", d.Drive, d.Label,
			units.Count(len(d.Missing), "file"), units.FormatBytes(d.MissingBytes), d.Pullable, units.FormatBytes(d.PullBytes), eta)
		for _, n := range d.Missing {
			note := ""
			if !n.InHub {
				note = " (not in the hub"
				if !hub {
					note = " (no hub configured"
				}
				note += "; copy it from a drive that has it)"
			}
			t.Printf("  missing: %s (%s)%s\n", n.Path, units.FormatBytes(n.Size), note)
		}
	}
}

// cutSelection reads the cut and the MXF headers in src and returns the
// copy's rule that leaves out every file the cut does not use and
// --include does not name, with what the cut needs that src lacks.
func cutSelection(ctx context.Context, src, file, sequence string, includes []string) (func(rel string, isDir bool) string, []string, error) {
	nd, err := cut.Read(file, sequence)
	if err != nil {
		return nil, nil, &ui.UsageError{Err: err}
	}
	media, err := cut.ScanFolder(ctx, src)
	if err != nil {
		return nil, nil, &ui.UsageError{Err: err}
	}
	wanted, matches := cut.Select(nd, media)
	var warnings []string
	for _, m := range matches {
		if len(m.Media) == 0 {
			warnings = append(warnings, fmt.Sprintf("the cut needs media %s lacks: %s", src, m.Ref))
		}
	}
	included := func(rel string) bool {
		for _, p := range includes {
			if walk.Match(p, rel, false) {
				return true
			}
			for i := range len(rel) {
				if rel[i] == '/' && walk.Match(p, rel[:i], true) {
					return true
				}
			}
		}
		return false
	}
	keep := func(rel string, isDir bool) string {
		if isDir || wanted[rel] || included(rel) {
			return ""
		}
		return "not used by the cut"
	}
	return keep, warnings, nil
}
