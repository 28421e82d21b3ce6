package copy

import (
	"errors"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"time"

	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/mhl"
	"github.com/editkit/editkit/internal/treepath"
)

const (
	historyPattern = "ascmhl/"
	historyReason  = "ASC MHL history (carried over and continued, not copied as media)"
)

// mhlIgnore is what a drive holds that is not media: tools verifying the
// drive's ASC MHL history must not count it as new files.
var mhlIgnore = []string{".editkit/", "._*", "Thumbs.db", ".Spotlight-V100/", ".Trashes/", ".fseventsd/", ".TemporaryItems/", walkTempGlob}

const walkTempGlob = ".editkit-tmp-*"

// writeMHL adds an ASC MHL transfer generation at the drive's root listing
// every file written since the last generation (this run's and any earlier
// interrupted run's), with xxh128, and directory and root hashes over the
// whole tree the manifest knows. It returns "" when nothing is new.
func (c *copier) writeMHL(d *dest) (string, error) {
	drv := d.drive
	if drv.LastSeq() <= drv.Info.MHLThrough {
		return "", nil
	}
	known, err := recordedHashes(d.root, c.histories)
	if err != nil {
		return "", err
	}
	g := mhl.Generation{
		Process:       mhl.ProcessTransfer,
		Created:       c.opts.Now(),
		Host:          c.opts.Host,
		Tool:          c.opts.Tool,
		ToolVersion:   c.opts.Version,
		Author:        c.opts.User,
		Comment:       "editkit copy from " + c.srcRoot,
		Ignore:        mhlIgnore,
		DirHashFormat: mhl.XXH128,
	}
	return mhl.WriteGeneration(d.root, g, mhlEntries(drv, known))
}

// mhlEntries turns the manifest into MHL entries. A file is listed when it
// was written after the last generation; its action is "verified" when a
// history already records the same hash for it (a card copied with its own
// history), "original" otherwise.
func mhlEntries(drv *manifest.Drive, known map[string]string) iter.Seq2[mhl.Entry, error] {
	through := drv.Info.MHLThrough
	return func(yield func(mhl.Entry, error) bool) {
		for r, err := range drv.Records() {
			if err != nil {
				yield(mhl.Entry{}, err)
				return
			}
			e := mhl.Entry{Path: r.Path, Dir: r.Dir, Listed: !r.Dir && r.Seq > through}
			if !r.Dir {
				e.Size, e.ModTime = r.Size, time.Unix(0, r.ModTime)
				action := mhl.Original
				if known[r.Path] == r.XXH128 {
					action = mhl.Verified
				}
				at := r.Verified
				if at == 0 {
					at = r.Written
				}
				e.Hashes = []mhl.Hash{{Format: mhl.XXH128, Digest: r.XXH128, Action: action, HashDate: time.Unix(at, 0)}}
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}

// recordedHashes returns the newest xxh128 every ASC MHL history on the
// drive records, by tree path: the drive's own history (which takes in the
// nested ones) or, without one, the nested histories carried from the source.
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
