package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"path/filepath"
	"slices"
	"sync"

	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/mhl"
	"github.com/editkit/editkit/internal/treepath"
	"github.com/editkit/editkit/internal/walk"
)

// FromFiles is what a rebuild without an ASC MHL history checks against:
// nothing but the intact lines of the old manifest.
const FromFiles Against = "files"

// DamagedManifest is the problem verify reports when the drive's manifest
// cannot be read in full: nothing could be checked against it.
const DamagedManifest Kind = "damaged-manifest"

// Rebuild is what `verify --rebuild` did.
type Rebuild struct {
	Manifest  string   `json:"manifest"`             // the rebuilt manifest
	KeptAside []string `json:"kept_aside,omitempty"` // the old manifest and journal, renamed, never deleted
	Damage    string   `json:"damage,omitempty"`     // why the old manifest could not be read
	History   bool     `json:"history"`              // whether an ASC MHL history was used
	Recorded  int      `json:"recorded"`             // files in the rebuilt manifest
	// FromHistory files match the newest hash the ASC MHL history records;
	// FromOld match an intact record of the old manifest; both are
	// recorded as verified now.
	FromHistory int `json:"from_history"`
	FromOld     int `json:"from_old_manifest"`
	// New files are on the drive but in no history and no intact record:
	// recorded with the hashes read now, but not verified (nothing says
	// what they should hold), and without a source mtime, so the next copy
	// from a source puts them there again rather than trusting them.
	New []string `json:"new,omitempty"`
	// Hashed files were read in full from the medium, HashedBytes bytes.
	Hashed      int   `json:"hashed"`
	HashedBytes int64 `json:"hashed_bytes"`
}

