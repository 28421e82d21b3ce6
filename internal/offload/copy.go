// Package offload owns drive preparation (an offload, the industry's word
// for copying camera cards to drives): copying a source tree to one or more
// destinations at once, reading every source byte once and fanning it out to
// a hasher (BLAKE3 + xxh128) and one writer per destination, writing each
// file under a temporary name, syncing, reading it back from the medium and
// only then giving it its final name; keeping each destination's manifest,
// checksum list, ASC MHL history and copy report; and resuming where an
// interrupted copy stopped.
package offload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/place"
	"github.com/editkit/editkit/internal/run"
	"github.com/editkit/editkit/internal/walk"
)

// VerifyMode says what is read back after a file is written.
type VerifyMode int

const (
	// VerifyDest reads every written file back from the destination medium
	// (page cache dropped) and compares it with the source's hash.
	VerifyDest VerifyMode = iota
	// VerifyNone trusts the write.
	VerifyNone
	// VerifyFull also re-reads the source afterwards, catching a source
	// file that changed while it was being copied.
	VerifyFull
)

func (m VerifyMode) String() string {
	switch m {
	case VerifyNone:
		return "none"
	case VerifyFull:
		return "full"
	}
	return "dest"
}

// ParseVerifyMode parses the --verify flag.
func ParseVerifyMode(s string) (VerifyMode, error) {
	switch s {
	case "dest", "":
		return VerifyDest, nil
	case "none":
		return VerifyNone, nil
	case "full":
		return VerifyFull, nil
	}
	return 0, fmt.Errorf("--verify %q: want none, dest or full", s)
}

// Options configure a copy. Its Progress counts source bytes read, and
// read-back bytes too when verifying; a file is done when it is finished on
// every destination. Tool and Version are recorded in reports and ASC MHL
// generations.
type Options struct {
	run.Env
	Source          string
	Dests           []string
	Labels          []string // one per destination, in order; missing ones default to the folder's name
	Jobs            int      // files copied at once; 0 picks DefaultJobs
	Verify          VerifyMode
	AllowUnportable bool
	Rules           walk.Rules
	Hooks           place.Hooks // tests: stop at a chosen point (see place.Hooks)

	// beforeReadBack lets tests look at a file's page-cache residency at
	// the moment verification starts reading it.
	beforeReadBack func(*os.File)
}

// DefaultJobs picks how many files to copy at once: enough to keep the disks
// busy with small files and both hashing and writing going, few enough that
// large files on spinning drives are not read in a seek storm.
func DefaultJobs(dests int) int {
	jobs := 2 * runtime.NumCPU() / max(1, dests)
	return min(8, max(2, jobs))
}

// FileError is one file that failed.
type FileError struct {
	Path string `json:"path"`
	Err  string `json:"error"`
}

// SkipCount counts skipped entries with one reason.
type SkipCount struct {
	Reason string   `json:"reason"`
	Count  int      `json:"count"`
	Paths  []string `json:"paths"`
}

// DestResult is what happened on one destination.
type DestResult struct {
	Root         string      `json:"root"`
	Label        string      `json:"label"`
	DriveID      string      `json:"drive_id"`
	Copied       int         `json:"copied"`
	CopiedBytes  int64       `json:"copied_bytes"`
	Verified     int         `json:"verified"`      // files read back and matched in this run
	AlreadyThere int         `json:"already_there"` // complete from an earlier run, not copied again
	Failed       []FileError `json:"failed,omitempty"`
	Error        string      `json:"error,omitempty"` // the destination as a whole failed (disk full, drive gone)
	Report       string      `json:"report,omitempty"`
	Checksums    string      `json:"checksums,omitempty"`
	MHL          string      `json:"mhl,omitempty"`
	// History is what the drive's ASC MHL history (another tool's)
	// recorded that its manifest lacked, checked and taken in; damaged
	// files are also in Failed.
	History *manifest.Adoption `json:"history,omitempty"`
	// Notes say what the copy did that the user may not expect.
	Notes []string `json:"notes,omitempty"`
}

// Result is the outcome of a copy.
type Result struct {
	Source       string        `json:"source"`
	Verify       string        `json:"verify"`
	Started      time.Time     `json:"started"`
	Finished     time.Time     `json:"finished"`
	Files        int           `json:"files"` // files in the source that were taken
	Bytes        int64         `json:"bytes"`
	Jobs         int           `json:"jobs"`
	Skipped      []SkipCount   `json:"skipped"` // junk, excludes, symlinks, special files
	SourceErrors []FileError   `json:"source_errors,omitempty"`
	Destinations []*DestResult `json:"destinations"`
	Interrupted  bool          `json:"interrupted"`
}

// OK reports whether every file reached every destination.
func (r *Result) OK() bool {
	if r.Interrupted || len(r.SourceErrors) > 0 {
		return false
	}
	for _, d := range r.Destinations {
		if d.Error != "" || len(d.Failed) > 0 {
			return false
		}
	}
	return true
}

// PreflightError means the copy was refused before anything was written:
// a bad destination, not enough room, or names that cannot live on the drives.
type PreflightError struct {
	Problems []string
}

