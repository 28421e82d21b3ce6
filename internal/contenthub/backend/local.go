package backend

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/editkit/editkit/internal/fsx"
)

// partialDir holds the folder backend's unfinished uploads. Keys cannot start
// with ".", so it never collides with an object.
const partialDir = ".partial"

// localChunk is the unit of writing and of comparing a partial file with its
// source.
const localChunk = 1 << 20

// LocalOptions tunes a folder backend; the zero value is the default.
type LocalOptions struct {
	// ResumeThreshold is the size from which an interrupted Put keeps its
	// partial file for the next Put of the key (default 8 MiB); smaller
	// objects are simply written again.
	ResumeThreshold int64
	// StaleAfter is how long a partial file of a writer on another computer
	// must have been left untouched before a Put of the same key takes it
	// over (default 1 hour). A writer on this computer is taken over as soon
	// as its process is gone.
	StaleAfter time.Duration
}

// Local is the folder backend: objects are files under a folder on a local
// disk or a NAS share (SMB, NFS). It relies on nothing a network file system
// may lack, such as flock: exclusive creation is done with link(2), or an
// exclusive rename where hard links are unsupported. As keys are paths, a key
// cannot also be the folder of other keys ("a/b" and "a/b/c"); the hub's key
// scheme never does that.
type Local struct {
	dir  string
	opts LocalOptions
	host string // short, file-name-safe tag of this computer
	pid  int

	mu     sync.Mutex
	active map[string]bool // partial files this Local is writing now
}

var _ Backend = (*Local)(nil)
var _ UploadAborter = (*Local)(nil)

// OpenLocal opens the hub kept in the folder dir, which must exist: a NAS
// share that is not mounted must not be replaced by an empty folder on the
// local disk.
func OpenLocal(dir string) (*Local, error) { return OpenLocalWith(dir, LocalOptions{}) }

// OpenLocalWith is OpenLocal with options.
func OpenLocalWith(dir string, opts LocalOptions) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("hub folder %s: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: hub folder %s does not exist: if it is on a NAS share, mount the share; to start a new hub there, run `editkit hub init %s`", ErrNoBucket, abs, abs)
	}
	if err != nil {
		return nil, fmt.Errorf("hub folder %s: %w", abs, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: hub folder %s is not a folder", ErrNoBucket, abs)
	}
	if opts.ResumeThreshold <= 0 {
		opts.ResumeThreshold = 8 << 20
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = time.Hour
	}
	host, _ := os.Hostname()
	sum := sha256.Sum256([]byte(host))
	return &Local{
		dir:    abs,
		opts:   opts,
		host:   hex.EncodeToString(sum[:4]),
		pid:    os.Getpid(),
		active: make(map[string]bool),
	}, nil
}

// Location returns the folder's absolute path.
func (l *Local) Location() string { return l.dir }

// Close releases nothing: a Local holds no open files between calls.
func (l *Local) Close() error { return nil }

func (l *Local) path(key string) string { return filepath.Join(l.dir, filepath.FromSlash(key)) }

// Put writes src to a partial file under .partial, fsyncs it and publishes it
// under the key's name with one atomic step: rename(2), or link(2) for
// IfNotExists so that of two writers (two processes, two computers on one
// NAS) exactly one wins.
func (l *Local) Put(ctx context.Context, key string, src Source, opts PutOptions) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if err := l.put(ctx, key, src, opts); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

