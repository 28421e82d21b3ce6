package contenthub

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/hashing"
	"github.com/editkit/editkit/internal/treepath"
)

const snapshotsPrefix = "snapshots/"

// SnapshotFormat versions the snapshot objects.
const SnapshotFormat = "editkit-snapshot/1"

// Snapshot is a backup snapshot's summary, the small object listed by
// `editkit snapshots`. Its file list is a separate object (EntriesKey).
type Snapshot struct {
	Format   string    `json:"format"`
	ID       string    `json:"id"` // time-ordered, unique
	Set      string    `json:"set"`
	Time     time.Time `json:"time"`
	Host     string    `json:"host"`
	User     string    `json:"user"`
	Paths    []string  `json:"paths"` // the folders backed up, as given on that computer
	Parent   string    `json:"parent,omitempty"`
	Files    int64     `json:"files"`
	Bytes    int64     `json:"bytes"`
	New      int64     `json:"new"`      // files not in the parent
	Changed  int64     `json:"changed"`  // files whose content changed since the parent
	Removed  int64     `json:"removed"`  // files of the parent no longer there
	Uploaded int64     `json:"uploaded"` // bytes of blobs uploaded by this backup
	Blobs    int64     `json:"blobs"`    // blobs uploaded by this backup
	// EntriesKey and EntriesB3 name and check the file list.
	EntriesKey string `json:"entries_key"`
	EntriesB3  string `json:"entries_b3"`
}

// Entry is one file or folder of a snapshot.
type Entry struct {
	Root  int    `json:"r"` // index into Snapshot.Paths
	Path  string `json:"p"` // tree path below that root
	Dir   bool   `json:"d,omitempty"`
	Size  int64  `json:"s,omitempty"`
	MTime int64  `json:"m,omitempty"` // Unix ns
	Mode  uint32 `json:"mode,omitempty"`
	Inode uint64 `json:"i,omitempty"` // to notice a file replaced by another of the same size and mtime
	B3    string `json:"b3,omitempty"`
}

// CompareEntries orders entries as a snapshot stores them: by root, then in
// tree order.
func CompareEntries(a, b Entry) int {
	if a.Root != b.Root {
		return a.Root - b.Root
	}
	return treepath.Compare(a.Path, b.Path)
}

func snapshotKey(set, id string) string { return snapshotsPrefix + set + "/" + id + ".json" }
func entriesKey(set, id string) string  { return snapshotsPrefix + set + "/" + id + ".entries.gz" }

