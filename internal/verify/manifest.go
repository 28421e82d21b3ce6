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
	var drv *manifest.Drive
	var err error
	if v.opts.ReadOnly {
		drv, err = manifest.Open(v.root)
	} else {
		drv, err = manifest.OpenForWrite(v.root)
	}
	if err != nil {
		if errors.Is(err, manifest.ErrNotADrive) {
			return &UsageError{err}
		}
		return err
	}
	v.drive = drv // closed by Run, after the outputs are written
	v.res.Label, v.res.DriveID = drv.Info.Label, drv.Info.ID

	pick := v.sampler()
	since := v.opts.Since.Unix()
	selected := func(r manifest.Record) bool {
		return !r.Dir && v.inScope(r.Path) && (v.opts.Since.IsZero() || r.Written >= since)
	}

	// First a pass over the manifest alone, for the progress total.
	var total int64
	files := 0
	for r, err := range drv.Records() {
		if err != nil {
			return err
		}
		v.beat()
		if selected(r) && pick(r.Path) {
			total += r.Size
			files++
		}
	}
	if v.opts.Progress != nil {
		v.opts.Progress.AddTotal(total, files)
	}

	p := newPool(ctx, v.opts.Jobs, v.opts.Progress, v.beat)
	var (
		mu         sync.Mutex
		missing    []lost
		extras     []found
		checked    = map[string]checkedFile{}
		unverified []manifest.Record // intact, but never read back before
	)
	check := func(r manifest.Record, e walk.Entry) error {
		v.res.Files++
		// A file of another size is read all the same: the ASC MHL
		// generation appended records what it holds now, as failed.
		resized := e.Size != r.Size
		if resized {
			v.problem(Problem{Kind: SizeChanged, Path: r.Path, Detail: fmt.Sprintf("%d bytes recorded, %d now", r.Size, e.Size)})
		}
		if !pick(r.Path) {
			v.res.NotSampled++
			return nil
		}
		full := filepath.Join(v.root, filepath.FromSlash(r.Path))
		return p.submit(func(ctx context.Context) {
			defer v.fileDone()
			sum, err := p.hashFile(ctx, full, true)
			intact := false
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				v.problem(Problem{Kind: ReadError, Path: r.Path, Detail: err.Error()})
				return
			case resized:
			case sum.BLAKE3Hex() != r.BLAKE3:
				v.problem(Problem{Kind: Modified, Path: r.Path, Detail: fmt.Sprintf("BLAKE3 %s, recorded %s", sum.BLAKE3Hex(), r.BLAKE3)})
			case e.ModTime.UnixNano() != r.ModTime:
				intact = true
				v.problem(Problem{Kind: MTimeChanged, Path: r.Path, Detail: fmt.Sprintf("content intact, but modified %s (recorded %s)",
					e.ModTime.UTC().Format(time.RFC3339Nano), r.MTime().UTC().Format(time.RFC3339Nano))})
			default:
				intact = true
				v.verified(sum.Size)
			}
			mu.Lock()
			defer mu.Unlock()
			checked[r.Path] = checkedFile{xxh128: sum.XXH128Hex(), size: sum.Size, mod: e.ModTime, intact: intact}
			if intact && e.ModTime.UnixNano() == r.ModTime && r.Verified == 0 {
				unverified = append(unverified, r)
			}
		})
	}

	// advance reports the records before path (tree order) as missing and
	// returns the record for path, if any.
	cursor := newTreeCursor(drv.Records(), func(r manifest.Record) string { return r.Path }, func(r manifest.Record) {
		if selected(r) {
			v.res.Files++
			missing = append(missing, lost{r.Path, r.Size, r.BLAKE3, "blake3"})
		}
	})
	defer cursor.stop()
	advance := cursor.seek
	rules := driveRules()
	if rules.Keep, err = keepRecorded(drv.Records(), rules); err != nil {
		return err
	}
	walkErr := walk.Walk(p.ctx, v.root, rules, walk.Visitor{
		Dir: func(e walk.Entry, _ []string) error {
			v.beat()
			if e.Path == "" {
				return nil
			}
			_, _, err := advance(e.Path, false)
			return err
		},
		File: func(e walk.Entry) error {
			v.beat()
			r, ok, err := advance(e.Path, false)
			if err != nil {
				return err
			}
			switch {
			case ok && !r.Dir && selected(r):
				return check(r, e)
			case !ok && v.opts.Since.IsZero() && v.inScope(e.Path):
				extras = append(extras, found{e.Path, e.Size})
			}
			return nil
		},
		Skipped: func(s walk.Skipped) {
			switch {
			case s.Err != nil && v.inScope(s.Path):
				v.problem(Problem{Kind: ReadError, Path: s.Path, Detail: s.Err.Error()})
			case strings.HasPrefix(treepath.Base(s.Path), walk.TempPrefix) && v.inScope(s.Path):
				v.problem(Problem{Kind: Extra, Path: s.Path, Detail: "temporary file of an interrupted copy; run that copy again to finish it"})
			}
		},
	})
	if walkErr == nil {
		_, _, walkErr = advance("", true)
	}
	poolErr := p.wait()
	if err := firstErr(poolErr, walkErr); err != nil {
		return err
	}
	sizes := map[string]int64{}
	for _, x := range extras {
		sizes[x.path] = x.size
	}
	movedXXH := map[string]string{}
	moved, gone := v.findMoved(ctx, missing, extras, func(ctx context.Context, path string, _ lost) (string, error) {
		sum, err := p.hashFile(ctx, filepath.Join(v.root, filepath.FromSlash(path)), true)
		movedXXH[path] = sum.XXH128Hex()
		return sum.BLAKE3Hex(), err
	})
	// The generation appended records a moved file under its new name,
	// with its previous path (spec 5.3.3), and leaves out what is gone.
	var renamed []movedRecord
	for _, m := range moved {
		fi, err := os.Lstat(filepath.Join(v.root, filepath.FromSlash(m.to)))
		if err != nil {
			continue
		}
		renamed = append(renamed, movedRecord{movedFile: m, xxh128: movedXXH[m.to], size: sizes[m.to], mod: fi.ModTime()})
	}
	v.writeMHL = func() (string, error) { return v.manifestMHL(checked, renamed, gone) }
	if !v.opts.ReadOnly && len(unverified) > 0 {
		now := v.opts.Now().Unix()
		for _, r := range unverified {
			r.Verified = now
			if err := drv.Append(r); err != nil {
				return err
			}
		}
		if err := drv.Sync(); err != nil {
			return err
		}
	}
	return nil
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
