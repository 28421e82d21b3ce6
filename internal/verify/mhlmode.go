package verify

import (
	"context"
	"fmt"
	"iter"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/editkit/editkit/internal/mhl"
	"github.com/editkit/editkit/internal/report"
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
	m := &mhlCheck{verifier: v, h: h, runFormat: runFormat(h)}
	m.announceTotal()
	m.pick = v.sampler()
	m.pool = newPool(ctx, v.opts.Jobs, v.opts.Progress, v.beat)
	walkErr := m.walk()
	if err := firstErr(m.pool.Wait(), walkErr); err != nil {
		return err
	}
	m.recordMoved(ctx)
	v.writeMHL = m.writeGeneration
	return nil
}

// runFormat is the format of the generation written after a clean verify:
// that of the history's latest root hash, so editkit's entry reads like the
// others.
func runFormat(h *mhl.History) mhl.Format {
	format := mhl.XXH128
	for _, g := range h.Generations() {
		if g.History == "" && len(g.RootHash) > 0 {
			format = g.RootHash[0].Format
		}
	}
	return format
}

// mhlCheck is one run against an ASC MHL history: what the walk, the
// re-hash jobs and the search for moved files share.
type mhlCheck struct {
	*verifier
	h         *mhl.History
	runFormat mhl.Format
	pool      *pool
	pick      func(path string) bool // in the --sample

	entries []*mhlEntry // every file and folder walked, for the generation
	missing []lost      // recorded, not on the drive (walk only)
	extras  []found     // on the drive, not recorded (walk only)

	mu sync.Mutex // guards the entries' results, set by the re-hash jobs
}

// announceTotal passes over the history alone, for the progress total.
func (m *mhlCheck) announceTotal() {
	var total int64
	files := 0
	for f := range m.h.Files() {
		m.beat()
		if m.inScope(f.Path) {
			files++
			total += max(f.Size, 0)
		}
	}
	m.addTotal(total, files)
}