// rebuild re-hashes every file of the drive from the medium and makes the
// result its manifest. A file counts as known-good when its hash matches
// the drive's ASC MHL history (or an intact line of the old manifest
// written after the history's last generation); one that differs is
// reported as modified and left out, so nothing damaged is adopted; one
// nothing records is recorded as new and unverified.
func (v *verifier) rebuild(ctx context.Context) error {
	now := v.opts.Now()
	info := &Rebuild{}
	v.res.Rebuild = info
	rb, err := manifest.OpenForRebuild(v.root, "", now)
	if err != nil {
		return err
	}
	defer rb.Close()
	drv := rb.Drive
	v.res.Label, v.res.DriveID = drv.Info.Label, drv.Info.ID
	if rb.Damage != nil {
		info.Damage = rb.Damage.Error()
	}

	// The history, if the drive has one and its chain is intact: a
	// generation edited after the fact proves nothing.
	var hist *mhl.History
	if dirExists(filepath.Join(v.root, "ascmhl")) {
		h, err := mhl.Open(v.root)
		if err != nil {
			v.problem(Problem{Kind: Tampered, Path: "ascmhl", Detail: fmt.Sprintf("the ASC MHL history cannot be read (%v); files are recorded as new, not verified", err)})
		} else if cps := h.CheckChain(); len(cps) > 0 {
			for _, cp := range cps {
				v.problem(Problem{Kind: Tampered, Path: chainPath(cp), Detail: cp.String() + "; the history is not trusted: files are recorded as new, not verified"})
			}
		} else {
			hist = h
		}
	}
	v.res.Against = FromFiles
	var histFiles iter.Seq[mhl.FileRecord] = func(func(mhl.FileRecord) bool) {}
	if hist != nil {
		v.res.Against, info.History = WithMHL, true
		histFiles = hist.Files()
	}

	var total int64
	filesTotal := 0
	if err := walk.Walk(ctx, v.root, driveRules(), walk.Visitor{File: func(e walk.Entry) error {
		v.beat()
		total += e.Size
		filesTotal++
		return nil
	}}); err != nil {
		return err
	}
	if v.opts.Progress != nil {
		v.opts.Progress.AddTotal(total, filesTotal)
	}

	p := newPool(ctx, v.opts.Jobs, v.opts.Progress, v.beat)
	var (
		mu   sync.Mutex
		recs []manifest.Record
		seen = map[string]bool{}
	)
	add := func(r manifest.Record) {
		mu.Lock()
		recs = append(recs, r)
		mu.Unlock()
	}
	// advance reports the history's files before path (tree order) as
	// missing and returns its record for path, if any.
	cursor := newTreeCursor(withNoErrors(histFiles), mhlPath, func(r mhl.FileRecord) {
		if !rb.Removed[r.Path] && treepath.Validate(r.Path) == nil {
			mu.Lock()
			seen[r.Path] = true
			mu.Unlock()
			v.res.Files++
			v.problem(Problem{Kind: Missing, Path: r.Path, Detail: "recorded in the ASC MHL history, not on the drive" + putBack})
		}
	})
	defer cursor.stop()
	advance := func(path string, last bool) (mhl.FileRecord, bool) {
		r, ok, _ := cursor.seek(path, last)
		return r, ok
	}
	stamp := now.Unix()
	walkErr := walk.Walk(p.ctx, v.root, driveRules(), walk.Visitor{
		Dir: func(e walk.Entry, _ []string) error {
			v.beat()
			if e.Path == "" {
				return nil
			}
			advance(e.Path, false)
			add(manifest.Record{Path: e.Path, Dir: true, Origin: "rebuild", Written: stamp})
			return nil
		},
		File: func(e walk.Entry) error {
			v.beat()
			hr, inHistory := advance(e.Path, false)
			mu.Lock()
			seen[e.Path] = true
			mu.Unlock()
			v.res.Files++
			hint, hinted := rb.Hints[e.Path]
			full := filepath.Join(v.root, filepath.FromSlash(e.Path))
			return p.Submit(func(ctx context.Context) {
				defer v.fileDone()
				sum, err := p.hashFile(ctx, full, true)
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					v.problem(Problem{Kind: ReadError, Path: e.Path, Detail: err.Error() + "; left out of the rebuilt manifest"})
					return
				}
				mu.Lock()
				info.Hashed++
				info.HashedBytes += sum.Size
				mu.Unlock()
				r := manifest.Record{
					Path: e.Path, Size: sum.Size, ModTime: e.ModTime.UnixNano(),
					BLAKE3: sum.BLAKE3Hex(), XXH128: sum.XXH128Hex(),
					Origin: "rebuild", Written: stamp,
				}
				// What the old manifest said, if this is still that file.
				hintOK := hinted && hint.BLAKE3 == r.BLAKE3 && hint.Size == r.Size && hint.ModTime == r.ModTime
				if hintOK {
					r.SrcMTime, r.Origin, r.Written = hint.SrcMTime, hint.Origin, hint.Written
				}
				switch {
				case hintOK && (!inHistory || hint.Seq > drv.Info.MHLThrough):
					// Recorded by editkit (after the history's last generation, if any).
					r.Verified = stamp
					add(r)
					v.verified(sum.Size)
					mu.Lock()
					info.FromOld++
					mu.Unlock()
				case inHistory:
					if why := v.againstHistory(ctx, p, full, hr, sum.Size, r.XXH128); why != "" {
						v.problem(Problem{Kind: Modified, Path: e.Path, Detail: why + leftOut})
						return
					}
					if !hintOK {
						// Copies keep the source's mtime, so a later copy from
						// the same source finds this file done.
						r.SrcMTime = r.ModTime
					}
					r.Verified = stamp
					add(r)
					v.verified(sum.Size)
					mu.Lock()
					info.FromHistory++
					mu.Unlock()
				case hinted:
					v.problem(Problem{Kind: Modified, Path: e.Path, Detail: fmt.Sprintf(
						"BLAKE3 %s, %d bytes; the old manifest records %s, %d bytes%s",
						r.BLAKE3, r.Size, hint.BLAKE3, hint.Size, leftOut)})
				default:
					add(r)
					mu.Lock()
					info.New = append(info.New, e.Path)
					mu.Unlock()
				}
			})
		},
		Skipped: func(s walk.Skipped) {
			if s.Err != nil {
				v.problem(Problem{Kind: ReadError, Path: s.Path, Detail: s.Err.Error() + "; left out of the rebuilt manifest"})
			}
		},
	})
	if walkErr == nil {
		advance("", true)
	}
	if err := firstErr(p.Wait(), walkErr); err != nil {
		return err // interrupted or failed: the old manifest stays as it is
	}
	slices.SortFunc(info.New, treepath.Compare)
	for path, hint := range rb.Hints {
		if !seen[path] && !hint.Dir {
			v.res.Files++
			v.problem(Problem{Kind: Missing, Path: path, Detail: "recorded in the old manifest, not on the drive" + putBack})
		}
	}
	files := 0
	for _, r := range recs {
		if !r.Dir {
			files++
		}
	}
	info.Recorded = files
	kept, err := rb.Replace(recs, now)
	info.KeptAside = kept
	if err != nil {
		return fmt.Errorf("rebuilding the manifest of %s: %w", v.opts.Drive, err)
	}
	info.Manifest = filepath.Join(v.root, manifest.DirName, "manifest.ekm")
	if err := drv.WriteChecksums(); err != nil {
		return fmt.Errorf("rebuilding the checksum list of %s: %w", v.opts.Drive, err)
	}
	if err := drv.Sync(); err != nil {
		return err
	}
	return nil
}

