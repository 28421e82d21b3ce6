// How new media reaches every editor (push.go, pull.go, status.go,
// watch.go): an assistant pushes files to the hub and into the catalog (by
// hand, or from a hot folder), each editor pulls onto their drive what the
// catalog has and the drive lacks, and status shows who has what.

package catalog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/hashing"
	"github.com/editkit/editkit/internal/mxf"
	"github.com/editkit/editkit/internal/portable"
	"github.com/editkit/editkit/internal/run"
	"github.com/editkit/editkit/internal/treepath"
	"github.com/editkit/editkit/internal/walk"
)

// Categories are the kinds of media the catalog knows.
var Categories = []string{"vfx", "music", "sfx", "archive", "stock", "stills", "footage", "guide-vo", "other"}

// ValidCategory checks a --category value.
func ValidCategory(c string) error {
	for _, k := range Categories {
		if c == k {
			return nil
		}
	}
	return fmt.Errorf("category %q: use one of %s", c, strings.Join(Categories, ", "))
}

// PushOptions configure a push.
type PushOptions struct {
	run.Env
	Paths    []string // files or folders on this computer
	Category string
	Note     string
	// DestPath is the folder on editors' drives the media goes to; empty
	// means the same place under the drive root as under MediaRoot here.
	DestPath  string
	MediaRoot string
	Replace   bool // replace a different file the catalog has at the same path
	// Expires marks the media as review material, to be purged from
	// drives when it passes. Zero keeps the expiry the catalog has for the
	// path (none for new media); NoExpiry clears it.
	Expires  time.Time
	NoExpiry bool
	Jobs     int
	// Record keeps the push's events: durably on this computer first,
	// then in the hub's event log (which is the catalog) and wherever else
	// they go (the tracker). Nil: straight into the hub's event log.
	Record Recorder
	// Warn, if set, hears what the user should know that is not the fate
	// of an item: a prune this push waits for, content uploaded again.
	Warn func(msg string)
	// Sleep waits while a prune deletes (nil: contenthub.Sleep; tests
	// give one that does not wait).
	Sleep func(ctx context.Context, d time.Duration) error
	// Hook, if set, is called between steps ("uploaded", "rechecked",
	// "committed"): tests interleave a push with a prune with it.
	Hook func(step string)
	// CategoryFolder is where a file outside MediaRoot goes when DestPath
	// is empty (e.g. "VFX"); empty refuses such a file, asking for
	// --dest-path.
	CategoryFolder string
}

// Recorder keeps a command's events. Record fails only if it could not keep
// them at all; events it kept but could not deliver yet wait for the next
// command. *contenthub.Hub is one (it appends to its event log at once).
type Recorder interface {
	Record(ctx context.Context, evs []event.Event) error
}

// PushedItem is what happened to one file.
type PushedItem struct {
	Source   string `json:"source"`
	Path     string `json:"path"` // on editors' drives
	Size     int64  `json:"size"`
	B3       string `json:"b3,omitempty"`
	Status   string `json:"status"` // pushed, replaced, unchanged, expiry (only the expiry changed), refused, failed, conflict
	Detail   string `json:"detail,omitempty"`
	Uploaded bool   `json:"uploaded"`
}

// PushResult is the outcome of a push.
type PushResult struct {
	Items    []PushedItem     `json:"items"`
	Pushed   int              `json:"pushed"`
	Lost     int              `json:"lost_race,omitempty"` // pushed, but another push to the same path won
	Uploaded int64            `json:"uploaded_bytes"`
	Events   []event.Event    `json:"-"`
	risk     *contenthub.Risk // blobs a prune had marked when the push started, and since
}

// OK reports whether every file is in the catalog as pushed.
func (r *PushResult) OK() bool {
	for _, it := range r.Items {
		switch it.Status {
		case "refused", "failed", "conflict":
			return false
		}
	}
	return true
}

type pushFile struct {
	source string
	path   string
	size   int64
}

