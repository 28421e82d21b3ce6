package verify

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/treepath"
	"github.com/editkit/editkit/internal/walk"
	"github.com/zeebo/blake3"
)

// driveRules is what a walk of a drive leaves out: editkit's own state and
// temporary files, MHL histories, and OS junk. Avid's databases are kept:
// a drive may have them (copied with --include-avid-db).
func driveRules() walk.Rules {
	return walk.Rules{IncludeAvidDB: true, Internal: map[string]string{"ascmhl/": "ASC MHL history"}}
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
		okPaths    = map[string]bool{}
		unverified []manifest.Record // intact, but never read back before
	)
	check := func(r manifest.Record, e walk.Entry) error {
		v.res.Files++
		if e.Size != r.Size {
			v.problem(Problem{Kind: SizeChanged, Path: r.Path, Detail: fmt.Sprintf("%d bytes recorded, %d now", r.Size, e.Size)})
			return nil
		}
		if !pick(r.Path) {
			v.res.NotSampled++
			return nil
		}
		full := filepath.Join(v.root, filepath.FromSlash(r.Path))
		return p.submit(func(ctx context.Context) {
			defer v.fileDone()
			sum, err := p.hashFile(ctx, full, false)
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				v.problem(Problem{Kind: ReadError, Path: r.Path, Detail: err.Error()})
			case sum.BLAKE3Hex() != r.BLAKE3:
				v.problem(Problem{Kind: Modified, Path: r.Path, Detail: fmt.Sprintf("BLAKE3 %s, recorded %s", sum.BLAKE3Hex(), r.BLAKE3)})
			case e.ModTime.UnixNano() != r.ModTime:
				v.problem(Problem{Kind: MTimeChanged, Path: r.Path, Detail: fmt.Sprintf("content intact, but modified %s (recorded %s)",
					e.ModTime.UTC().Format(time.RFC3339Nano), r.MTime().UTC().Format(time.RFC3339Nano))})
			default:
				v.verified(sum.Size)
				mu.Lock()
				okPaths[r.Path] = true
				if r.Verified == 0 {
					unverified = append(unverified, r)
				}
				mu.Unlock()
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
	v.findMoved(ctx, missing, extras, func(ctx context.Context, path string, _ lost) (string, error) {
		sum, err := p.hashFile(ctx, filepath.Join(v.root, filepath.FromSlash(path)), false)
		return sum.BLAKE3Hex(), err
	})

	v.writeMHL = func() (string, error) { return v.manifestMHL(okPaths) }
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

// findMoved pairs missing files with unrecorded ones of the same size and
// content: a file renamed or moved on the drive. Whatever is left is
// reported as missing or extra. digest hashes a file on the drive the way
// the missing file want was recorded.
func (v *verifier) findMoved(ctx context.Context, missing []lost, extras []found, digest func(ctx context.Context, path string, want lost) (string, error)) {
	bySize := map[int64][]int{}
	for i, m := range missing {
		bySize[m.size] = append(bySize[m.size], i)
	}
	matched := make([]bool, len(missing))
	for _, e := range extras {
		moved := false
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
				matched[i], moved = true, true
				v.problem(Problem{Kind: Moved, Path: missing[i].path, Other: e.path, Detail: "renamed or moved on the drive; content intact"})
				break
			}
		}
		if !moved {
			v.problem(Problem{Kind: Extra, Path: e.path, Detail: fmt.Sprintf("%d bytes, not in the %s", e.size, v.res.Against)})
		}
	}
	for i, m := range missing {
		if !matched[i] {
			v.problem(Problem{Kind: Missing, Path: m.path})
		}
	}
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
		h := blake3.New()
		h.Write(key[:])
		h.Write([]byte(p))
		return binary.LittleEndian.Uint64(h.Sum(nil)) < limit
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
