package manifest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/editkit/editkit/internal/b3sum"
	"github.com/editkit/editkit/internal/hashing"
	"github.com/editkit/editkit/internal/mhl"
	"github.com/editkit/editkit/internal/treepath"
	"github.com/editkit/editkit/internal/walk"
)

// ChecksumsFile is the b3sum-format list on every drive, relative to its
// root: `cd DRIVE && b3sum --check .editkit/checksums.b3sum` checks the
// drive with no editkit installed.
const ChecksumsFile = DirName + "/checksums.b3sum"

// WriteChecksums writes the drive's b3sum list from its manifest, atomically.
func (d *Drive) WriteChecksums() error {
	// 0644: another user's b3sum --check must be able to read it.
	return d.root.WriteFile(ChecksumsFile, 0o644, func(out io.Writer) error {
		w := b3sum.NewWriter(out)
		for r, err := range d.Records() {
			if err != nil {
				return err
			}
			if r.Dir || r.BLAKE3 == "" {
				continue
			}
			sum, err := hashing.ParseBLAKE3(r.BLAKE3)
			if err != nil {
				return fmt.Errorf("%s: %w", r.Path, err)
			}
			w.Write(sum, r.Path)
		}
		return w.Flush()
	})
}

// MHLFile is a file a drive's next ASC MHL generation records with
// hashes the caller checked, rather than the manifest's xxh128 alone.
type MHLFile struct {
	Path string
	// Hashes replace the manifest's: for a file a copied card's history
	// records, each of its formats verified (or failed) against it.
	Hashes []mhl.Hash
	// Unrecorded marks a file placed on the drive but kept out of the
	// manifest because it is damaged (its source did not match its own
	// history): the generation lists it, with its failed hashes, so the
	// history says what the drive holds. Size and ModTime describe it.
	Unrecorded bool
	Size       int64
	ModTime    time.Time
}

// AddMHLGeneration records in the drive's ASC MHL history every file
// written since the last generation, with xxh128, and directory and root
// hashes over the whole tree the manifest knows. nested names folders that
// hold histories of their own (copied cards). files gives the hashes of
// files checked against such a history, and the damaged files placed but
// not in the manifest. A file a history already records is never recorded
// as "original" again: its new hash is "verified" when it matches the
// history, "failed" when it does not. It returns "" when nothing is new.
// The caller saves Info afterwards (MHLThrough moves on).
func (d *Drive) AddMHLGeneration(g mhl.Generation, nested []string, files map[string]MHLFile) (string, error) {
	path, through, err := d.WriteMHLGeneration(g, nested, files)
	if err == nil {
		d.Info.MHLThrough = through
	}
	return path, err
}

// WriteMHLGeneration is AddMHLGeneration without moving Info.MHLThrough:
// it returns the seq the generation records through, for the caller to set
// once nothing else reads the drive (it writes the generation while other
// goroutines read the records for the checksum list and the report).
func (d *Drive) WriteMHLGeneration(g mhl.Generation, nested []string, files map[string]MHLFile) (path string, through uint64, err error) {
	var unrecorded []MHLFile
	for _, f := range files {
		if f.Unrecorded {
			unrecorded = append(unrecorded, f)
		}
	}
	slices.SortFunc(unrecorded, func(a, b MHLFile) int { return treepath.Compare(a.Path, b.Path) })
	if d.LastSeq() <= d.Info.MHLThrough && len(unrecorded) == 0 {
		return "", d.Info.MHLThrough, nil
	}
	known, err := recordedHashes(d.Root, nested)
	if err != nil {
		return "", 0, err
	}
	if g.DirHashFormat == "" {
		g.DirHashFormat = mhl.XXH128
	}
	// What a drive holds that is not media (editkit's own folder, every
	// name a drive walk leaves out), less what the drive records on purpose:
	// one list, shared with verify, so the reference tool sees no new files.
	g.Ignore = append(g.Ignore, mhl.Unhiding(walk.Rules{}.SkipPatterns(), d.RecordPaths())...)
	purged, err := d.purgeIgnore()
	if err != nil {
		return "", 0, err
	}
	g.Ignore = append(g.Ignore, purged...)
	path, err = mhl.WriteGenerationIn(d.root, g, d.mhlEntries(known, files, unrecorded))
	if err != nil {
		return "", 0, err
	}
	return path, d.LastSeq(), nil
}

