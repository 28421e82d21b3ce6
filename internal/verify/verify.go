// Package verify owns checking a drive against what it should hold: its
// editkit manifest, an ASC MHL history written by editkit or by an offload
// tool (Silverstack, Hedge/OffShoot, ShotPut Pro), or a b3sum list; every
// file re-read from the medium, not from the page cache. It also owns the
// drive surface test (write, read back, compare) that catches counterfeit
// and failing drives.
package verify

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/place"
	"github.com/editkit/editkit/internal/report"
	"github.com/editkit/editkit/internal/run"
	"github.com/editkit/editkit/internal/treepath"
)

// Against names what a drive is verified against.
type Against string

const (
	Auto         Against = ""         // the editkit manifest if there is one, else the ASC MHL history
	WithManifest Against = "manifest" // .editkit/manifest.ekm
	WithMHL      Against = "mhl"      // ascmhl/ (and nested histories)
	WithB3Sum    Against = "b3sum"    // a b3sum-format checksum list
)

// String names it for people.
func (a Against) String() string {
	switch a {
	case WithManifest:
		return "editkit manifest"
	case WithMHL:
		return "ASC MHL history"
	case WithB3Sum:
		return "b3sum list"
	case FromFiles:
		return "files on the drive"
	}
	return string(a)
}

// Kind is a kind of problem.
type Kind string

// Problems verify reports.
const (
	Modified     Kind = "modified"      // content differs from the recorded hash
	SizeChanged  Kind = "size-changed"  // size differs from the record
	MTimeChanged Kind = "mtime-changed" // same bytes, but the modification time was changed
	Missing      Kind = "missing"       // recorded, not on the drive
	Extra        Kind = "extra"         // on the drive, not recorded
	Moved        Kind = "moved"         // a missing file found intact under another name
	ReadError    Kind = "read-error"    // could not be read: a failing or unplugged drive
	FailedBefore Kind = "failed-before" // the history itself records a failed verification
	Tampered     Kind = "tampered"      // an ASC MHL generation or chain that does not match
)

// Problem is one thing wrong with the drive.
type Problem struct {
	Kind   Kind   `json:"kind"`
	Path   string `json:"path"`
	Other  string `json:"other,omitempty"` // for moved: where the file is now
	Detail string `json:"detail,omitempty"`
}

