// Package place owns putting a file in place under a root: the one path by
// which copy, pull and restore turn bytes into a verified file at its final
// name, and by which drive files (manifest, checksum list, reports, ASC MHL
// generations, drive.json) are replaced atomically.
//
// A file is written under a temporary name beside its final one that is
// the same on every run (TempName), so a rerun after kill -9 finds it and
// resumes it (pull and restore, which fetch by range) or starts it again
// (copy). Its bytes are hashed as they are written (hashing.MultiHasher: BLAKE3
// and xxh128 in one pass), then it is synced, its cached pages dropped and
// it is read back from the medium, given its times, renamed, and the folder
// synced; every error on the way is reported, none ignored.
//
// Nothing is created, opened for writing, renamed or removed through a
// symbolic link or outside the root: folders are reached from the root one
// component at a time without following links (openat with O_NOFOLLOW), and
// every operation is made relative to the folder so reached. A final name
// that the file system confuses with another (a case-insensitive drive
// holding A.mxf when a.mxf arrives) is reported, never silently replaced.
package place

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/hashing"
	"github.com/editkit/editkit/internal/treepath"
	"github.com/editkit/editkit/internal/walk"
	"golang.org/x/text/unicode/norm"
)

// TempPrefix starts the name of every temporary file placed by this package.
const TempPrefix = walk.TempPrefix

// TempName is the temporary name a file called name is written under: hidden,
// of fixed length, and the same on every run.
func TempName(name string) string { return walk.TempName(name) }

// IsTemp reports whether a base name is one of editkit's temporary files.
func IsTemp(name string) bool { return strings.HasPrefix(name, TempPrefix) }

// LinkError means a symbolic link stands where editkit would have to write.
type LinkError struct{ Path string }

func (e *LinkError) Error() string {
	return fmt.Sprintf("%s is a symbolic link; editkit never writes, renames or removes anything through a link — "+
		"replace it with a real folder (or remove it) and run the same command again", e.Path)
}

// CollisionError means the final name is taken by a file whose name differs
// (in case or Unicode form): the file system cannot hold both.
type CollisionError struct {
	Path     string // what was to be written
	Existing string // the name already there
}

func (e *CollisionError) Error() string {
	return fmt.Sprintf("%s was not written: the drive already holds %q and cannot keep both (its file system does not tell apart "+
		"names that differ only in case or accents); rename one of them at the source and run the same command again", e.Path, e.Existing)
}

// ExistsError means a different file is at the final name and the caller
// did not ask to replace it.
type ExistsError struct{ Path string }

func (e *ExistsError) Error() string {
	return fmt.Sprintf("a different file is already at %s; it was left alone — move it away and run the same command again to get this one", e.Path)
}

// ErrGone reports that a root folder is no longer the folder it was when
// the command opened it: a drive unplugged leaves an empty mount point at
// the same path, and writing there would fill another disk.
var ErrGone = errors.New("is no longer the folder it was when the command started (unplugged?)")

// errNoExclusive means the file system cannot rename without replacing.
var errNoExclusive = errors.New("rename without replacing is not supported here")

// ReadBackError means the file read back from the medium differs from what
// was written.
type ReadBackError struct{ Msg string }

func (e *ReadBackError) Error() string { return e.Msg }

// Hooks let tests stop the process (SIGKILL, as kill -9 does) at a chosen
// point of placing files: after Point's At-th occurrence. Points: "write"
// (At counts bytes written into temporary files), "settled" (files synced
// and read back, not yet renamed), "renamed" (files renamed, not yet
// recorded by the caller).
type Hooks struct {
	Point string
	At    int64
}

// ParseHooks reads Hooks written as POINT:N (anything else: none). Only the
// test-hook build of editkit reads them from its environment.
func ParseHooks(v string) Hooks {
	p, n, ok := strings.Cut(v, ":")
	at, err := strconv.ParseInt(n, 10, 64)
	if !ok || err != nil || at <= 0 {
		return Hooks{}
	}
	return Hooks{Point: p, At: at}
}