// plan lists the files to push with their paths on the drives.
func (o PushOptions) plan() ([]pushFile, []PushedItem, error) {
	var files []pushFile
	var refused []PushedItem
	dest := strings.Trim(filepath.ToSlash(o.DestPath), "/")
	if dest != "" {
		if err := treepath.Validate(dest); err != nil {
			return nil, nil, fmt.Errorf("--dest-path %q: %w", o.DestPath, err)
		}
	}
	root := ""
	if o.MediaRoot != "" {
		r, err := filepath.Abs(o.MediaRoot)
		if err != nil {
			return nil, nil, err
		}
		root = r
	}
	for _, p := range o.Paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, nil, err
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		// base is where abs lands on the drives.
		var base string
		rel, relErr := "", error(nil)
		if root != "" {
			rel, relErr = filepath.Rel(root, abs)
		}
		inRoot := root != "" && relErr == nil && rel != "." && !strings.HasPrefix(rel, "..")
		switch {
		case dest != "":
			base = dest + "/" + filepath.Base(abs)
		case inRoot:
			base = filepath.ToSlash(rel)
		case o.CategoryFolder != "":
			base = strings.Trim(filepath.ToSlash(o.CategoryFolder), "/") + "/" + filepath.Base(abs)
			if o.Warn != nil {
				o.Warn(fmt.Sprintf("%s goes to %s on editors' drives (outside the media root: the %s folder; --dest-path or [push] folders in the settings file choose another)", p, base, o.Category))
			}
		case root != "":
			return nil, nil, fmt.Errorf("%s is not inside the media root %s; give --dest-path (the folder on editors' drives)", p, root)
		default:
			return nil, nil, fmt.Errorf("where should %s go on editors' drives? give --dest-path (e.g. \"Avid MediaFiles/MXF/7\" or \"VFX/Reel 2\"), or set media_root in the settings file", p)
		}
		if !fi.IsDir() {
			files = append(files, pushFile{abs, base, fi.Size()})
			continue
		}
		err = walk.Walk(context.Background(), abs, walk.Rules{IncludeAvidDB: false}, walk.Visitor{
			File: func(e walk.Entry) error {
				files = append(files, pushFile{filepath.Join(abs, filepath.FromSlash(e.Path)), base + "/" + e.Path, e.Size})
				return nil
			},
			Skipped: func(s walk.Skipped) {
				if s.Err != nil {
					refused = append(refused, PushedItem{Source: filepath.Join(abs, s.Path), Status: "failed", Detail: s.Err.Error()})
				}
			},
		})
		if err != nil {
			return nil, nil, err
		}
	}
	var ok []pushFile
	for _, f := range files {
		if why := checkCatalogPath(f.path); why != "" {
			refused = append(refused, PushedItem{Source: f.source, Path: f.path, Size: f.size, Status: "refused", Detail: why})
			continue
		}
		ok = append(ok, f)
	}
	return ok, refused, nil
}

// checkCatalogPath says why a path cannot be a catalog entry: it must be
// safe to join to a drive's root and able to live on exFAT/NTFS drives.
func checkCatalogPath(p string) string {
	if err := treepath.Validate(p); err != nil {
		return err.Error()
	}
	first, _, _ := strings.Cut(p, "/")
	if first == ".editkit" || first == "ascmhl" || strings.HasPrefix(treepath.Base(p), walk.TempPrefix) {
		return "editkit's own files cannot be media"
	}
	for _, pr := range portable.CheckPath(p) {
		return pr.String() + " (it would not survive on editors' exFAT/NTFS drives)"
	}
	return ""
}

// Push uploads media to the hub and adds it to the catalog. Blobs go up
// first; the catalog events are recorded last, so nobody can pull an item
// whose bytes are not in the hub yet. Then it re-reads the catalog to find
// the items another push beat to the same path (Confirm), and puts back
// what a prune running meanwhile took (Secure).
func Push(ctx context.Context, h *contenthub.Hub, o PushOptions) (*PushResult, error) {
	o.Env = o.Env.WithDefaults()
	if o.Jobs <= 0 {
		o.Jobs = 8 // small files wait on round trips to the hub
	}
	if o.Category == "" {
		o.Category = "other"
	}
	if err := ValidCategory(o.Category); err != nil {
		return nil, err
	}
	files, refused, err := o.plan()
	if err != nil {
		return nil, err
	}
	res := &PushResult{Items: refused}
	state, _, err := Load(ctx, h, o.Env.Now(), true)
	if err != nil {
		return nil, err
	}
	// What prune has marked now: a blob this push finds in the hub may be
	// deleted before the catalog names it (see Secure).
	if res.risk, err = h.AtRisk(ctx); err != nil {
		return nil, err
	}
	// Two files of this push for one path is a mistake, not a race.
	seen := map[string]string{}
	for _, f := range files {
		if prev, dup := seen[f.path]; dup {
			return nil, fmt.Errorf("%s and %s would both go to %s", prev, f.source, f.path)
		}
		seen[f.path] = f.source
	}
	items, evs, uploaded, err := pushEach(ctx, h, state, o, files)
	res.Uploaded = uploaded
	if err != nil {
		return res, err
	}
	if o.Hook != nil {
		o.Hook("uploaded")
	}
	// A prune may have deleted a blob this push found in the hub: check
	// the ones at risk again before the events name them.
	mine := &PushResult{Items: items, risk: res.risk}
	if err := Secure(ctx, h, mine, SecureOptions{Env: o.Env}); err != nil {
		return res, err
	}
	res.risk = mine.risk
	for i, it := range items {
		if evs[i] != nil && (it.Status == "pushed" || it.Status == "replaced" || it.Status == "expiry") {
			res.Events = append(res.Events, *evs[i])
			if it.Status != "expiry" {
				res.Pushed++
			}
		}
	}
	res.Items = append(res.Items, items...)
	if o.Hook != nil {
		o.Hook("rechecked")
	}
	sort.SliceStable(res.Items, func(i, j int) bool { return treepath.Less(res.Items[i].Path, res.Items[j].Path) })
	if len(res.Events) == 0 {
		return res, nil
	}
	return res, o.commit(ctx, h, res)
}