// leftOut ends the message for a file a rebuild does not adopt.
const leftOut = "; left out of the rebuilt manifest (verify lists it as extra, a copy onto the drive replaces it): put the right file back from another copy with `editkit copy SRC DRIVE`"

// putBack ends the message for a file a rebuild finds missing.
const putBack = "; if it belongs there, `editkit copy SRC DRIVE` puts it back"

// againstHistory compares a file with its newest ASC MHL record; it returns
// why they differ, or "".
func (v *verifier) againstHistory(ctx context.Context, p *pool, full string, hr mhl.FileRecord, size int64, xxh128 string) string {
	if hr.Failed {
		return "the ASC MHL history's newest entry for this file records a failed verification"
	}
	if hr.Size >= 0 && hr.Size != size {
		return fmt.Sprintf("%d bytes, the ASC MHL history records %d", size, hr.Size)
	}
	format, want := chooseFormat(hr)
	got := xxh128
	if format != mhl.XXH128 {
		sums, _, err := p.hashFormats(ctx, full, []mhl.Format{format})
		if err != nil {
			return fmt.Sprintf("could not compute its %s: %v", format, err)
		}
		got = sums[format]
	}
	if format == "" || got != want {
		return fmt.Sprintf("%s %s, the ASC MHL history records %s", format, got, want)
	}
	return ""
}

// damaged turns a damaged manifest into the problem verify reports.
func (v *verifier) damaged(err error) {
	var de *manifest.DamagedError
	path := manifest.DirName + "/manifest.ekm"
	if errors.As(err, &de) {
		if rel, rerr := filepath.Rel(v.root, de.File); rerr == nil {
			path = filepath.ToSlash(rel)
		}
	}
	v.problem(Problem{Kind: DamagedManifest, Path: path, Detail: err.Error()})
}

// writeRebuildReport adds what --rebuild did to the report.
func writeRebuildReport(w io.Writer, r *Result) {
	if r.Note != "" {
		fmt.Fprintf(w, "\nNote:      %s\n", r.Note)
	}
	rb := r.Rebuild
	if rb == nil {
		return
	}
	fmt.Fprintf(w, "\nRebuilt:   %s\n", rb.Manifest)
	if rb.Damage != "" {
		fmt.Fprintf(w, "Damage:    %s\n", rb.Damage)
	}
	for _, k := range rb.KeptAside {
		fmt.Fprintf(w, "Kept:      %s\n", k)
	}
	fmt.Fprintf(w, "Recorded:  %d files: %d match the ASC MHL history, %d an intact line of the old manifest, %d new (unverified)\n",
		rb.Recorded, rb.FromHistory, rb.FromOld, len(rb.New))
	for _, p := range rb.New {
		fmt.Fprintf(w, "  new           %s\n", p)
	}
}
