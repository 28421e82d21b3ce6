// Package purge owns removing media from a drive on purpose — review
// copies whose expiry passed, a category, named folders, everything — and
// keeping the record of it: only files editkit placed and that did not
// change since are removed (unless forced), each through the placement
// package's link-safe removal and checked gone; the drive's manifest and
// purge log, its checksum list and a new ASC MHL generation say what went
// and why; one purged event per file goes to the hub's event log and the
// tracker, exactly once even when a purge is killed and run again.
//
// What it does not do is erase: on flash (wear levelling) and copy-on-write
// file systems, and with snapshots, removed bytes can survive. See the
// README.
package purge

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/catalog"
	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/mhl"
	"github.com/editkit/editkit/internal/place"
	"github.com/editkit/editkit/internal/run"
	"github.com/editkit/editkit/internal/treepath"
	"github.com/editkit/editkit/internal/walk"
)

// Options configure a purge.
type Options struct {
	run.Env
	Drive string
	// What to purge: files (or folders of files) named by their paths on
	// the drive, catalog media whose expiry passed, catalog media of a
	// category, or everything editkit placed. Paths, Expired and Category
	// narrow each other; All stands alone.
	Paths    []string
	Expired  bool
	Category string
	All      bool
	// Catalog is the media catalog, needed by Expired and Category.
	Catalog *catalog.State
	DryRun  bool
	// Force removes files editkit did not place or that changed since it
	// placed them. Nothing is ever removed through a link.
	Force bool
	// Record keeps the purged events (the outbox, then the hub's log and
	// the tracker). Nil: they are only returned.
	Record catalog.Recorder
	Hooks  place.Hooks
	// Hook, if set, is called between steps ("unlinked" when a file is
	// gone and not yet recorded, "removed" once it is, "recorded" once the
	// events are kept): tests kill a purge there.
	Hook func(step string)
}

