// Package backup owns the nightly backup of Avid and Pro Tools projects and
// new media to the hub as point-in-time snapshots, and what follows from
// them: restoring a snapshot, pruning old ones with the blobs nothing uses,
// and checking that everything a snapshot needs is in the hub.
//
// A backup walks the folders, skips files unchanged since the last snapshot
// of the set (same size, mtime and inode: no reading), hashes what changed,
// uploads only blobs the hub lacks, and writes a snapshot listing every file
// with its hash. Memory does not grow with the number of files: the previous
// snapshot is merged with the walk as a stream, and the new one is written
// as a stream.
package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/hashing"
	"github.com/editkit/editkit/internal/run"
	"github.com/editkit/editkit/internal/walk"
)

// Options configure a backup. Its Progress counts bytes hashed and
// uploaded, announced as changed files are found.
type Options struct {
	run.Env
	Set      string
	Paths    []string
	Excludes []string
	DryRun   bool
	// BytesPerSecond is the upload limit, for the dry run's time estimate.
	BytesPerSecond int64
	Jobs           int    // files hashed and uploaded at once; 0: 4
	TempDir        string // for the snapshot's file list while it is written
	// Hook, if set, is called between the steps of the run ("started", "walked",
	// "pack-stored" (a pack stored, its index not yet), "rechecked",
	// "committed", "wait", "verified"): tests use it to
	// interleave a backup with a prune deterministically, or to stop it.
	Hook func(step string)
	// Sleep waits between looks at a prune's deletion announcement (nil:
	// a timer).
	Sleep func(ctx context.Context, d time.Duration) error
	// Note, if set, is told what the run does that the user should know
	// (a damaged parent snapshot, a wait for a prune, a blob uploaded again).
	Note func(msg string)
}

func (o *Options) hook(step string) {
	if o.Hook != nil {
		o.Hook(step)
	}
}

func (o *Options) note(format string, args ...any) {
	if o.Note != nil {
		o.Note(fmt.Sprintf(format, args...))
	}
}

// FileError is one file that could not be backed up.
type FileError struct {
	Path string `json:"path"`
	Err  string `json:"error"`
}

// Result is the outcome of a backup.
type Result struct {
	Set       string        `json:"set"`
	Snapshot  string        `json:"snapshot,omitempty"`
	Parent    string        `json:"parent,omitempty"`
	Paths     []string      `json:"paths"`
	Files     int64         `json:"files"`
	Bytes     int64         `json:"bytes"`
	Unchanged int64         `json:"unchanged"`
	New       int64         `json:"new"`
	Changed   int64         `json:"changed"`
	Removed   int64         `json:"removed"`
	Hashed    int64         `json:"hashed_bytes"`
	ToUpload  int64         `json:"to_upload_bytes"` // dry run: what would go
	Uploaded  int64         `json:"uploaded_bytes"`
	Blobs     int64         `json:"uploaded_blobs"`
	ETA       time.Duration `json:"eta_ns,omitempty"` // dry run, at the bandwidth limit
	DryRun    bool          `json:"dry_run"`
	Failed    []FileError   `json:"failed,omitempty"`
	Skipped   int           `json:"skipped"` // junk and excluded entries
	Started   time.Time     `json:"started"`
	Finished  time.Time     `json:"finished"`
	Events    []event.Event `json:"-"`
}

// OK reports whether every file made it into the snapshot.
func (r *Result) OK() bool { return len(r.Failed) == 0 }

