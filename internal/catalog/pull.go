package catalog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/editkit/editkit/internal/blobfetch"
	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/hashing"
	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/mhl"
	"github.com/editkit/editkit/internal/mxf"
	"github.com/editkit/editkit/internal/place"
	"github.com/editkit/editkit/internal/run"
	"github.com/editkit/editkit/internal/treepath"
	"github.com/editkit/editkit/internal/units"
)

// PullOptions configure a pull.
type PullOptions struct {
	run.Env
	Drive          string
	Label          string // for a drive editkit has not prepared before
	DryRun         bool
	Prune          bool // delete media withdrawn from the catalog
	KeepAvidDB     bool // leave Avid's media databases alone
	Jobs           int
	BytesPerSecond int64       // for the dry run's time estimate
	Hooks          place.Hooks // tests: stop at a chosen point (see place.Hooks)

	// Only, if set, limits the pull to these catalog paths (`pull --for
	// CUT`: the media a cut needs); nil pulls everything.
	Only map[string]bool
}

// PulledItem is what happened to one catalog item on the drive.
type PulledItem struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	Status string `json:"status"` // pulled, present, adopted, conflict, refused, failed, removed, would-pull, would-remove, damaged, missing, expired (review media not pulled)
	Detail string `json:"detail,omitempty"`
}

// PullResult is the outcome of a pull.
type PullResult struct {
	Drive      string        `json:"drive"`
	Label      string        `json:"label"`
	DriveID    string        `json:"drive_id"`
	Items      []PulledItem  `json:"items"`
	Pulled     int           `json:"pulled"`
	Bytes      int64         `json:"bytes"`
	Present    int           `json:"present"`
	ToPull     int           `json:"to_pull"`
	ToPullSize int64         `json:"to_pull_bytes"`
	ToRemove   int           `json:"to_remove,omitempty"` // --prune --dry-run: withdrawn media that would be removed
	ETA        time.Duration `json:"eta_ns,omitempty"`
	DryRun     bool          `json:"dry_run"`
	MHL        string        `json:"mhl,omitempty"`
	// place is the drive's placement root, opened at the pull's start:
	// EventsRecorded writes through it.
	place *place.Root
	// History is what the drive's ASC MHL history recorded that its
	// manifest lacked (a drive prepared by another tool), checked and
	// taken in; its damaged and missing files are listed as items.
	History *manifest.Adoption `json:"history,omitempty"`
	// Warnings are what went wrong beside the items (the drive could not
	// keep the pull's events as they happened).
	Warnings []string      `json:"warnings,omitempty"`
	Events   []event.Event `json:"-"`
}

// OK reports whether the drive now has everything the catalog lists.
func (r *PullResult) OK() bool {
	for _, it := range r.Items {
		switch it.Status {
		case "conflict", "refused", "failed", "damaged":
			return false
		}
	}
	return true
}

// SpaceError means the drive lacks room for what it should receive.
type SpaceError struct{ Msg string }

func (e *SpaceError) Error() string { return e.Msg }

