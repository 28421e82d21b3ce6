package place

import (
	"context"
	"io/fs"
	"os"
	"sync"

	"github.com/editkit/editkit/internal/run"
)

// Batch places many written files together, so that a tree of small files
// costs what its bytes cost rather than several round trips to the medium
// per file. Files are written to their temporary names as usual (Begin,
// Write, by any number of goroutines) and handed to Add; a flush then runs
// the steps of Settle and Commit for the whole group, one step at a time:
//
//  1. each file gets its time when it is added, then all are synced: on
//     Linux one syncfs writes the group out in one pass and one journal
//     commit. Where the kernel reports write-back errors to syncfs and
//     the file system's syncfs is as durable as fsync (see
//     syncFileSystem), its success stands for every file's fsync;
//     otherwise, or when it fails, each file is fsynced, which reports
//     the error of exactly the file it hit (the kernel keeps an error
//     cursor per open file). The syncfs also waits for whatever else is
//     dirty on that file system, which is why big files never go through
//     a batch;
//  2. each file's cached pages are dropped and it is read back from the
//     medium and compared with what was written;
//  3. each file that passed is renamed to its final name;
//  4. each folder that received files is synced once.
//
// The trust rule is that of one file: a final name only ever holds a file
// that was synced and verified before the rename, and a kill -9 at any
// point leaves temporary names (which the next run resumes or restarts) or
// complete, verified files. A file that fails a step fails alone: done
// names its error and the others go on.
type Batch struct {
	r        *Root
	max      int
	maxBytes int64 // 0: no limit
	mu       sync.Mutex
	todo     []*batched
	bytes    int64 // written to todo's files
	// afterGroup runs after the done of a group's last file.
	afterGroup func()
}

type batched struct {
	p       *File
	o       SettleOptions
	replace bool
	done    func(fs.FileInfo, error)
	err     error
}

// SmallFile is the size up to which a file is worth placing in a batch:
// below it, a file's own syncs, read-back and folder sync cost more than
// its bytes (see the README's performance section for the measurements).
const SmallFile = 1 << 20

// syncers is how many files of a batch are synced or read back at once.
const syncers = 8

// NewBatch returns a batch that flushes every n files (at least 1).
func (r *Root) NewBatch(n int) *Batch { return &Batch{r: r, max: max(1, n)} }

// LimitBytes makes the batch flush also once its files hold n bytes, so
// that a group of the largest small files does not hold back more data
// than one sync should wait for.
func (b *Batch) LimitBytes(n int64) { b.maxBytes = n }

// AfterGroup sets fn to run once a group's files have all had their done
// called (copy writes their manifest records out together then). Groups
// may be flushed by several goroutines at once: fn must be safe for that.
func (b *Batch) AfterGroup(fn func()) { b.afterGroup = fn }

// Add hands over a written file: it gets o's time at once, in the calling
// goroutine, and is settled with o and committed (see File.Commit for
// replace) with the next flush, and done then receives the
// placed file's description or why it was not placed (its temporary file
// removed). When the batch is full, Add flushes it in the calling
// goroutine; other goroutines keep adding meanwhile.
func (b *Batch) Add(ctx context.Context, p *File, o SettleOptions, replace bool, done func(fs.FileInfo, error)) {
	e := &batched{p: p, o: o, replace: replace, done: done}
	// The time is set here, in the goroutine that wrote the file, not in a
	// pass of the flush that hands every file to another goroutine; still
	// before the group's sync, as a change after it would cost each file a
	// journal commit of its own. A failure fails the file at the flush.
	e.err = p.setTime(o)
	b.mu.Lock()
	b.todo = append(b.todo, e)
	b.bytes += p.n
	var full []*batched
	if len(b.todo) >= b.max || b.maxBytes > 0 && b.bytes >= b.maxBytes {
		full, b.todo, b.bytes = b.todo, nil, 0
	}
	b.mu.Unlock()
	if full != nil {
		b.flush(ctx, full)
	}
}

// Flush places every file added so far; done has been called for each of
// them when it returns.
func (b *Batch) Flush(ctx context.Context) {
	b.mu.Lock()
	todo := b.todo
	b.todo, b.bytes = nil, 0
	b.mu.Unlock()
	b.flush(ctx, todo)
}

func (b *Batch) flush(ctx context.Context, group []*batched) {
	b.r.flush(ctx, group)
	if b.afterGroup != nil && len(group) > 0 {
		b.afterGroup()
	}
}

