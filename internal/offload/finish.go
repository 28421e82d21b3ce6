package offload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/editkit/editkit/internal/manifest"
)

// ChecksumsFile is the b3sum-format list on every drive, relative to its root.
const ChecksumsFile = manifest.ChecksumsFile

// finishDests brings each destination's manifest, checksum list, MHL history
// and report up to date with what this run wrote.
func (c *copier) finishDests(ctx context.Context) {
	c.res.Finished = c.opts.Now()
	for _, d := range c.dests {
		if d.drive == nil {
			continue
		}
		if err := c.finishDest(ctx, d); err != nil {
			d.mu.Lock()
			if d.res.Error == "" {
				d.res.Error = fmt.Sprintf("%s: finishing: %v", d.arg, err)
			}
			d.mu.Unlock()
		}
	}
}

func (c *copier) finishDest(ctx context.Context, d *dest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.stillThere(); err != nil {
		// The drive is gone: its mount point may now be a folder on another
		// disk, which must not get a report or a manifest.
		if d.brokenErr == nil {
			d.brokenErr = err
			d.res.Error = destErrorText(d, err)
		}
		return nil
	}
	drv := d.drive
	var errs []error
	if err := drv.Compact(); err != nil {
		errs = append(errs, fmt.Errorf("manifest: %w", err))
	}
	complete := !c.res.Interrupted && d.brokenErr == nil && len(errs) == 0
	if complete {
		if err := c.adoptHistory(ctx, d); err != nil {
			// A broken chain is never extended: no generation this time.
			errs = append(errs, fmt.Errorf("ASC MHL history: %w", err))
			complete = false
		}
	}
	var rows *reportRows
	if complete {
		// The checksum list, the ASC MHL generation and the reports' rows
		// each read the whole manifest and nothing else of one another:
		// they run at once rather than one after another on one core. The
		// reports themselves wait, as they name the list and the generation
		// only once those are written.
		var wg sync.WaitGroup
		var sumErr, carryErr, mhlErr error
		var mhlPath string
		var through uint64
		wg.Go(func() { sumErr = drv.WriteChecksums() })
		wg.Go(func() {
			carryErr = c.carryHistories(d)
			mhlPath, through, mhlErr = c.writeMHL(d)
		})
		rows = collectReportRows(d)
		wg.Wait()
		if sumErr != nil {
			errs = append(errs, fmt.Errorf("checksum list: %w", sumErr))
		} else {
			d.res.Checksums = filepath.Join(d.arg, filepath.FromSlash(ChecksumsFile))
		}
		if carryErr != nil {
			errs = append(errs, fmt.Errorf("ASC MHL history: %w", carryErr))
		}
		if mhlErr != nil {
			errs = append(errs, fmt.Errorf("ASC MHL history: %w", mhlErr))
		} else {
			drv.Info.MHLThrough = through
			if mhlPath != "" {
				d.res.MHL = mhlPath
			}
		}
	} else {
		rows = collectReportRows(d)
	}
	report, err := c.writeReport(d, rows)
	if err != nil {
		errs = append(errs, fmt.Errorf("report: %w", err))
	} else {
		d.res.Report = report
	}
	ok := complete && len(d.res.Failed) == 0 && len(c.res.SourceErrors) == 0 && len(errs) == 0
	drv.Info.LastCopy = &manifest.Activity{
		At:      c.opts.Now().UTC(),
		Host:    c.opts.Host,
		User:    c.opts.User,
		OK:      ok,
		Summary: summaryLine(c.res, d.res),
	}
	// A run that was interrupted may have left temporary files (it removes
	// its own, but kill -9 cannot); the marker tells the next run to look.
	if !c.res.Interrupted {
		drv.Info.Running = nil
	}
	if err := drv.SaveInfo(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// carryHistories copies the source's ASC MHL histories (generation files
// and chain) to a destination that lacks them, so the generation this copy
// adds continues each chain of custody.
func (c *copier) carryHistories(d *dest) error {
	for _, h := range c.histories {
		from := filepath.Join(c.srcRoot, filepath.FromSlash(h), "ascmhl")
		to := filepath.Join(d.root, filepath.FromSlash(h), "ascmhl")
		if _, err := os.Stat(to); err == nil {
			continue // the destination keeps its own history
		}
		rel := "ascmhl"
		if h != "" {
			rel = h + "/ascmhl"
		}
		entries, err := os.ReadDir(from)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !e.Type().IsRegular() || !(strings.HasSuffix(e.Name(), ".mhl") || e.Name() == "ascmhl_chain.xml") {
				continue
			}
			data, err := os.ReadFile(filepath.Join(from, e.Name()))
			if err != nil {
				return err
			}
			if err := d.place.WriteFileBytes(rel+"/"+e.Name(), data, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}