// Pull brings onto a drive everything in the catalog it lacks: each file
// downloaded beside its final name (resuming a partial download), checked
// against the catalog's BLAKE3, synced, read back from the medium, and only
// then renamed into place and recorded in the drive's manifest and ASC MHL
// history. A different file already at a catalog path is never overwritten.
func Pull(ctx context.Context, h *contenthub.Hub, o PullOptions) (*PullResult, error) {
	o.Env = o.Env.WithDefaults()
	if o.Jobs <= 0 {
		o.Jobs = 3
	}
	root, err := filepath.Abs(o.Drive)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("drive %s is not a folder; is it connected?", o.Drive)
	}
	pr, err := place.Open(root, o.Hooks)
	if err != nil {
		return nil, err
	}
	state, _, err := Load(ctx, h, o.Env.Now(), true)
	if err != nil {
		return nil, err
	}
	var drv *manifest.Drive
	if manifest.IsDrive(root) {
		drv, err = manifest.OpenForWriteIn(pr)
	} else if !o.DryRun {
		drv, err = manifest.CreateRunningIn(pr, o.Label, o.Now(), nil)
	}
	if err != nil {
		return nil, err
	}
	if drv != nil {
		defer drv.Close()
		if err := drv.Compact(); err != nil {
			return nil, err
		}
	}
	res := &PullResult{Drive: o.Drive, DryRun: o.DryRun, place: pr}
	if drv != nil {
		res.Label, res.DriveID = drv.Info.Label, drv.Info.ID
	}
	// Events of files an earlier, killed pull placed and recorded but never
	// reported go out with this run's.
	var pending *pendingLog
	if !o.DryRun {
		var left []event.Event
		if pending, left, err = openPending(pr); err != nil {
			return nil, err
		}
		defer func() {
			if err := pending.close(); err != nil {
				res.Warnings = append(res.Warnings, err.Error())
			}
		}()
		res.Events = append(res.Events, left...)
	}

	// A drive another tool prepared: what its ASC MHL history records is
	// checked and taken into the manifest first, so the pull's generation,
	// checksum list and manifest cover the whole drive.
	if !o.DryRun {
		if err := adoptHistory(ctx, drv, o, res); err != nil {
			return res, err
		}
	}

	have, err := catalogRecords(drv, state)
	if err != nil {
		return nil, err
	}
	p := &puller{h: h, o: o, root: root, place: pr, drv: drv, res: res, pending: pending}
	todo, need, space, err := p.plan(ctx, state, have)
	if err != nil {
		return nil, err
	}
	res.ToPull, res.ToPullSize = len(todo), 0
	for _, it := range todo {
		res.ToPullSize += it.Size
	}
	if o.BytesPerSecond > 0 {
		res.ETA = time.Duration(float64(res.ToPullSize) / float64(o.BytesPerSecond) * float64(time.Second))
	}
	if o.DryRun {
		for _, it := range todo {
			res.Items = append(res.Items, PulledItem{Path: it.Path, Size: it.Size, Status: "would-pull"})
		}
		if o.Prune {
			for _, c := range prunable(pr, state, have) {
				res.ToRemove++
				res.Items = append(res.Items, PulledItem{Path: c.path, Size: c.rec.Size, Status: "would-remove", Detail: "withdrawn from the catalog"})
			}
		}
		sort.SliceStable(res.Items, func(i, j int) bool { return treepath.Less(res.Items[i].Path, res.Items[j].Path) })
		return res, nil
	}
	if margin := int64(len(todo))*4096 + 16<<20; need+margin > space.Free {
		return res, &SpaceError{fmt.Sprintf("not enough space on %s: the new media needs %s, the drive has %s free; free %s or use a bigger drive",
			o.Drive, units.FormatBytes(need+margin), units.FormatBytes(space.Free), units.FormatBytes(need+margin-space.Free))}
	}

	info := &drv.Info
	info.Running = &manifest.Run{Command: "pull", Started: o.Now(), Host: o.Host, PID: os.Getpid()}
	if err := drv.SaveInfo(); err != nil {
		return nil, err
	}
	if o.Progress != nil {
		o.Progress.AddTotal(res.ToPullSize, len(todo))
	}
	p.pullAll(ctx, todo)

	if o.Prune && ctx.Err() == nil {
		p.prune(state, have)
	}
	if !o.KeepAvidDB {
		p.resetAvidDatabases()
	}
	if err := p.finish(ctx); err != nil {
		return res, err
	}
	sort.SliceStable(res.Items, func(i, j int) bool { return treepath.Less(res.Items[i].Path, res.Items[j].Path) })
	return res, ctx.Err()
}

// catalogRecords is what the drive's manifest says it holds, for the
// catalog's paths only (current or withdrawn).
func catalogRecords(drv *manifest.Drive, state *State) (map[string]manifest.Record, error) {
	have := map[string]manifest.Record{}
	if drv != nil {
		for r, err := range drv.Records() {
			if err != nil {
				return nil, err
			}
			if _, ok := state.Items[r.Path]; ok {
				have[r.Path] = r
			} else if _, ok := state.Withdrawn[r.Path]; ok {
				have[r.Path] = r
			}
		}
	}

	return have, nil
}

