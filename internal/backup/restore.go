package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/editkit/editkit/internal/blobfetch"
	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/hashing"
	"github.com/editkit/editkit/internal/place"
	"github.com/editkit/editkit/internal/run"
	"github.com/editkit/editkit/internal/treepath"
)

// RestoreOptions configure a restore.
type RestoreOptions struct {
	run.Env
	// Snapshot is an ID (or a unique prefix of one) or "latest".
	Snapshot string
	Set      string    // with "latest" or At: which set ("" if there is only one)
	At       time.Time // the newest snapshot at or before this time
	// Paths restricts the restore to these files or folders, named as they
	// appear under To: "<folder name>/<path in it>".
	Paths     []string
	To        string
	Overwrite bool // replace a different file already at a path (default: report a conflict)
	Jobs      int
	TempDir   string
	Hooks     place.Hooks // tests: stop at a chosen point (see place.Hooks)
}

// RestoreResult is what a restore did.
type RestoreResult struct {
	Snapshot  string      `json:"snapshot"`
	Set       string      `json:"set"`
	Time      time.Time   `json:"time"`
	To        string      `json:"to"`
	Files     int64       `json:"files"`
	Bytes     int64       `json:"bytes"`
	Restored  int64       `json:"restored"`
	Present   int64       `json:"already_present"` // identical files already there (a resumed restore)
	Conflicts []FileError `json:"conflicts,omitempty"`
	Failed    []FileError `json:"failed,omitempty"`
	// Unmatched are the PATHs given that name nothing in the snapshot.
	Unmatched []string `json:"unmatched,omitempty"`
	Events    []event.Event
}

// OK reports whether every file asked for was restored.
func (r *RestoreResult) OK() bool {
	return len(r.Failed) == 0 && len(r.Conflicts) == 0 && len(r.Unmatched) == 0
}

// FindSnapshot resolves "latest", an ID or a prefix, and At.
func FindSnapshot(ctx context.Context, h *contenthub.Hub, which, set string, at time.Time) (found *contenthub.Snapshot, rerr error) {
	snaps, err := h.Snapshots(ctx, set)
	if err != nil {
		if !contenthub.OnlyDamaged(err) {
			return nil, err
		}
		// A damaged summary does not stop the restore of another
		// snapshot, unless it could be the one asked for: an ID it
		// matches, or "latest" (IDs sort by time) when it is newer than
		// the latest readable one or when --at is given.
		var damaged []string
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var dmg *contenthub.DamagedError
			errors.As(e, &dmg)
			damaged = append(damaged, dmg.ID)
		}
		defer func() {
			latest := which == "latest" || which == ""
			could := found == nil || (latest && !at.IsZero())
			for _, id := range damaged {
				could = could || (latest && id > found.ID) || (!latest && strings.HasPrefix(id, which))
			}
			if could {
				found, rerr = nil, errors.Join(rerr, err)
			}
		}()
	}
	if len(snaps) == 0 {
		if set != "" {
			return nil, fmt.Errorf("no snapshots of set %q in %s", set, h.Location())
		}
		return nil, fmt.Errorf("no snapshots in %s", h.Location())
	}
	if which == "latest" || which == "" {
		sets := map[string]bool{}
		for _, s := range snaps {
			sets[s.Set] = true
		}
		if len(sets) > 1 {
			return nil, fmt.Errorf("the hub holds %d backup sets; name one with --set", len(sets))
		}
		var best *contenthub.Snapshot
		for _, s := range snaps {
			if at.IsZero() || !s.Time.After(at) {
				best = s
			}
		}
		if best == nil {
			return nil, fmt.Errorf("no snapshot at or before %s", at.Format(time.RFC3339))
		}
		return best, nil
	}
	for _, s := range snaps {
		if strings.HasPrefix(s.ID, which) {
			if found != nil {
				return nil, fmt.Errorf("snapshot %q is ambiguous (%s, %s…): give more of its ID", which, found.ID, s.ID)
			}
			found = s
		}
	}
	if found == nil {
		return nil, fmt.Errorf("no snapshot %q; list them with editkit snapshots", which)
	}
	return found, nil
}

// rootNames gives each backed-up folder its name under the restore folder:
// its own name, made unique.
func rootNames(paths []string) []string {
	out := make([]string, len(paths))
	seen := map[string]int{}
	for i, p := range paths {
		// The paths come from the snapshot, which may be hostile: a name
		// that is not one plain component ("..", "/") gets a neutral one.
		name := filepath.Base(filepath.Clean(filepath.FromSlash(p)))
		if treepath.Validate(name) != nil || strings.ContainsAny(name, `/\:`) {
			name = fmt.Sprintf("root-%d", i+1)
		}
		seen[name]++
		if seen[name] > 1 {
			name = fmt.Sprintf("%s-%d", name, seen[name])
		}
		out[i] = name
	}
	return out
}