// Run backs up opts.Paths to the hub as a new snapshot of opts.Set.
func Run(ctx context.Context, h *contenthub.Hub, o Options) (*Result, error) {
	o.Env = o.Env.WithDefaults()
	if o.Jobs <= 0 {
		// Small files wait on round trips to the hub more than on disks or
		// CPUs: keep several in flight.
		o.Jobs = max(8, 2*runtime.NumCPU())
	}
	if err := contenthub.ValidSetName(o.Set); err != nil {
		return nil, err
	}
	if len(o.Paths) == 0 {
		return nil, errors.New("nothing to back up: give one or more folders")
	}
	rules := walk.Rules{Excludes: o.Excludes}
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	roots, err := o.roots()
	if err != nil {
		return nil, err
	}
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	if err := os.MkdirAll(o.TempDir, 0o700); err != nil {
		return nil, err
	}
	res := &Result{Set: o.Set, Paths: roots, DryRun: o.DryRun, Started: o.Now()}

	// The parent is the newest snapshot of the set made of the same folders:
	// its entries can then be merged with the walk in order.
	parent, err := h.LatestSnapshot(ctx, o.Set, func(s *contenthub.Snapshot) bool { return slices.Equal(s.Paths, roots) })
	if err != nil {
		return nil, err
	}
	tmp, doneTmp, err := scratchDir(o.TempDir)
	if err != nil {
		return nil, err
	}
	defer doneTmp()
	o.TempDir = tmp
	pull, stop := parentEntries(ctx, h, &o, res, parent)
	defer stop()

	b := &backer{h: h, o: o, res: res, rules: rules, w: h.NewBlobWriter(ctx)}
	b.w.Hook = o.Hook
	var ew *contenthub.EntriesWriter
	if !o.DryRun {
		// What prune has marked now: a blob this run finds in the hub and
		// reuses may be deleted before the snapshot is written.
		if b.risk, err = h.AtRisk(ctx); err != nil {
			return nil, err
		}
		o.hook("started")
		if ew, err = contenthub.NewEntriesWriter(o.TempDir); err != nil {
			return nil, err
		}
		defer ew.Abort()
	}
	if err := b.walkAndHash(ctx, roots, pull, ew); err != nil {
		return res, err
	}
	b.o.hook("walked")
	res.Finished = o.Now()
	if o.DryRun {
		if o.BytesPerSecond > 0 {
			res.ETA = time.Duration(float64(res.ToUpload) / float64(o.BytesPerSecond) * float64(time.Second))
		}
		return res, nil
	}
	snap, err := b.commit(ctx, ew, roots)
	if err != nil {
		return res, err
	}
	o.hook("verified")
	res.Snapshot = snap.ID
	res.Finished = o.Now()
	res.Events = []event.Event{backedUp(o, res)}
	return res, nil
}

// commit writes the snapshot of what was walked, once every blob it names
// is known to be in the hub, and withdraws it if a prune took one of them
// meanwhile and it cannot be put back.
func (b *backer) commit(ctx context.Context, ew *contenthub.EntriesWriter, roots []string) (*contenthub.Snapshot, error) {
	o, res := &b.o, b.res
	path, b3, err := ew.Close()
	if err != nil {
		return nil, fmt.Errorf("writing the snapshot's file list: %w", err)
	}
	defer os.Remove(path)
	// The packed blobs are in the hub once their packs and index are.
	if err := b.w.Flush(ctx); err != nil {
		return nil, err
	}
	// A prune may have deleted, or be about to delete, a blob this backup
	// found in the hub and reuses: check those again and upload what is
	// gone before the snapshot names them.
	if err := b.protect(ctx, path, roots, false); err != nil {
		return nil, err
	}
	o.hook("rechecked")
	snap := &contenthub.Snapshot{
		ID:       event.NewID(res.Started),
		Set:      o.Set,
		Time:     res.Started.UTC(),
		Host:     o.Host,
		User:     o.User,
		Paths:    roots,
		Parent:   res.Parent,
		Files:    res.Files,
		Bytes:    res.Bytes,
		New:      res.New,
		Changed:  res.Changed,
		Removed:  res.Removed,
		Uploaded: res.Uploaded,
		Blobs:    res.Blobs,
	}
	if err := b.h.PutSnapshot(ctx, snap, path, b3); err != nil {
		return nil, err
	}
	o.hook("committed")
	// A prune that read the snapshots just before this one appeared may be
	// deleting a blob it uses: wait for its announced deletions to end and
	// upload again what they took. If that cannot be done, the snapshot is
	// withdrawn rather than left naming a missing blob.
	if err := b.protect(ctx, path, roots, true); err != nil {
		if derr := b.h.DeleteSnapshot(context.WithoutCancel(ctx), snap); derr != nil {
			return nil, fmt.Errorf("%w; snapshot %s names a blob the hub lacks and could not be withdrawn (%v): remove it with `editkit snapshots forget %s`", err, snap.ID, derr, snap.ID)
		}
		return nil, err
	}
	return snap, nil
}

// roots are the folders to back up, as absolute paths: each must be a
// folder, and given once.
func (o Options) roots() ([]string, error) {
	var roots []string
	for _, p := range o.Paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("%s is not a folder; check the path (is the drive mounted?)", p)
		}
		if slices.Contains(roots, abs) {
			return nil, fmt.Errorf("%s is given twice", p)
		}
		roots = append(roots, abs)
	}
	return roots, nil
}

