package verify

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"

	"github.com/editkit/editkit/internal/mhl"
	"github.com/editkit/editkit/internal/treepath"
	"github.com/editkit/editkit/internal/walk"
)

// formatPreference orders the hash formats a history may hold by how cheap
// they are to recompute: xxh128 first, C4 (SHA-512) last.
var formatPreference = []mhl.Format{mhl.XXH128, mhl.XXH3, mhl.XXH64, mhl.MD5, mhl.SHA1, mhl.C4Format}

// mhlEntry is what the walk saw of a file or folder, kept to write the
// verified generation afterwards.
type mhlEntry struct {
	walk.Entry
	hashes map[mhl.Format]string // files: digests computed now
	listed bool
}

// againstMHL verifies a drive against its ASC MHL history (and the nested
// histories of cards copied onto it): the chain first (a generation whose
// C4 no longer matches was edited after the fact), then every file's newest
// recorded hash, in whatever format the history used.
func (v *verifier) againstMHL(ctx context.Context) error {
	h, err := mhl.Open(v.root)
	if err != nil {
		return &UsageError{fmt.Errorf("%s: %w", v.opts.Drive, err)}
	}
	for _, cp := range h.CheckChain() {
		v.problem(chainProblem(cp))
	}
	// The generation written after a clean verify uses the format of the
	// history's latest root hash, so editkit's entry reads like the others.
	runFormat := mhl.XXH128
	if gens := h.Generations(); len(gens) > 0 {
		for _, g := range gens {
			if g.History == "" && len(g.RootHash) > 0 {
				runFormat = g.RootHash[0].Format
			}
		}
	}

	var total int64
	files := 0
	for f := range h.Files() {
		v.beat()
		if v.inScope(f.Path) {
			files++
			total += max(f.Size, 0)
		}
	}
	if v.opts.Progress != nil {
		v.opts.Progress.AddTotal(total, files)
	}
	pick := v.sampler()
	p := newPool(ctx, v.opts.Jobs, v.opts.Progress, v.beat)
	var (
		mu      sync.Mutex
		entries []*mhlEntry
		missing []lost
		extras  []found
	)
	// advance reports the history's files before path (tree order) as
	// missing and returns its record for path, if any.
	cursor := newTreeCursor(withNoErrors(h.Files()), mhlPath, func(r mhl.FileRecord) {
		if v.inScope(r.Path) {
			v.res.Files++
			f, d := chooseFormat(r)
			missing = append(missing, lost{r.Path, r.Size, d, string(f)})
		}
	})
	defer cursor.stop()
	advance := func(path string, last bool) (mhl.FileRecord, bool) {
		r, ok, _ := cursor.seek(path, last)
		return r, ok
	}
	rules := driveRules()
	rules.Custom = func(rel string, isDir bool) string {
		if h.Match(rel, isDir) {
			return "ignored by the ASC MHL history"
		}
		return ""
	}
	walkErr := walk.Walk(p.ctx, v.root, rules, walk.Visitor{
		Dir: func(e walk.Entry, _ []string) error {
			v.beat()
			if e.Path != "" {
				advance(e.Path, false)
				entries = append(entries, &mhlEntry{Entry: e})
			}
			return nil
		},
		File: func(e walk.Entry) error {
			v.beat()
			r, ok := advance(e.Path, false)
			me := &mhlEntry{Entry: e}
			entries = append(entries, me)
			if !v.inScope(e.Path) {
				return nil
			}
			if !ok {
				extras = append(extras, found{e.Path, e.Size})
				return nil
			}
			v.res.Files++
			if r.Failed {
				v.problem(Problem{Kind: FailedBefore, Path: r.Path, Detail: "the history's newest entry for this file records a failed verification"})
				return nil
			}
			if r.Size >= 0 && r.Size != e.Size {
				v.problem(Problem{Kind: SizeChanged, Path: r.Path, Detail: fmt.Sprintf("%d bytes recorded, %d now", r.Size, e.Size)})
				return nil
			}
			if !pick(r.Path) {
				v.res.NotSampled++
				return nil
			}
			format, want := chooseFormat(r)
			formats := []mhl.Format{format}
			var wantRun string // the run format's recorded digest, if any
			if format != runFormat {
				formats = append(formats, runFormat)
				for _, h := range r.Hashes {
					if h.Format == runFormat {
						wantRun = h.Digest
					}
				}
			}
			full := filepath.Join(v.root, filepath.FromSlash(r.Path))
			return p.submit(func(ctx context.Context) {
				defer v.fileDone()
				got, n, err := p.hashFormats(ctx, full, formats)
				switch {
				case ctx.Err() != nil:
				case err != nil:
					v.problem(Problem{Kind: ReadError, Path: r.Path, Detail: err.Error()})
				case got[format] != want:
					v.problem(Problem{Kind: Modified, Path: r.Path, Detail: fmt.Sprintf("%s %s, recorded %s", format, got[format], want)})
				case wantRun != "" && got[runFormat] != wantRun:
					v.problem(Problem{Kind: Modified, Path: r.Path, Detail: fmt.Sprintf("%s %s, recorded %s", runFormat, got[runFormat], wantRun)})
				default:
					v.verified(n)
					mu.Lock()
					me.hashes, me.listed = got, true
					if v.res.Formats == nil {
						v.res.Formats = map[string]int{}
					}
					v.res.Formats[string(format)]++
					mu.Unlock()
				}
			})
		},
		Skipped: func(s walk.Skipped) {
			if s.Err != nil && v.inScope(s.Path) {
				v.problem(Problem{Kind: ReadError, Path: s.Path, Detail: s.Err.Error()})
			}
		},
	})
	if walkErr == nil {
		advance("", true)
	}
	if err := firstErr(p.wait(), walkErr); err != nil {
		return err
	}
	v.findMoved(ctx, missing, extras, func(ctx context.Context, path string, want lost) (string, error) {
		f := mhl.Format(want.format)
		got, _, err := p.hashFormats(ctx, filepath.Join(v.root, filepath.FromSlash(path)), []mhl.Format{f})
		return got[f], err
	})
	v.writeMHL = func() (string, error) { return v.verifiedGeneration(runFormat, entries) }
	return nil
}