// plan decides, before a byte is written, what becomes of each catalog
// item: refused (hostile), present, adopted (already there, identical),
// conflict or failed (something else is in its place), or to pull. It
// returns what to pull and the space that takes on the drive.
func (p *puller) plan(ctx context.Context, state *State, have map[string]manifest.Record) ([]*Item, int64, fsx.Space, error) {
	o, res, pr, drv, root, pending := p.o, p.res, p.place, p.drv, p.root, p.pending
	// Plan, before writing a byte: refuse hostile entries, find conflicts,
	// and work out the space needed.
	for _, rj := range state.Rejected {
		res.Items = append(res.Items, PulledItem{Path: rj.Path, Status: "refused",
			Detail: fmt.Sprintf("catalog entry refused (pushed by %s on %s): %s", rj.User, rj.Host, rj.Reason)})
	}
	var todo []*Item
	var need int64
	space, err := fsx.FreeSpace(root)
	if err != nil {
		return nil, 0, space, err
	}
	for _, it := range state.Sorted() {
		if o.Only != nil && !o.Only[it.Path] {
			continue
		}
		if why := checkCatalogPath(it.Path); why != "" {
			res.Items = append(res.Items, PulledItem{Path: it.Path, Size: it.Size, Status: "refused", Detail: "catalog entry refused: " + why})
			continue
		}
		full := filepath.Join(root, filepath.FromSlash(it.Path))
		rec, recorded := have[it.Path]
		fi, statErr := pr.Lstat(it.Path) // never through a link on the drive
		var linkErr *place.LinkError
		switch {
		case errors.As(statErr, &linkErr):
			res.Items = append(res.Items, PulledItem{Path: it.Path, Size: it.Size, Status: "failed", Detail: statErr.Error()})
			continue
		case statErr == nil && recorded && rec.BLAKE3 == it.B3 && fi.Size() == rec.Size && fi.ModTime().UnixNano() == rec.ModTime:
			res.Present++
			continue
		case statErr == nil && !exactName(pr, it.Path):
			// A case-insensitive drive holds a file whose name differs
			// only in case or accents: the item cannot live beside it.
			res.Items = append(res.Items, PulledItem{Path: it.Path, Size: it.Size, Status: "failed",
				Detail: (&place.CollisionError{Path: full, Existing: "a file with a similar name"}).Error()})
			continue
		case statErr == nil && (!fi.Mode().IsRegular() || fi.Size() != it.Size):
			res.Items = append(res.Items, PulledItem{Path: it.Path, Size: it.Size, Status: "conflict",
				Detail: "a different file (or folder) is already there; it was left alone — move it away and pull again to get the catalog's version"})
			continue
		case statErr == nil:
			// Same size, not in the manifest as this content: look at it.
			sum, err := hashing.HashFile(ctx, full, hashing.FileOptions{BLAKE3: true, XXH128: true})
			if err == nil && sum.BLAKE3Hex() == it.B3 {
				if !o.DryRun {
					if err := recordPulled(drv, it, full, sum.XXH128Hex(), o.Now()); err != nil {
						return nil, 0, space, err
					}
				}
				res.Items = append(res.Items, PulledItem{Path: it.Path, Size: it.Size, Status: "adopted", Detail: "already on the drive, identical"})
				if !o.DryRun {
					// The drive has the item now (e.g. placed by a pull
					// killed before it recorded it): say so, once.
					ev := event.New(o.Now(), event.Pulled)
					ev.User, ev.Host, ev.Drive, ev.DriveID = o.User, o.Host, drv.Info.Label, drv.Info.ID
					ev.Path, ev.Size, ev.Hash, ev.XXH128, ev.Category = it.Path, it.Size, it.B3, sum.XXH128Hex(), it.Category
					ev.Note = "already on the drive, identical; recorded"
					res.Events = append(res.Events, ev)
					pending.add(ev)
				}
				continue
			}
			res.Items = append(res.Items, PulledItem{Path: it.Path, Size: it.Size, Status: "conflict",
				Detail: "a different file is already there; it was left alone — move it away and pull again to get the catalog's version"})
			continue
		case !errors.Is(statErr, fs.ErrNotExist):
			res.Items = append(res.Items, PulledItem{Path: it.Path, Size: it.Size, Status: "failed", Detail: statErr.Error()})
			continue
		}
		if dir := confusedFolder(pr, it.Path); dir != "" {
			// The file would land in the drive's other folder, under a
			// name no record has.
			res.Items = append(res.Items, PulledItem{Path: it.Path, Size: it.Size, Status: "failed",
				Detail: (&place.CollisionError{Path: filepath.Join(root, filepath.FromSlash(dir)), Existing: "a folder with a similar name"}).Error()})
			continue
		}
		if it.Expired(o.Now()) {
			// Review media whose time is up would only wait to be purged.
			res.Items = append(res.Items, PulledItem{Path: it.Path, Size: it.Size, Status: "expired",
				Detail: "review media that expired " + it.Expires.Local().Format("2006-01-02 15:04") + "; not pulled (push it again with a later --expires to bring it back)"})
			continue
		}
		todo = append(todo, it)
		need += space.RoundUp(it.Size)
	}
	return todo, need, space, nil
}

