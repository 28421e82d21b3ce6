package verify

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/editkit/editkit/internal/hashing"
	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/mxf"
	"github.com/editkit/editkit/internal/report"
	"github.com/editkit/editkit/internal/treepath"
	"github.com/editkit/editkit/internal/walk"
)

// driveRules is what a walk of a drive leaves out: editkit's own state and
// temporary files, MHL histories, and OS junk. Avid's databases are kept:
// a drive may have them (copied with --include-avid-db).
func driveRules() walk.Rules {
	return walk.Rules{IncludeAvidDB: true, Internal: map[string]string{"ascmhl/": "ASC MHL history"}}
}

// keepRecorded returns the walk's Keep rule for a drive: a file its
// manifest records is checked whatever its name (a card's "._x" or
// Thumbs.db, copied because the card's ASC MHL history records it), never
// reported missing because the skip list would leave it out. Only the few
// recorded paths the rules would skip, and their folders, are held.
func keepRecorded(records iter.Seq2[manifest.Record, error], rules walk.Rules) (func(string, bool) bool, error) {
	keep := map[string]bool{}
	for r, err := range records {
		if err != nil {
			return nil, err
		}
		for p, isDir := r.Path, r.Dir; p != ""; p, isDir = treepath.Parent(p), true {
			if rules.Skip(p, isDir) != "" {
				for q := r.Path; q != "" && !keep[q]; q = treepath.Parent(q) {
					keep[q] = true
				}
				break
			}
		}
	}
	if len(keep) == 0 {
		return nil, nil
	}
	return func(rel string, _ bool) bool { return keep[rel] }, nil
}

// lost is a recorded file that is not where it should be, kept to find it
// under another name.
type lost struct {
	path   string
	size   int64
	digest string // BLAKE3 (manifest, b3sum) or the MHL comparison digest
	format string // how digest was made: "blake3" or an MHL format
}

// found is a file on the drive that nothing records.
type found struct {
	path string
	size int64
}

// againstManifest re-hashes the files the drive's editkit manifest lists
// and walks the drive for missing and unrecorded files, merging the two
// streams in tree order so memory does not grow with the drive.
func (v *verifier) againstManifest(ctx context.Context) error {
	drv, err := v.openManifest()
	if err != nil {
		return err
	}
	v.drive = drv // closed by Run, after the outputs are written
	v.res.Label, v.res.DriveID = drv.Info.Label, drv.Info.ID

	since := v.opts.Since.Unix()
	m := &manifestCheck{
		verifier: v,
		drv:      drv,
		pick:     v.sampler(),
		selected: func(r manifest.Record) bool {
			return !r.Dir && v.inScope(r.Path) && (v.opts.Since.IsZero() || r.Written >= since)
		},
		checked: map[string]checkedFile{},
	}
	if err := m.announceTotal(); err != nil {
		return err
	}
	m.pool = newPool(ctx, v.opts.Jobs, v.opts.Progress, v.beat)
	walkErr := m.walk()
	if err := firstErr(m.pool.Wait(), walkErr); err != nil {
		return err
	}
	renamed, gone := m.findMoved(ctx)
	v.writeMHL = func() (string, error) { return v.manifestMHL(m.checked, renamed, gone) }
	return m.markReadBack()
}

// openManifest opens the drive's manifest, for writing unless the run is
// read-only.
func (v *verifier) openManifest() (*manifest.Drive, error) {
	open := manifest.OpenForWriteIn
	if v.opts.ReadOnly {
		open = manifest.OpenIn
	}
	drv, err := open(v.place)
	if errors.Is(err, manifest.ErrNotADrive) {
		return nil, &UsageError{err}
	}
	return drv, err
}

// manifestCheck is one run against an editkit manifest: what the walk, the
// re-hash jobs and the search for moved files share.
type manifestCheck struct {
	*verifier
	drv      *manifest.Drive
	pool     *pool
	pick     func(path string) bool       // in the --sample
	selected func(r manifest.Record) bool // a file this run checks

	missing []lost  // recorded, not on the drive (walk only)
	extras  []found // on the drive, not recorded (walk only)

	mu         sync.Mutex // guards what the re-hash jobs record
	checked    map[string]checkedFile
	unverified []manifest.Record // intact, but never read back before
}

// announceTotal passes over the manifest alone, for the progress total.
func (m *manifestCheck) announceTotal() error {
	var total int64
	files := 0
	for r, err := range m.drv.Records() {
		if err != nil {
			return err
		}
		m.beat()
		if m.selected(r) && m.pick(r.Path) {
			total += r.Size
			files++
		}
	}
	m.addTotal(total, files)
	return nil
}