// chooseFormat picks the recorded hash to compare with.
func chooseFormat(r mhl.FileRecord) (mhl.Format, string) {
	for _, f := range formatPreference {
		for _, h := range r.Hashes {
			if h.Format == f {
				return f, h.Digest
			}
		}
	}
	return "", ""
}

// chainWayOut is what to do about a history whose chain does not hold.
const chainWayOut = "the ASC MHL history no longer proves what was recorded, and nothing is added to it: " +
	"restore the ascmhl folder from another copy of this drive (or from the backup it was made with)"

// chainProblem reports one break in a history's chain, naming the
// generation concerned and the way out.
func chainProblem(cp mhl.ChainProblem) Problem {
	return Problem{Kind: Tampered, Path: chainPath(cp), Detail: cp.String() + "; " + chainWayOut}
}

// checkChain checks the chain of the drive's ASC MHL history, whatever the
// run verifies against: a generation edited, deleted or added after the fact
// is reported as tampered, so the run fails and appends no generation.
func (v *verifier) checkChain() {
	if !dirExists(filepath.Join(v.root, "ascmhl")) {
		return
	}
	h, err := mhl.Open(v.root)
	if err != nil {
		v.problem(Problem{Kind: Tampered, Path: "ascmhl", Detail: fmt.Sprintf("the ASC MHL history cannot be read (%v); %s", err, chainWayOut)})
		return
	}
	for _, cp := range h.CheckChain() {
		v.problem(chainProblem(cp))
	}
}

func chainPath(cp mhl.ChainProblem) string {
	p := "ascmhl/" + cp.File
	if cp.History != "" {
		p = cp.History + "/" + p
	}
	return p
}

// verifiedGeneration appends an in-place generation recording every file
// re-hashed in this run as verified, as the reference tool does: in the
// format it was checked in, and in the run's format, which is either
// checked against the history's record too or, the first time the file is
// hashed in it, "verified" as well (the reference adds a new format so).
func (v *verifier) verifiedGeneration(format mhl.Format, entries []*mhlEntry) (string, error) {
	slices.SortFunc(entries, func(a, b *mhlEntry) int { return treepath.Compare(a.Path, b.Path) })
	now := v.opts.Now()
	seq := func(yield func(mhl.Entry, error) bool) {
		for _, e := range entries {
			me := mhl.Entry{Path: e.Path, Dir: e.Kind == walk.Dir, Size: e.Size, ModTime: e.ModTime, Listed: e.listed}
			if !me.Dir {
				if !e.listed {
					// Unverified files (not sampled, out of scope) still count
					// in their folders' hashes only if we know their digest.
					continue
				}
				for _, f := range formatPreference {
					if d, ok := e.hashes[f]; ok {
						me.Hashes = append(me.Hashes, mhl.Hash{Format: f, Digest: d, Action: mhl.Verified, HashDate: now})
					}
				}
			}
			if !yield(me, nil) {
				return
			}
		}
	}
	if !v.complete() {
		return "", nil
	}
	return mhl.WriteGeneration(v.root, mhl.Generation{
		Process:       mhl.ProcessInPlace,
		Created:       now,
		Host:          v.opts.Host,
		Tool:          v.opts.Tool,
		ToolVersion:   v.opts.Version,
		Author:        v.opts.User,
		Comment:       "editkit verify",
		DirHashFormat: format,
	}, seq)
}

// complete reports whether every file of the drive was re-hashed, which a
// generation with whole-tree directory hashes needs.
func (v *verifier) complete() bool {
	return len(v.scope) == 0 && v.opts.Sample == 0 && v.opts.Since.IsZero()
}