func (p Problem) String() string {
	s := fmt.Sprintf("%-13s %s", p.Kind, p.Path)
	if p.Other != "" {
		s += " → " + p.Other
	}
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// Options configure a verification.
type Options struct {
	run.Env
	Drive   string
	Paths   []string  // only these files or folders (tree paths, or paths inside the drive)
	Since   time.Time // manifest: only files written since
	Sample  float64   // 0 < Sample < 100: a random sample of this percentage of files
	Seed    uint64    // for Sample; 0 picks one (reported, so a sample can be repeated)
	Jobs    int       // files read at once; 0 = the number of CPUs
	Against Against
	B3Sum   string // with WithB3Sum: the list's path
	// ReadOnly writes nothing to the drive: no report, no state, no MHL
	// generation.
	ReadOnly bool
	// Rebuild re-hashes every file of the drive and makes the result its
	// manifest, checked against its ASC MHL history (see Result.Rebuild).
	Rebuild bool
	// StallTimeout gives up on a drive that stops answering (a read blocked
	// that long); 0 means 2 minutes.
	StallTimeout time.Duration
}

// Result is the outcome of a verification.
type Result struct {
	Drive       string         `json:"drive"`
	Label       string         `json:"label,omitempty"`
	DriveID     string         `json:"drive_id,omitempty"`
	Against     Against        `json:"against"`
	Started     time.Time      `json:"started"`
	Finished    time.Time      `json:"finished"`
	Files       int            `json:"files"`    // files in scope
	Verified    int            `json:"verified"` // files re-hashed and found intact
	Bytes       int64          `json:"bytes"`    // bytes re-read
	NotSampled  int            `json:"not_sampled,omitempty"`
	Seed        uint64         `json:"seed,omitempty"`
	Problems    []Problem      `json:"problems"`
	Counts      map[Kind]int   `json:"counts"`
	Report      string         `json:"report,omitempty"`
	MHL         string         `json:"mhl,omitempty"` // the generation written after a clean verify
	Interrupted bool           `json:"interrupted"`
	Formats     map[string]int `json:"formats,omitempty"` // MHL: files checked per hash format
	// Note says what the run did instead of what was asked, e.g. verifying
	// against the ASC MHL history because the manifest is gone.
	Note    string   `json:"note,omitempty"`
	Rebuild *Rebuild `json:"rebuild,omitempty"` // what --rebuild did
	// Purged lists the files in scope removed on purpose (editkit purge),
	// from the drive's purge log: not missing.
	Purged []manifest.Purge `json:"purged,omitempty"`
}

// OK reports whether the drive is complete and intact.
func (r *Result) OK() bool { return len(r.Problems) == 0 && !r.Interrupted }

// UsageError means verification could not start: no such drive, nothing to
// verify against, bad options.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usagef(format string, args ...any) error { return &UsageError{fmt.Errorf(format, args...)} }

// DefaultJobs is how many files verify reads at once: several requests in
// flight are what make SSDs and RAIDs fast, and with reads of 4 MiB a
// spinning disk still streams (measured: 4 files at once, one hashing
// goroutine each, read a 2 GiB drive 30% faster than 2 files with two
// goroutines each). The kernel's rotational flag is not used: virtual disks
// claim to spin, and macOS and Windows do not say.
func DefaultJobs(drive string) int { return max(4, runtime.NumCPU()) }

// Run verifies a drive.
func Run(ctx context.Context, o Options) (*Result, error) {
	o.Env = o.Env.WithDefaults()
	if o.Jobs <= 0 {
		o.Jobs = DefaultJobs(o.Drive)
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = 2 * time.Minute
	}
	if o.Rebuild {
		switch {
		case o.Against != Auto:
			return nil, usagef("--rebuild reads the drive's own ASC MHL history; it takes no --mhl or --b3sum")
		case len(o.Paths) > 0 || !o.Since.IsZero() || o.Sample != 0:
			return nil, usagef("--rebuild re-hashes the whole drive; it takes no paths, --since or --sample")
		case o.ReadOnly:
			return nil, usagef("--rebuild writes the drive's manifest; it cannot be --read-only")
		}
	}
	if o.Sample < 0 || o.Sample >= 100 && o.Sample != 0 {
		if o.Sample != 100 {
			return nil, usagef("--sample %g%%: want a percentage between 0 and 100", o.Sample)
		}
		o.Sample = 0
	}
	root, err := filepath.Abs(o.Drive)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(root); err != nil {
		return nil, usagef("drive %s: %v; is it connected?", o.Drive, errors.Unwrap(err))
	} else if !fi.IsDir() {
		return nil, usagef("drive %s is not a folder", o.Drive)
	}
	scope, err := scopePaths(root, o.Paths)
	if err != nil {
		return nil, &UsageError{err}
	}
	// Every write to the drive (reports, drive.json, the journal, ASC MHL
	// generations) goes through this one root, opened now: nothing is
	// written once the drive is no longer this folder.
	pr, err := place.Open(root, place.Hooks{})
	if err != nil {
		return nil, usagef("drive %s: %v", o.Drive, err)
	}
	v := &verifier{opts: o, root: root, place: pr, scope: scope, res: &Result{
		Drive:   o.Drive,
		Started: o.Now(),
		Counts:  map[Kind]int{},
	}}
	return v.watch(ctx, v.run)
}

// run detects what to verify against and does it.
func (v *verifier) run(ctx context.Context) (*Result, error) {
	if v.opts.Rebuild {
		return v.runRebuild(ctx)
	}
	against, err := v.chooseAgainst()
	if err != nil {
		return nil, err
	}
	v.res.Against = against
	v.loadPurges()
	defer func() {
		if v.drive != nil {
			v.drive.Close()
		}
	}()
	damaged, err := v.check(ctx, against)
	v.res.Finished = v.opts.Now()
	if damaged {
		// Nothing can be checked against a manifest that cannot be
		// read: say so, and write nothing (no report claiming a run).
		v.finishProblems()
		return v.res, nil
	}
	if err != nil {
		var ue *UsageError
		if errors.As(err, &ue) {
			return nil, err
		}
		if ctx.Err() == nil {
			return v.res, err
		}
		v.res.Interrupted = true
	}
	if !v.res.Interrupted {
		v.unmatchedScope()
	}
	v.finishProblems()
	if v.res.Interrupted {
		return v.res, ctx.Err()
	}
	if !v.opts.ReadOnly {
		if err := v.writeOutputs(); err != nil {
			return v.res, err
		}
	}
	return v.res, nil
}

// runRebuild rebuilds the drive's manifest and writes the report of it.
func (v *verifier) runRebuild(ctx context.Context) (*Result, error) {
	v.loadPurges()
	err := v.rebuild(ctx)
	v.res.Finished = v.opts.Now()
	if err != nil {
		if ctx.Err() != nil {
			v.res.Interrupted = true
			v.finishProblems()
			return v.res, ctx.Err()
		}
		return v.res, err
	}
	v.finishProblems()
	report, err := v.writeReport()
	if err != nil {
		return v.res, fmt.Errorf("writing the rebuild report: %w", err)
	}
	v.res.Report = report
	return v.res, nil
}

// chooseAgainst returns what the run verifies against: what it was told,
// else the drive's editkit manifest, else its ASC MHL history.
func (v *verifier) chooseAgainst() (Against, error) {
	switch {
	case v.opts.Against != Auto:
		return v.opts.Against, nil
	case manifest.IsDrive(v.root):
		return WithManifest, nil
	case dirExists(filepath.Join(v.root, "ascmhl")):
		v.res.Note = fmt.Sprintf("%s has no editkit manifest (.editkit/): verified against its ASC MHL history", v.opts.Drive)
		return WithMHL, nil
	}
	return "", usagef("%s has no editkit manifest (.editkit/) and no ASC MHL history (ascmhl/): nothing to verify against; "+
		"prepare it with `editkit copy`, or give a checksum list with --b3sum FILE", v.opts.Drive)
}

// check verifies the drive against what against names, and the chain of
// its ASC MHL history whatever that is. damaged says the manifest cannot
// be read and nothing else says what the drive should hold.
func (v *verifier) check(ctx context.Context, against Against) (damaged bool, err error) {
	switch against {
	case WithManifest:
		err = v.againstManifest(ctx)
		if errors.Is(err, manifest.ErrDamaged) && ctx.Err() == nil {
			return v.manifestDamaged(ctx, err)
		}
	case WithMHL:
		return false, v.againstMHL(ctx) // it checks the chain first
	case WithB3Sum:
		err = v.againstB3Sum(ctx)
	default:
		return false, usagef("cannot verify against %q", against)
	}
	if err == nil {
		v.checkChain()
	}
	return false, err
}

// manifestDamaged handles a manifest that cannot be read: with no manifest
// at all, the drive's ASC MHL history still says what it should hold, and
// the run verifies against it when it was free to choose; otherwise the
// damage is the run's one problem.
func (v *verifier) manifestDamaged(ctx context.Context, err error) (damaged bool, _ error) {
	if v.drive != nil {
		v.drive.Close()
		v.drive = nil
	}
	if v.opts.Against == Auto && errors.Is(err, manifest.ErrMissing) && dirExists(filepath.Join(v.root, "ascmhl")) {
		v.res.Against = WithMHL
		v.res.Note = fmt.Sprintf("%v\nVerified against the drive's ASC MHL history instead.", err)
		return false, v.againstMHL(ctx)
	}
	v.damaged(err)
	return true, nil
}

// watch runs the verification and gives up on a drive that stops
// answering: when nothing was read for StallTimeout (a read can block in the
// kernel for minutes on an unplugged USB drive, and cannot be interrupted),
// it returns what was found so far with ErrStalled, leaving the blocked
// goroutine behind for the process's exit to clean up.
func (v *verifier) watch(ctx context.Context, run func(context.Context) (*Result, error)) (*Result, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	type outcome struct {
		res *Result
		err error
	}
	done := make(chan outcome, 1)
	v.beat()
	go func() {
		res, err := run(ctx)
		done <- outcome{res, err}
	}()
	stall := v.opts.StallTimeout
	tick := time.NewTicker(min(stall/4, time.Second))
	defer tick.Stop()
	for {
		select {
		case o := <-done:
			return o.res, o.err
		case <-tick.C:
			idle := time.Since(time.Unix(0, v.lastBeat.Load()))
			if idle <= stall {
				continue
			}
			err := fmt.Errorf("%w: nothing could be read from %s for %s; check its cable and power, then verify again",
				ErrStalled, v.opts.Drive, idle.Round(time.Second))
			cancel(err)
			return v.partial(err), err
		}
	}
}

// beat records that the verification is making progress.
func (v *verifier) beat() { v.lastBeat.Store(time.Now().UnixNano()) }

// partial is the result to report when the run was abandoned: the problems
// found so far, copied so the abandoned goroutine cannot race with the caller.
func (v *verifier) partial(cause error) *Result {
	v.mu.Lock()
	defer v.mu.Unlock()
	r := &Result{
		Drive:    v.res.Drive,
		Label:    v.res.Label,
		DriveID:  v.res.DriveID,
		Against:  v.res.Against,
		Started:  v.res.Started,
		Finished: v.opts.Now(),
		Counts:   map[Kind]int{},
		Problems: append([]Problem(nil), v.res.Problems...),
	}
	if v.opts.Rebuild {
		r.Rebuild = &Rebuild{} // nothing rebuilt: the abandoned run owns the real one
	}
	r.Problems = append(r.Problems, Problem{Kind: ReadError, Path: "", Detail: cause.Error()})
	for _, p := range r.Problems {
		r.Counts[p.Kind]++
	}
	return r
}

type verifier struct {
	opts  Options
	root  string
	place *place.Root // the drive's: everything written goes through it
	scope []string
	res   *Result

	mu       sync.Mutex   // guards res.Problems, counters
	lastBeat atomic.Int64 // unix ns of the last sign of progress

	drive *manifest.Drive // manifest mode, opened for writing unless ReadOnly
	// mhlPath is the generation to record on a clean run, set by the mode.
	writeMHL func() (string, error)
	// purges are the drive's purge log (see loadPurges).
	purges map[string]manifest.Purge
	intact report.Tally // the files verified intact, for the HTML report
}

func (v *verifier) problem(p Problem) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if pg, ok := v.purges[p.Path]; ok && p.Kind == Missing {
		if pg.State != manifest.PurgeRemoving {
			return // purged on purpose: listed in Result.Purged
		}
		p.Detail = "an editkit purge was removing it when it was interrupted; run the same purge again to finish and record it"
	}
	v.res.Problems = append(v.res.Problems, p)
}

