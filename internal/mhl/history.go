package mhl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/hashing"
	"github.com/editkit/editkit/internal/treepath"
)

// History is an ASC MHL history read from disk, with the nested histories
// found below its root.
type History struct {
	root  string
	hists []*hist // the root's first, then nested ones in tree order
	files map[string]*fileState
	dirs  map[string]bool // every folder holding a recorded file
}

// hist is one ascmhl folder.
type hist struct {
	prefix    string // folder relative to the History's root; "" for the root
	dir       string // on disk
	chain     []chainEntry
	haveChain bool
	gens      []*gen         // readable generation files, by sequence number
	onDisk    map[int]string // every generation file name, by number
	ignore    *matcher
	patterns  []string
}

type gen struct {
	info GenerationInfo
	c4   string // of the file's bytes
	refs []reference
}

// GenerationInfo describes one generation file.
type GenerationInfo struct {
	History     string // folder of its history, relative to the opened root; "" for the root
	Seq         int
	File        string // file name inside History/ascmhl
	Created     time.Time
	Host        string
	Tool        string
	ToolVersion string
	Process     string
	RootHash    []DirHash // the history root's hashes, if recorded
}

// fileState accumulates what the generations say about one file.
type fileState struct {
	hashes []RecordedHash  // newest good hash per format; failed ones only while there is no good one
	last   *GenerationInfo // newest generation that listed the file
	size   int64           // from the newest good record (the newest record while there is none)
	mod    time.Time
	failed bool // the newest generation listing the file records a failure
	good   bool // some generation recorded a hash that was not a failure
}

// RecordedHash is a hash and the generation that recorded it.
type RecordedHash struct {
	Hash
	Generation *GenerationInfo // shared by all records of that generation: read only
}

// FileRecord is what a history knows about one file.
type FileRecord struct {
	Path string // relative to the opened root, nested histories' prefixes included
	// Size and ModTime come from the newest generation listing the file.
	// Size is -1 if it recorded none (the reference tool leaves it out for
	// empty files).
	Size    int64
	ModTime time.Time
	// Hashes holds the newest hash in each format, in schema order.
	Hashes []RecordedHash
	// Failed is set when the history records only failed verifications
	// of the file: its hashes then describe a damaged file, not the
	// original one. A file that failed once and was recorded intact before
	// keeps those good hashes (spec 5.6.4, note 2) and is not Failed.
	Failed bool
	// FailedLast is set when the newest generation listing the file
	// recorded a failed verification, whatever came before.
	FailedLast bool
}

// Open reads the history in root/ascmhl: its chain, every generation file,
// and the histories of sub-folders that have their own ascmhl folder. It
// fails on a generation or chain file it cannot parse, naming the file;
// missing, extra or altered generation files are left to CheckChain.
func Open(root string) (*History, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("mhl: %w", err)
	}
	if fi, err := os.Stat(filepath.Join(abs, folderName)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("mhl: no ASC MHL history in %s: %w", abs, err)
		}
		return nil, fmt.Errorf("mhl: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("mhl: %s is not a folder", filepath.Join(abs, folderName))
	}
	h := &History{root: abs, files: make(map[string]*fileState)}
	prefixes, err := findHistories(abs)
	if err != nil {
		return nil, err
	}
	for _, p := range prefixes {
		if err := h.load(p); err != nil {
			return nil, err
		}
	}
	h.dirs = make(map[string]bool)
	for p := range h.files {
		for d := treepath.Parent(p); d != "" && !h.dirs[d]; d = treepath.Parent(d) {
			h.dirs[d] = true
		}
	}
	return h, nil
}

// findHistories returns the folders below root that hold an ascmhl folder,
// root first. It does not descend into ascmhl folders.
func findHistories(root string) ([]string, error) {
	out := []string{""}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			// An unreadable folder hides at most a nested history, whose
			// files then show up as unknown to the caller: better than
			// refusing to read the history at all.
			return fs.SkipDir
		}
		if !d.IsDir() || d.Name() != folderName {
			return nil
		}
		parent, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		if parent != "." {
			out = append(out, filepath.ToSlash(parent))
		}
		return fs.SkipDir
	})
	if err != nil {
		return nil, fmt.Errorf("mhl: looking for nested histories: %w", err)
	}
	return out, nil
}