// parentEntries streams the parent snapshot's entries (none without a
// parent), to be merged with the walk in order. A parent whose file list is
// damaged cannot tell what is unchanged: it is dropped and every file read
// instead (the hub keeps what it has, so only changed content goes up).
func parentEntries(ctx context.Context, h *contenthub.Hub, o *Options, res *Result, parent *contenthub.Snapshot) (next func() (contenthub.Entry, error, bool), stop func()) {
	var prev iter.Seq2[contenthub.Entry, error] = func(func(contenthub.Entry, error) bool) {}
	if parent != nil {
		res.Parent = parent.ID
		prev = h.Entries(ctx, parent, o.TempDir)
	}
	entries, stop := iter.Pull2(prev)
	first, firstErr, firstOK := entries()
	var dmg *contenthub.DamagedError
	if errors.As(firstErr, &dmg) {
		o.note("%v; this backup reads every file instead of trusting it", firstErr)
		res.Parent = ""
		return func() (contenthub.Entry, error, bool) { return contenthub.Entry{}, nil, false }, stop
	}
	peeked := firstOK
	return func() (contenthub.Entry, error, bool) {
		if peeked {
			peeked = false
			return first, firstErr, true
		}
		return entries()
	}, stop
}

// backedUp is the event that records a backup in the log.
func backedUp(o Options, res *Result) event.Event {
	ev := event.New(res.Finished, event.BackedUp)
	ev.Host, ev.User, ev.Set, ev.Snapshot = o.Host, o.User, o.Set, res.Snapshot
	ev.Path = strings.Join(res.Paths, ", ")
	ev.Size = res.Bytes
	ev.Note = fmt.Sprintf("%d files (%d new, %d changed, %d removed), %d bytes uploaded", res.Files, res.New, res.Changed, res.Removed, res.Uploaded)
	if len(res.Failed) > 0 {
		ev.Note += fmt.Sprintf("; %d files failed", len(res.Failed))
	}
	return ev
}

type backer struct {
	h     *contenthub.Hub
	o     Options
	res   *Result
	rules walk.Rules
	w     *contenthub.BlobWriter // packs small blobs; flushed before the snapshot is written
	mu    sync.Mutex             // guards res counters touched by workers
	risk  *contenthub.Risk       // blobs at risk at the start and since
	dry   dryRunBlobs            // what a dry run finds in the hub
}

func (b *backer) fail(path string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.res.Failed = append(b.res.Failed, FileError{Path: path, Err: err.Error()})
}

// pending is an entry on its way to the snapshot: the writer takes entries
// in walk order and waits for the hash of those being hashed.
type pending struct {
	entry contenthub.Entry
	done  chan struct{} // closed when entry.B3 is set (or the file failed)
	ok    bool
	kind  int // kindNew, kindChanged, kindUnchanged; 0 for folders
}

const (
	kindNew = iota + 1
	kindChanged
	kindUnchanged
)

// walkAndHash walks every root in order, merging with the parent's entries;
// changed files go to workers that hash and upload them; a writer emits
// the entries in order, at most a window ahead of the walk.
func (b *backer) walkAndHash(ctx context.Context, roots []string, next func() (contenthub.Entry, error, bool), ew *contenthub.EntriesWriter) error {
	queue := make(chan *pending, 1024) // the window between walk and writer
	written := make(chan error, 1)
	go func() { written <- b.writeEntries(queue, ew) }()
	hashers := run.NewPool(ctx, b.o.Jobs, func(ctx context.Context, p *pending) {
		b.hashAndUpload(ctx, roots[p.entry.Root], p)
		close(p.done)
	})
	w := &treeWalk{b: b, ctx: hashers.Context(), parent: &parentCursor{next: next}, queue: queue, hashers: hashers}
	var walkErr error
	for ri, root := range roots {
		if walkErr = walk.Walk(w.ctx, root, b.rules, w.visitor(ri, root)); walkErr != nil {
			break
		}
	}
	if walkErr == nil {
		// The parent's entries after the last walked one are removed files.
		w.parent.seek(contenthub.Entry{Root: len(roots)})
	}
	b.res.Removed += w.parent.removed
	hashErr := hashers.Wait()
	close(queue)
	return errors.Join(walkErr, w.parent.err, <-written, hashErr)
}