// Root is a folder a command was given; everything placed through it stays
// below it.
type Root struct {
	dir   string
	id    rootID // the folder dir named at Open (see openRootDir)
	hooks Hooks
	count [3]atomic.Int64 // write, settled, renamed
	// renameMu makes checking a final name and renaming onto it one step
	// for this process's workers, on file systems that cannot rename
	// without replacing (FUSE exFAT): two names the drive confuses never
	// both pass the check.
	renameMu sync.Mutex

	// names caches folder listings for HasExactName (one read per folder,
	// kept up to date by Commit).
	namesMu sync.Mutex
	names   map[string]map[string]bool

	// begun numbers the files begun, so that a batch knows which of its
	// files was opened first (see Root.syncGroup).
	begun atomic.Int64

	// noUnnamed remembers that the root's file system refused a file
	// without a name (BeginOptions.Unnamed): FUSE exFAT, older kernels.
	noUnnamed atomic.Bool

	// fileSyncs and dirSyncs count the syncs made (tests prove batching
	// with them).
	fileSyncs, dirSyncs atomic.Int64

	// faults lets this package's tests make syncs fail.
	faults faults

	// dirs holds the folders files are being placed in, each reached once
	// per group by the link-safe walk and shared by the files begun in it
	// (see Root.dirFor); walks counts those walks (tests prove sharing).
	dirsMu sync.Mutex
	dirs   map[string]*sharedDir
	walks  atomic.Int64
}

// sharedDir is a folder handle shared by the files being placed in it.
type sharedDir struct {
	rel  string
	d    *Dir
	refs int
}

// dirFor returns the folder rel, created as needed, for a file about to be
// placed in it. The first file of a group walks to it from the root as
// OpenDir does; the next files of that group use the same handle, which is
// as safe as walking again: everything is done relative to the handle, so
// it stays in the folder the walk reached without following a link, and a
// file's own handle is held from Begin to Commit in any case. The sharing
// ends with the group (newGroup): the next group walks again, so a link
// swapped in since is refused then.
func (r *Root) dirFor(rel string) (*sharedDir, error) {
	r.dirsMu.Lock()
	if s, ok := r.dirs[rel]; ok {
		s.refs++
		r.dirsMu.Unlock()
		return s, nil
	}
	r.dirsMu.Unlock()
	d, err := r.OpenDir(rel, true)
	if err != nil {
		return nil, err
	}
	r.walks.Add(1)
	r.dirsMu.Lock()
	defer r.dirsMu.Unlock()
	if s, ok := r.dirs[rel]; ok { // another worker walked there meanwhile
		s.refs++
		d.Close()
		return s, nil
	}
	if r.dirs == nil {
		r.dirs = map[string]*sharedDir{}
	}
	s := &sharedDir{rel: rel, d: d, refs: 1}
	r.dirs[rel] = s
	return s, nil
}

// releaseDir lets go of a file's folder, closing it after its last file.
func (r *Root) releaseDir(s *sharedDir) {
	r.dirsMu.Lock()
	defer r.dirsMu.Unlock()
	if s.refs--; s.refs > 0 {
		return
	}
	if r.dirs[s.rel] == s {
		delete(r.dirs, s.rel)
	}
	s.d.Close()
}

// newGroup ends the sharing of folder handles: files begun from now on walk
// to their folders again. A group ends when it is placed (a batch flush, a
// single file's Commit).
func (r *Root) newGroup() {
	r.dirsMu.Lock()
	defer r.dirsMu.Unlock()
	clear(r.dirs)
}

// faults stand in for syncfs and fsync when set (tests only).
type faults struct {
	syncfs        func(*os.File) error
	fsync         func(*os.File) error
	syncfsFolders func(*Dir) error
}

// Syncs reports how many file and folder syncs the root has made.
func (r *Root) Syncs() (files, folders int64) { return r.fileSyncs.Load(), r.dirSyncs.Load() }

// syncDir syncs a folder that received files, counting it.
func (r *Root) syncDir(d *Dir) error {
	r.dirSyncs.Add(1)
	return d.Sync()
}