// RecordPaths yields the path of every record, for mhl.Unhiding: a name
// editkit skips is not ignored where the drive holds such a file on
// purpose (Avid databases copied with --include-avid-db).
func (d *Drive) RecordPaths() iter.Seq2[string, bool] {
	return func(yield func(string, bool) bool) {
		for r, err := range d.Records() {
			if err != nil || !yield(r.Path, r.Dir) {
				return
			}
		}
	}
}

// mhlEntries turns the manifest into MHL entries, with the unrecorded
// files merged in tree order. A file is listed when it was written after
// the last generation; its hashes are the caller's when it gave some, else
// its xxh128, "verified" when a history already records the same hash for
// it (a card copied with its own history), "failed" when a history records
// another one, and "original" only when no history knows the file.
func (d *Drive) mhlEntries(known map[string]string, files map[string]MHLFile, unrecorded []MHLFile) iter.Seq2[mhl.Entry, error] {
	through := d.Info.MHLThrough
	return func(yield func(mhl.Entry, error) bool) {
		// flush yields the unrecorded files that come before path ("" for
		// all that are left).
		flush := func(path string) bool {
			for len(unrecorded) > 0 && (path == "" || treepath.Compare(unrecorded[0].Path, path) < 0) {
				f := unrecorded[0]
				unrecorded = unrecorded[1:]
				if !yield(mhl.Entry{Path: f.Path, Size: f.Size, ModTime: f.ModTime, Hashes: f.Hashes, Listed: true}, nil) {
					return false
				}
			}
			return true
		}
		for r, err := range d.Records() {
			if err != nil {
				yield(mhl.Entry{}, err)
				return
			}
			if !flush(r.Path) {
				return
			}
			if len(unrecorded) > 0 && unrecorded[0].Path == r.Path {
				unrecorded = unrecorded[1:] // the manifest's record wins
			}
			e := mhl.Entry{Path: r.Path, Dir: r.Dir, Listed: !r.Dir && r.Seq > through}
			if !r.Dir {
				e.Size, e.ModTime = r.Size, time.Unix(0, r.ModTime)
				at := r.Verified
				if at == 0 {
					at = r.Written
				}
				if f, ok := files[r.Path]; ok && !f.Unrecorded && e.Listed && hasXXH128(f.Hashes, r.XXH128) {
					e.Hashes = f.Hashes
				} else {
					action := mhl.Original
					if old, ok := known[r.Path]; ok {
						action = mhl.Verified
						if old != r.XXH128 {
							action = mhl.Failed
						}
					} else if r.Origin == OriginAdopt {
						// Checked against the history in its own formats when
						// adopted (by a run cut short before it wrote a generation).
						action = mhl.Verified
					}
					e.Hashes = []mhl.Hash{{Format: mhl.XXH128, Digest: r.XXH128, Action: action, HashDate: time.Unix(at, 0)}}
				}
			}
			if !yield(e, nil) {
				return
			}
		}
		flush("")
	}
}

// hasXXH128 reports whether hashes carry the given xxh128: the caller's
// hashes describe the file the manifest records.
func hasXXH128(hashes []mhl.Hash, digest string) bool {
	for _, h := range hashes {
		if h.Format == mhl.XXH128 && h.Digest == digest {
			return true
		}
	}
	return false
}

// recordedHashes returns the newest xxh128 every ASC MHL history on the
// drive records, by tree path: the drive's own history (which takes in the
// nested ones) or, without one, the nested histories.
func recordedHashes(root string, nested []string) (map[string]string, error) {
	known := map[string]string{}
	load := func(h string) error {
		dir := filepath.Join(root, filepath.FromSlash(h))
		if _, err := os.Stat(filepath.Join(dir, "ascmhl")); errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		hist, err := mhl.Open(dir)
		if err != nil {
			return err
		}
		for f := range hist.Files() {
			if f.Failed {
				continue
			}
			for _, rh := range f.Hashes {
				if rh.Format != mhl.XXH128 {
					continue
				}
				p := f.Path
				if h != "" {
					p = h + "/" + p
				}
				if treepath.Validate(p) == nil {
					known[p] = rh.Digest
				}
			}
		}
		return nil
	}
	if _, err := os.Stat(filepath.Join(root, "ascmhl")); err == nil {
		return known, load("")
	}
	for _, h := range nested {
		if err := load(h); err != nil {
			return nil, err
		}
	}
	return known, nil
}
