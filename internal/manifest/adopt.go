package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/editkit/editkit/internal/hashing"
	"github.com/editkit/editkit/internal/mhl"
	"github.com/editkit/editkit/internal/place"
	"github.com/editkit/editkit/internal/run"
	"github.com/editkit/editkit/internal/treepath"
)

// OriginAdopt marks a record of a file another tool put on the drive and
// recorded in its ASC MHL history, which editkit checked against that
// history and took into the manifest.
const OriginAdopt = "adopt"

// AdoptOptions configure AdoptHistory.
type AdoptOptions struct {
	Jobs int // files hashed at once; 0 means 2
	Now  time.Time
	// Progress is told the files to hash and their bytes (as the history
	// records them), then the bytes hashed and each file done; nil
	// discards.
	Progress run.Progress
}

// Adoption is what AdoptHistory did.
type Adoption struct {
	Adopted int   `json:"adopted"` // matched the history: now in the manifest, verified
	Bytes   int64 `json:"bytes"`   // read from the medium to check them
	// Damaged files differ from what the history records: the next
	// generation records them "failed"; they stay out of the manifest.
	Damaged []AdoptProblem `json:"damaged,omitempty"`
	// Missing files are recorded in the history but not on the drive.
	Missing []string `json:"missing,omitempty"`
	// Files are the hashes the next ASC MHL generation records for the
	// files checked: pass them to AddMHLGeneration.
	Files map[string]MHLFile `json:"-"`
}

// AdoptProblem is a file of the history that could not be adopted.
type AdoptProblem struct {
	Path   string `json:"path"`
	Detail string `json:"detail"`
}

// ChainError means the drive's ASC MHL history does not check out (a
// generation edited, deleted or added after the fact): nothing it records
// is trusted, and nothing may be appended to it.
type ChainError struct {
	Root     string
	Problems []mhl.ChainProblem
}

func (e *ChainError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the ASC MHL history of %s is tampered (", e.Root)
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	b.WriteString("): nothing is appended to a broken chain — restore the ascmhl folder from another copy of the drive, then run the same command again")
	return b.String()
}

// AdoptHistory takes into the manifest the files the drive's ASC MHL
// history records but the manifest does not: a drive prepared by another
// tool (Silverstack, Hedge, the reference ascmhl), or files another tool
// added since. Each is read from the medium and hashed in the history's
// formats: one that matches is recorded as verified (its source mtime set
// to its own, so a copy from the same source finds it done); one that does
// not is reported damaged and never adopted; one that is gone is reported
// missing. Files that adopts leaves for the next generation, so that it
// records them ("verified" or "failed") and its directory and root hashes
// cover them.
//
// It happens once: afterwards the manifest covers the history, and a
// damaged file's newest record is the "failed" the next generation writes.
// A drive without a history at its root has nothing to adopt. A history
// whose chain does not check out is a *ChainError.
func (d *Drive) AdoptHistory(ctx context.Context, o AdoptOptions) (*Adoption, error) {
	res := &Adoption{Files: map[string]MHLFile{}}
	if fi, err := os.Lstat(filepath.Join(d.Root, "ascmhl")); err != nil || !fi.IsDir() {
		return res, nil
	}
	hist, err := mhl.Open(d.Root)
	if err != nil {
		return nil, fmt.Errorf("reading the drive's ASC MHL history: %w; restore the ascmhl folder from another copy of the drive", err)
	}
	if cps := hist.CheckChain(); len(cps) > 0 {
		return nil, &ChainError{Root: d.Root, Problems: cps}
	}
	covered := map[string]bool{}
	for r, err := range d.Records() {
		if err != nil {
			return nil, err
		}
		if !r.Dir {
			covered[r.Path] = true
		}
	}
	// Files purged on purpose are not missing.
	purged, err := d.PurgedPaths()
	if err != nil {
		return nil, err
	}
	for _, p := range purged {
		covered[p.Path] = true
	}
	var todo []mhl.FileRecord
	var total int64
	for f := range hist.Files() {
		// A newest record that is failed already says the file is damaged
		// (editkit's own, from an earlier adoption, or the other tool's).
		if covered[f.Path] || f.FailedLast || treepath.Validate(f.Path) != nil ||
			f.Path == DirName || strings.HasPrefix(f.Path, DirName+"/") {
			continue
		}
		todo = append(todo, f)
		total += max(f.Size, 0)
	}
	if len(todo) == 0 {
		return res, nil
	}
	pr := d.root
	if o.Progress == nil {
		o.Progress = run.Env{}.WithDefaults().Progress
	}
	o.Progress.AddTotal(total, len(todo))
	if o.Jobs <= 0 {
		o.Jobs = 2
	}
	var (
		mu     sync.Mutex
		appErr error
	)
	ranErr := run.Each(ctx, o.Jobs, todo, func(ctx context.Context, f mhl.FileRecord) {
		defer o.Progress.FileDone()
		a, done := d.check(ctx, pr, f, o)
		if !done {
			return
		}
		// Checked in full: kept even if the run is being interrupted, so
		// it is not read again.
		mu.Lock()
		defer mu.Unlock()
		if err := res.add(d, a, o.Now); err != nil && appErr == nil {
			appErr = err
		}
	})
	slices.SortFunc(res.Damaged, func(a, b AdoptProblem) int { return treepath.Compare(a.Path, b.Path) })
	slices.SortFunc(res.Missing, treepath.Compare)
	if err := d.Sync(); err != nil && appErr == nil {
		appErr = err
	}
	if appErr != nil {
		return res, appErr
	}
	return res, ranErr
}

// checked is one history file as found on the drive.
type checked struct {
	path    string
	missing bool
	problem string // why it does not match the history
	fi      fs.FileInfo
	sum     hashing.FileSum
	hashes  []mhl.Hash
}

// check reads one file the history records and compares it with it. It
// reports false when it was interrupted before it could tell.
func (d *Drive) check(ctx context.Context, pr *place.Root, f mhl.FileRecord, o AdoptOptions) (checked, bool) {
	if ctx.Err() != nil {
		return checked{}, false
	}
	c := checked{path: f.Path}
	fi, err := pr.Lstat(f.Path) // never through a link
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.missing = true
		return c, true
	case err != nil:
		c.problem = err.Error()
		return c, true
	case !fi.Mode().IsRegular():
		c.problem = "not a regular file"
		return c, true
	}
	c.fi = fi
	full := filepath.Join(d.Root, filepath.FromSlash(f.Path))
	if c.sum, err = hashing.HashFile(ctx, full, hashing.FileOptions{BLAKE3: true, XXH128: true, FromMedium: true, Progress: o.Progress.Add}); err != nil {
		c.problem = "could not be read: " + err.Error()
		return c, ctx.Err() == nil
	}
	got := map[mhl.Format]string{mhl.XXH128: c.sum.XXH128Hex()}
	var others []mhl.Format
	for _, h := range f.Hashes {
		if h.Format != mhl.XXH128 {
			others = append(others, h.Format)
		}
	}
	if len(others) > 0 {
		if err := hashFormats(full, others, got); err != nil {
			c.problem = "could not be read: " + err.Error()
			return c, true
		}
	}
	hashes, mismatches := f.Recheck(got, o.Now, mhl.XXH128)
	if f.Size >= 0 && f.Size != c.sum.Size {
		mismatches = append([]string{fmt.Sprintf("%d bytes, the history recorded %d", c.sum.Size, f.Size)}, mismatches...)
	}
	if len(mismatches) > 0 {
		for i := range hashes {
			hashes[i].Action = mhl.Failed
		}
		c.problem = "does not match the drive's ASC MHL history: " + strings.Join(mismatches, "; ")
	}
	c.hashes = hashes
	return c, true
}