// Open returns the Root for dir, which must be an existing folder. A link
// naming the root itself is followed (the user named it); nothing below is.
func Open(dir string, hooks Hooks) (*Root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		if err == nil {
			err = errors.New("not a folder")
		}
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	id, err := identify(abs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return &Root{dir: abs, id: id, hooks: hooks}, nil
}

// Path is the root's absolute path.
func (r *Root) Path() string { return r.dir }

// Join returns the absolute path of a tree path under the root.
func (r *Root) Join(rel string) string { return filepath.Join(r.dir, filepath.FromSlash(rel)) }

func (r *Root) hit(point int, name string, n int64) {
	if r.hooks.Point != name {
		return
	}
	before := r.count[point].Add(n) - n
	if before < r.hooks.At && before+n >= r.hooks.At {
		killSelf()
	}
}

// OpenDir opens the folder rel (a '/'-separated tree path, "" for the root),
// creating missing folders when create is set, never through a link.
func (r *Root) OpenDir(rel string, create bool) (*Dir, error) {
	if rel != "" {
		if err := treepath.Validate(rel); err != nil {
			return nil, fmt.Errorf("%s: %w", r.Join(rel), err)
		}
	}
	d, err := openRootDir(r.dir, r.id)
	if err != nil {
		return nil, err
	}
	if rel == "" {
		return d, nil
	}
	for _, c := range strings.Split(rel, "/") {
		next, err := d.child(c, create)
		d.Close()
		if err != nil {
			return nil, err
		}
		d = next
	}
	return d, nil
}

// Check reports ErrGone when the root is no longer the folder it was at
// Open (every walk from the root checks this too).
func (r *Root) Check() error {
	d, err := openRootDir(r.dir, r.id)
	if err != nil {
		return err
	}
	return d.Close()
}

// MkdirAll creates the folder rel and its missing parents, never through a
// link and never the root itself.
func (r *Root) MkdirAll(rel string) error {
	d, err := r.OpenDir(rel, true)
	if err != nil {
		return err
	}
	return d.Close()
}

// Remove removes the file rel; a link there is removed, never followed.
func (r *Root) Remove(rel string) error {
	d, err := r.OpenDir(treepath.Parent(rel), false)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Remove(treepath.Base(rel)); err != nil {
		return err
	}
	return d.Sync()
}

// Temps lists the temporary files an interrupted run left under the root
// (outside the folders in skip), with their total size.
func (r *Root) Temps(skip ...string) (rels []string, bytes int64, err error) {
	err = filepath.WalkDir(r.dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if p == r.dir {
				return err
			}
			return nil // unreadable folder: nothing of ours can be in it
		}
		if de.IsDir() && p != r.dir && slices.Contains(skip, de.Name()) {
			return filepath.SkipDir
		}
		if de.Type().IsRegular() && IsTemp(de.Name()) {
			rel, _ := filepath.Rel(r.dir, p)
			rels = append(rels, filepath.ToSlash(rel))
			if fi, err := de.Info(); err == nil {
				bytes += fi.Size()
			}
		}
		return nil
	})
	return rels, bytes, err
}