// loadPurges reads what the drive's purge log says was removed on purpose
// (editkit purge): such a file is not missing, and Result.Purged lists the
// ones in scope that are not on the drive again.
func (v *verifier) loadPurges() {
	v.purges = map[string]manifest.Purge{}
	ps, err := manifest.Purges(v.root)
	if err != nil {
		// The files are still checked; what it would have said was
		// purged is reported missing.
		v.problem(Problem{Kind: Tampered, Path: ".editkit/purged.ekj", Detail: fmt.Sprintf("the drive's purge log cannot be read (%v); files purged on purpose show as missing", err)})
		return
	}
	for _, p := range ps {
		if !v.inScope(p.Path) {
			continue
		}
		if _, err := os.Lstat(filepath.Join(v.root, filepath.FromSlash(p.Path))); !errors.Is(err, fs.ErrNotExist) {
			continue // there again (pulled back), or unreachable: verified or reported as such
		}
		v.purges[p.Path] = p
		if p.State != manifest.PurgeRemoving {
			v.res.Purged = append(v.res.Purged, p)
		}
	}
}

// verified counts a file found intact, and keeps it with the digests that
// matched for the report a person reads.
func (v *verifier) verified(path string, n int64, hashes ...report.Hash) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.res.Verified++
	v.res.Bytes += n
	v.intact.Add(report.File{Path: path, Size: n, Hashes: hashes})
}