// ValidSetName checks a backup set name (it becomes part of object keys).
func ValidSetName(set string) error {
	if set == "" || len(set) > 64 || strings.Trim(set, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" ||
		strings.HasPrefix(set, ".") || strings.HasSuffix(set, ".") || strings.Contains(set, "..") {
		return fmt.Errorf("backup set %q: use letters, digits, '-', '_' or '.' (not first or last), up to 64", set)
	}
	return nil
}

// EntriesWriter streams a snapshot's file list to a temporary file, gzipped,
// hashing it on the way, for PutSnapshot.
type EntriesWriter struct {
	f    *os.File
	h    *hashing.MultiHasher
	gz   *gzip.Writer
	bw   *bufio.Writer
	enc  *json.Encoder
	prev Entry
	n    int64
}

// NewEntriesWriter starts a file list in dir (a temporary folder).
func NewEntriesWriter(dir string) (*EntriesWriter, error) {
	f, err := os.CreateTemp(dir, "snapshot-*.entries.gz")
	if err != nil {
		return nil, err
	}
	w := &EntriesWriter{f: f, h: hashing.NewMultiHasher(hashing.BLAKE3)}
	w.gz, _ = gzip.NewWriterLevel(io.MultiWriter(f, w.h), gzip.BestSpeed)
	w.bw = bufio.NewWriterSize(w.gz, 256<<10)
	w.enc = json.NewEncoder(w.bw)
	return w, nil
}

// Add appends an entry; entries must come in CompareEntries order.
func (w *EntriesWriter) Add(e Entry) error {
	if w.n > 0 && CompareEntries(w.prev, e) >= 0 {
		return fmt.Errorf("snapshot entry %q out of order", e.Path)
	}
	w.prev = e
	w.n++
	return w.enc.Encode(e)
}

// Close finishes the list and returns its file name and BLAKE3.
func (w *EntriesWriter) Close() (path, b3 string, err error) {
	if err := w.bw.Flush(); err != nil {
		return "", "", err
	}
	if err := w.gz.Close(); err != nil {
		return "", "", err
	}
	if err := w.f.Close(); err != nil {
		return "", "", err
	}
	return w.f.Name(), w.h.Digest(hashing.BLAKE3), nil
}

// EntriesFile streams a file list written by an EntriesWriter on this
// computer (a backup re-reading what it is about to commit).
func EntriesFile(path string) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		f, err := os.Open(path)
		if err != nil {
			yield(Entry{}, err)
			return
		}
		defer f.Close()
		gz, err := gzip.NewReader(bufio.NewReaderSize(f, 256<<10))
		if err != nil {
			yield(Entry{}, fmt.Errorf("%s: %w", path, err))
			return
		}
		dec := json.NewDecoder(gz)
		for {
			var e Entry
			err := dec.Decode(&e)
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(Entry{}, fmt.Errorf("%s: %w", path, err))
				return
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}

// Abort discards the list.
func (w *EntriesWriter) Abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

// PutSnapshot uploads a snapshot: its file list first, then its summary,
// whose presence marks the snapshot complete.
func (h *Hub) PutSnapshot(ctx context.Context, s *Snapshot, entriesFile, entriesB3 string) error {
	if err := ValidSetName(s.Set); err != nil {
		return err
	}
	s.Format = SnapshotFormat
	s.EntriesKey = entriesKey(s.Set, s.ID)
	s.EntriesB3 = entriesB3
	src, err := backend.NewFileSource(entriesFile)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := h.backend.Put(ctx, s.EntriesKey, src, backend.PutOptions{IfNotExists: true}); err != nil && !errors.Is(err, backend.ErrExists) {
		return fmt.Errorf("upload snapshot file list: %w", err)
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := h.backend.Put(ctx, snapshotKey(s.Set, s.ID), backend.BytesSource(data), backend.PutOptions{IfNotExists: true}); err != nil {
		return fmt.Errorf("upload snapshot: %w", err)
	}
	return nil
}

// snapshotKeys lists the summary keys of a set ("" for every set).
func (h *Hub) snapshotKeys(ctx context.Context, set string) ([]string, error) {
	prefix := snapshotsPrefix
	if set != "" {
		if err := ValidSetName(set); err != nil {
			return nil, err
		}
		prefix += set + "/"
	}
	var keys []string
	for oi, err := range h.backend.List(ctx, prefix) {
		if err != nil {
			return nil, fmt.Errorf("listing snapshots: %w", err)
		}
		if strings.HasSuffix(oi.Key, ".json") {
			keys = append(keys, oi.Key)
		}
	}
	return keys, nil
}

// Snapshots lists the snapshots of a set ("" for every set), oldest first.
// A summary that cannot be read is left out of the list and reported in the
// error, one *DamagedError each (joined), so a caller that can go on without
// it (a listing, hub check, a restore of another snapshot) still has every
// readable one.
func (h *Hub) Snapshots(ctx context.Context, set string) ([]*Snapshot, error) {
	keys, err := h.snapshotKeys(ctx, set)
	if err != nil {
		return nil, err
	}
	var out []*Snapshot
	var damaged []error
	for _, k := range keys {
		s, err := h.readSnapshot(ctx, k)
		var dmg *DamagedError
		if errors.As(err, &dmg) {
			damaged = append(damaged, err)
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, errors.Join(damaged...)
}

// OnlyDamaged reports whether err, from Snapshots, says only that some
// summaries could not be read (the list holds every other snapshot).
func OnlyDamaged(err error) bool {
	if err == nil {
		return false
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var dmg *DamagedError
		if !errors.As(e, &dmg) {
			return false
		}
	}
	return true
}

// LatestSnapshot returns the newest snapshot of a set that match accepts,
// reading summaries newest first (IDs sort by time) and stopping at the
// first match, so a nightly backup does not read the whole history.
func (h *Hub) LatestSnapshot(ctx context.Context, set string, match func(*Snapshot) bool) (*Snapshot, error) {
	keys, err := h.snapshotKeys(ctx, set)
	if err != nil {
		return nil, err
	}
	sort.Sort(sort.Reverse(sort.StringSlice(keys)))
	for _, k := range keys {
		s, err := h.readSnapshot(ctx, k)
		var dmg *DamagedError
		if errors.As(err, &dmg) {
			// A summary that cannot be read cannot be a parent: the one
			// before it serves (hub check and prune name the damaged one).
			continue
		}
		if err != nil {
			return nil, err
		}
		if match(s) {
			return s, nil
		}
	}
	return nil, nil
}

func (h *Hub) readSnapshot(ctx context.Context, key string) (*Snapshot, error) {
	rc, err := h.backend.Get(ctx, key, 0, -1)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", key, err)
	}
	defer rc.Close()
	// The key names the snapshot even when its summary cannot be read, so
	// the message can name the way out (snapshots forget ID).
	keySet, keyID, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(key, snapshotsPrefix), ".json"), "/")
	var s Snapshot
	if err := json.NewDecoder(io.LimitReader(rc, 16<<20)).Decode(&s); err != nil {
		return nil, &DamagedError{ID: keyID, Set: keySet, Err: fmt.Errorf("its summary %s is damaged: %w", key, err)}
	}
	if s.Format != SnapshotFormat {
		return nil, fmt.Errorf("snapshot %s: format %q, want %q (a newer editkit wrote it?)", key, s.Format, SnapshotFormat)
	}
	if ValidSetName(s.Set) != nil || s.EntriesKey != entriesKey(s.Set, s.ID) || key != snapshotKey(s.Set, s.ID) {
		return nil, &DamagedError{ID: keyID, Set: keySet, Err: fmt.Errorf("its summary %s is not valid (set %q, id %q)", key, s.Set, s.ID)}
	}
	return &s, nil
}

// DamagedError says a snapshot's file list cannot be used: missing,
// damaged, or refused. Its message names the way out.
type DamagedError struct {
	ID, Set string
	Err     error
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("snapshot %s of set %s: %v; drop it with `editkit snapshots forget %s` (the other snapshots keep their files)", e.ID, e.Set, e.Err, e.ID)
}

func (e *DamagedError) Unwrap() error { return e.Err }

// DeleteSnapshot removes a snapshot: its summary first, so it is no longer
// listed, then its file list.
func (h *Hub) DeleteSnapshot(ctx context.Context, s *Snapshot) error {
	if err := h.backend.Delete(ctx, snapshotKey(s.Set, s.ID)); err != nil {
		return err
	}
	return h.backend.Delete(ctx, s.EntriesKey)
}

// Entries downloads a snapshot's file list to a temporary file in dir,
// checks it against the summary, and streams it. Every path is checked: a
// hostile snapshot cannot name "../x" or "/etc/passwd".
func (h *Hub) Entries(ctx context.Context, s *Snapshot, dir string) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		f, err := os.CreateTemp(dir, "snapshot-*.entries.gz")
		if err != nil {
			yield(Entry{}, err)
			return
		}
		defer os.Remove(f.Name())
		defer f.Close()
		damaged := func(err error) { yield(Entry{}, &DamagedError{ID: s.ID, Set: s.Set, Err: err}) }
		rc, err := h.backend.Get(ctx, s.EntriesKey, 0, -1)
		if errors.Is(err, backend.ErrNotFound) {
			damaged(errors.New("its file list is missing"))
			return
		}
		if err != nil {
			yield(Entry{}, fmt.Errorf("snapshot %s file list: %w", s.ID, err))
			return
		}
		hh := hashing.NewMultiHasher(hashing.BLAKE3)
		_, err = io.Copy(io.MultiWriter(f, hh), rc)
		rc.Close()
		if err != nil {
			yield(Entry{}, fmt.Errorf("snapshot %s file list: %w", s.ID, err))
			return
		}
		if got := hh.Digest(hashing.BLAKE3); got != s.EntriesB3 {
			damaged(fmt.Errorf("its file list is damaged (BLAKE3 %s, expected %s)", got, s.EntriesB3))
			return
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			yield(Entry{}, err)
			return
		}
		gz, err := gzip.NewReader(bufio.NewReaderSize(f, 256<<10))
		if err != nil {
			damaged(fmt.Errorf("its file list is damaged: %w", err))
			return
		}
		dec := json.NewDecoder(gz)
		var prev Entry
		for n := 0; ; n++ {
			var e Entry
			err := dec.Decode(&e)
			if err == io.EOF {
				return
			}
			if err != nil {
				damaged(fmt.Errorf("its file list is damaged at entry %d: %w", n+1, err))
				return
			}
			if err := treepath.Validate(e.Path); err != nil {
				damaged(fmt.Errorf("it is refused: %w", err))
				return
			}
			if e.Root < 0 || e.Root >= len(s.Paths) {
				damaged(fmt.Errorf("it is refused: entry %q names root %d of %d", e.Path, e.Root, len(s.Paths)))
				return
			}
			if !e.Dir && !validB3(e.B3) {
				damaged(fmt.Errorf("it is refused: entry %q has a bad hash", e.Path))
				return
			}
			if n > 0 && CompareEntries(prev, e) >= 0 {
				damaged(fmt.Errorf("it is refused: entry %q out of order", e.Path))
				return
			}
			prev = e
			if !yield(e, nil) {
				return
			}
		}
	}
}

// ForgetSnapshot removes the snapshot with the given ID from whichever set
// holds it, even if its summary or file list is damaged, and returns the
// set. Blobs only it used are left to prune.
func (h *Hub) ForgetSnapshot(ctx context.Context, id string) (string, error) {
	if id == "" || strings.ContainsAny(id, "/\\ ") || strings.Contains(id, "..") {
		return "", fmt.Errorf("%q is not a snapshot ID (see editkit snapshots)", id)
	}
	keys, err := h.snapshotKeys(ctx, "")
	if err != nil {
		return "", err
	}
	for _, k := range keys {
		if !strings.HasSuffix(k, "/"+id+".json") {
			continue
		}
		set := strings.TrimSuffix(strings.TrimPrefix(k, snapshotsPrefix), "/"+id+".json")
		if err := h.backend.Delete(ctx, k); err != nil {
			return set, err
		}
		return set, h.backend.Delete(ctx, entriesKey(set, id))
	}
	return "", fmt.Errorf("no snapshot %s in %s (see editkit snapshots)", id, h.location)
}