func (l *Local) put(ctx context.Context, key string, src Source, opts PutOptions) error {
	final := l.path(key)
	if opts.IfNotExists {
		// Only a shortcut: link(2) below is what makes it race-free.
		if _, err := os.Lstat(final); err == nil {
			return ErrExists
		} else if !errors.Is(err, fs.ErrNotExist) {
			return l.ioErr(err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	resumable := src.Length() >= l.opts.ResumeThreshold
	tmp, f, resumed, err := l.openPartial(key, resumable)
	if err != nil {
		return err
	}
	defer l.setActive(tmp, false)
	if err := l.fill(ctx, f, src, opts, resumed); err != nil {
		f.Close()
		l.keepOrRemove(key, tmp, resumable)
		return err
	}
	if err := fsx.Sync(f); err != nil {
		f.Close()
		l.keepOrRemove(key, tmp, resumable)
		return l.ioErr(fmt.Errorf("sync: %w", err))
	}
	if err := f.Close(); err != nil {
		l.keepOrRemove(key, tmp, resumable)
		return l.ioErr(err)
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		l.keepOrRemove(key, tmp, resumable)
		return l.ioErr(err)
	}
	if err := l.publish(tmp, final, opts.IfNotExists); err != nil {
		if errors.Is(err, ErrExists) {
			os.Remove(tmp)
		} else {
			l.keepOrRemove(key, tmp, resumable)
		}
		return err
	}
	// Best effort: SMB and FUSE file systems may not sync folders, and their
	// renames are as durable as they get.
	_ = fsx.SyncDir(filepath.Dir(final))
	return nil
}

// keyHash names a key's partial file: fixed length, no separators, and the
// same in every process, so that an interrupted Put is found again.
func keyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}

// openPartial returns the file this Put writes, with resumed set when it
// holds an earlier attempt's data. A Put writes only to a file name of its
// own (<hash>.<host>-<pid>-<random>.tmp); the data of an interrupted Put is
// parked under the key's fixed name (<hash>) and taken over with one rename,
// so two writers never share a file even if both want to resume.
func (l *Local) openPartial(key string, resumable bool) (tmp string, f *os.File, resumed bool, err error) {
	pdir := filepath.Join(l.dir, partialDir)
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		return "", nil, false, l.ioErr(err)
	}
	h := keyHash(key)
	tmp = filepath.Join(pdir, fmt.Sprintf("%s.%s-%d-%s.tmp", h, l.host, l.pid, fsx.RandomID(6)))
	l.setActive(tmp, true)
	if resumable {
		claimed := os.Rename(filepath.Join(pdir, h), tmp) == nil
		if !claimed {
			claimed = l.adoptCrashed(pdir, h, tmp)
		}
		if claimed {
			f, err := os.OpenFile(tmp, os.O_RDWR, 0)
			if err == nil {
				return tmp, f, true, nil
			}
			os.Remove(tmp)
		}
	}
	f, err = os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		l.setActive(tmp, false)
		return "", nil, false, l.ioErr(err)
	}
	return tmp, f, false, nil
}

// adoptCrashed takes over the partial file of a writer that died without
// parking it (kill -9, power cut), if there is one.
func (l *Local) adoptCrashed(pdir, h, tmp string) bool {
	entries, err := os.ReadDir(pdir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, h+".") || !strings.HasSuffix(name, ".tmp") {
			continue
		}
		if !l.stale(filepath.Join(pdir, name), e) {
			continue
		}
		if os.Rename(filepath.Join(pdir, name), tmp) == nil {
			return true
		}
	}
	return false
}

// stale reports whether nobody writes the partial file any more: its process
// on this computer is gone, or it was not touched for StaleAfter.
func (l *Local) stale(path string, e fs.DirEntry) bool {
	if l.isActive(path) {
		return false
	}
	host, pid, ok := parsePartialName(filepath.Base(path))
	if ok && host == l.host {
		if pid == l.pid {
			return true // ours, and not active: left over from a failed park
		}
		if !processAlive(pid) {
			return true
		}
	}
	// Another computer's, or a live process's (perhaps a new one that got
	// the dead writer's pid): only once nothing wrote to it for a while.
	info, err := e.Info()
	return err == nil && time.Since(info.ModTime()) > l.opts.StaleAfter
}

