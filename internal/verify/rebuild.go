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
	"time"

	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/mhl"
	"github.com/editkit/editkit/internal/report"
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
	rb, err := manifest.OpenForRebuild(v.place, "", now)
	if err != nil {
		return err
	}
	defer rb.Close()
	v.res.Label, v.res.DriveID = rb.Drive.Info.Label, rb.Drive.Info.ID
	if rb.Damage != nil {
		info.Damage = rb.Damage.Error()
	}
	v.res.Against = FromFiles
	var histFiles iter.Seq[mhl.FileRecord] = func(func(mhl.FileRecord) bool) {}
	if hist := v.trustedHistory(); hist != nil {
		v.res.Against, info.History = WithMHL, true
		histFiles = hist.Files()
	}
	if err := v.announceDrive(ctx); err != nil {
		return err
	}
	r := &rebuildRun{verifier: v, rb: rb, info: info, stamp: now.Unix(), seen: map[string]bool{},
		pool: newPool(ctx, v.opts.Jobs, v.opts.Progress, v.beat)}
	walkErr := r.walk(histFiles)
	if err := firstErr(r.pool.Wait(), walkErr); err != nil {
		return err // interrupted or failed: the old manifest stays as it is
	}
	r.reportOldMissing()
	return r.replace(now)
}

// trustedHistory returns the drive's ASC MHL history if it has one and its
// chain is intact: a generation edited after the fact proves nothing.
func (v *verifier) trustedHistory() *mhl.History {
	if !dirExists(filepath.Join(v.root, "ascmhl")) {
		return nil
	}
	h, err := mhl.Open(v.root)
	if err != nil {
		v.problem(Problem{Kind: Tampered, Path: "ascmhl", Detail: fmt.Sprintf("the ASC MHL history cannot be read (%v); files are recorded as new, not verified", err)})
		return nil
	}
	cps := h.CheckChain()
	for _, cp := range cps {
		v.problem(Problem{Kind: Tampered, Path: chainPath(cp), Detail: cp.String() + "; the history is not trusted: files are recorded as new, not verified"})
	}
	if len(cps) > 0 {
		return nil
	}
	return h
}

// announceDrive walks the drive for the progress total.
func (v *verifier) announceDrive(ctx context.Context) error {
	var total int64
	files := 0
	if err := walk.Walk(ctx, v.root, driveRules(), walk.Visitor{File: func(e walk.Entry) error {
		v.beat()
		total += e.Size
		files++
		return nil
	}}); err != nil {
		return err
	}
	v.addTotal(total, files)
	return nil
}

// rebuildRun is one rebuild: what the walk and the re-hash jobs share.
type rebuildRun struct {
	*verifier
	rb    *manifest.Rebuild
	info  *Rebuild
	pool  *pool
	stamp int64 // when, in the records written

	mu   sync.Mutex // guards recs, seen and info's counts
	recs []manifest.Record
	seen map[string]bool // paths the history or the walk named
}

func (r *rebuildRun) add(rec manifest.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
}

func (r *rebuildRun) saw(path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen[path] = true
}

// walk walks the drive beside the history's files in tree order: a file
// the history records and the walk passes without finding is missing,
// every folder is recorded and every file queued to be re-hashed.
func (r *rebuildRun) walk(histFiles iter.Seq[mhl.FileRecord]) error {
	cursor := newTreeCursor(withNoErrors(histFiles), mhlPath, func(hr mhl.FileRecord) {
		if !r.rb.Removed[hr.Path] && treepath.Validate(hr.Path) == nil {
			r.saw(hr.Path)
			r.res.Files++
			r.problem(Problem{Kind: Missing, Path: hr.Path, Detail: "recorded in the ASC MHL history, not on the drive" + putBack})
		}
	})
	defer cursor.stop()
	advance := func(path string, last bool) (mhl.FileRecord, bool) {
		hr, ok, _ := cursor.seek(path, last)
		return hr, ok
	}
	err := walk.Walk(r.pool.ctx, r.root, driveRules(), walk.Visitor{
		Dir: func(e walk.Entry, _ []string) error {
			r.beat()
			if e.Path == "" {
				return nil
			}
			advance(e.Path, false)
			r.add(manifest.Record{Path: e.Path, Dir: true, Origin: "rebuild", Written: r.stamp})
			return nil
		},
		File: func(e walk.Entry) error {
			r.beat()
			hr, inHistory := advance(e.Path, false)
			r.saw(e.Path)
			r.res.Files++
			return r.pool.Submit(func(ctx context.Context) { r.rehash(ctx, e, hr, inHistory) })
		},
		Skipped: func(s walk.Skipped) {
			if s.Err != nil {
				r.problem(Problem{Kind: ReadError, Path: s.Path, Detail: s.Err.Error() + "; left out of the rebuilt manifest"})
			}
		},
	})
	if err == nil {
		advance("", true)
	}
	return err
}

