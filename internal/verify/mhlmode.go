package verify

import (
	"context"
	"fmt"
	"iter"
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
	hashes   map[mhl.Format]string // files: digests computed now
	listed   bool
	action   mhl.Action // Verified, or Failed for a file that no longer matches
	previous string     // a recorded file found intact here, under another name
}

// againstMHL verifies a drive against its ASC MHL history (and the nested
// histories of cards copied onto it): the chain first (a generation whose
// C4 no longer matches was edited after the fact), then every file's newest
// recorded hash, in whatever format the history used.
func (v *verifier) againstMHL(ctx context.Context) error {
	if !dirExists(filepath.Join(v.root, "ascmhl")) {
		_, err := mhl.Open(v.root) // its error names the missing folder
		return &UsageError{fmt.Errorf("%s: %w", v.opts.Drive, err)}
	}
	h := v.openHistory()
	if h == nil {
		return nil
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
	// What the history records is verified whatever its name: editkit's
	// skip list and the history's ignore patterns decide only about files
	// nobody recorded.
	rules.Keep = h.Records
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
				v.problem(Problem{Kind: FailedBefore, Path: r.Path, Detail: "the history records only failed verifications of this file, never a good hash"})
				return nil
			}
			// A file of another size is read all the same: the generation
			// appended records what it holds now, as failed.
			resized := r.Size >= 0 && r.Size != e.Size
			if resized {
				v.problem(Problem{Kind: SizeChanged, Path: r.Path, Detail: fmt.Sprintf("%d bytes recorded, %d now", r.Size, e.Size)})
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
				action := mhl.Failed
				switch {
				case ctx.Err() != nil:
					return
				case err != nil:
					v.problem(Problem{Kind: ReadError, Path: r.Path, Detail: err.Error()})
					return
				case resized:
				case got[format] != want:
					v.problem(Problem{Kind: Modified, Path: r.Path, Detail: fmt.Sprintf("%s %s, recorded %s", format, got[format], want)})
				case wantRun != "" && got[runFormat] != wantRun:
					v.problem(Problem{Kind: Modified, Path: r.Path, Detail: fmt.Sprintf("%s %s, recorded %s", runFormat, got[runFormat], wantRun)})
				default:
					action = mhl.Verified
					v.verified(n)
				}
				mu.Lock()
				defer mu.Unlock()
				me.hashes, me.listed, me.action = got, true, action
				if action == mhl.Verified {
					if v.res.Formats == nil {
						v.res.Formats = map[string]int{}
					}
					v.res.Formats[string(format)]++
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
	// A file found intact under another name is recorded there, with its
	// previous path, as the reference tool's create -dr does (spec 5.3.3).
	computed := map[string]map[mhl.Format]string{}
	moved, _ := v.findMoved(ctx, missing, extras, func(ctx context.Context, path string, want lost) (string, error) {
		f := mhl.Format(want.format)
		got, _, err := p.hashFormats(ctx, filepath.Join(v.root, filepath.FromSlash(path)), []mhl.Format{f, runFormat})
		computed[path] = got
		return got[f], err
	})
	byPath := make(map[string]*mhlEntry, len(moved))
	for _, e := range entries {
		if e.Kind != walk.Dir {
			byPath[e.Path] = e
		}
	}
	for _, m := range moved {
		if e := byPath[m.to]; e != nil {
			e.hashes, e.listed, e.action, e.previous = computed[m.to], true, mhl.Verified, m.from
		}
	}
	v.writeMHL = func() (string, error) {
		paths := func(yield func(string, bool) bool) {
			for p, isDir := range h.Paths() {
				if !yield(p, isDir) {
					return
				}
			}
			for _, e := range entries {
				isDir := e.Kind == walk.Dir
				if (isDir || e.listed) && !yield(e.Path, isDir) {
					return
				}
			}
		}
		return v.verifiedGeneration(runFormat, entries, driveIgnore(paths))
	}
	return nil
}

// driveIgnore is the ignore list of a generation verify appends: editkit's
// own folders and every name a drive walk leaves out ($RECYCLE.BIN, Avid's
// databases…), so a drive opened on Windows or in Avid is no "new files"
// to the reference tool, less any pattern that would hide one of the
// paths given (what the history records and the generation lists).
func driveIgnore(paths iter.Seq2[string, bool]) []string {
	return mhl.Unhiding(walk.Rules{}.SkipPatterns(), paths)
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
	if dirExists(filepath.Join(v.root, "ascmhl")) {
		v.openHistory()
	}
}

// openHistory reads the drive's ASC MHL history and checks its chain. A
// history that cannot be read (a chain or generation edited past parsing)
// is tampered, as the reference tool says (spec 5.4, 7.4.2), not a usage
// error: nil is returned and the run appends nothing.
func (v *verifier) openHistory() *mhl.History {
	h, err := mhl.Open(v.root)
	if err != nil {
		v.problem(Problem{Kind: Tampered, Path: "ascmhl", Detail: fmt.Sprintf("the ASC MHL history cannot be read (%v); %s", err, chainWayOut)})
		return nil
	}
	for _, cp := range h.CheckChain() {
		v.problem(chainProblem(cp))
	}
	return h
}

func chainPath(cp mhl.ChainProblem) string {
	p := "ascmhl/" + cp.File
	if cp.History != "" {
		p = cp.History + "/" + p
	}
	return p
}

// verifiedGeneration appends an in-place generation recording every file
// re-hashed in this run, as the reference tool does: "verified" when it
// matches the history, "failed" when it does not (spec 5.6.4: the results
// of a verification shall be appended, failures included), in the format
// it was checked in and in the run's format, which is either checked
// against the history's record too or, the first time the file is hashed
// in it, "verified" (or "failed") as well, as the reference adds a format.
func (v *verifier) verifiedGeneration(format mhl.Format, entries []*mhlEntry, ignore []string) (string, error) {
	slices.SortFunc(entries, func(a, b *mhlEntry) int { return treepath.Compare(a.Path, b.Path) })
	now := v.opts.Now()
	seq := func(yield func(mhl.Entry, error) bool) {
		for _, e := range entries {
			me := mhl.Entry{Path: e.Path, Dir: e.Kind == walk.Dir, Size: e.Size, ModTime: e.ModTime, Listed: e.listed, PreviousPath: e.previous}
			if !me.Dir {
				if !e.listed {
					// Unverified files (not sampled, out of scope) still count
					// in their folders' hashes only if we know their digest.
					continue
				}
				for _, f := range formatPreference {
					if d, ok := e.hashes[f]; ok {
						me.Hashes = append(me.Hashes, mhl.Hash{Format: f, Digest: d, Action: e.action, HashDate: now})
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
		Ignore:        ignore,
		DirHashFormat: format,
	}, seq)
}

// complete reports whether every file of the drive was re-hashed, which a
// generation with whole-tree directory hashes needs.
func (v *verifier) complete() bool {
	return len(v.scope) == 0 && v.opts.Sample == 0 && v.opts.Since.IsZero()
}