// commit records a push's events and settles what happened meanwhile:
// another push to the same path, a prune deleting a blob the events name.
func (o PushOptions) commit(ctx context.Context, h *contenthub.Hub, res *PushResult) error {
	rec := o.Record
	if rec == nil {
		rec = h
	}
	if err := rec.Record(ctx, res.Events); err != nil {
		return fmt.Errorf("recording the push in the catalog: %w", err)
	}
	if o.Hook != nil {
		o.Hook("committed")
	}
	note := o.Warn
	if note == nil {
		note = func(string) {}
	}
	if err := Confirm(ctx, h, o.Env.Now(), res); err != nil {
		note(fmt.Sprintf("could not re-read the catalog to confirm the push: %v", err))
	}
	// A prune that read the catalog just before these events may be
	// deleting a blob they name: put back what it took.
	if err := Secure(ctx, h, res, SecureOptions{After: true, Env: o.Env, Sleep: o.Sleep, Note: note}); err != nil {
		note(fmt.Sprintf("could not check the pushed content against a prune running now: %v; run editkit hub check", err))
	}
	return nil
}

// pushEach pushes every file, o.Jobs at once, and returns what became of
// each (in the order of files) with the catalog event of each one pushed,
// and the bytes uploaded.
func pushEach(ctx context.Context, h *contenthub.Hub, state *State, o PushOptions, files []pushFile) ([]PushedItem, []*event.Event, int64, error) {
	var total int64
	for _, f := range files {
		total += f.size
	}
	o.Progress.AddTotal(total, len(files))
	items := make([]PushedItem, len(files))
	evs := make([]*event.Event, len(files))
	var uploaded atomic.Int64
	// Small files go up together in packs; they are in the hub once the
	// writer is flushed, before any event names them.
	w := h.NewBlobWriter(ctx)
	err := run.EachIndex(ctx, o.Jobs, len(files), func(ctx context.Context, i int) {
		items[i], evs[i] = pushOne(ctx, h, w, state, o, files[i])
		o.Progress.FileDone()
		if items[i].Uploaded {
			uploaded.Add(items[i].Size)
		}
	})
	if err != nil {
		return items, evs, uploaded.Load(), err
	}
	return items, evs, uploaded.Load(), w.Flush(ctx)
}

// takeBack deletes a blob uploaded from a file that changed meanwhile (its
// bytes may not match its name). A packed one was read and checked whole:
// right, merely unused.
func takeBack(ctx context.Context, h *contenthub.Hub, uploaded bool, b3 string, size int64) {
	if uploaded && size >= contenthub.PackThreshold {
		h.DeleteBlob(ctx, b3)
	}
}