// flush runs the placement steps over a group of files.
func (r *Root) flush(ctx context.Context, group []*batched) {
	if len(group) == 0 {
		return
	}
	r.newGroup()
	covered := r.syncGroup(group)
	if !covered {
		each(group, func(e *batched) {
			if e.err == nil {
				e.err = e.p.fsync()
			}
		})
	}
	verify := func(e *batched) {
		if e.err == nil {
			if e.err = ctx.Err(); e.err == nil {
				e.err = e.p.verify(ctx, e.o)
			}
		}
	}
	if readsBack(group) {
		each(group, verify)
	} else {
		// Nothing to read: handing each file to another goroutine would
		// cost more than the step.
		for _, e := range group {
			verify(e)
		}
	}
	for _, e := range group {
		if e.err == nil {
			r.hit(1, "settled", 1)
		}
	}
	// One folder handle per folder: its sync covers every rename in it.
	// Files linked without ever having had a name need their inodes
	// written again too (see File.linkCovered): where a syncfs stood for
	// the files' fsyncs, one more after the links does it.
	dirs := map[string]*Dir{}
	unnamed := false
	for _, e := range group {
		if e.err == nil && e.p.f != nil && e.p.f.unnamed {
			unnamed = true
			e.p.linkCovered = covered
		}
		if e.err == nil {
			if e.err = ctx.Err(); e.err == nil {
				e.err = e.p.rename(e.replace)
			}
		}
		if e.err != nil {
			e.p.Abort()
			continue
		}
		if _, ok := dirs[e.p.dir.path]; !ok {
			dirs[e.p.dir.path] = e.p.dir
		}
	}
	dirErr := r.syncDirs(dirs, covered, covered && unnamed)
	for _, e := range group {
		if e.err != nil {
			e.done(nil, e.err)
			continue
		}
		fi, err := fs.FileInfo(nil), dirErr[e.p.dir.path]
		if err == nil {
			fi, err = e.p.placed()
		}
		e.p.releaseDir()
		e.done(fi, err)
	}
}

// syncDirs makes the renames of a group durable and returns each folder's
// error. Where one syncfs stood for the fsyncs of the group's files
// (fsCovered), one more stands for those of its folders (see
// syncFolders); otherwise, or when that syncfs fails, each folder is
// fsynced. inodes says files were linked whose inodes only that syncfs
// writes (File.linkCovered): then it runs for one folder too, and its
// failure is every folder's.
func (r *Root) syncDirs(dirs map[string]*Dir, fsCovered, inodes bool) map[string]error {
	errs := make(map[string]error, len(dirs))
	if fsCovered && (len(dirs) > 1 || inodes) {
		var first *Dir
		for _, d := range dirs {
			first = d
			break
		}
		syncfs := syncFolders
		if r.faults.syncfsFolders != nil {
			syncfs = r.faults.syncfsFolders
		}
		err := syncfs(first)
		if err == nil || inodes {
			r.dirSyncs.Add(1)
			for path := range dirs {
				errs[path] = err
			}
			return errs
		}
	}
	for path, d := range dirs {
		errs[path] = r.syncDir(d)
	}
	return errs
}

// syncGroup runs one syncfs over the group's file system and reports
// whether it made every file of the group durable, with any write-back
// error reported (see syncFileSystem for when that holds); if not, each
// file must be fsynced, which names the file an error hit, and the syncfs
// has still written the group out in one pass, making those fsyncs cheap.
//
// syncfs reports the errors that happened since its file descriptor was
// opened, so it is called on the file of the group that was opened first:
// Begin numbers a file once it is open and before it is written, so the
// lowest number was open before any file of the group was written.
func (r *Root) syncGroup(group []*batched) bool {
	var first *File
	var files []*os.File
	// One file per folder handle says where the group is: a file created
	// through a folder handle is on that folder's file system.
	folders := map[*Dir]bool{}
	for _, e := range group {
		if e.err == nil {
			if !folders[e.p.dir] {
				folders[e.p.dir] = true
				files = append(files, e.p.f.file())
			}
			if first == nil || e.p.seq < first.seq {
				first = e.p
			}
		}
	}
	if first == nil {
		return true // nothing left to sync
	}
	if len(group) == 1 {
		return false // its own fsync waits for less than a whole file system
	}
	return syncFileSystem(first.f.file(), files, r.faults.syncfs)
}

// readsBack tells whether any file of the group is to be read back.
func readsBack(group []*batched) bool {
	for _, e := range group {
		if e.o.ReadBack {
			return true
		}
	}
	return false
}

// each runs fn over the group on the one pool, syncers at a time. Every
// file must go through every step (a step not run would leave its error
// unset and the file renamed unsynced), so cancellation does not stop the
// feeding here: the steps themselves look at the context.
func each(group []*batched, fn func(*batched)) {
	run.Each(context.Background(), syncers, group, func(_ context.Context, e *batched) { fn(e) })
}
