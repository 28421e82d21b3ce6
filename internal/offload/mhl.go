package offload

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/editkit/editkit/internal/hashing"
	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/mhl"
	"github.com/editkit/editkit/internal/treepath"
	"github.com/editkit/editkit/internal/walk"
)

const (
	historyPattern = "ascmhl/"
	historyReason  = "ASC MHL history (carried over and continued, not copied as media)"
)

// sourceRecord is what the source's ASC MHL histories (a camera card's,
// an offload tool's) record for one file.
type sourceRecord struct {
	history string // folder of the history that records it, "" for the source's root
	rec     mhl.FileRecord
}

// loadSourceHistories reads what the source's histories record, so each
// file they know is checked against its own history as it is copied: a
// file that no longer matches is damaged at the source.
func (c *copier) loadSourceHistories() error {
	c.recorded = map[string]sourceRecord{}
	load := func(h string) error {
		dir := filepath.Join(c.srcRoot, filepath.FromSlash(h))
		hist, err := mhl.Open(dir)
		if err != nil {
			return fmt.Errorf("reading the ASC MHL history of the source (%s): %w; repair or remove it, or copy the folder without it", filepath.Join(dir, "ascmhl"), err)
		}
		for f := range hist.Files() {
			p := f.Path
			if h != "" {
				p = h + "/" + p
			}
			if treepath.Validate(p) != nil {
				continue
			}
			c.recorded[p] = sourceRecord{history: h, rec: f}
		}
		return nil
	}
	// The root's history takes in the nested ones, as on the drive.
	if slices.Contains(c.histories, "") {
		return load("")
	}
	for _, h := range c.histories {
		if err := load(h); err != nil {
			return err
		}
	}
	return nil
}

// keepRecorded is the walk's Keep rule for a source holding ASC MHL
// histories: a file a card's history records (an AppleDouble file, a
// Thumbs.db, a file under the history's own ignore patterns) is copied
// whatever editkit's skip list says, so the history carried to the drive
// never records a file the drive lacks. --exclude and the histories
// themselves still win. Histories are found by looking up from the entry,
// because a walk meets "._x" before the "ascmhl" folder beside it.
func (c *copier) keepRecorded() func(rel string, isDir bool) bool {
	var mu sync.Mutex
	histories := map[string]*mhl.History{} // folder → its history, nil if none
	history := func(dir string) *mhl.History {
		mu.Lock()
		defer mu.Unlock()
		h, seen := histories[dir]
		if !seen {
			full := filepath.Join(c.srcRoot, filepath.FromSlash(dir))
			if fi, err := os.Lstat(filepath.Join(full, "ascmhl")); err == nil && fi.IsDir() {
				h, _ = mhl.Open(full) // an unreadable one stops the copy in loadSourceHistories
			}
			histories[dir] = h
		}
		return h
	}
	builtIn := walk.Rules{IncludeAvidDB: c.opts.Rules.IncludeAvidDB}
	onPurpose := slices.Concat(c.opts.Rules.Excludes, slices.Collect(maps.Keys(c.opts.Rules.Internal)))
	return func(rel string, isDir bool) bool {
		if builtIn.Skip(rel, isDir) == "" || slices.ContainsFunc(onPurpose, func(p string) bool { return walk.Match(p, rel, isDir) }) {
			return false // not junk, or left out on purpose
		}
		for dir := treepath.Parent(rel); ; dir = treepath.Parent(dir) {
			if h := history(dir); h != nil && h.Records(strings.TrimPrefix(strings.TrimPrefix(rel, dir), "/"), isDir) {
				return true
			}
			if dir == "" {
				return false
			}
		}
	}
}

// extraFormats returns the formats other than xxh128 (which every copy
// computes) that a source history records for a file.
func (r sourceRecord) extraFormats() []mhl.Format {
	var out []mhl.Format
	for _, h := range r.rec.Hashes {
		if h.Format != mhl.XXH128 {
			out = append(out, h.Format)
		}
	}
	return out
}