// walk walks the drive beside the manifest in tree order: a record the walk
// passes without finding is missing, a file no record names is extra, and
// every recorded file is queued to be re-hashed.
func (m *manifestCheck) walk() error {
	cursor := newTreeCursor(m.drv.Records(), func(r manifest.Record) string { return r.Path }, func(r manifest.Record) {
		if m.selected(r) {
			m.res.Files++
			m.missing = append(m.missing, lost{r.Path, r.Size, r.BLAKE3, "blake3"})
		}
	})
	defer cursor.stop()
	rules := driveRules()
	var err error
	if rules.Keep, err = keepRecorded(m.drv.Records(), rules); err != nil {
		return err
	}
	err = walk.Walk(m.pool.ctx, m.root, rules, walk.Visitor{
		Dir: func(e walk.Entry, _ []string) error {
			m.beat()
			if e.Path == "" {
				return nil
			}
			_, _, err := cursor.seek(e.Path, false)
			return err
		},
		File: func(e walk.Entry) error {
			m.beat()
			r, ok, err := cursor.seek(e.Path, false)
			if err != nil {
				return err
			}
			switch {
			case ok && !r.Dir && m.selected(r):
				return m.rehash(r, e)
			case !ok && m.opts.Since.IsZero() && m.inScope(e.Path):
				m.extras = append(m.extras, found{e.Path, e.Size})
			}
			return nil
		},
		Skipped: func(s walk.Skipped) {
			if !m.unreadable(s) && strings.HasPrefix(treepath.Base(s.Path), walk.TempPrefix) && m.inScope(s.Path) {
				m.problem(Problem{Kind: Extra, Path: s.Path, Detail: "temporary file of an interrupted copy; run that copy again to finish it"})
			}
		},
	})
	if err == nil {
		_, _, err = cursor.seek("", true)
	}
	return err
}

