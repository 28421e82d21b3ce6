package manifest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/place"
	"github.com/editkit/editkit/internal/treepath"
)

// Rebuilding a manifest (editkit verify --rebuild) replaces manifest.ekm
// and the journal with records made by re-hashing the drive's files. The
// old files are never deleted: they are renamed beside the new one
// (manifest.ekm.damaged-<time>, or .replaced-<time> when they could be
// read), so nothing a damaged manifest still knew is lost.

// Rebuild is a drive opened to have its manifest rebuilt: locked, with
// what its old manifest and journal still say, but without reading them as
// the truth. Close it when done.
type Rebuild struct {
	Drive *Drive
	// Hints holds, per path, the newest record found on an intact line of
	// the old manifest or journal. Only a file whose size, mtime and BLAKE3
	// are re-checked against one may reuse what it says (src_mtime, origin,
	// when it was written).
	Hints map[string]Record
	// Removed holds the paths whose newest intact record says the file
	// was removed on purpose (pull --prune): not missing.
	Removed map[string]bool
	// Damage is why the old manifest could not be read, nil if it could.
	Damage error

	maxSeq      uint64
	damagedInfo bool // drive.json could not be read: kept aside, identity taken from the manifest's header
}

// OpenForRebuild opens the drive at the command's placement root r to
// rebuild its manifest, making it an editkit drive (new ID, label) if it is
// not one.
func OpenForRebuild(r *place.Root, label string, now time.Time) (*Rebuild, error) {
	root := r.Path()
	var d *Drive
	damagedInfo := false
	if !IsDrive(root) {
		if err := r.MkdirAll(DirName); err != nil {
			return nil, fmt.Errorf("create %s: %w", statePath(root, ""), err)
		}
		if label == "" {
			label = filepath.Base(filepath.Clean(root))
		}
		d = &Drive{Root: root, root: r, Info: Info{Format: infoFormat, ID: "ek-" + fsx.RandomID(10), Label: label, Created: now.UTC()}}
	} else {
		d = &Drive{Root: root, root: r}
		var de *DamagedError
		if err := d.loadInfo(); errors.As(err, &de) && filepath.Base(de.File) == infoFile {
			damagedInfo = true
			d.Info = Info{Format: infoFormat, ID: headerDriveID(d.path(baseFile)), Label: label, Created: now.UTC()}
			if d.Info.ID == "" {
				d.Info.ID = "ek-" + fsx.RandomID(10)
			}
			if d.Info.Label == "" {
				d.Info.Label = filepath.Base(filepath.Clean(root))
			}
		} else if err != nil {
			return nil, err
		}
	}
	state, err := d.stateDir(false)
	if err != nil {
		return nil, err
	}
	err = d.lock(state)
	state.Close()
	if err != nil {
		return nil, err
	}
	rb := &Rebuild{Drive: d, Hints: map[string]Record{}, Removed: map[string]bool{}, damagedInfo: damagedInfo}
	for _, err := range d.Records() {
		if err != nil {
			rb.Damage = err
			break
		}
	}
	if err := rb.salvage(); err != nil {
		d.Close()
		return nil, err
	}
	return rb, nil
}

// Close releases the drive.
func (rb *Rebuild) Close() error { return rb.Drive.Close() }

// maxCredibleSeq bounds the seqs a salvaged line may carry: no drive
// records 2^48 changes, and numbering on from a hostile line's 2^64-1
// would wrap around.
const maxCredibleSeq = 1 << 48