// parentCursor reads the parent snapshot's entries alongside the walk,
// which visits the same tree in the same order.
type parentCursor struct {
	next       func() (contenthub.Entry, error, bool)
	cur        contenthub.Entry
	have, done bool
	err        error // reading the parent's entries failed
	removed    int64 // the parent's files passed: removed since
}

// seek returns the parent's entry for e, if it has one, counting the files
// it passes on the way.
func (c *parentCursor) seek(e contenthub.Entry) (contenthub.Entry, bool) {
	for {
		if !c.have && !c.done {
			pe, err, ok := c.next()
			switch {
			case !ok:
				c.done = true
			case err != nil:
				c.err, c.done = err, true
			default:
				c.cur, c.have = pe, true
			}
		}
		if !c.have {
			return contenthub.Entry{}, false
		}
		switch cmp := contenthub.CompareEntries(c.cur, e); {
		case cmp == 0:
			c.have = false
			return c.cur, true
		case cmp > 0:
			return contenthub.Entry{}, false
		}
		if !c.cur.Dir {
			c.removed++
		}
		c.have = false
	}
}

// writeEntries takes the walk's entries in order, waits for the ones being
// hashed, and adds those that made it to the snapshot's file list.
func (b *backer) writeEntries(queue <-chan *pending, ew *contenthub.EntriesWriter) error {
	var err error
	for p := range queue {
		<-p.done
		if err != nil || !p.ok {
			continue
		}
		if ew != nil {
			err = ew.Add(p.entry)
		}
		// Counted as it goes into the snapshot, so the counts match
		// the file list: a file that failed is not backed up.
		if p.kind != 0 {
			b.res.Files++
			b.res.Bytes += p.entry.Size
			switch p.kind {
			case kindNew:
				b.res.New++
			case kindChanged:
				b.res.Changed++
			case kindUnchanged:
				b.res.Unchanged++
			}
		}
	}
	return err
}

// treeWalk is the walk of a backup's roots: every entry is matched with the
// parent's, queued for the writer in walk order and, if it changed, handed
// to the hashers.
type treeWalk struct {
	b       *backer
	ctx     context.Context
	parent  *parentCursor
	queue   chan<- *pending
	hashers *run.Pool[*pending]
}

func (w *treeWalk) visitor(ri int, root string) walk.Visitor {
	return walk.Visitor{
		Dir: func(e walk.Entry, _ []string) error {
			if e.Path == "" {
				return nil
			}
			he := contenthub.Entry{Root: ri, Path: e.Path, Dir: true, MTime: e.ModTime.UnixNano(), Mode: uint32(e.Mode.Perm())}
			w.parent.seek(he)
			p := &pending{entry: he, done: make(chan struct{}), ok: true}
			close(p.done)
			return enqueue(w.ctx, w.queue, p)
		},
		File: func(e walk.Entry) error { return w.file(ri, root, e) },
		Skipped: func(s walk.Skipped) {
			if s.Err != nil {
				w.b.fail(filepath.Join(root, s.Path), s.Err)
			} else {
				w.b.res.Skipped++
			}
		},
	}
}

// file queues a file: as the parent has it if it is unchanged since (same
// size, mtime and inode: not read), else to be hashed and uploaded.
func (w *treeWalk) file(ri int, root string, e walk.Entry) error {
	he := contenthub.Entry{Root: ri, Path: e.Path, Size: e.Size, MTime: e.ModTime.UnixNano(), Mode: uint32(e.Mode.Perm()), Inode: e.Inode}
	p := &pending{entry: he, done: make(chan struct{}), kind: kindNew}
	old, found := w.parent.seek(he)
	if found && !old.Dir && old.Size == he.Size && old.MTime == he.MTime && old.Inode == he.Inode && old.B3 != "" {
		p.entry.B3, p.ok, p.kind = old.B3, true, kindUnchanged
		close(p.done)
		return enqueue(w.ctx, w.queue, p)
	}
	if found {
		p.kind = kindChanged
	}
	w.b.o.Progress.AddTotal(he.Size, 1)
	if err := enqueue(w.ctx, w.queue, p); err != nil {
		return err
	}
	if err := w.hashers.Submit(p); err != nil {
		close(p.done) // never hashed: the writer passes it over
		return err
	}
	return nil
}