func pushOne(ctx context.Context, h *contenthub.Hub, w *contenthub.BlobWriter, state *State, o PushOptions, f pushFile) (PushedItem, *event.Event) {
	it := PushedItem{Source: f.source, Path: f.path, Size: f.size}
	sum, err := hashing.HashFile(ctx, f.source, hashing.FileOptions{BLAKE3: true, XXH128: true, Progress: o.Progress.Add})
	if err != nil {
		it.Status, it.Detail = "failed", err.Error()
		return it, nil
	}
	it.B3, it.Size = sum.BLAKE3Hex(), sum.Size
	cur, exists := state.Lookup(f.path)
	switch {
	case exists && cur.B3 == it.B3:
		if ev := o.expiryChange(cur); ev != nil {
			it.Status, it.Detail = "expiry", ev.Note
			return it, ev
		}
		it.Status, it.Detail = "unchanged", "the catalog has this file already"
		// Its bytes may have been removed as damaged (hub check --repair)
		// or lost: this file still exists, so the hub gets them again.
		if has, err := h.HasBlob(ctx, it.B3); err == nil && !has {
			if uploaded, err := w.Put(ctx, it.B3, f.source); err != nil {
				it.Status, it.Detail = "failed", "the hub lacks this file's content and uploading it again failed: "+err.Error()
			} else if fi, err := os.Stat(f.source); err != nil || fi.Size() != sum.Size {
				takeBack(ctx, h, uploaded, it.B3, sum.Size)
				it.Status, it.Detail = "failed", "changed while it was being pushed; push it again when it is complete"
			} else {
				it.Uploaded = uploaded
				it.Detail = "the catalog has this file already; its content was missing from the hub and was uploaded again"
			}
		}
		return it, nil
	case exists && !o.Replace:
		it.Status = "refused"
		it.Detail = fmt.Sprintf("the catalog has a different file here (pushed by %s on %s); push with --replace to replace it (its history is kept)",
			cur.User, cur.Time.Local().Format("2006-01-02 15:04"))
		return it, nil
	}
	uploaded, err := w.Put(ctx, it.B3, f.source)
	if err != nil {
		it.Status, it.Detail = "failed", err.Error()
		return it, nil
	}
	// The file must not have changed between hashing and uploading.
	if fi, err := os.Stat(f.source); err != nil || fi.Size() != sum.Size {
		takeBack(ctx, h, uploaded, it.B3, sum.Size)
		it.Status, it.Detail = "failed", "changed while it was being pushed; push it again when it is complete"
		return it, nil
	}
	it.Uploaded = uploaded
	ev := event.New(o.Now(), event.Pushed)
	ev.User, ev.Host, ev.Path, ev.Size, ev.Hash, ev.XXH128 = o.User, o.Host, f.path, sum.Size, it.B3, sum.XXH128Hex()
	ev.Category, ev.Note, ev.Expires = o.Category, o.Note, o.expiry(cur)
	if fi, err := os.Stat(f.source); err == nil {
		ev.MTime = fi.ModTime().UTC()
	}
	ev.MXF = mxf.ProbeFile(f.source, sum.Size)
	it.Status = "pushed"
	if exists {
		ev.Replaces = cur.B3
		it.Status = "replaced"
	}
	return it, &ev
}

// expiry is the expiry of a new version of cur (nil: new media): the one
// asked for, else the one it replaces has — a new cut of review media is
// still review media.
func (o PushOptions) expiry(cur *Item) time.Time {
	switch {
	case o.NoExpiry:
		return time.Time{}
	case !o.Expires.IsZero():
		return o.Expires.UTC()
	case cur != nil:
		return cur.Expires
	}
	return time.Time{}
}

// expiryChange is the event that gives cur, pushed again unchanged, the
// expiry asked for; nil when none was asked or it has it already.
func (o PushOptions) expiryChange(cur *Item) *event.Event {
	want := o.expiry(cur)
	if want.Equal(cur.Expires) {
		return nil
	}
	ev := event.New(o.Now(), event.Pushed)
	ev.User, ev.Host, ev.Path, ev.Size, ev.Hash, ev.XXH128 = o.User, o.Host, cur.Path, cur.Size, cur.B3, cur.XXH128
	ev.Category, ev.MTime, ev.Replaces, ev.Expires = cur.Category, cur.MTime, cur.B3, want
	ev.Note = "no longer expires"
	if !want.IsZero() {
		ev.Note = "expires " + want.Local().Format("2006-01-02 15:04")
	}
	if o.Note != "" {
		ev.Note = o.Note + " (" + ev.Note + ")"
	}
	return &ev
}

// Confirm re-reads the catalog after a push's events are in the hub and
// marks the items another push beat to the same path at the same time.
// now is the command's clock.
func Confirm(ctx context.Context, h *contenthub.Hub, now time.Time, res *PushResult) error {
	state, _, err := Load(ctx, h, now, true)
	if err != nil {
		return err
	}
	for i := range res.Items {
		it := &res.Items[i]
		if it.Status != "pushed" && it.Status != "replaced" {
			continue
		}
		cur, ok := state.Lookup(it.Path)
		if !ok || cur.B3 != it.B3 {
			other := "someone"
			if ok {
				other = cur.User + " on " + cur.Host
			}
			it.Status = "conflict"
			res.Pushed--
			res.Lost++
			it.Detail = fmt.Sprintf("%s pushed a different file to the same path at the same time and the catalog keeps theirs; push yours with --replace if it should win", other)
		}
	}
	return nil
}