// finish brings the drive's derived files up to date, even after an
// interruption (what was pulled is recorded): manifest, checksum list, an
// ASC MHL generation, and the pull's summary in drive.json.
func (p *puller) finish(ctx context.Context) error {
	o, res, drv, info, h, root := p.o, p.res, p.drv, &p.drv.Info, p.h, p.root
	if err := drv.Compact(); err != nil {
		return err
	}
	if ctx.Err() == nil {
		if err := drv.WriteChecksums(); err != nil {
			return err
		}
		var checked map[string]manifest.MHLFile
		if res.History != nil {
			checked = res.History.Files
		}
		if res.Pulled > 0 || res.Present > 0 || len(checked) > 0 {
			path, err := drv.AddMHLGeneration(mhl.Generation{Process: mhl.ProcessTransfer, Created: o.Now(), Host: o.Host,
				Tool: o.Tool, ToolVersion: o.Version, Author: o.User, Comment: "editkit pull from " + h.Location()}, nil, checked)
			if err != nil {
				return err
			}
			res.MHL = path
		}
		info.Running = nil
	}
	sp, _ := fsx.FreeSpace(root)
	info.LastPull = &manifest.Activity{At: o.Now().UTC(), Host: o.Host, User: o.User, OK: res.OK() && ctx.Err() == nil,
		Summary: fmt.Sprintf("%d pulled (%s), %d already there", res.Pulled, units.FormatBytes(res.Bytes), res.Present)}
	for i := range res.Events {
		res.Events[i].FreeSpace = sp.Free
	}
	if err := drv.SaveInfo(); err != nil {
		return err
	}
	return nil
}

type puller struct {
	h       *contenthub.Hub
	o       PullOptions
	root    string
	place   *place.Root
	pending *pendingLog
	drv     *manifest.Drive
	res     *PullResult
	mu      sync.Mutex
	touched map[string]bool // folders that received files
	// driveMu serialises writes to the drive's manifest, which workers
	// share.
	driveMu sync.Mutex
}

func (p *puller) add(it PulledItem, ev *event.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.res.Items = append(p.res.Items, it)
	if ev != nil {
		p.res.Events = append(p.res.Events, *ev)
		p.pending.add(*ev)
	}
	if it.Status == "pulled" {
		p.res.Pulled++
		p.res.Bytes += it.Size
		if p.touched == nil {
			p.touched = map[string]bool{}
		}
		p.touched[treepath.Parent(it.Path)] = true
	}
}

// pullAll fetches the items through the placement path (see blobfetch:
// small files in batches, big ones resumable) and records each one placed.
func (p *puller) pullAll(ctx context.Context, todo []*Item) {
	byPath := make(map[string]*Item, len(todo))
	f := blobfetch.New(ctx, p.h, p.place, blobfetch.Options{Jobs: p.o.Jobs, Progress: p.o.Progress, Source: "the catalog"}, func(pl blobfetch.Placed) {
		p.pulled(byPath[pl.Rel], pl)
	})
	for _, it := range todo {
		byPath[it.Path] = it
	}
	for _, it := range todo {
		if ctx.Err() != nil {
			break
		}
		mt := it.MTime
		if mt.IsZero() {
			mt = it.Time
		}
		// Planning found nothing at the final name: never replace what
		// appeared there since (or what the drive confuses with it).
		f.Add(blobfetch.Item{Rel: it.Path, B3: it.B3, Size: it.Size, MTime: mt, Perm: 0o644})
	}
	f.Wait()
}