func (h *History) load(prefix string) error {
	dir := filepath.Join(h.root, filepath.FromSlash(prefix))
	hdir := filepath.Join(dir, folderName)
	hs := &hist{prefix: prefix, dir: dir}
	var err error
	if _, err = os.Stat(filepath.Join(hdir, chainFileName)); err == nil {
		hs.haveChain = true
	}
	if hs.chain, err = readChainFile(hdir); err != nil {
		return err
	}
	if hs.onDisk, err = genFiles(hdir); err != nil {
		return err
	}
	seqs := make([]int, 0, len(hs.onDisk))
	for n := range hs.onDisk {
		seqs = append(seqs, n)
	}
	slices.Sort(seqs)
	var patterns [][]string
	for _, n := range seqs {
		g, ignore, err := h.readGen(hs, n, filepath.Join(hdir, hs.onDisk[n]))
		if err != nil {
			return err
		}
		hs.gens = append(hs.gens, g)
		patterns = append(patterns, ignore)
	}
	hs.patterns = mergePatterns(append([][]string{defaultIgnore()}, patterns...)...)
	// A history written by another tool may carry a pattern our dialect
	// rejects; drop it rather than refuse to verify anything.
	var ok []string
	for _, p := range hs.patterns {
		if _, err := compilePatterns([]string{p}); err == nil {
			ok = append(ok, p)
		}
	}
	hs.ignore, _ = compilePatterns(ok)
	h.hists = append(h.hists, hs)
	return nil
}

func (h *History) readGen(hs *hist, seq int, p string) (*gen, []string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, fmt.Errorf("mhl: %w", err)
	}
	defer f.Close()
	g := &gen{}
	g.info = GenerationInfo{History: hs.prefix, Seq: seq, File: filepath.Base(p)}
	sha := hashing.NewMultiHasher(hashing.C4)
	hdr, err := parseGeneration(bufio.NewReader(io.TeeReader(f, sha)), parseOpts{
		onFile: func(r *fileRec) error {
			h.record(hs, g, r)
			return nil
		},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("mhl %s: %w", p, err)
	}
	// The parser may stop before EOF (trailing whitespace); the C4 covers
	// the whole file.
	if _, err := io.Copy(sha, f); err != nil {
		return nil, nil, fmt.Errorf("mhl %s: %w", p, err)
	}
	g.c4 = sha.Digest(hashing.C4)
	g.refs = hdr.Refs
	i := &g.info
	i.Created, i.Host, i.Tool, i.ToolVersion = hdr.Created, hdr.Host, hdr.Tool, hdr.ToolVersion
	i.Process, i.RootHash = hdr.Process, hdr.Root
	return g, hdr.Ignore, nil
}

// record merges one <hash> element into the per-file state. Records are
// seen in generation order within a history, but histories are read one
// after another, so "newer" is decided by newer().
//
// A failed hash never replaces a good one: spec 5.6.4 (note 2) lets a
// file that failed a verification verify again once a good copy is put
// back, against the hashes recorded before the failure, as the reference
// tool does (it compares with the "original"). A record with a
// previousPath moves what the history knew of the old path to the new
// one (spec 5.3.3: implementations shall support renaming).
func (h *History) record(hs *hist, g *gen, r *fileRec) {
	p := r.Path
	if hs.prefix != "" {
		p = hs.prefix + "/" + r.Path
	}
	st := h.files[p]
	if r.PreviousPath != "" {
		old := r.PreviousPath
		if hs.prefix != "" {
			old = hs.prefix + "/" + old
		}
		if prev := h.files[old]; prev != nil && old != p {
			delete(h.files, old)
			if st == nil {
				st = prev
			}
		}
	}
	if st == nil {
		st = &fileState{}
	}
	h.files[p] = st
	good := slices.ContainsFunc(r.Hashes, func(x Hash) bool { return x.Action != Failed })
	if st.last == nil || !newer(st.last, &g.info) {
		st.last = &g.info
		st.failed = !good
		if good || !st.good {
			st.size, st.mod = r.Size, r.ModTime
		}
	}
	st.good = st.good || good
	for _, x := range r.Hashes {
		if x.Action == Failed && st.good {
			continue // the damaged file's hash: never what the file should be
		}
		i := slices.IndexFunc(st.hashes, func(o RecordedHash) bool { return o.Format == x.Format })
		switch {
		case i < 0:
			st.hashes = append(st.hashes, RecordedHash{x, &g.info})
		case st.hashes[i].Action == Failed && x.Action != Failed, !newer(st.hashes[i].Generation, &g.info):
			st.hashes[i] = RecordedHash{x, &g.info}
		}
	}
	if good {
		// A good record makes earlier failed-only hashes moot.
		st.hashes = slices.DeleteFunc(st.hashes, func(o RecordedHash) bool { return o.Action == Failed })
	}
}