// Withdraw takes paths out of the catalog (editors' pull --prune then
// removes them from drives); their history stays in the log.
func Withdraw(ctx context.Context, h *contenthub.Hub, paths []string, user, host string, now time.Time, note string) ([]event.Event, error) {
	state, _, err := Load(ctx, h, now, true)
	if err != nil {
		return nil, err
	}
	var evs []event.Event
	var missing []string
	for _, p := range paths {
		p = strings.Trim(filepath.ToSlash(p), "/")
		it, ok := state.Lookup(p)
		if !ok {
			missing = append(missing, p)
			continue
		}
		ev := event.New(now, event.Withdrawn)
		ev.User, ev.Host, ev.Path, ev.Hash, ev.Size, ev.Category, ev.Note = user, host, p, it.B3, it.Size, it.Category, note
		evs = append(evs, ev)
	}
	if len(missing) > 0 {
		return evs, fmt.Errorf("not in the catalog: %s", strings.Join(missing, ", "))
	}
	return evs, nil
}

// SecureOptions configure Secure.
type SecureOptions struct {
	// After is set once the push's events are in the hub: Secure then
	// first waits for a prune's announced deletions of the blobs the push
	// uses to end.
	After bool
	// Env's Host is this computer, to tell a prune killed here.
	run.Env
	Sleep func(ctx context.Context, d time.Duration) error
	Note  func(msg string)
}

// Secure checks that every blob the pushed items use and that a prune
// marked or announced (or a repair removed) is still in the hub, and
// uploads again from the pushed file what is gone. An item whose content
// cannot be put back is marked failed. See the protocol in package contenthub (gc.go).
func Secure(ctx context.Context, h *contenthub.Hub, res *PushResult, o SecureOptions) error {
	o.Env = o.Env.WithDefaults()
	if o.Sleep == nil {
		o.Sleep = contenthub.Sleep
	}
	risk, err := h.AtRisk(ctx)
	if err != nil {
		return err
	}
	// What was at risk earlier still is: a prune may have deleted a marked
	// blob and rewritten its lists since.
	risk = risk.Union(res.risk)
	res.risk = risk
	blobs := map[string]bool{}
	for _, it := range res.Items {
		if (it.Status == "pushed" || it.Status == "replaced") && risk.Has(it.B3) {
			blobs[it.B3] = true
		}
	}
	if len(blobs) == 0 {
		return nil
	}
	if o.After {
		err := h.WaitDeletions(ctx, risk, blobs, o.Host, o.Now, o.Sleep, func(d *contenthub.Deletion) {
			if o.Note != nil {
				o.Note(fmt.Sprintf("waiting for a prune (%s on %s) to finish deleting blobs this push uses; it stops by %s at the latest, then this push checks them and uploads again what is gone",
					d.User, d.Host, d.Deadline.Add(contenthub.DeletionSkew).Local().Format("15:04:05")))
			}
		})
		if err != nil {
			return err
		}
	}
	// Asked of the storage, not of the index loaded earlier: a prune may
	// have repacked or removed them since.
	if err := h.ReloadIndex(ctx); err != nil {
		return err
	}
	for i := range res.Items {
		it := &res.Items[i]
		if !blobs[it.B3] || (it.Status != "pushed" && it.Status != "replaced") {
			continue
		}
		has, err := h.BlobStored(ctx, it.B3)
		if err != nil {
			return err
		}
		if has {
			continue
		}
		sum, err := hashing.HashFile(ctx, it.Source, hashing.FileOptions{BLAKE3: true})
		if err == nil && sum.BLAKE3Hex() != it.B3 {
			err = fmt.Errorf("it changed since it was read")
		}
		if err == nil {
			_, err = h.PutBlob(ctx, it.B3, it.Source)
		}
		if err != nil {
			it.Status = "failed"
			it.Detail = "a prune deleted its content from the hub while this push ran and it could not be uploaded again (" + err.Error() + "); push it again"
			continue
		}
		if o.Note != nil {
			o.Note(it.Source + ": its content had been removed from the hub by a prune; uploaded it again")
		}
	}
	return nil
}