// check compares what was read from the source with what its history
// records. It returns the hashes the drive's next generation records for
// the file (see mhl.FileRecord.Recheck; xxh128 is added when the history
// had another format, as the reference tool does) and, when the file does
// not match, why it is damaged at the source.
func (r sourceRecord) check(srcRoot, path, xxh128 string, extra map[mhl.Format]string, at time.Time) ([]mhl.Hash, error) {
	got := map[mhl.Format]string{mhl.XXH128: xxh128}
	for f, d := range extra {
		got[f] = d
	}
	out, mismatches := r.rec.Recheck(got, at, mhl.XXH128)
	srcPath := filepath.Join(srcRoot, filepath.FromSlash(path))
	hist := filepath.Join(srcRoot, filepath.FromSlash(r.history), "ascmhl")
	switch {
	case len(mismatches) > 0:
		return out, fmt.Errorf("damaged at the source: %s does not match its ASC MHL history (%s): %s; "+
			"the copy on this drive holds the damaged bytes and is recorded as failed — copy this file again from another copy of the card",
			srcPath, hist, strings.Join(mismatches, "; "))
	case r.rec.Failed:
		return out, fmt.Errorf("damaged at the source: the ASC MHL history of %s (%s) records a failed verification for it; "+
			"the copy on this drive is recorded as failed — copy this file again from another copy of the card", srcPath, hist)
	}
	return out, nil
}

// writeMHL adds an ASC MHL transfer generation at the drive's root listing
// every file written since the last generation. It returns the seq the
// generation records through, for Info.MHLThrough.
func (c *copier) writeMHL(d *dest) (string, uint64, error) {
	return d.drive.WriteMHLGeneration(mhl.Generation{
		Process:     mhl.ProcessTransfer,
		Created:     c.opts.Now(),
		Host:        c.opts.Host,
		Tool:        c.opts.Tool,
		ToolVersion: c.opts.Version,
		Author:      c.opts.User,
		Comment:     "editkit copy from " + c.srcRoot,
	}, c.histories, d.mhlFiles)
}

// adoptHistory takes into a destination's manifest what the drive's own
// ASC MHL history records and the manifest lacks (a drive another tool
// prepared; see manifest.Drive.AdoptHistory), so this run's generation and
// checksum list cover the whole drive. Files this run copied are in the
// manifest already and are not read again. A file that does not match the
// history is failed here and recorded failed in the generation. Called
// with d.mu held.
func (c *copier) adoptHistory(ctx context.Context, d *dest) error {
	ao := manifest.AdoptOptions{Jobs: c.opts.Jobs, Now: c.opts.Now(), Progress: c.opts.Progress}
	a, err := d.drive.AdoptHistory(ctx, ao)
	if err != nil {
		return err
	}
	if a.Adopted == 0 && len(a.Damaged) == 0 {
		return nil // missing files alone were reported when the history was adopted
	}
	d.res.History = a
	for _, p := range a.Damaged {
		d.res.Failed = append(d.res.Failed, FileError{Path: p.Path, Err: "damaged on the drive: " + p.Detail +
			"; recorded as failed in the drive's ASC MHL history and kept out of its manifest — copy this file again from another copy"})
	}
	if d.mhlFiles == nil {
		d.mhlFiles = make(map[string]manifest.MHLFile)
	}
	for p, f := range a.Files {
		if _, ok := d.mhlFiles[p]; !ok {
			d.mhlFiles[p] = f
		}
	}
	return nil
}