// hashFormats reads a file once more for the ASC MHL formats other than
// xxh128 a history recorded it in.
func hashFormats(path string, formats []mhl.Format, got map[mhl.Format]string) error {
	ws := make([]io.Writer, 0, len(formats))
	hs := make([]mhl.Hasher, 0, len(formats))
	for _, f := range formats {
		h, err := mhl.NewHash(f)
		if err != nil {
			return err
		}
		ws, hs = append(ws, h), append(hs, h)
	}
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	if _, err := io.Copy(io.MultiWriter(ws...), file); err != nil {
		return err
	}
	for i, f := range formats {
		got[f] = hs[i].Digest()
	}
	return nil
}

// add records one checked file: in the manifest when it matched, and for
// the next generation either way.
func (a *Adoption) add(d *Drive, c checked, now time.Time) error {
	switch {
	case c.missing:
		a.Missing = append(a.Missing, c.path)
		return nil
	case c.hashes == nil:
		a.Damaged = append(a.Damaged, AdoptProblem{Path: c.path, Detail: c.problem})
		return nil
	}
	a.Bytes += c.sum.Size
	if c.problem != "" {
		a.Damaged = append(a.Damaged, AdoptProblem{Path: c.path, Detail: c.problem})
		a.Files[c.path] = MHLFile{Path: c.path, Hashes: c.hashes, Unrecorded: true, Size: c.sum.Size, ModTime: c.fi.ModTime()}
		return nil
	}
	mt := c.fi.ModTime().UnixNano()
	if err := d.Append(Record{Path: c.path, Size: c.sum.Size, ModTime: mt, SrcMTime: mt,
		BLAKE3: c.sum.BLAKE3Hex(), XXH128: c.sum.XXH128Hex(), Origin: OriginAdopt,
		Written: now.Unix(), Verified: now.Unix()}); err != nil {
		return err
	}
	a.Adopted++
	a.Files[c.path] = MHLFile{Path: c.path, Hashes: c.hashes}
	return d.Flush()
}