// parsePartialName splits "<hash>.<host>-<pid>-<random>.tmp".
func parsePartialName(name string) (host string, pid int, ok bool) {
	_, rest, ok := strings.Cut(strings.TrimSuffix(name, ".tmp"), ".")
	if !ok {
		return "", 0, false
	}
	parts := strings.Split(rest, "-")
	if len(parts) != 3 {
		return "", 0, false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil {
		return "", 0, false
	}
	return parts[0], pid, true
}

func (l *Local) setActive(path string, on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if on {
		l.active[path] = true
	} else {
		delete(l.active, path)
	}
}

func (l *Local) isActive(path string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.active[path]
}

// keepOrRemove parks a resumable partial file under the key's fixed name for
// the next Put, and removes a small one.
func (l *Local) keepOrRemove(key, tmp string, resumable bool) {
	if resumable {
		if os.Rename(tmp, filepath.Join(l.dir, partialDir, keyHash(key))) == nil {
			return
		}
		// Could not park it (the share is gone?): it keeps its own name and
		// is adopted or pruned later.
		return
	}
	os.Remove(tmp)
}

// fill makes f hold exactly src: after checking how much of an earlier
// attempt's data matches src (comparing chunk by chunk is cheap: the source
// is local), it writes the rest.
func (l *Local) fill(ctx context.Context, f *os.File, src Source, opts PutOptions, resumed bool) error {
	size := src.Length()
	buf := make([]byte, localChunk)
	var off int64
	if resumed {
		var err error
		if off, err = l.matchingPrefix(ctx, f, src, buf); err != nil {
			return err
		}
	}
	if err := f.Truncate(off); err != nil {
		return l.ioErr(err)
	}
	for off < size {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := readSize(src, off, len(buf))
		if err := readFull(src, buf[:n], off); err != nil {
			return err
		}
		if err := opts.meter(ctx, n); err != nil {
			return err
		}
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			return l.ioErr(err)
		}
		off += int64(n)
	}
	return nil
}

// matchingPrefix returns how many leading bytes of f equal src, in whole
// chunks (or all of src).
func (l *Local) matchingPrefix(ctx context.Context, f *os.File, src Source, buf []byte) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, l.ioErr(err)
	}
	have := min(fi.Size(), src.Length())
	other := make([]byte, len(buf))
	var off int64
	for off < have {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		n := int(min(int64(len(buf)), have-off))
		if _, err := f.ReadAt(buf[:n], off); err != nil {
			return off, nil // unreadable from here on: rewrite it
		}
		if err := readFull(src, other[:n], off); err != nil {
			return 0, err
		}
		if !bytes.Equal(buf[:n], other[:n]) {
			break
		}
		off += int64(n)
	}
	return off, nil
}

// publish gives the finished file tmp its final name.
func (l *Local) publish(tmp, final string, ifNotExists bool) error {
	if !ifNotExists {
		return l.ioErr(os.Rename(tmp, final))
	}
	err := os.Link(tmp, final)
	if err == nil {
		os.Remove(tmp)
		return nil
	}
	if errors.Is(err, fs.ErrExist) {
		// NFS answers a retransmitted LINK with EEXIST although the first
		// one worked: then final is our file.
		if a, errA := os.Stat(tmp); errA == nil {
			if b, errB := os.Stat(final); errB == nil && os.SameFile(a, b) {
				os.Remove(tmp)
				return nil
			}
		}
		return ErrExists
	}
	// No hard links here (exFAT, some SMB shares): an exclusive rename.
	err = renameNoReplace(tmp, final)
	if err == nil {
		return nil
	}
	if errors.Is(err, fs.ErrExist) {
		return ErrExists
	}
	if !errors.Is(err, errNoExclusiveRename) {
		return l.ioErr(err)
	}
	// Neither: check, then rename. Two writers racing through this window
	// both succeed, the later one replacing the earlier; with keys derived
	// from the content they wrote the same bytes.
	if _, err := os.Lstat(final); err == nil {
		return ErrExists
	}
	return l.ioErr(os.Rename(tmp, final))
}

// ioErr marks errors of a flaky share as transient and explains a full disk.
func (l *Local) ioErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.ENOSPC):
		return &permanentError{fmt.Errorf("hub folder %s is full: %w", l.dir, err)}
	case isLocalTransient(err):
		return markTransient(err)
	}
	return err
}

// Get opens the object's file, read ahead as objectReader says.
func (l *Local) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	if err := checkOffset(offset); err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	f, err := os.Open(l.path(key))
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, l.notFound(err))
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = ErrNotFound
	}
	if err == nil && offset > 0 && offset >= fi.Size() {
		err = fmt.Errorf("%w: offset %d, size %d", ErrInvalidRange, offset, fi.Size())
	}
	if err == nil && length == 0 {
		f.Close()
		return emptyReader{}, nil
	}
	if err == nil && offset > 0 {
		_, err = f.Seek(offset, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("get %s: %w", key, l.ioErr(err))
	}
	return newObjectReader(f, offset, length), nil
}