// rehash reads a file of the drive and records it: verified if it matches
// the old manifest's intact line or the history (hr, if inHistory), new if
// nothing records it, left out if what records it says otherwise.
func (r *rebuildRun) rehash(ctx context.Context, e walk.Entry, hr mhl.FileRecord, inHistory bool) {
	defer r.fileDone()
	full := filepath.Join(r.root, filepath.FromSlash(e.Path))
	sum, err := r.pool.hashFile(ctx, full, true)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		r.problem(Problem{Kind: ReadError, Path: e.Path, Detail: err.Error() + "; left out of the rebuilt manifest"})
		return
	}
	r.mu.Lock()
	r.info.Hashed++
	r.info.HashedBytes += sum.Size
	r.mu.Unlock()
	rec := manifest.Record{
		Path: e.Path, Size: sum.Size, ModTime: e.ModTime.UnixNano(),
		BLAKE3: sum.BLAKE3Hex(), XXH128: sum.XXH128Hex(),
		Origin: "rebuild", Written: r.stamp,
	}
	// What the old manifest said, if this is still that file.
	hint, hinted := r.rb.Hints[e.Path]
	hintOK := hinted && hint.BLAKE3 == rec.BLAKE3 && hint.Size == rec.Size && hint.ModTime == rec.ModTime
	if hintOK {
		rec.SrcMTime, rec.Origin, rec.Written = hint.SrcMTime, hint.Origin, hint.Written
	}
	switch {
	case hintOK && (!inHistory || hint.Seq > r.rb.Drive.Info.MHLThrough):
		// Recorded by editkit (after the history's last generation, if any).
		r.adopt(rec, &r.info.FromOld)
	case inHistory:
		if why := r.againstHistory(ctx, r.pool, full, hr, sum.Size, rec.XXH128); why != "" {
			r.problem(Problem{Kind: Modified, Path: e.Path, Detail: why + leftOut})
			return
		}
		if !hintOK {
			// Copies keep the source's mtime, so a later copy from
			// the same source finds this file done.
			rec.SrcMTime = rec.ModTime
		}
		r.adopt(rec, &r.info.FromHistory)
	case hinted:
		r.problem(Problem{Kind: Modified, Path: e.Path, Detail: fmt.Sprintf(
			"BLAKE3 %s, %d bytes; the old manifest records %s, %d bytes%s",
			rec.BLAKE3, rec.Size, hint.BLAKE3, hint.Size, leftOut)})
	default:
		r.add(rec)
		r.mu.Lock()
		r.info.New = append(r.info.New, e.Path)
		r.mu.Unlock()
	}
}

// adopt records a file whose content matches what a record says, as
// verified now, counting it in from.
func (r *rebuildRun) adopt(rec manifest.Record, from *int) {
	rec.Verified = r.stamp
	r.add(rec)
	r.verified(rec.Path, rec.Size, report.Hash{Format: "BLAKE3", Digest: rec.BLAKE3}, report.Hash{Format: "xxh128", Digest: rec.XXH128})
	r.mu.Lock()
	defer r.mu.Unlock()
	*from++
}

// reportOldMissing reports what the old manifest records and the drive no
// longer holds.
func (r *rebuildRun) reportOldMissing() {
	for path, hint := range r.rb.Hints {
		if !r.seen[path] && !hint.Dir {
			r.res.Files++
			r.problem(Problem{Kind: Missing, Path: path, Detail: "recorded in the old manifest, not on the drive" + putBack})
		}
	}
}

// replace puts the rebuilt manifest and checksum list in place of the old
// ones, which it keeps aside.
func (r *rebuildRun) replace(now time.Time) error {
	slices.SortFunc(r.info.New, treepath.Compare)
	for _, rec := range r.recs {
		if !rec.Dir {
			r.info.Recorded++
		}
	}
	kept, err := r.rb.Replace(r.recs, now)
	r.info.KeptAside = kept
	if err != nil {
		return fmt.Errorf("rebuilding the manifest of %s: %w", r.opts.Drive, err)
	}
	r.info.Manifest = filepath.Join(r.root, manifest.DirName, "manifest.ekm")
	if err := r.rb.Drive.WriteChecksums(); err != nil {
		return fmt.Errorf("rebuilding the checksum list of %s: %w", r.opts.Drive, err)
	}
	return r.rb.Drive.Sync()
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