// Item is what happened to one file.
type Item struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size,omitempty"`
	Status  string    `json:"status"` // purged, would-purge, skipped, failed
	Why     string    `json:"why,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
	Detail  string    `json:"detail,omitempty"`
}

// Result is the outcome of a purge.
type Result struct {
	Drive   string `json:"drive"`
	Label   string `json:"label,omitempty"`
	DriveID string `json:"drive_id,omitempty"`
	DryRun  bool   `json:"dry_run,omitempty"`
	Items   []Item `json:"items"`
	Purged  int    `json:"purged"`
	Bytes   int64  `json:"purged_bytes"`
	Skipped int    `json:"skipped"`
	Failed  int    `json:"failed"`
	MHL     string `json:"mhl,omitempty"` // the ASC MHL generation that records the purge
	// Interrupted: stopped (Ctrl-C) before every selected file was seen;
	// what was removed is recorded. Run the same purge again.
	Interrupted bool          `json:"interrupted,omitempty"`
	Events      []event.Event `json:"-"`
}

// OK reports whether everything selected is gone (or would be).
func (r *Result) OK() bool { return r.Skipped == 0 && r.Failed == 0 && !r.Interrupted }

// UsageError is a purge that cannot start as asked.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usagef(format string, args ...any) error { return &UsageError{fmt.Errorf(format, args...)} }

// candidate is a file selected for purging.
type candidate struct {
	path    string
	rec     *manifest.Record // nil: not in the manifest (editkit did not place it)
	item    *catalog.Item    // the catalog's, when it is catalog media
	why     string
	earlier *manifest.Purge // an interrupted purge of it
}

// Run purges the drive.
func Run(ctx context.Context, o Options) (*Result, error) {
	o.Env = o.Env.WithDefaults()
	switch {
	case o.All && (len(o.Paths) > 0 || o.Expired || o.Category != ""):
		return nil, usagef("--all purges everything editkit placed on the drive; give it alone, or narrow with paths, --expired or --category instead")
	case !o.All && len(o.Paths) == 0 && !o.Expired && o.Category == "":
		return nil, usagef("say what to purge: paths on the drive, --expired, --category C, or --all")
	case (o.Expired || o.Category != "") && o.Catalog == nil:
		return nil, usagef("--expired and --category need the media catalog: give --hub or set hub in the settings file")
	}
	if o.Category != "" {
		if err := catalog.ValidCategory(o.Category); err != nil {
			return nil, &UsageError{err}
		}
	}
	root, err := filepath.Abs(o.Drive)
	if err != nil {
		return nil, err
	}
	if !manifest.IsDrive(root) {
		return nil, usagef("%s has no editkit manifest (.editkit/drive.json): editkit placed nothing there to purge; is it the drive's root?", o.Drive)
	}
	paths, err := treePaths(root, o.Paths)
	if err != nil {
		return nil, &UsageError{err}
	}
	pr, err := place.Open(root, o.Hooks)
	if err != nil {
		return nil, err
	}
	var drv *manifest.Drive
	if o.DryRun {
		drv, err = manifest.OpenIn(pr)
	} else {
		drv, err = manifest.OpenForWriteIn(pr)
	}
	if err != nil {
		return nil, err
	}
	defer drv.Close()
	res := &Result{Drive: o.Drive, Label: drv.Info.Label, DriveID: drv.Info.ID, DryRun: o.DryRun}
	p := &purger{o: o, root: root, drv: drv, place: pr, res: res}
	if !o.DryRun {
		if p.log, err = drv.OpenPurgeLog(); err != nil {
			return nil, err
		}
		defer p.log.Close()
	}
	cands, err := p.selectFiles(ctx, paths)
	if err != nil {
		return nil, err
	}
	for _, c := range cands {
		if ctx.Err() != nil {
			res.Interrupted = true
			break
		}
		p.purge(c)
	}
	if o.DryRun {
		return res, ctx.Err()
	}
	// Interrupted, what was removed is still recorded in full: the
	// checksum list and the history must not claim files that are gone.
	if err := p.finish(context.WithoutCancel(ctx)); err != nil {
		return res, err
	}
	return res, ctx.Err()
}

type purger struct {
	o     Options
	root  string
	drv   *manifest.Drive
	place *place.Root
	log   *manifest.PurgeLog
	res   *Result
	// done are the purges to report: this run's and those an earlier,
	// interrupted run finished but never reported.
	done    []manifest.Purge
	changed bool // the manifest changed: checksum list and a generation are due
}

// treePaths turns the paths given (tree paths, or paths of files inside
// the drive) into tree paths.
func treePaths(root string, given []string) ([]string, error) {
	var out []string
	for _, g := range given {
		p := filepath.ToSlash(g)
		if filepath.IsAbs(g) || strings.HasPrefix(g, ".") {
			abs, err := filepath.Abs(g)
			if err != nil {
				return nil, err
			}
			rel, err := filepath.Rel(root, abs)
			if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
				return nil, fmt.Errorf("%s is not inside the drive %s", g, root)
			}
			p = filepath.ToSlash(rel)
		}
		p = strings.Trim(p, "/")
		if err := treepath.Validate(p); err != nil {
			return nil, fmt.Errorf("%s: %w", g, err)
		}
		first, _, _ := strings.Cut(p, "/")
		if first == manifest.DirName || first == "ascmhl" {
			return nil, fmt.Errorf("%s is editkit's or the ASC MHL history's own; purge removes media only", g)
		}
		out = append(out, p)
	}
	return out, nil
}

// selectFiles lists the files to purge, in tree order: what the options
// select, and what an interrupted purge was removing.
func (p *purger) selectFiles(ctx context.Context, paths []string) ([]candidate, error) {
	o := p.o
	recs := map[string]manifest.Record{}
	for r, err := range p.drv.Records() {
		if err != nil {
			return nil, err
		}
		if !r.Dir {
			recs[r.Path] = r
		}
	}
	byPath := map[string]*candidate{}
	add := func(path, why string) {
		if byPath[path] != nil {
			return
		}
		c := &candidate{path: path, why: why}
		if r, ok := recs[path]; ok {
			c.rec = &r
		}
		if o.Catalog != nil {
			c.item, _ = o.Catalog.Lookup(path)
		}
		byPath[path] = c
	}
	under := func(path string) bool {
		if len(paths) == 0 {
			return true
		}
		for _, q := range paths {
			if path == q || strings.HasPrefix(path, q+"/") {
				return true
			}
		}
		return false
	}
	now := o.Now()
	selected := func(it *catalog.Item) (string, bool) {
		switch {
		case o.Expired && !it.Expired(now):
			return "", false
		case o.Category != "" && it.Category != o.Category:
			return "", false
		case o.Expired:
			return "expired " + it.Expires.Local().Format("2006-01-02 15:04"), true
		}
		return "category " + it.Category, true
	}
	switch {
	case o.All:
		for path := range recs {
			add(path, "all")
		}
	case o.Expired || o.Category != "":
		// Catalog media on the drive, placed by editkit or not.
		for _, it := range o.Catalog.Sorted() {
			why, ok := selected(it)
			if !ok || !under(it.Path) {
				continue
			}
			if _, placed := recs[it.Path]; placed {
				add(it.Path, why)
			} else if _, err := p.place.Lstat(it.Path); !errors.Is(err, fs.ErrNotExist) {
				add(it.Path, why) // there, or unreachable: said below
			}
		}
	default:
		for path := range recs {
			if under(path) {
				add(path, "named")
			}
		}
		if err := p.foreign(ctx, paths, recs, add); err != nil {
			return nil, err
		}
	}
	// A purge killed midway finishes what it was removing, with the same
	// event, whatever this run selects.
	earlier, err := manifest.Purges(p.root)
	if err != nil {
		return nil, err
	}
	for _, e := range earlier {
		switch e.State {
		case manifest.PurgeRemoving:
			if o.DryRun {
				continue
			}
			add(e.Path, e.Why)
			e := e
			byPath[e.Path].earlier = &e
		case manifest.PurgeDone:
			if !o.DryRun {
				p.done = append(p.done, e)
			}
		}
	}
	out := make([]candidate, 0, len(byPath))
	for _, c := range byPath {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return treepath.Less(out[i].path, out[j].path) })
	return out, nil
}

// foreign adds the files under the paths given that the manifest does not
// hold: they are refused (unless forced), and said so.
func (p *purger) foreign(ctx context.Context, paths []string, recs map[string]manifest.Record, add func(path, why string)) error {
	for _, q := range paths {
		fi, err := p.place.Lstat(q)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if _, ok := recs[q]; !ok && !hasUnder(recs, q) {
				p.item(Item{Path: q, Status: "skipped", Detail: "not on the drive and not in its manifest"})
			}
			continue
		case err != nil:
			add(q, "named") // a link on the way: refused below
			continue
		case !fi.IsDir():
			add(q, "named")
			continue
		}
		err = walk.Walk(ctx, filepath.Join(p.root, filepath.FromSlash(q)), walk.Rules{IncludeAvidDB: true}, walk.Visitor{
			File: func(e walk.Entry) error {
				if path := q + "/" + e.Path; recs[path].Path == "" {
					add(path, "named")
				}
				return nil
			},
			Skipped: func(s walk.Skipped) {
				// A link: refused. One where a folder editkit placed into
				// was is reported with each file it placed there.
				if path := q + "/" + s.Path; s.Reason == "symbolic link, not followed" && !hasUnder(recs, path) {
					add(path, "named")
				}
			},
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func hasUnder(recs map[string]manifest.Record, q string) bool {
	for path := range recs {
		if strings.HasPrefix(path, q+"/") {
			return true
		}
	}
	return false
}

func (p *purger) item(it Item) {
	switch it.Status {
	case "skipped":
		p.res.Skipped++
	case "failed":
		p.res.Failed++
	case "purged":
		p.res.Purged++
		p.res.Bytes += it.Size
	}
	p.res.Items = append(p.res.Items, it)
}

// purge removes one file, if it may.
func (p *purger) purge(c candidate) {
	it := Item{Path: c.path, Why: c.why}
	if c.item != nil {
		it.Expires = c.item.Expires
	}
	fi, err := p.place.Lstat(c.path)
	var le *place.LinkError
	switch {
	case errors.As(err, &le):
		it.Status, it.Detail = "skipped", le.Error()
		p.item(it)
		return
	case errors.Is(err, fs.ErrNotExist) && c.earlier != nil:
		// Removed by the interrupted purge before it could record it.
		p.record(c, *c.earlier, it)
		return
	case errors.Is(err, fs.ErrNotExist):
		it.Status, it.Detail = "skipped", "not on the drive (verify reports it missing); nothing was removed"
		p.item(it)
		return
	case err != nil:
		it.Status, it.Detail = "failed", err.Error()
		p.item(it)
		return
	case fi.Mode()&fs.ModeSymlink != 0:
		it.Status, it.Detail = "skipped", (&place.LinkError{Path: p.place.Join(c.path)}).Error()
		p.item(it)
		return
	case !fi.Mode().IsRegular():
		it.Status, it.Detail = "skipped", "not a regular file; purge removes only files"
		p.item(it)
		return
	}
	it.Size = fi.Size()
	refusal := refuse(c, fi)
	if refusal != "" && !p.o.Force {
		it.Status, it.Detail = "skipped", refusal+"; purge --force removes it anyway"
		p.item(it)
		return
	}
	if refusal != "" {
		it.Why = "forced: " + refusal
	}
	if p.o.DryRun {
		it.Status = "would-purge"
		p.item(it)
		return
	}
	now := p.o.Now().UTC()
	e := manifest.Purge{Path: c.path, State: manifest.PurgeRemoving, Size: fi.Size(), Why: it.Why,
		Event: event.NewID(now), User: p.o.User, Host: p.o.Host, Time: now}
	if c.earlier != nil {
		e.Event, e.Time = c.earlier.Event, c.earlier.Time
	}
	if c.rec != nil {
		e.BLAKE3 = c.rec.BLAKE3
	} else if c.item != nil {
		e.BLAKE3 = c.item.B3 // the catalog's; unchecked (forced)
	}
	if c.earlier == nil {
		if err := p.log.Log(e); err != nil {
			it.Status, it.Detail = "failed", "nothing removed: the drive's purge log could not be written: "+err.Error()
			p.item(it)
			return
		}
	}
	err = p.place.RemoveFile(c.path, func(now fs.FileInfo) error {
		// What is there now is what was checked: not swapped meanwhile.
		if now.Size() != fi.Size() || !now.ModTime().Equal(fi.ModTime()) {
			return fmt.Errorf("%s changed while it was being purged; nothing was removed", p.place.Join(c.path))
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		it.Status, it.Detail = "failed", err.Error()
		p.item(it)
		return
	}
	if p.o.Hook != nil {
		p.o.Hook("unlinked")
	}
	p.record(c, e, it)
}

// refuse says why a file must not be removed without --force: editkit did
// not place it, or it changed since (size or modification time; the
// content is not re-read: reading a review set in full to delete it would
// cost what a copy costs, and verify is what finds same-size edits).
func refuse(c candidate, fi fs.FileInfo) string {
	switch {
	case c.rec == nil:
		return "editkit did not place this file (it is not in the drive's manifest)"
	case fi.Size() != c.rec.Size:
		return fmt.Sprintf("it changed since editkit placed it (%d bytes, the manifest says %d)", fi.Size(), c.rec.Size)
	case fi.ModTime().UnixNano() != c.rec.ModTime:
		return fmt.Sprintf("it changed since editkit placed it (modified %s, the manifest says %s)",
			fi.ModTime().Local().Format("2006-01-02 15:04:05"), c.rec.MTime().Local().Format("2006-01-02 15:04:05"))
	}
	return ""
}

// record keeps a removal: in the manifest (when it held the file) and the
// purge log, and as an event to report.
func (p *purger) record(c candidate, e manifest.Purge, it Item) {
	e.State = manifest.PurgeDone
	if it.Size == 0 {
		it.Size = e.Size
	}
	if err := p.log.Log(e); err != nil {
		it.Status, it.Detail = "failed", "removed, but the drive's manifest could not record it ("+err.Error()+"); run the same purge again"
		p.item(it)
		return
	}
	p.changed = true
	p.done = append(p.done, e)
	it.Status = "purged"
	p.item(it)
	if p.o.Hook != nil {
		p.o.Hook("removed")
	}
}

// finish brings the drive's checksum list and ASC MHL history up to date
// and reports the purges, then marks them reported.
func (p *purger) finish(ctx context.Context) error {
	o, drv := p.o, p.drv
	if p.changed || drv.LastSeq() > drv.Info.MHLThrough {
		if err := drv.WriteChecksums(); err != nil {
			return err
		}
		path, err := drv.AddMHLGeneration(mhl.Generation{Process: mhl.ProcessInPlace, Created: o.Now(), Host: o.Host,
			Tool: o.Tool, ToolVersion: o.Version, Author: o.User,
			Comment: fmt.Sprintf("editkit purge: %d files removed on purpose (listed in .editkit/purged.ekj and ignored from this generation on)", len(p.done))}, nil, nil)
		if err != nil {
			return fmt.Errorf("the files were removed and the manifest records it, but the ASC MHL generation could not be written (%w); run the same purge again", err)
		}
		p.res.MHL = path
		if err := drv.SaveInfo(); err != nil {
			return err
		}
	}
	if len(p.done) == 0 {
		return nil
	}
	for _, e := range p.done {
		ev := event.Event{ID: e.Event, Time: e.Time, User: e.User, Host: e.Host, Action: event.Purged,
			Drive: drv.Info.Label, DriveID: drv.Info.ID, Path: e.Path, Size: e.Size, Hash: e.BLAKE3, Note: e.Why}
		if o.Catalog != nil {
			if it, ok := o.Catalog.Lookup(e.Path); ok {
				ev.Category = it.Category
			}
		}
		p.res.Events = append(p.res.Events, ev)
	}
	if o.Record == nil {
		return nil
	}
	if err := o.Record.Record(ctx, p.res.Events); err != nil {
		return fmt.Errorf("the files were removed but their purged events could not be kept (%w); run the same purge again to report them", err)
	}
	if o.Hook != nil {
		o.Hook("recorded")
	}
	for _, e := range p.done {
		e.State = manifest.PurgeReported
		if err := p.log.Log(e); err != nil {
			return err
		}
	}
	return nil
}