// Restore writes a snapshot's files under o.To: each backed-up folder as a
// sub-folder of its name. Every file is checked against its BLAKE3 on the
// way down and renamed into place only then; nothing is written outside
// o.To, whatever the snapshot says and whatever links o.To holds.
func Restore(ctx context.Context, h *contenthub.Hub, o RestoreOptions) (*RestoreResult, error) {
	o.Env = o.Env.WithDefaults()
	if o.Jobs <= 0 {
		o.Jobs = 4
	}
	to, pr, err := o.openTo()
	if err != nil {
		return nil, err
	}
	snap, err := FindSnapshot(ctx, h, o.Snapshot, o.Set, o.At)
	if err != nil {
		return nil, err
	}
	filters, err := o.filters()
	if err != nil {
		return nil, err
	}
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	// The snapshot's file list is spilled to a folder of this process's
	// own, removed at the end; one a killed restore left is removed now.
	tmpDir, err := ownTempDir(filepath.Join(o.TempDir, "restore"))
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmpDir)
	res := &RestoreResult{Snapshot: snap.ID, Set: snap.Set, Time: snap.Time, To: to}
	r := &restorer{h: h, o: o, to: to, place: pr, res: res, created: map[string]bool{}}
	names := rootNames(snap.Paths)
	matched := make([]bool, len(filters))
	dirs, err := r.restoreEntries(ctx, snap, tmpDir, names, func(rel string) bool { return selected(rel, filters, matched) })
	if err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	for i, f := range filters {
		if !matched[i] {
			res.Unmatched = append(res.Unmatched, f)
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		e := dirs[i]
		pr.SetDirTime(names[e.Root]+"/"+e.Path, time.Unix(0, e.MTime)) // never through a link
	}
	ev := event.New(o.Now(), event.Restored)
	ev.Host, ev.User, ev.Set, ev.Snapshot, ev.Path, ev.Size = o.Host, o.User, snap.Set, snap.ID, to, res.Bytes
	ev.Note = fmt.Sprintf("%d files restored, %d already there, %d failed", res.Restored, res.Present, len(res.Failed)+len(res.Conflicts))
	res.Events = []event.Event{ev}
	return res, nil
}

// openTo makes the restore folder and opens it for placing files: one clear
// error for a folder that cannot take files, rather than one per file.
func (o RestoreOptions) openTo() (string, *place.Root, error) {
	if o.To == "" {
		return "", nil, errors.New("give the folder to restore into (--to DIR)")
	}
	to, err := filepath.Abs(o.To)
	if err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		return "", nil, fmt.Errorf("restore folder %s cannot be created: %w; choose another --to", o.To, err)
	}
	pr, err := place.Open(to, o.Hooks)
	if err == nil {
		err = pr.Probe()
	}
	if err != nil {
		return "", nil, fmt.Errorf("restore folder %s cannot be written: %w; choose another --to (or make it writable)", o.To, err)
	}
	return to, pr, nil
}

// filters are the paths to restore, checked, as tree paths.
func (o RestoreOptions) filters() ([]string, error) {
	var filters []string
	for _, p := range o.Paths {
		p = strings.Trim(filepath.ToSlash(filepath.Clean(p)), "/")
		if err := treepath.Validate(p); err != nil {
			return nil, fmt.Errorf("path %q: %w", p, err)
		}
		filters = append(filters, p)
	}
	return filters, nil
}

// restoreEntries reads the snapshot's file list in order, creating the
// folders wanted and handing the files wanted to o.Jobs workers; it stops
// handing out files when ctx is cancelled. It returns the folders created,
// whose times are set once their contents are in place.
func (r *restorer) restoreEntries(ctx context.Context, snap *contenthub.Snapshot, tmpDir string, names []string, wanted func(rel string) bool) ([]contenthub.Entry, error) {
	r.fetch = blobfetch.New(ctx, r.h, r.place, blobfetch.Options{Jobs: r.o.Jobs, Progress: r.o.Progress,
		Source: "the snapshot", Advice: "the hub's copy is damaged; run editkit hub check --read-data"}, r.fetched)
	files := run.NewPool(ctx, r.o.Jobs, func(ctx context.Context, e contenthub.Entry) { r.file(ctx, names[e.Root]+"/"+e.Path, e) })
	var dirs []contenthub.Entry
	var iterErr error
	for e, err := range r.h.Entries(ctx, snap, tmpDir) {
		if err != nil {
			iterErr = err
			break
		}
		rel := names[e.Root] + "/" + e.Path
		if !wanted(rel) {
			continue
		}
		if e.Dir {
			if err := r.mkdirs(rel); err != nil {
				r.fail(&r.res.Failed, rel, err)
			} else {
				dirs = append(dirs, e)
			}
			continue
		}
		r.res.Files++
		r.res.Bytes += e.Size
		r.o.Progress.AddTotal(e.Size, 1)
		if files.Submit(e) != nil {
			break
		}
	}
	files.Wait()
	r.fetch.Wait()
	return dirs, iterErr
}