func (v *verifier) finishProblems() {
	slices.SortStableFunc(v.res.Problems, func(a, b Problem) int {
		if c := treepath.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(string(a.Kind), string(b.Kind))
	})
	for _, p := range v.res.Problems {
		v.res.Counts[p.Kind]++
	}
}

// unmatchedScope reports each named path that matched nothing: not on the
// drive, and nothing recorded under it (that would be listed missing). A
// mistyped path must not end in "0 of 0 files intact: all intact".
func (v *verifier) unmatchedScope() {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, s := range v.scope {
		if exists(filepath.Join(v.root, filepath.FromSlash(s))) {
			continue
		}
		listed := slices.ContainsFunc(v.res.Problems, func(p Problem) bool { return p.Path == s || strings.HasPrefix(p.Path, s+"/") })
		if !listed {
			v.res.Problems = append(v.res.Problems, Problem{Kind: Missing, Path: s, Detail: fmt.Sprintf("matches nothing on the drive or in its %s; check the path", v.res.Against)})
		}
	}
}

// inScope reports whether a tree path is within the named paths.
func (v *verifier) inScope(p string) bool {
	if len(v.scope) == 0 {
		return true
	}
	for _, s := range v.scope {
		if p == s || strings.HasPrefix(p, s+"/") {
			return true
		}
	}
	return false
}

// scopePaths turns the named paths (relative to the drive, or absolute
// inside it) into tree paths.
func scopePaths(root string, paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		rel := p
		if filepath.IsAbs(p) {
			r, err := filepath.Rel(root, p)
			if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
				return nil, fmt.Errorf("%s is not inside the drive %s", p, root)
			}
			rel = r
		}
		rel = strings.TrimSuffix(filepath.ToSlash(filepath.Clean(rel)), "/")
		if rel == "." {
			return nil, nil // the whole drive
		}
		if err := treepath.Validate(rel); err != nil {
			return nil, fmt.Errorf("path %s: %w", p, err)
		}
		out = append(out, rel)
	}
	return out, nil
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