// rehash queues the re-hash of a recorded file found on the drive as e.
func (m *manifestCheck) rehash(r manifest.Record, e walk.Entry) error {
	resized, sampled := m.admit(r.Path, r.Size, e.Size, m.pick)
	if !sampled {
		return nil
	}
	full := filepath.Join(m.root, filepath.FromSlash(r.Path))
	return m.pool.Submit(func(ctx context.Context) {
		defer m.fileDone()
		sum, err := m.pool.hashFile(ctx, full, true)
		var mismatch string
		if got := sum.BLAKE3Hex(); got != r.BLAKE3 {
			mismatch = fmt.Sprintf("BLAKE3 %s, recorded %s", got, r.BLAKE3)
		}
		intact := false
		switch m.judge(ctx, r.Path, err, resized, mismatch) {
		case unread:
			return
		case matches:
			intact = true
			if e.ModTime.UnixNano() != r.ModTime {
				m.problem(Problem{Kind: MTimeChanged, Path: r.Path, Detail: fmt.Sprintf("content intact, but modified %s (recorded %s)",
					e.ModTime.UTC().Format(time.RFC3339Nano), r.MTime().UTC().Format(time.RFC3339Nano))})
			} else {
				m.verified(r.Path, sum.Size, report.Hash{Format: "BLAKE3", Digest: sum.BLAKE3Hex()}, report.Hash{Format: "xxh128", Digest: sum.XXH128Hex()})
			}
		}
		// A record from before editkit read MXF headers gets the header
		// now, while the file is in the page cache.
		indexed := false
		if intact && e.ModTime.UnixNano() == r.ModTime && r.MXF == nil {
			r.MXF = mxf.ProbeFile(full, sum.Size)
			indexed = r.MXF != nil
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		m.checked[r.Path] = checkedFile{xxh128: sum.XXH128Hex(), size: sum.Size, mod: e.ModTime, intact: intact}
		if intact && e.ModTime.UnixNano() == r.ModTime && (r.Verified == 0 || indexed) {
			m.unverified = append(m.unverified, r)
		}
	})
}

// findMoved pairs the missing records with the extra files of the same
// content and returns the moved files as the generation appended records
// them (under the new name, with the previous path, spec 5.3.3) and the
// paths still missing, which it leaves out.
func (m *manifestCheck) findMoved(ctx context.Context) ([]movedRecord, []string) {
	sizes := map[string]int64{}
	for _, x := range m.extras {
		sizes[x.path] = x.size
	}
	movedXXH := map[string]string{}
	moved, gone := m.verifier.findMoved(ctx, m.missing, m.extras, func(ctx context.Context, path string, _ lost) (string, error) {
		sum, err := m.pool.hashFile(ctx, filepath.Join(m.root, filepath.FromSlash(path)), true)
		movedXXH[path] = sum.XXH128Hex()
		return sum.BLAKE3Hex(), err
	})
	var renamed []movedRecord
	for _, mv := range moved {
		fi, err := os.Lstat(filepath.Join(m.root, filepath.FromSlash(mv.to)))
		if err != nil {
			continue
		}
		renamed = append(renamed, movedRecord{movedFile: mv, xxh128: movedXXH[mv.to], size: sizes[mv.to], mod: fi.ModTime()})
	}
	return renamed, gone
}

// markReadBack records in the manifest that the intact files never read
// back before (or whose MXF header was read for the first time) have been
// now.
func (m *manifestCheck) markReadBack() error {
	if m.opts.ReadOnly || len(m.unverified) == 0 {
		return nil
	}
	now := m.opts.Now().Unix()
	for _, r := range m.unverified {
		r.Verified = now
		if err := m.drv.Append(r); err != nil {
			return err
		}
	}
	return m.drv.Sync()
}

// verdict is what re-hashing a recorded file found.
type verdict int

const (
	unread  verdict = iota // interrupted, or a read error (reported): nothing to record
	differs                // read whole, but not what was recorded (reported)
	matches                // the content is what was recorded
)

// judge reports what re-hashing the recorded file path found: err, the
// error reading it; resized, its size differs from the record (already
// reported); mismatch, how its digest differs ("" when it does not).
func (v *verifier) judge(ctx context.Context, path string, err error, resized bool, mismatch string) verdict {
	switch {
	case ctx.Err() != nil:
		return unread
	case err != nil:
		v.problem(Problem{Kind: ReadError, Path: path, Detail: err.Error()})
		return unread
	case resized:
		return differs
	case mismatch != "":
		v.problem(Problem{Kind: Modified, Path: path, Detail: mismatch})
		return differs
	}
	return matches
}

// admit counts a recorded file found on the drive, reports it if its size
// changed, and returns whether it did and whether it is in the sample. A
// file of another size is read all the same: the ASC MHL generation
// appended records what it holds now, as failed. A negative recorded size
// is unknown.
func (v *verifier) admit(path string, recorded, now int64, pick func(string) bool) (resized, sampled bool) {
	v.res.Files++
	resized = recorded >= 0 && recorded != now
	if resized {
		v.problem(Problem{Kind: SizeChanged, Path: path, Detail: fmt.Sprintf("%d bytes recorded, %d now", recorded, now)})
	}
	if !pick(path) {
		v.res.NotSampled++
		return resized, false
	}
	return resized, true
}

// unreadable reports a file or folder the walk could not read, if it is in
// scope, and returns whether s was one.
func (v *verifier) unreadable(s walk.Skipped) bool {
	if s.Err == nil {
		return false
	}
	if v.inScope(s.Path) {
		v.problem(Problem{Kind: ReadError, Path: s.Path, Detail: s.Err.Error()})
	}
	return true
}

// addTotal tells the progress how much the run will read.
func (v *verifier) addTotal(bytes int64, files int) {
	if v.opts.Progress != nil {
		v.opts.Progress.AddTotal(bytes, files)
	}
}

func (v *verifier) fileDone() {
	if v.opts.Progress != nil {
		v.opts.Progress.FileDone()
	}
}

// movedFile is a recorded file found intact under another name.
type movedFile struct{ from, to string }

// findMoved pairs missing files with unrecorded ones of the same size and
// content: a file renamed or moved on the drive. Whatever is left is
// reported as missing or extra. digest hashes a file on the drive the way
// the missing file want was recorded. It returns the pairs and the paths
// still missing.
func (v *verifier) findMoved(ctx context.Context, missing []lost, extras []found, digest func(ctx context.Context, path string, want lost) (string, error)) (moved []movedFile, gone []string) {
	bySize := map[int64][]int{}
	for i, m := range missing {
		bySize[m.size] = append(bySize[m.size], i)
	}
	matched := make([]bool, len(missing))
	for _, e := range extras {
		found := false
		computed := map[string]string{} // one read per way of hashing
		for _, i := range bySize[e.size] {
			if matched[i] || ctx.Err() != nil {
				continue
			}
			kind := missing[i].format
			d, ok := computed[kind]
			if !ok {
				var err error
				if d, err = digest(ctx, e.path, missing[i]); err != nil {
					break
				}
				computed[kind] = d
			}
			if d == missing[i].digest {
				matched[i], found = true, true
				moved = append(moved, movedFile{from: missing[i].path, to: e.path})
				v.problem(Problem{Kind: Moved, Path: missing[i].path, Other: e.path, Detail: "renamed or moved on the drive; content intact"})
				break
			}
		}
		if !found {
			v.problem(Problem{Kind: Extra, Path: e.path, Detail: fmt.Sprintf("%d bytes, not in the %s", e.size, v.res.Against)})
		}
	}
	for i, m := range missing {
		if !matched[i] {
			gone = append(gone, m.path)
			v.problem(Problem{Kind: Missing, Path: m.path})
		}
	}
	return moved, gone
}

// sampler returns whether a path is in the --sample. The choice depends on
// the seed and the path only, so the same seed picks the same files.
func (v *verifier) sampler() func(string) bool {
	if v.opts.Sample <= 0 {
		return func(string) bool { return true }
	}
	seed := v.opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	v.res.Seed = seed
	limit := uint64(v.opts.Sample / 100 * (1 << 63) * 2)
	var key [8]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	return func(p string) bool {
		sum := hashing.SumBLAKE3(append(key[:], p...))
		return binary.LittleEndian.Uint64(sum[:8]) < limit
	}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