// selected reports whether rel is to be restored: it is, or is under, one
// of the filters (which it marks as matched), or is a folder above one.
func selected(rel string, filters []string, matched []bool) bool {
	if len(filters) == 0 {
		return true
	}
	ok := false
	for i, f := range filters {
		if rel == f || strings.HasPrefix(rel, f+"/") {
			matched[i] = true
			ok = true
		} else if strings.HasPrefix(f, rel+"/") {
			ok = true
		}
	}
	return ok
}

type restorer struct {
	h     *contenthub.Hub
	o     RestoreOptions
	to    string
	place *place.Root
	res   *RestoreResult
	fetch *blobfetch.Fetcher
	mu    sync.Mutex
	// created are the folders this restore created.
	created map[string]bool
}

func (r *restorer) fail(list *[]FileError, path string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*list = append(*list, FileError{Path: path, Err: err.Error()})
}

// mkdirs creates the folders of rel under the restore folder, refusing to
// go through a symbolic link, and notes a folder it created: nothing can
// be in the way of the files restored into it.
func (r *restorer) mkdirs(rel string) error {
	_, statErr := r.place.Lstat(rel)
	if err := r.place.MkdirAll(rel); err != nil {
		return err
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		r.mu.Lock()
		r.created[rel] = true
		r.mu.Unlock()
	}
	return nil
}

// file hands one file to the fetcher unless an identical file is already
// there or another file is in its way: the fetcher downloads it beside the
// final name (resuming what a killed restore left), checks its BLAKE3,
// syncs, reads back from the medium, and renames only if everything
// matches.
func (r *restorer) file(ctx context.Context, rel string, e contenthub.Entry) {
	item := blobfetch.Item{Rel: rel, B3: e.B3, Size: e.Size, MTime: time.Unix(0, e.MTime), Perm: os.FileMode(e.Mode).Perm(), Replace: r.o.Overwrite}
	r.mu.Lock()
	fresh := r.created[treepath.Parent(rel)]
	r.mu.Unlock()
	if fresh {
		// A folder this restore created holds only what it restored: no
		// need to look (and never replace what appeared there since).
		item.Replace = false
		r.fetch.Add(item)
		return
	}
	fi, err := r.place.Lstat(rel)
	switch {
	case err == nil:
		if exact, err := r.place.HasExactName(rel); err != nil || !exact {
			if err == nil {
				err = &place.CollisionError{Path: r.place.Join(rel), Existing: "a file with a similar name"}
			}
			r.fail(&r.res.Failed, rel, err)
			r.o.Progress.FileDone()
			return
		}
		if fi.Mode()&fs.ModeSymlink != 0 || !fi.Mode().IsRegular() {
			r.fail(&r.res.Conflicts, rel, errors.New("something other than a file is there"))
			r.o.Progress.FileDone()
			return
		}
		if fi.Size() == e.Size {
			if sum, err := hashing.HashFile(ctx, r.place.Join(rel), hashing.FileOptions{BLAKE3: true}); err == nil && sum.BLAKE3Hex() == e.B3 {
				r.mu.Lock()
				r.res.Present++
				r.mu.Unlock()
				r.o.Progress.Add(e.Size)
				r.o.Progress.FileDone()
				return
			}
		}
		if !r.o.Overwrite {
			r.fail(&r.res.Conflicts, rel, errors.New("a different file is already there (use --overwrite to replace it)"))
			r.o.Progress.FileDone()
			return
		}
	case !errors.Is(err, fs.ErrNotExist):
		r.fail(&r.res.Failed, rel, err)
		r.o.Progress.FileDone()
		return
	}
	r.fetch.Add(item)
}

// fetched counts a file the fetcher placed, or says why it did not.
func (r *restorer) fetched(p blobfetch.Placed) {
	defer r.o.Progress.FileDone()
	switch {
	case p.Err == nil:
		r.mu.Lock()
		r.res.Restored++
		r.mu.Unlock()
	case cancelled(p.Err):
		// Interrupted: the next run resumes it.
	default:
		r.fail(&r.res.Failed, p.Rel, p.Err)
	}
}

// cancelled reports whether err is a cancellation.
func cancelled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// ownTempDir makes parent/<pid> for this process, first removing the
// folders of processes that are no longer running (a killed restore).
func ownTempDir(parent string) (string, error) {
	if entries, err := os.ReadDir(parent); err == nil {
		for _, de := range entries {
			pid, err := strconv.Atoi(de.Name())
			if err != nil || pid == os.Getpid() || processRunning(pid) {
				continue
			}
			os.RemoveAll(filepath.Join(parent, de.Name()))
		}
	}
	dir := filepath.Join(parent, strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("state folder: %w", err)
	}
	return dir, nil
}

// processRunning reports whether a process with this ID exists.
func processRunning(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	if runtime.GOOS == "windows" {
		return true
	}
	return p.Signal(syscall.Signal(0)) == nil
}