// pulled records an item the fetcher placed in the drive's manifest, or
// says why it was not placed.
func (p *puller) pulled(it *Item, pl blobfetch.Placed) {
	defer p.o.Progress.FileDone()
	err := pl.Err
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return // the next pull resumes it
	}
	if err == nil {
		p.driveMu.Lock()
		err = recordPulledInfo(p.drv, it, pl.Info, pl.XXH128, p.o.Now())
		p.driveMu.Unlock()
	}
	if err != nil {
		p.add(PulledItem{Path: it.Path, Size: it.Size, Status: "failed", Detail: err.Error()}, nil)
		return
	}
	ev := event.New(p.o.Now(), event.Pulled)
	ev.User, ev.Host, ev.Drive, ev.DriveID = p.o.User, p.o.Host, p.drv.Info.Label, p.drv.Info.ID
	ev.Path, ev.Size, ev.Hash, ev.XXH128, ev.Category = it.Path, it.Size, it.B3, pl.XXH128, it.Category
	p.add(PulledItem{Path: it.Path, Size: it.Size, Status: "pulled"}, &ev)
}

// exactName reports whether the drive lists rel under exactly that name
// (an unreadable folder counts as yes: the other checks then speak).
func exactName(pr *place.Root, rel string) bool {
	ok, err := pr.HasExactName(rel)
	return ok || err != nil
}

// confusedFolder returns the first folder of rel that the drive holds
// under another name it confuses with it (case, Unicode form), or "".
func confusedFolder(pr *place.Root, rel string) string {
	var dirs []string
	for d := treepath.Parent(rel); d != ""; d = treepath.Parent(d) {
		dirs = append(dirs, d)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := pr.Lstat(dirs[i]); err != nil {
			return "" // from here down, pull creates the folders itself
		}
		if !exactName(pr, dirs[i]) {
			return dirs[i]
		}
	}
	return ""
}

// recordPulled adds a file now on the drive to its manifest.
func recordPulled(drv *manifest.Drive, it *Item, full, xxh string, now time.Time) error {
	fi, err := os.Lstat(full)
	if err != nil {
		return err
	}
	return recordPulledInfo(drv, it, fi, xxh, now)
}

// recordPulledInfo adds a placed file, as the medium describes it, to the
// drive's manifest.
func recordPulledInfo(drv *manifest.Drive, it *Item, fi os.FileInfo, xxh string, now time.Time) error {
	if err := drv.Append(manifest.Record{Path: it.Path, Size: fi.Size(), ModTime: fi.ModTime().UnixNano(), BLAKE3: it.B3, XXH128: xxh,
		Origin: "pull", Written: now.Unix(), Verified: now.Unix(), MXF: pulledMXF(drv, it, fi)}); err != nil {
		return err
	}
	return drv.Flush()
}

// pulledMXF is the pulled file's MXF header metadata: the catalog's (read
// from the same content), or, for an item pushed before editkit read MXF
// headers, read from the file just placed.
func pulledMXF(drv *manifest.Drive, it *Item, fi os.FileInfo) *mxf.Info {
	if it.MXF != nil {
		return it.MXF
	}
	return mxf.ProbeFile(filepath.Join(drv.Root, filepath.FromSlash(it.Path)), fi.Size())
}

// pruneCandidate is withdrawn media the drive holds in exactly the
// withdrawn version.
type pruneCandidate struct {
	path string
	rec  manifest.Record
	w    *Item
}