// checkHistories refuses, before anything is written, a destination whose
// ASC MHL history's chain is broken (this copy's generation would extend
// it), and a source history that cannot be carried: the destination
// already has a history in the same folder (one folder holds one history)
// that does not continue the source's. Dropping the source's would break
// its chain of custody without a word.
func (c *copier) checkHistories() error {
	var problems []string
	for _, d := range c.dests {
		if fi, err := os.Lstat(filepath.Join(d.root, "ascmhl")); err != nil || !fi.IsDir() {
			continue
		}
		// Nothing is appended to a broken chain: say so before copying.
		hist, err := mhl.Open(d.root)
		if err != nil {
			problems = append(problems, fmt.Sprintf("destination %s: reading its ASC MHL history: %v; restore the ascmhl folder from another copy of the drive", d.arg, err))
		} else if cps := hist.CheckChain(); len(cps) > 0 {
			problems = append(problems, fmt.Sprintf("destination %s: %v", d.arg, &manifest.ChainError{Root: d.root, Problems: cps}))
		}
	}
	for _, h := range c.histories {
		from := filepath.Join(c.srcRoot, filepath.FromSlash(h))
		for _, d := range c.dests {
			to := filepath.Join(d.root, filepath.FromSlash(h))
			if fi, err := os.Lstat(filepath.Join(to, "ascmhl")); err != nil || !fi.IsDir() {
				continue // carried there at the end of the copy
			}
			rel, err := mhl.CompareChains(from, to)
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("comparing the ASC MHL histories %s and %s: %v", filepath.Join(from, "ascmhl"), filepath.Join(to, "ascmhl"), err))
			case rel == mhl.Unrelated:
				problems = append(problems, fmt.Sprintf("the source's ASC MHL history %s cannot be carried to %s: that folder already has a history of its own (%s), "+
					"not a copy of the source's, and one folder holds one history — copy onto a drive or folder without an ASC MHL history "+
					"(or copy the folder that holds %s, so that its history lands in a folder of its own on the drive and nests there)",
					filepath.Join(from, "ascmhl"), d.arg, filepath.Join(to, "ascmhl"), from))
			case rel == mhl.Diverged:
				// A copy of the source's history that both went on with:
				// the drive's history continues on its own, and this
				// copy's generation records each file checked against the
				// source's newest record.
				d.res.Notes = append(d.res.Notes, fmt.Sprintf("the source's ASC MHL history %s has generations that %s's copy of it (%s) lacks: "+
					"they describe the source, not this drive; the drive's history goes on with its own, and this copy's generation records "+
					"each file checked against the source's newest record", filepath.Join(from, "ascmhl"), d.arg, filepath.Join(to, "ascmhl")))
			}
		}
	}
	if len(problems) > 0 {
		return &PreflightError{Problems: problems}
	}
	return nil
}

// fileHasher hashes a file being copied in the formats every copy records
// and, when the source's ASC MHL history records the file, in the
// history's formats too, to check it against the history.
type fileHasher struct {
	*hashing.MultiHasher
	rec       sourceRecord
	inHistory bool
	formats   map[mhl.Format]hashing.Type
}

// newFileHasher returns the hasher for the file at path. A file no source
// history records is hashed with plain, the worker's hasher of the formats
// every copy records, reset: a BLAKE3 state is a few KB, which allocated
// and cleared for each small file costs more than hashing it.
func (c *copier) newFileHasher(path string, plain *hashing.MultiHasher) *fileHasher {
	rec, inHistory := c.recorded[path]
	if !inHistory {
		plain.Reset()
		return &fileHasher{MultiHasher: plain}
	}
	types := copyHashes()
	formats := map[mhl.Format]hashing.Type{}
	for _, f := range rec.extraFormats() {
		if t, ok := f.HashType(); ok {
			formats[f], types = t, append(types, t)
		}
	}
	return &fileHasher{MultiHasher: hashing.NewMultiHasher(types...), rec: rec, inHistory: inHistory, formats: formats}
}

// copyHashes are the formats every copy records.
func copyHashes() []hashing.Type { return []hashing.Type{hashing.BLAKE3, hashing.XXH128} }

// checkHistory checks the hashed file against the source's history, if it
// records the file: see sourceRecord.check.
func (h *fileHasher) checkHistory(srcRoot, path, xxh128 string, now func() time.Time) ([]mhl.Hash, error) {
	if !h.inHistory {
		return nil, nil
	}
	got := make(map[mhl.Format]string, len(h.formats))
	for f, t := range h.formats {
		got[f] = h.Digest(t)
	}
	return h.rec.check(srcRoot, path, xxh128, got, now())
}