func (l *Local) notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return l.ioErr(err)
}

// Stat describes the object's file.
func (l *Local) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, fmt.Errorf("stat: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	fi, err := os.Stat(l.path(key))
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, l.notFound(err))
	}
	if !fi.Mode().IsRegular() {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, ErrNotFound)
	}
	return ObjectInfo{Key: key, Size: fi.Size(), Modified: fi.ModTime()}, nil
}

// Delete removes the object's file.
func (l *Local) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	p := l.path(key)
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || (err == nil && fi.IsDir()) {
		return nil
	}
	if err == nil {
		err = os.Remove(p)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, l.ioErr(err))
	}
	return nil
}

// List walks the folders under prefix. Within a folder it visits entries in
// the order of the keys they hold (a folder "a" sorts as "a/"), so the keys
// come out sorted without collecting them all first.
func (l *Local) List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		if err := validatePrefix(prefix); err != nil {
			yield(ObjectInfo{}, fmt.Errorf("list: %w", err))
			return
		}
		keyDir, namePrefix := "", prefix
		if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
			keyDir, namePrefix = prefix[:i+1], prefix[i+1:]
		}
		l.walk(ctx, keyDir, namePrefix, yield)
	}
}

// walk yields the keys below the folder of keyDir ("" or ending in "/")
// whose next segment starts with namePrefix; false means stop.
func (l *Local) walk(ctx context.Context, keyDir, namePrefix string, yield func(ObjectInfo, error) bool) bool {
	if err := ctx.Err(); err != nil {
		yield(ObjectInfo{}, fmt.Errorf("list %s: %w", keyDir, err))
		return false
	}
	entries, err := os.ReadDir(filepath.Join(l.dir, filepath.FromSlash(keyDir)))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return true
	}
	if err != nil {
		yield(ObjectInfo{}, fmt.Errorf("list %s: %w", keyDir, l.ioErr(err)))
		return false
	}
	type entry struct {
		order string
		e     fs.DirEntry
	}
	var list []entry
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.HasPrefix(name, namePrefix) {
			continue
		}
		switch {
		case e.IsDir():
			list = append(list, entry{name + "/", e})
		case e.Type().IsRegular():
			list = append(list, entry{name, e})
		}
	}
	slices.SortFunc(list, func(a, b entry) int { return strings.Compare(a.order, b.order) })
	for _, it := range list {
		key := keyDir + it.e.Name()
		if it.e.IsDir() {
			if !l.walk(ctx, key+"/", "", yield) {
				return false
			}
			continue
		}
		if validateKey(key) != nil {
			continue // put there by something else; no Backend call could name it
		}
		info, err := it.e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted meanwhile
		}
		if err != nil {
			yield(ObjectInfo{}, fmt.Errorf("list %s: %w", key, l.ioErr(err)))
			return false
		}
		if !yield(ObjectInfo{Key: key, Size: info.Size(), Modified: info.ModTime()}, nil) {
			return false
		}
	}
	return true
}

// AbortUploads removes partial files that nobody has touched for olderThan,
// except those of writers still running on this computer.
func (l *Local) AbortUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	pdir := filepath.Join(l.dir, partialDir)
	entries, err := os.ReadDir(pdir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("abort uploads in %s: %w", pdir, l.ioErr(err))
	}
	n := 0
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		p := filepath.Join(pdir, e.Name())
		if l.isActive(p) {
			continue
		}
		if host, pid, ok := parsePartialName(e.Name()); ok && host == l.host && pid != l.pid && processAlive(pid) {
			continue
		}
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < olderThan {
			continue
		}
		if err := os.Remove(p); err == nil {
			n++
		} else if !errors.Is(err, fs.ErrNotExist) {
			return n, fmt.Errorf("abort uploads: %w", l.ioErr(err))
		}
	}
	return n, nil
}