// walk walks the drive beside the history in tree order: a record the walk
// passes without finding is missing, a file no record names is extra, and
// every recorded file is queued to be re-hashed.
func (m *mhlCheck) walk() error {
	cursor := newTreeCursor(withNoErrors(m.h.Files()), mhlPath, func(r mhl.FileRecord) {
		if m.inScope(r.Path) {
			m.res.Files++
			f, d := chooseFormat(r)
			m.missing = append(m.missing, lost{r.Path, r.Size, d, string(f)})
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
	rules.Keep = m.h.Records
	rules.Custom = func(rel string, isDir bool) string {
		if m.h.Match(rel, isDir) {
			return "ignored by the ASC MHL history"
		}
		return ""
	}
	err := walk.Walk(m.pool.ctx, m.root, rules, walk.Visitor{
		Dir: func(e walk.Entry, _ []string) error {
			m.beat()
			if e.Path != "" {
				advance(e.Path, false)
				m.entries = append(m.entries, &mhlEntry{Entry: e})
			}
			return nil
		},
		File: func(e walk.Entry) error {
			m.beat()
			r, ok := advance(e.Path, false)
			me := &mhlEntry{Entry: e}
			m.entries = append(m.entries, me)
			switch {
			case !m.inScope(e.Path):
				return nil
			case !ok:
				m.extras = append(m.extras, found{e.Path, e.Size})
				return nil
			}
			return m.rehash(r, me)
		},
		Skipped: func(s walk.Skipped) { m.unreadable(s) },
	})
	if err == nil {
		advance("", true)
	}
	return err
}

// rehash queues the re-hash of a recorded file found on the drive as me,
// in the format the history recorded it in and in the run's format.
func (m *mhlCheck) rehash(r mhl.FileRecord, me *mhlEntry) error {
	if r.Failed {
		m.res.Files++
		m.problem(Problem{Kind: FailedBefore, Path: r.Path, Detail: "the history records only failed verifications of this file, never a good hash"})
		return nil
	}
	resized, sampled := m.admit(r.Path, r.Size, me.Size, m.pick)
	if !sampled {
		return nil
	}
	format, want := chooseFormat(r)
	formats := []mhl.Format{format}
	var wantRun string // the run format's recorded digest, if any
	if format != m.runFormat {
		formats = append(formats, m.runFormat)
		for _, h := range r.Hashes {
			if h.Format == m.runFormat {
				wantRun = h.Digest
			}
		}
	}
	full := filepath.Join(m.root, filepath.FromSlash(r.Path))
	return m.pool.Submit(func(ctx context.Context) {
		defer m.fileDone()
		got, n, err := m.pool.hashFormats(ctx, full, formats)
		var mismatch string
		switch {
		case got[format] != want:
			mismatch = fmt.Sprintf("%s %s, recorded %s", format, got[format], want)
		case wantRun != "" && got[m.runFormat] != wantRun:
			mismatch = fmt.Sprintf("%s %s, recorded %s", m.runFormat, got[m.runFormat], wantRun)
		}
		action := mhl.Failed
		switch m.judge(ctx, r.Path, err, resized, mismatch) {
		case unread:
			return
		case matches:
			action = mhl.Verified
			m.verified(r.Path, n, report.Hash{Format: string(format), Digest: got[format]})
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		me.hashes, me.listed, me.action = got, true, action
		if action == mhl.Verified {
			if m.res.Formats == nil {
				m.res.Formats = map[string]int{}
			}
			m.res.Formats[string(format)]++
		}
	})
}

// recordMoved finds the files intact under another name and records each
// there, with its previous path, as the reference tool's create -dr does
// (spec 5.3.3).
func (m *mhlCheck) recordMoved(ctx context.Context) {
	computed := map[string]map[mhl.Format]string{}
	moved, _ := m.findMoved(ctx, m.missing, m.extras, func(ctx context.Context, path string, want lost) (string, error) {
		f := mhl.Format(want.format)
		got, _, err := m.pool.hashFormats(ctx, filepath.Join(m.root, filepath.FromSlash(path)), []mhl.Format{f, m.runFormat})
		computed[path] = got
		return got[f], err
	})
	byPath := make(map[string]*mhlEntry, len(moved))
	for _, e := range m.entries {
		if e.Kind != walk.Dir {
			byPath[e.Path] = e
		}
	}
	for _, mv := range moved {
		if e := byPath[mv.to]; e != nil {
			e.hashes, e.listed, e.action, e.previous = computed[mv.to], true, mhl.Verified, mv.from
		}
	}
}

// writeGeneration appends the generation of a clean run, ignoring what
// editkit leaves out less what the history or the generation names.
func (m *mhlCheck) writeGeneration() (string, error) {
	paths := func(yield func(string, bool) bool) {
		for p, isDir := range m.h.Paths() {
			if !yield(p, isDir) {
				return
			}
		}
		for _, e := range m.entries {
			isDir := e.Kind == walk.Dir
			if (isDir || e.listed) && !yield(e.Path, isDir) {
				return
			}
		}
	}
	return m.verifiedGeneration(m.runFormat, m.entries, paths)
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
func (v *verifier) verifiedGeneration(format mhl.Format, entries []*mhlEntry, paths iter.Seq2[string, bool]) (string, error) {
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
	return v.appendGeneration(now, format, paths, seq)
}

// appendGeneration appends an in-place generation of entries to the drive's
// ASC MHL history, its folder hashes in format, ignoring what a drive walk
// leaves out less any pattern that would hide one of paths.
func (v *verifier) appendGeneration(created time.Time, format mhl.Format, paths iter.Seq2[string, bool], entries iter.Seq2[mhl.Entry, error]) (string, error) {
	return mhl.WriteGenerationIn(v.place, mhl.Generation{
		Process:       mhl.ProcessInPlace,
		Created:       created,
		Host:          v.opts.Host,
		Tool:          v.opts.Tool,
		ToolVersion:   v.opts.Version,
		Author:        v.opts.User,
		Comment:       "editkit verify",
		Ignore:        driveIgnore(paths),
		DirHashFormat: format,
	}, entries)
}

// complete reports whether every file of the drive was re-hashed, which a
// generation with whole-tree directory hashes needs.
func (v *verifier) complete() bool {
	return len(v.scope) == 0 && v.opts.Sample == 0 && v.opts.Since.IsZero()
}