// RemoveTemps removes what Temps lists.
func (r *Root) RemoveTemps(skip ...string) error {
	rels, _, err := r.Temps(skip...)
	if err != nil {
		return err
	}
	for _, rel := range rels {
		if err := r.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// File is a file being placed: open under its temporary name until Commit.
type File struct {
	r    *Root
	dir  *Dir
	dirs *sharedDir // dir's share; nil once released
	rel  string
	name string // final base name
	tmp  string // temporary base name; "" while the file has no name
	f    *tempFile
	n    int64
	h    *hashing.MultiHasher
	seq  int64 // order among the files begun under the root
	// linkCovered says a syncfs after the link will write this unnamed
	// file's inode (see Root.flush); otherwise the file is fsynced once
	// linked. It was synced while it had no name (link count 0), and a
	// folder's fsync does not write the inode of a file linked into it on
	// every file system (ext4 without a journal, ext2).
	linkCovered bool
	// fi describes the settled file, read from its descriptor just
	// before it is closed and renamed (see rename).
	fi fs.FileInfo
}

// BeginOptions say how a placement starts.
type BeginOptions struct {
	Perm os.FileMode // of the new file (0o600 is always added)
	// Resume keeps what an interrupted run left in the temporary file
	// (Offset says how much); otherwise it starts empty.
	Resume bool
	// Hash hashes every byte of the file (those resumed included) with
	// BLAKE3 and xxh128 in one pass; Sum returns the result.
	Hash bool
	// Unnamed creates a file that is not resumed without any name where
	// the file system allows it (Linux O_TMPFILE), and Commit links it at
	// its final name: a kill -9 before then leaves nothing on the drive
	// (the file vanishes with the process), and creating and naming it
	// costs the folder one change instead of a create and a rename.
	// Elsewhere the file has its temporary name as usual.
	Unnamed bool
}

// Begin opens the temporary file for the final tree path rel, creating its
// folder as needed.
func (r *Root) Begin(rel string, o BeginOptions) (*File, error) {
	if err := treepath.Validate(rel); err != nil {
		return nil, fmt.Errorf("%s: %w", r.Join(rel), err)
	}
	shared, err := r.dirFor(treepath.Parent(rel))
	if err != nil {
		return nil, err
	}
	name := treepath.Base(rel)
	p := &File{r: r, dir: shared.d, dirs: shared, rel: rel, name: name}
	if err := p.create(o); err != nil {
		p.releaseDir()
		return nil, err
	}
	// Numbered once open and before any write (see Root.syncGroup).
	p.seq = r.begun.Add(1)
	if o.Hash {
		p.h = hashing.NewMultiHasher(hashing.BLAKE3, hashing.XXH128)
	}
	if o.Resume {
		var w io.Writer = io.Discard
		if p.h != nil {
			w = p.h
		}
		n, err := io.Copy(w, p.f.file())
		if err != nil {
			name := p.f.Name()
			p.Abort()
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		p.n = n
	}
	return p, nil
}

// create opens the file's temporary file: without a name when asked and
// the root's file system allows it, otherwise under its temporary name.
func (p *File) create(o BeginOptions) error {
	perm := o.Perm.Perm() | 0o600
	if o.Unnamed && !o.Resume && !p.r.noUnnamed.Load() {
		f, err := openUnnamed(p.dir, p.name, perm)
		if err == nil {
			p.f = f
			return nil
		}
		if !errors.Is(err, errors.ErrUnsupported) {
			return err
		}
		p.r.noUnnamed.Store(true)
	}
	flag := os.O_RDWR | os.O_CREATE
	if !o.Resume {
		flag |= os.O_TRUNC
	}
	var err error
	p.tmp = TempName(p.name)
	p.f, err = openTemp(p.dir, p.tmp, flag, perm)
	return err
}

// Path is the final name's absolute path.
func (p *File) Path() string { return filepath.Join(p.dir.path, p.name) }

// Offset is how many bytes the temporary file holds.
func (p *File) Offset() int64 { return p.n }

// OS is the open temporary file.
func (p *File) OS() *os.File { return p.f.file() }

// Restart empties the temporary file (resumed bytes that turned out wrong).
func (p *File) Restart() error {
	if err := p.f.file().Truncate(0); err != nil {
		return err
	}
	if _, err := p.f.file().Seek(0, io.SeekStart); err != nil {
		return err
	}
	p.n = 0
	if p.h != nil {
		p.h.Reset()
	}
	return nil
}

// Write appends to the temporary file (and the hash).
func (p *File) Write(b []byte) (int, error) {
	k, err := p.f.Write(b)
	p.n += int64(k)
	if p.h != nil {
		p.h.Write(b[:k])
	}
	p.r.hit(0, "write", int64(k))
	return k, err
}

// Sum is the hash of every byte of the file (BeginOptions.Hash).
func (p *File) Sum() hashing.Sum { return p.h.Sum() }

// SettleOptions say how a written file is made durable and checked.
type SettleOptions struct {
	MTime    time.Time // zero: leave it
	ReadBack bool      // read the file back from the medium and compare
	XXH128   string    // what it must read back as (hex)
	Against  string    // names where XXH128 came from in messages ("the source"); default "what was written"
	// Progress receives read-back bytes; BeforeReadBack sees the file
	// just before it is read back (tests look at its cache residency).
	Progress       func(int64)
	BeforeReadBack func(*os.File)
}

// Settle gives the temporary file its time, syncs it to the medium and,
// when asked, drops its cached pages and reads it back, comparing it with
// what was written. It is the batch of one: Batch does the same steps for
// many files at once.
func (p *File) Settle(ctx context.Context, o SettleOptions) error {
	if err := p.sync(o); err != nil {
		return err
	}
	if err := p.verify(ctx, o); err != nil {
		return err
	}
	p.r.hit(1, "settled", 1)
	return nil
}

// sync gives the temporary file its time and makes its bytes durable.
func (p *File) sync(o SettleOptions) error {
	if err := p.setTime(o); err != nil {
		return err
	}
	return p.fsync()
}

// setTime gives the temporary file its modification time, if one is set.
func (p *File) setTime(o SettleOptions) error {
	if !o.MTime.IsZero() {
		if err := p.f.setTime(p.dir, p.tmp, o.MTime); err != nil {
			return fmt.Errorf("set mtime: %w", err)
		}
	}
	return nil
}

// fsync makes the temporary file's bytes and metadata durable.
func (p *File) fsync() error {
	p.r.fileSyncs.Add(1)
	sync := fsx.Sync
	if p.r.faults.fsync != nil {
		sync = p.r.faults.fsync
	}
	if err := sync(p.f.file()); err != nil {
		return fmt.Errorf("sync %s: %w", p.f.Name(), err)
	}
	return nil
}

// verify drops the synced file's cached pages and, when asked, reads it
// back from the medium and compares it with what was written.
func (p *File) verify(ctx context.Context, o SettleOptions) error {
	if !o.ReadBack {
		if p.n > SmallFile { // a small file's pages are not worth a call
			fsx.Forget(p.f.file(), 0, 0)
		}
		return nil
	}
	// Synced, so every page is clean: ReadBack drops them and reads the
	// medium, from byte 0 whatever the file's offset. The hook is shown
	// the file as ReadBack will find it.
	if o.BeforeReadBack != nil {
		if err := fsx.ReadFromMedium(p.f.file()); err != nil {
			return fmt.Errorf("drop cached pages of %s: %w", p.f.Name(), err)
		}
		o.BeforeReadBack(p.f.file())
	}
	var got string
	var n int64
	var err error
	if p.n <= SmallFile {
		got, n, err = readBackSmall(p.f, p.n, o.Progress)
	} else {
		got, n, err = ReadBack(ctx, p.f.file(), o.Progress)
	}
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	if got != o.XXH128 || n != p.n {
		against := o.Against
		if against == "" {
			against = "what was written"
		}
		return &ReadBackError{fmt.Sprintf("read back from the drive differs from %s (xxh128 %s, expected %s, %d of %d bytes): "+
			"the drive or its connection is corrupting data; the file was not kept", against, got, o.XXH128, n, p.n)}
	}
	return nil
}

// ReadBack hashes all of f with xxh128, from the medium (each range read
// is then dropped from the cache), reporting progress.
func ReadBack(ctx context.Context, f *os.File, progress func(int64)) (string, int64, error) {
	s, err := hashing.HashOpen(ctx, f, hashing.FileOptions{XXH128: true, FromMedium: true, Workers: 1, Progress: progress})
	if err != nil {
		return "", s.Size, err
	}
	return s.XXH128Hex(), s.Size, nil
}

// readBackSmall is ReadBack for a file of at most SmallFile bytes that
// should hold n: its pages are dropped and it is read in one call of n+1
// bytes (a regular file reads short only at its end, so one more byte
// shows a file longer than written), then hashed in memory. Three calls
// fewer per file than the general path, which asks the size, advises
// sequential reading and drops the pages again.
func readBackSmall(f *tempFile, n int64, progress func(int64)) (string, int64, error) {
	if err := dropPages(f); err != nil {
		return "", 0, fmt.Errorf("drop cached pages of %s: %w", f.Name(), err)
	}
	buf := make([]byte, n+1)
	k, err := readOnce(f, buf)
	if err != nil {
		return "", int64(k), fmt.Errorf("read %s: %w", f.Name(), err)
	}
	if progress != nil {
		progress(int64(k))
	}
	return hashing.Encode(hashing.XXH128, hashing.AppendSum(nil, hashing.XXH128, buf[:k])), int64(k), nil
}

// Commit gives the settled file its final name and syncs the folder. A file
// already at the final name is replaced only if replace is set and it has
// exactly that name; one the file system merely confuses with it (case,
// Unicode form) is a CollisionError and is left alone. It returns the
// placed file's description, as the medium stores it.
func (p *File) Commit(replace bool) (fs.FileInfo, error) {
	p.r.newGroup()
	defer p.releaseDir()
	if err := p.rename(replace); err != nil {
		return nil, err
	}
	if err := p.r.syncDir(p.dir); err != nil {
		return nil, err
	}
	return p.placed()
}

// rename closes the settled temporary file and gives it its final name;
// when it cannot, the temporary file is removed. The file is described
// from its descriptor first: the same inode as the final name after the
// rename (which changes neither size nor times), without a look-up by
// path.
func (p *File) rename(replace bool) error {
	fi, err := p.f.Stat()
	if err != nil {
		name := p.f.Name()
		p.discard()
		return fmt.Errorf("stat %s: %w", name, err)
	}
	p.fi = renamed{fi, p.name}
	if p.f.unnamed {
		// Linking never replaces: when nothing is at the final name, one
		// call names the file there. When something is, the file takes
		// its temporary name and goes the way of a named file (place),
		// which decides whether what is there may be replaced or is a
		// name the drive confuses with this one.
		err := p.f.link(p.dir, p.name)
		if !errors.Is(err, fs.ErrExist) {
			return p.closeLinked(err)
		}
		err = p.linkTemp()
		if err == nil && !p.linkCovered {
			err = p.fsync()
		}
		if err != nil {
			p.discard()
			return err
		}
	}
	if err := p.f.Close(); err != nil {
		p.f = nil
		p.dir.Remove(p.tmp)
		return fmt.Errorf("close %s: %w", filepath.Join(p.dir.path, p.tmp), err)
	}
	p.f = nil
	if err := p.place(replace); err != nil {
		p.dir.Remove(p.tmp)
		return err
	}
	return nil
}

// closeLinked syncs (see linkCovered) and closes a file just linked at
// its final name (err: how the link went). When the descriptor then
// reports a failure the name is removed again: it replaced nothing, and
// the file is not kept.
func (p *File) closeLinked(err error) error {
	if err == nil && !p.linkCovered {
		err = p.fsync()
		if err != nil {
			p.dir.Remove(p.name)
		}
	}
	closeErr := p.f.Close()
	p.f = nil
	if err == nil && closeErr != nil {
		p.dir.Remove(p.name)
		err = fmt.Errorf("close %s: %w", p.Path(), closeErr)
	}
	return err
}

// linkTemp gives the unnamed file its temporary name; one a killed run
// left there is removed first.
func (p *File) linkTemp() error {
	p.tmp = TempName(p.name)
	err := p.f.link(p.dir, p.tmp)
	if errors.Is(err, fs.ErrExist) {
		if err = p.dir.Remove(p.tmp); err == nil {
			err = p.f.link(p.dir, p.tmp)
		}
	}
	if err == nil {
		p.f.unnamed = false
	}
	return err
}

// discard closes the temporary file and removes it (an unnamed one is gone
// once closed).
func (p *File) discard() {
	if p.f == nil {
		return
	}
	unnamed := p.f.unnamed
	p.f.Close()
	p.f = nil
	if !unnamed {
		p.dir.Remove(p.tmp)
	}
}

// placed notes a renamed file whose folder is synced and describes it.
func (p *File) placed() (fs.FileInfo, error) {
	p.r.placed(p.rel)
	p.r.hit(2, "renamed", 1)
	return p.fi, nil
}

// renamed is a file's description taken under its temporary name, named
// as the file is after the rename.
type renamed struct {
	fs.FileInfo
	name string
}

func (r renamed) Name() string { return r.name }

func (p *File) place(replace bool) error {
	// Where the file system can rename without replacing, that one call
	// checks and renames at once: the usual case (nothing at the final
	// name) needs neither a look first nor the lock. Something there
	// (ErrExist) is looked at below, as on file systems that cannot.
	if err := p.dir.renameExclusive(p.tmp, p.name); !errors.Is(err, errNoExclusive) && !errors.Is(err, fs.ErrExist) {
		return err
	}
	p.r.renameMu.Lock()
	defer p.r.renameMu.Unlock()
	final := filepath.Join(p.dir.path, p.name)
	there, err := p.dir.exists(p.name)
	if err != nil {
		return err
	}
	if there {
		if err := p.checkFinal(final, replace); err != nil {
			return err
		}
		return p.dir.rename(p.tmp, p.name, false)
	}
	err = p.dir.rename(p.tmp, p.name, true)
	if errors.Is(err, fs.ErrExist) {
		// Someone else put a file there meanwhile.
		if err := p.checkFinal(final, false); err != nil {
			return err
		}
	}
	return err
}

// checkFinal decides whether the file at the final name may be replaced.
func (p *File) checkFinal(final string, replace bool) error {
	fi, err := p.dir.Lstat(p.name)
	if err != nil {
		return err
	}
	names, err := p.dir.names()
	if err != nil {
		return err
	}
	if !slices.Contains(names, p.name) {
		existing := "a file with a similar name"
		for _, n := range names {
			if strings.EqualFold(norm.NFC.String(n), norm.NFC.String(p.name)) {
				existing = n
				break
			}
		}
		return &CollisionError{Path: final, Existing: existing}
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return &LinkError{Path: final}
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: something other than a file is there; move it away and run the same command again", final)
	}
	if !replace {
		return &ExistsError{Path: final}
	}
	return nil
}

// Abort removes the temporary file; the final name was never touched.
func (p *File) Abort() {
	if p.f != nil {
		p.discard()
	} else if p.tmp != "" {
		p.dir.Remove(p.tmp)
	}
	p.releaseDir()
}

// Keep closes the temporary file and leaves it for the next run to resume
// (an unnamed file, never resumed, is gone once closed).
func (p *File) Keep() {
	if p.f != nil {
		p.f.Close()
		p.f = nil
	}
	p.releaseDir()
}

// releaseDir lets go of the file's folder (once).
func (p *File) releaseDir() {
	if p.dirs != nil {
		p.r.releaseDir(p.dirs)
		p.dirs = nil
	}
}

// Lstat describes the file rel without following a link anywhere on the
// way: a link among its folders is a LinkError, a missing folder
// fs.ErrNotExist.
func (r *Root) Lstat(rel string) (fs.FileInfo, error) {
	d, err := r.OpenDir(treepath.Parent(rel), false)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Lstat(treepath.Base(rel))
}

// Probe checks that files can be created in the root, by creating and
// removing a temporary one.
func (r *Root) Probe() error {
	d, err := r.OpenDir("", false)
	if err != nil {
		return err
	}
	defer d.Close()
	name := TempName(".probe")
	f, err := d.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	return d.Remove(name)
}

// SetDirTime sets a folder's modification time, never through a link.
func (r *Root) SetDirTime(rel string, mtime time.Time) error {
	d, err := r.OpenDir(treepath.Parent(rel), false)
	if err != nil {
		return err
	}
	defer d.Close()
	if fi, err := d.Lstat(treepath.Base(rel)); err != nil || !fi.IsDir() {
		if err == nil {
			err = fmt.Errorf("%s is not a folder", r.Join(rel))
		}
		return err
	}
	return d.chtimes(treepath.Base(rel), mtime)
}

// HasExactName reports whether the folder of rel lists rel's name exactly:
// on a case-insensitive drive, Lstat of a.mxf also finds A.mxf. Each folder
// is read once per Root.
func (r *Root) HasExactName(rel string) (bool, error) {
	parent, base := treepath.Parent(rel), treepath.Base(rel)
	r.namesMu.Lock()
	set, ok := r.names[parent]
	r.namesMu.Unlock()
	if !ok {
		d, err := r.OpenDir(parent, false)
		if err != nil {
			return false, err
		}
		names, err := d.names()
		d.Close()
		if err != nil {
			return false, err
		}
		set = make(map[string]bool, len(names))
		for _, n := range names {
			set[n] = true
		}
		r.namesMu.Lock()
		if r.names == nil {
			r.names = map[string]map[string]bool{}
		}
		if prev, ok := r.names[parent]; ok {
			set = prev
		} else {
			r.names[parent] = set
		}
		r.namesMu.Unlock()
	}
	r.namesMu.Lock()
	defer r.namesMu.Unlock()
	return set[base], nil
}

// placed notes a name just given to a file, for HasExactName.
func (r *Root) placed(rel string) {
	r.namesMu.Lock()
	defer r.namesMu.Unlock()
	if set, ok := r.names[treepath.Parent(rel)]; ok {
		set[treepath.Base(rel)] = true
	}
}
