package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/hashing"
	"github.com/editkit/editkit/internal/hub"
	"github.com/editkit/editkit/internal/treepath"
	"github.com/editkit/editkit/internal/walk"
	"github.com/zeebo/blake3"
)

// RestoreOptions configure a restore.
type RestoreOptions struct {
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
	Host      string
	User      string
	Now       func() time.Time
	Progress  Progress
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
	Events    []event.Event
}

// OK reports whether every file was restored.
func (r *RestoreResult) OK() bool { return len(r.Failed) == 0 && len(r.Conflicts) == 0 }

// FindSnapshot resolves "latest", an ID or a prefix, and At.
func FindSnapshot(ctx context.Context, h *hub.Hub, which, set string, at time.Time) (*hub.Snapshot, error) {
	snaps, err := h.Snapshots(ctx, set)
	if err != nil {
		return nil, err
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
		var best *hub.Snapshot
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
	var found *hub.Snapshot
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
func Restore(ctx context.Context, h *hub.Hub, o RestoreOptions) (*RestoreResult, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Jobs <= 0 {
		o.Jobs = 4
	}
	if o.To == "" {
		return nil, errors.New("give the folder to restore into (--to DIR)")
	}
	to, err := filepath.Abs(o.To)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		return nil, fmt.Errorf("restore folder %s: %w", o.To, err)
	}
	snap, err := FindSnapshot(ctx, h, o.Snapshot, o.Set, o.At)
	if err != nil {
		return nil, err
	}
	names := rootNames(snap.Paths)
	var filters []string
	for _, p := range o.Paths {
		p = strings.Trim(filepath.ToSlash(filepath.Clean(p)), "/")
		if err := treepath.Validate(p); err != nil {
			return nil, fmt.Errorf("path %q: %w", p, err)
		}
		filters = append(filters, p)
	}
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	res := &RestoreResult{Snapshot: snap.ID, Set: snap.Set, Time: snap.Time, To: to}
	r := &restorer{h: h, o: o, to: to, res: res}

	work := make(chan hub.Entry)
	var wg sync.WaitGroup
	for range o.Jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range work {
				r.file(ctx, names[e.Root], e)
			}
		}()
	}
	var dirs []hub.Entry // to set their mtimes after their contents
	var iterErr error
	for e, err := range h.Entries(ctx, snap, o.TempDir) {
		if err != nil {
			iterErr = err
			break
		}
		rel := names[e.Root] + "/" + e.Path
		if !selected(rel, filters) {
			continue
		}
		if e.Dir {
			if err := r.mkdirs(rel); err != nil {
				r.fail(&res.Failed, rel, err)
			} else {
				dirs = append(dirs, e)
			}
			continue
		}
		res.Files++
		res.Bytes += e.Size
		if o.Progress != nil {
			o.Progress.AddTotal(e.Size, 1)
		}
		select {
		case work <- e:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	if iterErr != nil {
		return res, iterErr
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		e := dirs[i]
		p := filepath.Join(to, names[e.Root], filepath.FromSlash(e.Path))
		mt := time.Unix(0, e.MTime)
		os.Chtimes(p, mt, mt)
	}
	ev := event.New(o.Now(), event.Restored)
	ev.Host, ev.User, ev.Set, ev.Snapshot, ev.Path, ev.Size = o.Host, o.User, snap.Set, snap.ID, to, res.Bytes
	ev.Note = fmt.Sprintf("%d files restored, %d already there, %d failed", res.Restored, res.Present, len(res.Failed)+len(res.Conflicts))
	res.Events = []event.Event{ev}
	return res, nil
}

func selected(rel string, filters []string) bool {
	if len(filters) == 0 {
		return true
	}
	for _, f := range filters {
		if rel == f || strings.HasPrefix(rel, f+"/") || strings.HasPrefix(f, rel+"/") {
			return true
		}
	}
	return false
}

type restorer struct {
	h   *hub.Hub
	o   RestoreOptions
	to  string
	res *RestoreResult
	mu  sync.Mutex
}

func (r *restorer) fail(list *[]FileError, path string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*list = append(*list, FileError{Path: path, Err: err.Error()})
}

// mkdirs creates the folders of rel under the restore folder, refusing to
// go through a symbolic link.
func (r *restorer) mkdirs(rel string) error { return fsx.MkdirUnder(r.to, rel) }

// file restores one file: download beside the final name, hash on the way,
// rename only if the hash matches.
func (r *restorer) file(ctx context.Context, rootName string, e hub.Entry) {
	rel := rootName + "/" + e.Path
	if err := r.mkdirs(treepath.Parent(rel)); err != nil {
		r.fail(&r.res.Failed, rel, err)
		return
	}
	final := filepath.Join(r.to, filepath.FromSlash(rel))
	defer func() {
		if p := r.o.Progress; p != nil {
			p.FileDone()
		}
	}()
	if fi, err := os.Lstat(final); err == nil {
		if fi.Mode()&fs.ModeSymlink != 0 || !fi.Mode().IsRegular() {
			r.fail(&r.res.Conflicts, rel, errors.New("something other than a file is there"))
			return
		}
		if fi.Size() == e.Size {
			if sum, err := hashing.HashFile(ctx, final, hashing.FileOptions{BLAKE3: true}); err == nil && sum.BLAKE3Hex() == e.B3 {
				r.mu.Lock()
				r.res.Present++
				r.mu.Unlock()
				if p := r.o.Progress; p != nil {
					p.Add(e.Size)
				}
				return
			}
		}
		if !r.o.Overwrite {
			r.fail(&r.res.Conflicts, rel, errors.New("a different file is already there (use --overwrite to replace it)"))
			return
		}
	}
	tmp := filepath.Join(filepath.Dir(final), walk.TempPrefix+"restore-"+fsx.RandomID(6))
	if err := r.download(ctx, e, tmp); err != nil {
		os.Remove(tmp)
		if ctx.Err() == nil {
			r.fail(&r.res.Failed, rel, err)
		}
		return
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		r.fail(&r.res.Failed, rel, err)
		return
	}
	fsx.SyncDir(filepath.Dir(final))
	r.mu.Lock()
	r.res.Restored++
	r.mu.Unlock()
}

func (r *restorer) download(ctx context.Context, e hub.Entry, tmp string) error {
	rc, err := r.h.OpenBlob(ctx, e.B3)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	defer rc.Close()
	mode := os.FileMode(e.Mode).Perm() | 0o600
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	defer f.Close()
	hh := blake3.New()
	var w io.Writer = io.MultiWriter(f, hh)
	if p := r.o.Progress; p != nil {
		w = io.MultiWriter(w, progressWriter{p})
	}
	n, err := io.Copy(w, rc)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	if got := fmt.Sprintf("%x", hh.Sum(nil)); got != e.B3 || n != e.Size {
		return fmt.Errorf("downloaded data does not match the snapshot (BLAKE3 %s, %d bytes; expected %s, %d bytes): the hub's copy is damaged; run editkit hub check --read-data", got, n, e.B3, e.Size)
	}
	if err := fsx.Sync(f); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	mt := time.Unix(0, e.MTime)
	return os.Chtimes(tmp, mt, mt)
}

type progressWriter struct{ p Progress }

func (w progressWriter) Write(b []byte) (int, error) {
	w.p.Add(int64(len(b)))
	return len(b), nil
}