// prunable lists the media --prune removes: withdrawn from the catalog, and
// on the drive exactly as withdrawn (a file changed since is kept).
func prunable(pr *place.Root, state *State, have map[string]manifest.Record) []pruneCandidate {
	var paths []string
	for path := range state.Withdrawn {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	var out []pruneCandidate
	for _, path := range paths {
		w := state.Withdrawn[path]
		rec, ok := have[path]
		if !ok || rec.BLAKE3 != w.B3 || checkCatalogPath(path) != "" {
			continue
		}
		fi, err := pr.Lstat(path)
		if err != nil || !fi.Mode().IsRegular() || fi.Size() != rec.Size || fi.ModTime().UnixNano() != rec.ModTime {
			continue
		}
		out = append(out, pruneCandidate{path: path, rec: rec, w: w})
	}
	return out
}

// prune deletes media withdrawn from the catalog, only where the drive
// holds exactly the withdrawn version, never through a link.
func (p *puller) prune(state *State, have map[string]manifest.Record) {
	for _, c := range prunable(p.place, state, have) {
		path, rec, w := c.path, c.rec, c.w
		if err := p.place.Remove(path); err != nil {
			p.add(PulledItem{Path: path, Size: rec.Size, Status: "failed", Detail: "could not remove withdrawn media: " + err.Error()}, nil)
			continue
		}
		p.driveMu.Lock()
		err := p.drv.Append(manifest.Record{Path: path, Deleted: true})
		p.driveMu.Unlock()
		if err != nil {
			p.add(PulledItem{Path: path, Size: rec.Size, Status: "failed", Detail: "removed, but the drive's manifest could not record it: " + err.Error()}, nil)
			continue
		}
		ev := event.New(p.o.Now(), event.Removed)
		ev.User, ev.Host, ev.Drive, ev.DriveID, ev.Path, ev.Hash, ev.Size = p.o.User, p.o.Host, p.drv.Info.Label, p.drv.Info.ID, path, w.B3, w.Size
		p.add(PulledItem{Path: path, Size: rec.Size, Status: "removed", Detail: "withdrawn from the catalog"}, &ev)
	}
}

// resetAvidDatabases removes Avid's media databases (msmMMOB.mdb,
// msmFMID.pmr) from every "Avid MediaFiles/MXF/N" folder that received
// files, so Avid rescans it and finds the new media when the project opens.
func (p *puller) resetAvidDatabases() {
	for dir := range p.touched {
		parts := strings.Split(dir, "/")
		if len(parts) < 3 || parts[len(parts)-2] != "MXF" || !strings.HasSuffix(parts[len(parts)-3], "MediaFiles") {
			continue
		}
		for _, db := range []string{"msmMMOB.mdb", "msmFMID.pmr"} {
			p.place.Remove(dir + "/" + db) // never through a link; absent is fine
		}
	}
}

// adoptHistory takes into the drive's manifest what its ASC MHL history
// records and the manifest lacks (see manifest.Drive.AdoptHistory), with
// progress, and lists the files that could not be adopted. A history whose
// chain is broken stops the pull before it writes a byte: nothing may be
// appended to it.
func adoptHistory(ctx context.Context, drv *manifest.Drive, o PullOptions, res *PullResult) error {
	ao := manifest.AdoptOptions{Jobs: o.Jobs, Now: o.Now(), Progress: o.Progress}
	a, err := drv.AdoptHistory(ctx, ao)
	if err != nil && ctx.Err() == nil {
		return err
	}
	if a == nil || a.Adopted == 0 && len(a.Damaged) == 0 {
		// Nothing new was found: files the history records but the drive
		// lacks (media pull --prune removed, say) were reported when the
		// history was adopted, and verify reports them.
		return nil
	}
	res.History = a
	for _, d := range a.Damaged {
		res.Items = append(res.Items, PulledItem{Path: d.Path, Status: "damaged",
			Detail: d.Detail + "; recorded as failed in the drive's ASC MHL history and kept out of its manifest — copy this file again from another copy"})
	}
	for _, m := range a.Missing {
		res.Items = append(res.Items, PulledItem{Path: m, Status: "missing",
			Detail: "recorded in the drive's ASC MHL history, not on the drive; copy it back from another copy to keep the record whole"})
	}
	return nil
}