func (e *PreflightError) Error() string {
	const show = 40
	var b strings.Builder
	b.WriteString("copy refused before writing anything:")
	for i, p := range e.Problems {
		if i == show {
			fmt.Fprintf(&b, "\n  … and %d more (use --json for the full list)", len(e.Problems)-show)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(p)
	}
	return b.String()
}

// Run copies opts.Source to every destination. It returns a PreflightError
// if it refused to start; otherwise a Result (check Result.OK) and, when ctx
// was cancelled, ctx's error.
func Run(ctx context.Context, opts Options) (*Result, error) {
	opts.Env = opts.Env.WithDefaults()
	if opts.Jobs <= 0 {
		opts.Jobs = DefaultJobs(len(opts.Dests))
	}
	if err := opts.Rules.Validate(); err != nil {
		return nil, &PreflightError{Problems: []string{err.Error()}}
	}
	absSrc, err := filepath.Abs(opts.Source)
	if err != nil {
		return nil, err
	}
	c := &copier{opts: opts, res: &Result{
		Source:  absSrc,
		Verify:  opts.Verify.String(),
		Started: opts.Now(),
		Jobs:    opts.Jobs,
	}}
	if err := c.checkPaths(); err != nil {
		return nil, err
	}
	if err := c.openDests(); err != nil {
		return nil, err
	}
	defer c.closeDests()

	plan, err := c.preflight(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.loadSourceHistories(); err != nil {
		return nil, &PreflightError{Problems: []string{err.Error()}}
	}
	if err := c.checkHistories(); err != nil {
		return nil, err
	}
	if err := c.prepareDests(); err != nil {
		return nil, err
	}
	work := plan.bytes
	if opts.Verify != VerifyNone {
		work += plan.bytes
	}
	if opts.Verify == VerifyFull {
		work += plan.bytes
	}
	opts.Progress.AddTotal(work, plan.files)
	runErr := c.copyAll(ctx)
	c.res.Interrupted = ctx.Err() != nil
	c.finishDests(ctx)
	c.res.Finished = opts.Now()
	c.res.Skipped = c.skips.summary()
	if c.res.Interrupted {
		return c.res, ctx.Err()
	}
	return c.res, runErr
}

// copier holds one run's state.
type copier struct {
	opts    Options
	res     *Result
	dests   []*dest
	srcRoot string
	// histories are the folders of the source that carry an ASC MHL
	// history (a camera card, a drive prepared by an offload tool; "" for
	// the source's root). They are carried to each destination that lacks
	// them, and continued there with a transfer generation.
	histories []string
	// recorded is what those histories record, by source path: each such
	// file is checked against it as it is read.
	recorded map[string]sourceRecord
	// bigFolders are the source folders in which preflight found a file
	// too big for a batch (see copyAll).
	bigFolders map[string]bool

	skips    skipTally
	srcErrMu sync.Mutex
}

func (c *copier) sourceError(path string, err error) {
	c.srcErrMu.Lock()
	defer c.srcErrMu.Unlock()
	c.res.SourceErrors = append(c.res.SourceErrors, FileError{Path: path, Err: err.Error()})
}

// checkPaths validates the source and destination folders themselves.
func (c *copier) checkPaths() error {
	var problems []string
	src, err := filepath.Abs(c.opts.Source)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(src); err != nil {
		problems = append(problems, fmt.Sprintf("source %s: %v", c.opts.Source, errors.Unwrap(err)))
	} else if !fi.IsDir() {
		problems = append(problems, fmt.Sprintf("source %s is not a folder", c.opts.Source))
	}
	if len(c.opts.Dests) == 0 {
		problems = append(problems, "no destination given")
	}
	seen := map[string]string{}
	for _, d := range c.opts.Dests {
		abs, err := filepath.Abs(d)
		if err != nil {
			return err
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			problems = append(problems, fmt.Sprintf("destination %s does not exist; connect the drive or create the folder", d))
			continue
		}
		if prev, dup := seen[real]; dup {
			problems = append(problems, fmt.Sprintf("destinations %s and %s are the same folder", prev, d))
			continue
		}
		seen[real] = d
		if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
			problems = append(problems, fmt.Sprintf("destination %s is not a folder", d))
			continue
		}
		if realSrc, err := filepath.EvalSymlinks(src); err == nil {
			if within(real, realSrc) || within(realSrc, real) {
				problems = append(problems, fmt.Sprintf("destination %s and source %s overlap; copy to a different drive or folder", d, c.opts.Source))
				continue
			}
		}
		if err := fsx.Writable(real); err != nil {
			problems = append(problems, fmt.Sprintf("destination %s: %v", d, err))
		}
	}
	if len(problems) > 0 {
		return &PreflightError{Problems: problems}
	}
	return nil
}

// within reports whether path is dir or inside it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// skipTally collects skipped entries by reason.
type skipTally struct {
	mu      sync.Mutex
	order   []string
	reasons map[string]*SkipCount
}

func (t *skipTally) add(path, reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.reasons == nil {
		t.reasons = map[string]*SkipCount{}
	}
	s, ok := t.reasons[reason]
	if !ok {
		s = &SkipCount{Reason: reason}
		t.reasons[reason] = s
		t.order = append(t.order, reason)
	}
	s.Count++
	s.Paths = append(s.Paths, path)
}

func (t *skipTally) summary() []SkipCount {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]SkipCount, 0, len(t.order))
	for _, r := range t.order {
		out = append(out, *t.reasons[r])
	}
	return out
}