// newer reports whether generation a is newer than b. Within a history the
// sequence number decides; across histories the creation date, and on a
// tie the deeper (more specific) history.
func newer(a, b *GenerationInfo) bool {
	if a.History == b.History {
		return a.Seq > b.Seq
	}
	if !a.Created.Equal(b.Created) {
		return a.Created.After(b.Created)
	}
	return strings.Count(a.History, "/") > strings.Count(b.History, "/") ||
		(a.History != "" && b.History == "")
}

// Root returns the absolute path of the history's root folder.
func (h *History) Root() string { return h.root }

// Generations returns every readable generation: the root history's by
// sequence number, then each nested history's.
func (h *History) Generations() []GenerationInfo {
	var out []GenerationInfo
	for _, hs := range h.hists {
		for _, g := range hs.gens {
			out = append(out, g.info)
		}
	}
	return out
}

// Files yields every file the history knows, in tree order, with the
// newest hash it recorded in each format.
func (h *History) Files() iter.Seq[FileRecord] {
	return func(yield func(FileRecord) bool) {
		paths := make([]string, 0, len(h.files))
		for p := range h.files {
			paths = append(paths, p)
		}
		slices.SortFunc(paths, treepath.Compare)
		for _, p := range paths {
			st := h.files[p]
			hashes := slices.Clone(st.hashes)
			slices.SortFunc(hashes, func(a, b RecordedHash) int { return a.Format.rank() - b.Format.rank() })
			if !yield(FileRecord{Path: p, Size: st.size, ModTime: st.mod, Hashes: hashes, Failed: !st.good, FailedLast: st.failed}) {
				return
			}
		}
	}
}

// Records reports whether the history records the file at relPath, or
// (isDir) a file anywhere below the folder at relPath. What a history
// records is verified whatever its name: a walk's own skip list (OS junk,
// ignore patterns added later) decides what a tool copies, never what a
// history says is there.
func (h *History) Records(relPath string, isDir bool) bool {
	if isDir {
		return h.dirs[relPath]
	}
	return h.files[relPath] != nil
}

// Paths yields every file the history records (false) and every folder
// holding one (true), in no particular order.
func (h *History) Paths() iter.Seq2[string, bool] {
	return func(yield func(string, bool) bool) {
		for p := range h.files {
			if !yield(p, false) {
				return
			}
		}
		for d := range h.dirs {
			if !yield(d, true) {
				return
			}
		}
	}
}

// Ignore returns the ignore patterns in effect for the root history: the
// defaults and every pattern any of its generations recorded.
func (h *History) Ignore() []string { return slices.Clone(h.hists[0].patterns) }

// Match reports whether a path, relative to the history root, is ignored:
// by the root history's patterns, or by those of a nested history the path
// lies in (matched relative to that history's folder).
func (h *History) Match(relPath string, isDir bool) bool {
	for _, hs := range h.hists {
		switch {
		case hs.prefix == "":
			if hs.ignore.match(relPath, isDir) {
				return true
			}
		case strings.HasPrefix(relPath, hs.prefix+"/"):
			if hs.ignore.match(relPath[len(hs.prefix)+1:], isDir) {
				return true
			}
		}
	}
	return false
}

// ProblemKind classifies a ChainProblem.
type ProblemKind string

