package offload

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/place"
	"github.com/editkit/editkit/internal/portable"
	"github.com/editkit/editkit/internal/treepath"
	"github.com/editkit/editkit/internal/units"
	"github.com/editkit/editkit/internal/walk"
)

// plan is what preflight found to do.
type plan struct {
	bytes int64 // source bytes to read
	files int   // files to copy or check on at least one destination
}

// bytesPerRecord estimates what a file costs on a destination besides its
// data: its manifest, journal, checksum-list, MHL and report lines.
const bytesPerRecord = 1024

// preflight walks the source once without writing anything: it lists names
// that cannot live on the destinations, and works out what each destination
// lacks and whether it has room for it.
func (c *copier) preflight(ctx context.Context) (*plan, error) {
	srcRoot, _ := filepath.Abs(c.opts.Source)
	c.srcRoot = srcRoot
	c.opts.Rules.Internal = map[string]string{historyPattern: historyReason}
	c.opts.Rules.Keep = c.keepRecorded()

	c.bigFolders = map[string]bool{}
	cursors := make([]*manifest.Cursor, len(c.dests))
	for i, d := range c.dests {
		if d.drive != nil {
			cursors[i] = d.drive.Cursor()
			defer cursors[i].Close()
		}
	}
	var (
		p        plan
		problems []string
		names    []string // portability problems, kept apart to list them together
		files    int
	)
	v := walk.Visitor{
		Dir: func(e walk.Entry, children []string) error {
			if e.Path != "" {
				for _, pr := range portable.CheckPath(e.Path) {
					names = append(names, pr.String())
				}
			}
			for _, pr := range portable.Siblings(e.Path, children) {
				names = append(names, pr.String())
			}
			return nil
		},
		File: func(e walk.Entry) error {
			files++
			c.res.Files++
			c.res.Bytes += e.Size
			if e.Size > place.SmallFile {
				c.bigFolders[treepath.Parent(e.Path)] = true
			}
			for _, pr := range portable.CheckPath(e.Path) {
				names = append(names, pr.String())
			}
			needed := false
			for i, d := range c.dests {
				act, _, err := decide(d, cursors[i], &e, srcRoot, c.opts.Verify)
				if err != nil {
					return err
				}
				switch act {
				case actCopy:
					d.needBytes += d.space.RoundUp(e.Size)
					d.needFiles++
					needed = true
				case actVerify:
					needed = true
				}
			}
			if needed {
				p.files++
				p.bytes += e.Size
			}
			return nil
		},
		Skipped: func(s walk.Skipped) {
			if s.Reason == historyReason {
				c.histories = append(c.histories, treepath.Parent(s.Path))
				return
			}
			if s.Err == nil {
				p := s.Path
				if s.Dir {
					p += "/"
				}
				if s.Detail != "" {
					p += " " + s.Detail
				}
				c.skips.add(p, s.Reason)
			}
		},
	}
	if err := walk.Walk(ctx, srcRoot, c.opts.Rules, v); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &PreflightError{Problems: []string{fmt.Sprintf("reading source %s: %v", c.opts.Source, err)}}
	}
	if len(names) > 0 && !c.opts.AllowUnportable {
		problems = append(problems, fmt.Sprintf("%d names cannot be used as they are on exFAT/NTFS drives or on macOS/Windows "+
			"(rename them at the source, or pass --allow-unportable to copy anyway):", len(names)))
		for _, n := range names {
			problems = append(problems, "  "+n)
		}
	}
	problems = append(problems, c.checkSpace(files)...)
	if len(problems) > 0 {
		return nil, &PreflightError{Problems: problems}
	}
	return &p, nil
}

// checkSpace compares what each file system must take with its free space;
// destinations on one file system share it.
func (c *copier) checkSpace(files int) []string {
	type volume struct {
		dests []*dest
		need  int64
	}
	volumes := map[uint64]*volume{}
	var order []uint64
	for _, d := range c.dests {
		v, ok := volumes[d.dev]
		if !ok {
			v = &volume{}
			volumes[d.dev] = v
			order = append(order, d.dev)
		}
		v.dests = append(v.dests, d)
		if d.needFiles > 0 || d.drive == nil {
			v.need += d.needBytes + int64(files)*bytesPerRecord + 1<<20
		}
	}
	var problems []string
	for _, dev := range order {
		v := volumes[dev]
		free := v.dests[0].space.Free
		for _, d := range v.dests {
			free += d.tempBytes // removed before copying
		}
		if v.need <= free {
			continue
		}
		names := v.dests[0].arg
		if len(v.dests) > 1 {
			names = fmt.Sprintf("%d destinations on one drive (%s", len(v.dests), v.dests[0].arg)
			for _, d := range v.dests[1:] {
				names += ", " + d.arg
			}
			names += ")"
		}
		problems = append(problems, fmt.Sprintf("not enough space on %s: needs %s, has %s free; free %s or use a bigger drive",
			names, units.FormatBytes(v.need), units.FormatBytes(free), units.FormatBytes(v.need-free)))
	}
	return problems
}

// action is what a destination needs for one file.
type action int

const (
	actSkip   action = iota // complete and verified from an earlier run
	actVerify               // complete, but never read back: read it back now
	actCopy
)

// decide looks a source file up in a destination's manifest and on the drive.
// A file counts as already there only if the manifest says it was copied from
// a source file of this size and mtime, and the drive file still has the size
// and mtime recorded when it was written. An entry the walk did not stat
// (walk.Entry.Unread) is stat'ed here, under srcRoot, only if the manifest
// records the file: a file to copy anyway is fstat'ed once open.
func decide(d *dest, cur *manifest.Cursor, e *walk.Entry, srcRoot string, verify VerifyMode) (action, manifest.Record, error) {
	if cur == nil {
		return actCopy, manifest.Record{}, nil
	}
	rec, ok, err := cur.Seek(e.Path)
	if err != nil {
		return actCopy, rec, fmt.Errorf("destination %s: %w", d.arg, err)
	}
	if !ok || rec.Dir {
		return actCopy, rec, nil
	}
	if *e, err = walk.Stat(srcRoot, *e); err != nil {
		return actCopy, rec, nil // opening it to copy reports the error
	}
	if rec.Size != e.Size || rec.SrcMTime != e.ModTime.UnixNano() {
		return actCopy, rec, nil
	}
	fi, err := os.Lstat(d.path(e.Path))
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != rec.Size || fi.ModTime().UnixNano() != rec.ModTime {
		return actCopy, rec, nil
	}
	if rec.Verified == 0 && verify != VerifyNone {
		return actVerify, rec, nil
	}
	return actSkip, rec, nil
}