func enqueue(ctx context.Context, q chan<- *pending, p *pending) error {
	select {
	case q <- p:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// hashAndUpload hashes a changed file and uploads it unless the hub has
// it. A small file is read once into memory, hashed, and those very bytes
// packed; a big one is hashed, then uploaded as an object of its own.
// Progress counts a file's bytes as they are stored (hashed, in a dry run)
// and the file when it is: the upload, not the hashing, is the long part.
func (b *backer) hashAndUpload(ctx context.Context, root string, p *pending) {
	path := filepath.Join(root, filepath.FromSlash(p.entry.Path))
	defer b.o.Progress.FileDone()
	progress := &storedBytes{left: p.entry.Size, add: b.o.Progress.Add}
	hashed := func(int64) {}
	if b.o.DryRun {
		hashed = progress.stored
	}
	var small []byte
	var size int64
	if p.entry.Size < contenthub.PackThreshold {
		data, err := readSmall(path, p.entry)
		if err != nil {
			b.fail(path, err)
			return
		}
		hashed(int64(len(data)))
		small, size = data, int64(len(data))
		p.entry.B3 = fmt.Sprintf("%x", hashing.SumBLAKE3(data))
	} else {
		sum, err := hashing.HashFile(ctx, path, hashing.FileOptions{BLAKE3: true, Progress: hashed})
		if err != nil {
			if ctx.Err() == nil {
				b.fail(path, err)
			}
			return
		}
		size, p.entry.B3 = sum.Size, sum.BLAKE3Hex()
	}
	if size != p.entry.Size {
		b.fail(path, fmt.Errorf("changed while it was being backed up (%d bytes, then %d); it will be backed up next time", p.entry.Size, size))
		return
	}
	b.mu.Lock()
	b.res.Hashed += size
	b.mu.Unlock()
	if b.o.DryRun {
		has, err := b.dry.has(ctx, b.h, p.entry.B3, size)
		if err != nil {
			b.fail(path, err)
			return
		}
		if !has {
			b.mu.Lock()
			b.res.ToUpload += size
			b.mu.Unlock()
		}
		p.ok = true
		return
	}
	var uploaded bool
	var err error
	if small != nil {
		uploaded, err = b.w.PutBytes(ctx, p.entry.B3, small)
	} else {
		uploaded, err = b.h.PutBlobMetered(ctx, p.entry.B3, path, progress.stored)
	}
	if err != nil {
		if ctx.Err() == nil {
			b.fail(path, err)
		}
		return
	}
	// A file saved again while it was uploaded does not match its entry:
	// it waits for the next backup, and the blob uploaded from it may not
	// match its name: take it back. (A small file was checked as it was
	// read, and its blob is the bytes that were hashed.)
	if small == nil && !sameFile(path, p.entry) {
		if uploaded {
			b.h.DeleteBlob(ctx, p.entry.B3)
		}
		b.fail(path, errChanged)
		return
	}
	progress.stored(p.entry.Size) // the rest: already on the hub, or packed
	if uploaded {
		b.mu.Lock()
		b.res.Uploaded += size
		b.res.Blobs++
		b.mu.Unlock()
	}
	p.ok = true
}

// storedBytes counts a file's bytes into the progress as they are stored,
// never more than the file has: a retried upload sends some bytes twice.
type storedBytes struct {
	mu   sync.Mutex
	left int64
	add  func(int64)
}

func (s *storedBytes) stored(n int64) {
	s.mu.Lock()
	n = min(n, s.left)
	s.left -= n
	s.mu.Unlock()
	if n > 0 {
		s.add(n)
	}
}

// sameFile reports whether the file at path is still the one e describes.
func sameFile(path string, e contenthub.Entry) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Size() == e.Size && fi.ModTime().UnixNano() == e.MTime && fsx.Inode(fi) == e.Inode
}

// errChanged: the file changed while it was being backed up.
var errChanged = errors.New("changed while it was being backed up; it will be backed up next time")

// readSmall reads a small file whole (one open, one read, one close: the
// per-file cost of a project of thousands of bins) and checks, on the open
// file, that it is still the one e describes: the bytes read are then the
// entry's.
func readSmall(path string, e contenthub.Entry) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data := make([]byte, 0, e.Size+1) // +1: the read that sees the end
	for {
		n, err := f.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(data) == cap(data) {
			return nil, errChanged // grew since the walk
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() != e.Size || fi.ModTime().UnixNano() != e.MTime || fsx.Inode(fi) != e.Inode {
		return nil, errChanged
	}
	return data, nil
}