// salvage collects the intact lines of the old manifest and journal.
func (rb *Rebuild) salvage() error {
	d := rb.Drive
	var recs []Record
	for _, name := range []string{baseFile, journalFile} {
		f, err := os.Open(d.path(name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		lr := newLineReader(f, d.path(name))
		for {
			body, err := lr.next()
			if err == io.EOF {
				break
			}
			if errors.Is(err, errTorn) {
				continue
			}
			if err != nil {
				f.Close()
				return err
			}
			var h header
			if json.Unmarshal(body, &h) == nil && h.Format == manifestFormat {
				if h.MaxSeq < maxCredibleSeq {
					rb.maxSeq = max(rb.maxSeq, h.MaxSeq)
				}
				continue
			}
			var r Record
			if json.Unmarshal(body, &r) != nil || treepath.Validate(r.Path) != nil || r.Seq >= maxCredibleSeq {
				continue
			}
			rb.maxSeq = max(rb.maxSeq, r.Seq)
			recs = append(recs, r)
		}
		f.Close()
	}
	slices.SortFunc(recs, func(a, b Record) int { return compareRecords(a, b) })
	for _, r := range recs { // by path, then seq: the newest comes last
		delete(rb.Hints, r.Path)
		delete(rb.Removed, r.Path)
		switch {
		case r.Deleted:
			rb.Removed[r.Path] = true
		case !r.Dir:
			rb.Hints[r.Path] = r
		}
	}
	return nil
}

// Replace makes recs (files and folders, in any order; their seqs are
// assigned here) the drive's whole manifest. The old manifest and journal
// are renamed aside, never deleted; their new names are returned. Records
// get seqs above every seq the old files or the drive's ASC MHL state
// used, so the next ASC MHL generation lists them. Afterwards the drive is
// open for writing (Append, WriteChecksums, SaveInfo).
func (rb *Rebuild) Replace(recs []Record, now time.Time) (kept []string, err error) {
	d := rb.Drive
	slices.SortFunc(recs, func(a, b Record) int { return treepath.Compare(a.Path, b.Path) })
	seq := max(rb.maxSeq, d.Info.MHLThrough)
	for i := range recs {
		if err := treepath.Validate(recs[i].Path); err != nil {
			return nil, err
		}
		if i > 0 && recs[i].Path == recs[i-1].Path {
			return nil, fmt.Errorf("rebuild: %s recorded twice", recs[i].Path)
		}
		seq++
		recs[i].Seq = seq
		recs[i].Deleted = false
	}
	// Everything below happens in the drive's .editkit folder, reached from
	// its root without following a link.
	state, err := d.stateDir(true)
	if err != nil {
		return nil, err
	}
	defer state.Close()
	stamp := now.UTC().Format("20060102T150405Z")
	if rb.damagedInfo {
		aside, err := setAside(state, infoFile, ".damaged-"+stamp)
		if err != nil {
			return nil, fmt.Errorf("keep the damaged %s aside: %w", d.path(infoFile), err)
		}
		kept = append(kept, aside)
	}
	if err := d.SaveInfoUnlocked(); err != nil { // a new drive's identity, first
		return kept, err
	}
	// Leftovers of an earlier rebuild killed half-way.
	names, err := state.Names()
	if err != nil {
		return kept, err
	}
	for _, n := range names {
		if strings.HasPrefix(n, ".rebuild-") {
			state.Remove(n)
		}
	}
	tmp := ".rebuild-" + fsx.RandomID(6) + ".ekm"
	if err := writeManifestFile(state, tmp, d.Info.ID, seq, recs); err != nil {
		state.Remove(tmp)
		return kept, err
	}
	d.mem.forget() // the manifest and journal are replaced below
	suffix := ".replaced-"
	if rb.Damage != nil {
		suffix = ".damaged-"
	}
	for _, name := range []string{baseFile, journalFile} {
		fi, err := state.Lstat(name)
		if errors.Is(err, os.ErrNotExist) || err == nil && fi.Mode().IsRegular() && fi.Size() == 0 && name == journalFile {
			continue
		}
		if err != nil {
			state.Remove(tmp)
			return kept, err
		}
		aside, err := setAside(state, name, suffix+stamp)
		if err != nil {
			state.Remove(tmp)
			return kept, fmt.Errorf("keep the old %s aside: %w", d.path(name), err)
		}
		kept = append(kept, aside)
	}
	if err := state.Rename(tmp, baseFile); err != nil {
		return kept, fmt.Errorf("put the rebuilt manifest in place: %w", err)
	}
	if err := state.Sync(); err != nil {
		return kept, err
	}
	j, err := openJournal(state, journalFile)
	if err != nil {
		return kept, err
	}
	d.journal, d.nextSeq, d.writable = j, seq+1, true
	return kept, nil
}

// SaveInfoUnlocked writes drive.json for a drive being rebuilt, before its
// journal is open.
func (d *Drive) SaveInfoUnlocked() error {
	if d.unlock == nil {
		return errors.New("drive not locked")
	}
	b, err := json.MarshalIndent(d.Info, "", "  ")
	if err != nil {
		return err
	}
	return d.root.WriteFileBytes(DirName+"/"+infoFile, append(b, '\n'), 0o644)
}

// setAside renames name in dir to name+suffix, or that with a counter,
// whichever is free (never replacing anything), and returns its new path.
func setAside(dir *place.Dir, name, suffix string) (string, error) {
	cand := name + suffix
	for i := 2; ; i++ {
		// Looked at first: a file system that cannot rename without
		// replacing (FUSE exFAT) would not refuse.
		_, err := dir.Lstat(cand)
		if errors.Is(err, fs.ErrNotExist) {
			if err = dir.Rename(name, cand); err == nil {
				return filepath.Join(dir.Path(), cand), nil
			}
		}
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return "", err
		}
		cand = fmt.Sprintf("%s%s-%d", name, suffix, i)
	}
}

// writeManifestFile writes a complete manifest.ekm (header, sorted records,
// trailer) to the new file name in dir and fsyncs it.
func writeManifestFile(dir *place.Dir, name, driveID string, maxSeq uint64, recs []Record) error {
	f, err := dir.CreateExclusive(name, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	path := f.Name()
	w := bufio.NewWriterSize(f, 256<<10)
	var line []byte
	put := func(v any) error {
		line, err = appendLine(line[:0], v)
		if err != nil {
			return err
		}
		_, err = w.Write(line)
		return err
	}
	if err := put(header{Format: manifestFormat, Drive: driveID, MaxSeq: maxSeq}); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	for _, r := range recs {
		if err := put(r); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := put(trailer{End: true, Records: int64(len(recs))}); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := fsx.Sync(f); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}

// headerDriveID returns the drive ID a manifest's header records, or "".
func headerDriveID(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	body, err := newLineReader(f, path).next()
	if err != nil {
		return ""
	}
	var h header
	if json.Unmarshal(body, &h) != nil || h.Format != manifestFormat || !strings.HasPrefix(h.Drive, "ek-") {
		return ""
	}
	return h.Drive
}