const (
	// ProblemMissing: the chain lists a generation file that is not there.
	ProblemMissing ProblemKind = "missing"
	// ProblemTampered: a generation file's C4 differs from the one the
	// chain (or a referencing generation) recorded.
	ProblemTampered ProblemKind = "tampered"
	// ProblemUnlisted: a generation file the chain does not list.
	ProblemUnlisted ProblemKind = "unlisted"
	// ProblemSequence: sequence numbers that skip, repeat, or disagree
	// with the file name.
	ProblemSequence ProblemKind = "sequence"
	// ProblemReference: a <hashlistreference> to a generation of a nested
	// history that cannot be found.
	ProblemReference ProblemKind = "reference"
)

// ChainProblem is one inconsistency between a history's chain file and
// its generation files.
type ChainProblem struct {
	Kind    ProblemKind
	History string // folder of the history, relative to the opened root
	Seq     int    // 0 if unknown
	File    string // generation file name
	Detail  string
}

func (p ChainProblem) String() string {
	where := filepath.ToSlash(filepath.Join(p.History, folderName, p.File))
	return fmt.Sprintf("%s: %s: %s", where, p.Kind, p.Detail)
}

// CheckChain compares every history's chain with its generation files and
// checks the references between histories. No problems means every
// generation is listed, present and unaltered.
func (h *History) CheckChain() []ChainProblem {
	var out []ChainProblem
	for _, hs := range h.hists {
		out = append(out, hs.check()...)
	}
	for _, hs := range h.hists {
		for _, g := range hs.gens {
			for _, r := range g.refs {
				if p, ok := h.checkRef(hs, g, r); !ok {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

func (hs *hist) check() []ChainProblem {
	var out []ChainProblem
	problem := func(k ProblemKind, seq int, file, format string, args ...any) {
		out = append(out, ChainProblem{Kind: k, History: hs.prefix, Seq: seq, File: file, Detail: fmt.Sprintf(format, args...)})
	}
	byName := make(map[string]*gen)
	for _, g := range hs.gens {
		byName[g.info.File] = g
	}
	listed := make(map[string]bool)
	for i, e := range hs.chain {
		if e.Seq != i+1 {
			problem(ProblemSequence, e.Seq, e.File, "entry %d of the chain has sequence number %d", i+1, e.Seq)
		}
		if listed[e.File] {
			problem(ProblemSequence, e.Seq, e.File, "listed twice in the chain")
			continue
		}
		listed[e.File] = true
		if n, ok := genSeq(e.File); !ok || n != e.Seq {
			problem(ProblemSequence, e.Seq, e.File, "file name does not carry sequence number %d", e.Seq)
		}
		g := byName[e.File]
		if g == nil {
			problem(ProblemMissing, e.Seq, e.File, "listed in %s but not found", chainFileName)
			continue
		}
		if g.c4 != e.C4 {
			problem(ProblemTampered, e.Seq, e.File, "C4 is %s, %s recorded %s", g.c4, chainFileName, e.C4)
		}
	}
	for _, g := range hs.gens {
		if !listed[g.info.File] {
			detail := "not listed in " + chainFileName
			if !hs.haveChain {
				detail = "the history has no " + chainFileName
			}
			problem(ProblemUnlisted, g.info.Seq, g.info.File, "%s", detail)
		}
	}
	return out
}

func (h *History) checkRef(hs *hist, g *gen, r reference) (ChainProblem, bool) {
	full := r.Path
	if hs.prefix != "" {
		full = hs.prefix + "/" + full
	}
	problem := ChainProblem{Kind: ProblemReference, History: hs.prefix, Seq: g.info.Seq, File: g.info.File}
	dir, file := treepath.Parent(full), treepath.Base(full)
	if treepath.Base(dir) != folderName {
		problem.Detail = fmt.Sprintf("reference %q does not point into an %s folder", r.Path, folderName)
		return problem, false
	}
	for _, child := range h.hists {
		if child.prefix != treepath.Parent(dir) {
			continue
		}
		for _, cg := range child.gens {
			if cg.info.File != file {
				continue
			}
			if cg.c4 != r.C4 {
				problem.Kind = ProblemTampered
				problem.Detail = fmt.Sprintf("referenced generation %s has C4 %s, reference records %s", r.Path, cg.c4, r.C4)
				return problem, false
			}
			return problem, true
		}
	}
	problem.Detail = fmt.Sprintf("referenced generation %s not found", r.Path)
	return problem, false
}
