package mhl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/editkit/editkit/internal/place"
	"github.com/editkit/editkit/internal/treepath"
)

// Entry is one file or folder of the tree a generation describes.
type Entry struct {
	Path    string // '/'-separated, relative to the root
	Dir     bool
	Size    int64 // files
	ModTime time.Time
	Hashes  []Hash // files: one or more; one must be in Generation.DirHashFormat
	// Listed files get a <hash> element in this generation. Unlisted files
	// are not recorded but still count in their folders' directory hashes,
	// so a generation that re-verifies part of a tree keeps whole-tree
	// directory hashes.
	Listed bool
	// PreviousPath records a rename: the listed file's path (relative to
	// the root, like Path) before it was moved (spec 5.3.3). A history can
	// only name its own files, so one outside the history Path is written
	// to (a move into or out of a nested card) is not recorded.
	PreviousPath string
}

// Generation describes the run that writes a generation.
type Generation struct {
	Process     string    // ProcessInPlace, ProcessTransfer or ProcessFlatten
	Created     time.Time // zero: now
	Host        string    // empty: os.Hostname
	Tool        string
	ToolVersion string
	Author      string // optional
	Comment     string // optional
	// Ignore holds extra gitignore-style patterns. The defaults (.DS_Store,
	// ascmhl, ascmhl/) and the patterns of the history's latest generation
	// always apply.
	Ignore []string
	// DirHashFormat is the format of the directory and root hashes;
	// empty means xxh128, the reference tool's default.
	DirHashFormat Format
}

// WriteGeneration adds a generation to the history at root/ascmhl (creating
// it if needed) and returns the new generation file's path.
//
// entries must hold every file and folder of the tree, in treepath.Compare
// order (a folder before its contents); a folder that is not given is
// assumed from its contents. Entries matching an ignore pattern, and
// everything inside an ignored folder, are left out, so a caller can pass a
// plain walk of root, history folders included.
//
// Each folder's content and structure hashes are computed from all its
// entries, listed or not. A <directoryhash> is written for a folder that
// has a listed file below it, or no unlisted one (so an empty folder gets
// one); the root's goes into <roothash>. Elements come in the reference
// tool's order: a folder's sub-folders first, then its own files, then its
// directory hash.
//
// A sub-folder that has its own ascmhl/ folder is a nested history, as
// the reference tool handles it: the files below it are written to a new
// generation of that history, its root hash becomes that generation's
// <roothash>, and the parent generation gets a <directoryhash> for the
// folder and a <hashlistreference> to the new child generation. A nested
// history gets a generation only if the rule above gives its folder a
// directory hash.
//
// Hashes are written with the actions given. A caller re-hashing files
// that a history (or a nested one) already records should use Open and
// pass Verified or Failed, as the reference tool does.
//
// Every generation file and chain file is written to a temporary file,
// synced and renamed into place, nested histories first. Nothing is renamed
// until all entries were read, so a bad entry or a failing iterator leaves
// the histories as they were. Memory grows with
// the depth of the tree and the size of its largest folder (a few bytes
// per entry), not with the number of entries.
//
// WriteGeneration opens root for this one write; a command that holds its
// drive's placement root passes it to WriteGenerationIn, so that nothing
// is written once the drive is no longer the folder it opened.
func WriteGeneration(root string, g Generation, entries iter.Seq2[Entry, error]) (path string, err error) {
	r, err := place.Open(root, place.Hooks{})
	if err != nil {
		return "", fmt.Errorf("mhl: %w", err)
	}
	return WriteGenerationIn(r, g, entries)
}

// WriteGenerationIn is WriteGeneration writing through the placement root r
// (never through a link, nothing once r is gone: place.ErrGone).
func WriteGenerationIn(r *place.Root, g Generation, entries iter.Seq2[Entry, error]) (path string, err error) {
	w, err := newWriter(r, g)
	if err != nil {
		return "", err
	}
	defer w.cleanup()
	for e, err := range entries {
		if err != nil {
			return "", err
		}
		if err := w.add(e); err != nil {
			return "", err
		}
	}
	return w.finish()
}

type writer struct {
	root   string      // absolute
	place  *place.Root // every file written goes through it
	g      Generation
	dirFmt Format
	ignore *matcher
	now    func() time.Time

	stack []*frame
	prev  string // last entry, to enforce order
	skip  string // "dir/" while skipping an ignored folder

	sinks []*sink // every history being written, root first
	done  []*sink // nested histories finished, in the order to commit them

	buf     []byte // scratch for rendering elements
	scratch []byte // scratch for structure-hash input
}

// frame is an open folder.
type frame struct {
	path      string
	mod       time.Time
	content   []byte // children's content digests, digestSize each
	structure []byte // children's H(name ‖ digest), digestSize each
	listed    int    // files below, listed in this generation
	unlisted  int
	mark      int64 // sink.pending length when the folder opened
	sink      *sink // history its contents are written to
	owner     *sink // history its <directoryhash> goes to (differs for a nested root)
}

// sink is one history getting a new generation.
type sink struct {
	dir     string // folder holding ascmhl/
	prefix  string // dir relative to the writer's root; "" for the root
	chain   []chainEntry
	seq     int
	name    string      // final file name
	pf      *place.File // the generation, under its temporary name until commit
	f       *os.File
	bw      *bufio.Writer
	pending spill
	opened  bool // "<hashes>" written
	rootAt  int64
	rootLen int
	refs    []reference
	c4      string
	final   bool // renamed into place
}

func newWriter(r *place.Root, g Generation) (*writer, error) {
	abs := r.Path()
	var err error
	switch g.Process {
	case ProcessInPlace, ProcessTransfer, ProcessFlatten:
	default:
		return nil, fmt.Errorf("mhl: process %q: want %q, %q or %q", g.Process, ProcessInPlace, ProcessTransfer, ProcessFlatten)
	}
	if g.Tool == "" {
		return nil, errors.New("mhl: Generation.Tool is empty")
	}
	if g.Created.IsZero() {
		g.Created = time.Now()
	}
	g.Created = g.Created.UTC().Truncate(time.Second)
	if g.Host == "" {
		if g.Host, err = os.Hostname(); err != nil {
			return nil, fmt.Errorf("mhl: host name: %w", err)
		}
	}
	for _, s := range append([]string{g.Host, g.Tool, g.ToolVersion, g.Author, g.Comment}, g.Ignore...) {
		if err := xmlSafe(s); err != nil {
			return nil, fmt.Errorf("mhl: generation: %w", err)
		}
	}
	if _, err := compilePatterns(g.Ignore); err != nil {
		return nil, fmt.Errorf("mhl: %w", err)
	}
	w := &writer{root: abs, place: r, g: g, dirFmt: g.DirHashFormat, now: time.Now}
	if w.dirFmt == "" {
		w.dirFmt = XXH128
	}
	if !w.dirFmt.Valid() {
		return nil, fmt.Errorf("mhl: unknown directory hash format %q", w.dirFmt)
	}
	if err := w.place.MkdirAll(folderName); err != nil { // never through a link
		return nil, fmt.Errorf("mhl: %w", err)
	}
	s, patterns, err := w.newSink("")
	if err != nil {
		w.cleanup()
		return nil, err
	}
	// Ignore patterns are matched from the root, with the root history's
	// patterns, as the reference tool does for the whole tree.
	if w.ignore, err = compilePatterns(patterns); err != nil {
		w.cleanup()
		return nil, fmt.Errorf("mhl %s: %w", filepath.Join(abs, folderName), err)
	}
	w.stack = []*frame{{sink: s, owner: s}}
	return w, nil
}

// newSink starts a generation for the history in the folder prefix.
func (w *writer) newSink(prefix string) (*sink, []string, error) {
	dir := filepath.Join(w.root, filepath.FromSlash(prefix))
	hdir := filepath.Join(dir, folderName)
	chain, err := readChainFile(hdir)
	if err != nil {
		return nil, nil, err
	}
	gens, err := genFiles(hdir)
	if err != nil {
		return nil, nil, fmt.Errorf("mhl: %w", err)
	}
	s := &sink{dir: dir, prefix: prefix, chain: chain, pending: spill{root: w.place, dir: path.Join(prefix, folderName)}}
	for _, e := range chain {
		s.seq = max(s.seq, e.Seq)
	}
	latest := 0
	for n := range gens {
		latest = max(latest, n)
	}
	s.seq = max(s.seq, latest) + 1
	// New patterns go on top of the latest generation's, as in the
	// reference tool, so an ignore rule once given keeps applying.
	var old []string
	if latest > 0 {
		p := filepath.Join(hdir, gens[latest])
		h, err := parseGenerationFile(p, parseOpts{headerOnly: true})
		if err != nil {
			return nil, nil, err
		}
		old = h.Ignore
	}
	patterns := mergePatterns(defaultIgnore(), old, w.g.Ignore)
	for _, p := range patterns {
		if err := xmlSafe(p); err != nil {
			return nil, nil, fmt.Errorf("mhl %s: ignore pattern: %w", hdir, err)
		}
	}
	s.name = fmt.Sprintf("%04d_%s_%sZ.mhl", s.seq, filepath.Base(dir), w.g.Created.Format(layoutFileName))
	rel := folderName + "/" + s.name
	if prefix != "" {
		rel = prefix + "/" + rel
	}
	if s.pf, err = w.place.Begin(rel, place.BeginOptions{Perm: 0o644}); err != nil {
		return nil, nil, fmt.Errorf("mhl: %w", err)
	}
	s.f = s.pf.OS()
	w.sinks = append(w.sinks, s)
	s.bw = bufio.NewWriterSize(s.f, 256<<10)
	hdr := w.header(nil, patterns, &s.rootAt, &s.rootLen)
	if _, err := s.bw.Write(hdr); err != nil {
		return nil, nil, fmt.Errorf("mhl: %w", err)
	}
	return s, patterns, nil
}

func parseGenerationFile(p string, opts parseOpts) (*genHeader, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("mhl: %w", err)
	}
	defer f.Close()
	h, err := parseGeneration(bufio.NewReader(f), opts)
	if err != nil {
		return nil, fmt.Errorf("mhl %s: %w", p, err)
	}
	return h, nil
}

// Write writes a part of the <hashes> element, opening it first.
func (s *sink) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !s.opened {
		s.opened = true
		s.bw.WriteString("  <hashes>\n")
	}
	return s.bw.Write(p)
}

func (w *writer) top() *frame { return w.stack[len(w.stack)-1] }

func (w *writer) add(e Entry) error {
	if err := treepath.Validate(e.Path); err != nil {
		return fmt.Errorf("mhl: entry: %w", err)
	}
	if err := xmlSafe(e.Path); err != nil {
		return fmt.Errorf("mhl: entry: %w", err)
	}
	if w.prev != "" && treepath.Compare(w.prev, e.Path) >= 0 {
		return fmt.Errorf("mhl: entry %q after %q: entries must come in tree order, each once", e.Path, w.prev)
	}
	w.prev = e.Path
	if w.skip != "" && strings.HasPrefix(e.Path, w.skip) {
		return nil
	}
	w.skip = ""
	for t := w.top(); t.path != "" && !strings.HasPrefix(e.Path, t.path+"/"); t = w.top() {
		if _, _, err := w.close(); err != nil {
			return err
		}
	}
	parent := treepath.Parent(e.Path)
	// Open parents were checked against the ignore patterns when they were
	// opened; only a folder we have to assume needs the full check.
	var ignored bool
	if parent == w.top().path {
		ignored = w.ignore.excluded(e.Path, e.Dir)
	} else {
		ignored = w.ignore.match(e.Path, e.Dir)
	}
	if ignored {
		if e.Dir {
			w.skip = e.Path + "/"
		}
		return nil
	}
	for t := w.top(); t.path != parent; t = w.top() {
		// t is an ancestor of parent: open the next folder down.
		next, _, _ := strings.Cut(rel(parent, t.path), "/")
		if t.path != "" {
			next = t.path + "/" + next
		}
		if err := w.open(next, time.Time{}); err != nil {
			return err
		}
	}
	if e.Dir {
		return w.open(e.Path, e.ModTime)
	}
	return w.file(&e)
}

func (w *writer) open(p string, mod time.Time) error {
	t := w.top()
	f := &frame{path: p, mod: mod, sink: t.sink, owner: t.sink}
	fi, err := os.Stat(filepath.Join(w.root, filepath.FromSlash(p), folderName))
	switch {
	case err == nil && fi.IsDir():
		s, _, err := w.newSink(p)
		if err != nil {
			return err
		}
		f.sink = s
	case err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("mhl: looking for a nested history: %w", err)
	}
	f.mark = f.sink.pending.len()
	w.stack = append(w.stack, f)
	return nil
}

func (w *writer) file(e *Entry) error {
	if e.Size < 0 {
		return fmt.Errorf("mhl: entry %q: negative size", e.Path)
	}
	if len(e.Hashes) == 0 {
		return fmt.Errorf("mhl: entry %q has no hash", e.Path)
	}
	hashes := slices.Clone(e.Hashes) // sorted and canonicalised below; the caller's stays as it was
	slices.SortFunc(hashes, func(a, b Hash) int { return a.Format.rank() - b.Format.rank() })
	var dirDigest []byte
	for i := range hashes {
		h := &hashes[i]
		if !h.Format.Valid() {
			return fmt.Errorf("mhl: entry %q: unknown hash format %q", e.Path, h.Format)
		}
		if i > 0 && hashes[i-1].Format == h.Format {
			return fmt.Errorf("mhl: entry %q: two %s hashes", e.Path, h.Format)
		}
		if h.Action != "" && !h.Action.valid() {
			return fmt.Errorf("mhl: entry %q: unknown action %q", e.Path, h.Action)
		}
		canon, b, err := decodeDigest(h.Format, h.Digest)
		if err != nil {
			return fmt.Errorf("mhl: entry %q: %w", e.Path, err)
		}
		h.Digest = canon
		if h.Format == w.dirFmt {
			dirDigest = b
		}
	}
	if dirDigest == nil {
		return fmt.Errorf("mhl: entry %q has no %s hash, which directory hashes need", e.Path, w.dirFmt)
	}
	t := w.top()
	t.content = append(t.content, dirDigest...)
	w.scratch = append(append(w.scratch[:0], treepath.Base(e.Path)...), dirDigest...)
	t.structure = sum(w.dirFmt, t.structure, w.scratch)
	if !e.Listed {
		t.unlisted++
		return nil
	}
	t.listed++
	var prev string
	if e.PreviousPath != "" {
		if err := treepath.Validate(e.PreviousPath); err != nil {
			return fmt.Errorf("mhl: entry %q: previous path: %w", e.Path, err)
		}
		if err := xmlSafe(e.PreviousPath); err != nil {
			return fmt.Errorf("mhl: entry %q: previous path: %w", e.Path, err)
		}
		if t.sink.prefix == "" || strings.HasPrefix(e.PreviousPath, t.sink.prefix+"/") {
			prev = rel(e.PreviousPath, t.sink.prefix)
		}
	}
	w.buf = appendHash(w.buf[:0], rel(e.Path, t.sink.prefix), e.Size, e.ModTime, hashes, prev)
	if err := t.sink.pending.push(w.buf); err != nil {
		return fmt.Errorf("mhl: %w", err)
	}
	return nil
}

// close finishes the innermost open folder and returns its hashes.
func (w *writer) close() (content, structure []byte, err error) {
	f := w.top()
	w.stack = w.stack[:len(w.stack)-1]
	content, structure = hashOfHashes(w.dirFmt, f.content), hashOfHashes(w.dirFmt, f.structure)
	f.content, f.structure = nil, nil
	hashDate := w.now()
	recorded := f.listed > 0 || f.unlisted == 0

	// The folder's own files come after everything in its sub-folders.
	if err := f.sink.pending.popTo(f.sink, f.mark); err != nil {
		return nil, nil, fmt.Errorf("mhl: %w", err)
	}
	if f.sink != f.owner {
		if recorded {
			if err := w.finalize(f.sink, content, structure, hashDate); err != nil {
				return nil, nil, err
			}
			w.done = append(w.done, f.sink)
			f.owner.refs = append(f.owner.refs, reference{
				Path: rel(f.path, f.owner.prefix) + "/" + folderName + "/" + f.sink.name,
				C4:   f.sink.c4,
			})
		} else {
			w.discard(f.sink)
		}
	}
	if f.path == "" {
		return content, structure, nil // the root: finish writes its hash
	}
	t := w.top()
	t.content = append(t.content, content...)
	w.scratch = append(append(w.scratch[:0], treepath.Base(f.path)...), structure...)
	t.structure = sum(w.dirFmt, t.structure, w.scratch)
	t.listed += f.listed
	t.unlisted += f.unlisted
	if recorded {
		w.buf = appendDirHash(w.buf[:0], rel(f.path, f.owner.prefix), f.mod, w.dirFmt,
			encodeDigest(w.dirFmt, content), encodeDigest(w.dirFmt, structure), hashDate)
		if _, err := f.owner.Write(w.buf); err != nil {
			return nil, nil, fmt.Errorf("mhl: %w", err)
		}
	}
	return content, structure, nil
}

func (w *writer) finish() (string, error) {
	var content, structure []byte
	for len(w.stack) > 0 {
		var err error
		if content, structure, err = w.close(); err != nil {
			return "", err
		}
	}
	rs := w.sinks[0]
	if err := w.finalize(rs, content, structure, w.now()); err != nil {
		return "", err
	}
	for _, s := range append(w.done, rs) {
		if err := w.commit(s); err != nil {
			return "", err
		}
	}
	return filepath.Join(rs.dir, folderName, rs.name), nil
}

// finalize completes a sink's temporary file: closing elements, the real
// root hash over its placeholder, fsync, and the file's C4 for the chain.
func (w *writer) finalize(s *sink, content, structure []byte, date time.Time) error {
	if s.opened {
		s.bw.WriteString("  </hashes>\n")
	}
	if len(s.refs) > 0 {
		s.bw.WriteString("  <references>\n")
		for _, r := range s.refs {
			s.bw.WriteString("    <hashlistreference>\n      <path>")
			s.bw.Write(appendEscaped(nil, r.Path))
			s.bw.WriteString("</path>\n      <c4>" + r.C4 + "</c4>\n    </hashlistreference>\n")
		}
		s.bw.WriteString("  </references>\n")
	}
	s.bw.WriteString("</hashlist>\n")
	if err := s.bw.Flush(); err != nil {
		return fmt.Errorf("mhl: %w", err)
	}
	block := appendRootHash(nil, w.dirFmt, encodeDigest(w.dirFmt, content), encodeDigest(w.dirFmt, structure), date)
	if len(block) != s.rootLen {
		return fmt.Errorf("mhl: internal error: root hash is %d bytes, placeholder %d", len(block), s.rootLen)
	}
	if _, err := s.f.WriteAt(block, s.rootAt); err != nil {
		return fmt.Errorf("mhl: %w", err)
	}
	if err := s.f.Chmod(0o644); err != nil {
		return fmt.Errorf("mhl: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("mhl: %w", err)
	}
	if _, err := s.f.Seek(0, 0); err != nil {
		return fmt.Errorf("mhl: %w", err)
	}
	// Read back what is on disk rather than hash what we meant to write.
	c4, err := fileC4(bufio.NewReader(s.f))
	if err != nil {
		return fmt.Errorf("mhl: %w", err)
	}
	s.c4 = c4
	return nil
}

// commit renames a finalized generation into place and appends it to the
// history's chain.
func (w *writer) commit(s *sink) error {
	hdir := filepath.Join(s.dir, folderName)
	final := filepath.Join(hdir, s.name)
	// Never replace a generation: the rename fails if the name is taken
	// (the folder is synced by Commit).
	_, err := s.pf.Commit(false)
	s.final = true
	var exists *place.ExistsError
	if errors.As(err, &exists) {
		return fmt.Errorf("mhl: %s already exists; is another program writing this history?", final)
	}
	if err != nil {
		return fmt.Errorf("mhl: %w", err)
	}
	chain := append(slices.Clip(s.chain), chainEntry{Seq: s.seq, File: s.name, C4: s.c4})
	if err := writeChain(w.place, path.Join(s.prefix, folderName), chain); err != nil {
		return fmt.Errorf("mhl %s: %w", filepath.Join(hdir, chainFileName), err)
	}
	return nil
}

func (w *writer) discard(s *sink) {
	s.pf.Abort()
	s.pending.close()
	s.final = true // nothing left to clean up
}

// cleanup removes what an unfinished write left behind.
func (w *writer) cleanup() {
	for _, s := range w.sinks {
		s.pending.close()
		if !s.final && s.pf != nil {
			s.pf.Abort()
		}
	}
}

// hashOfHashes is the reference tool's directory hash step: the hash of
// the children's digests, concatenated in sorted order. The reference sorts
// the digest strings; lowercase hex and C4 ids (fixed length, alphabet in
// ASCII order) sort exactly like the digest bytes they encode.
func hashOfHashes(f Format, digests []byte) []byte {
	sort.Sort(digestList{b: digests, n: digestSize(f), tmp: make([]byte, digestSize(f))})
	return sum(f, nil, digests)
}

type digestList struct {
	b   []byte
	n   int
	tmp []byte
}

func (d digestList) Len() int { return len(d.b) / d.n }
func (d digestList) Less(i, j int) bool {
	return bytes.Compare(d.b[i*d.n:(i+1)*d.n], d.b[j*d.n:(j+1)*d.n]) < 0
}
func (d digestList) Swap(i, j int) {
	a, b := d.b[i*d.n:(i+1)*d.n], d.b[j*d.n:(j+1)*d.n]
	copy(d.tmp, a)
	copy(a, b)
	copy(b, d.tmp)
}

// rel makes a root-relative path relative to a nested history's folder.
func rel(p, prefix string) string {
	if prefix == "" {
		return p
	}
	return p[len(prefix)+1:]
}

// Rendering. Indentation and attribute order follow the reference tool.

func (w *writer) header(b []byte, patterns []string, rootAt *int64, rootLen *int) []byte {
	g := &w.g
	b = append(b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"...)
	b = append(b, `<hashlist version="2.0" xmlns="`+nsHashList+`">`+"\n"...)
	b = append(b, "  <creatorinfo>\n    <creationdate>"...)
	b = append(b, formatDate(g.Created)...)
	b = append(b, "</creationdate>\n    <hostname>"...)
	b = appendEscaped(b, g.Host)
	b = append(b, "</hostname>\n    <tool"...)
	if g.ToolVersion != "" {
		b = append(b, ` version="`...)
		b = appendEscaped(b, g.ToolVersion)
		b = append(b, '"')
	}
	b = append(b, '>')
	b = appendEscaped(b, g.Tool)
	b = append(b, "</tool>\n"...)
	if g.Author != "" {
		b = append(b, "    <author>"...)
		b = appendEscaped(b, g.Author)
		b = append(b, "</author>\n"...)
	}
	if g.Comment != "" {
		b = append(b, "    <comment>"...)
		b = appendEscaped(b, g.Comment)
		b = append(b, "</comment>\n"...)
	}
	b = append(b, "  </creatorinfo>\n  <processinfo>\n    <process>"...)
	b = append(b, g.Process...)
	b = append(b, "</process>\n"...)
	// The root hash is known only at the end; write a placeholder of the
	// same length now and overwrite it then, instead of buffering the file.
	*rootAt = int64(len(b))
	zero := encodeDigest(w.dirFmt, make([]byte, digestSize(w.dirFmt)))
	b = appendRootHash(b, w.dirFmt, zero, zero, g.Created)
	*rootLen = len(b) - int(*rootAt)
	b = append(b, "    <ignore>\n"...)
	for _, p := range patterns {
		b = append(b, "      <pattern>"...)
		b = appendEscaped(b, p)
		b = append(b, "</pattern>\n"...)
	}
	b = append(b, "    </ignore>\n  </processinfo>\n"...)
	return b
}

func appendRootHash(b []byte, f Format, content, structure string, date time.Time) []byte {
	b = append(b, "    <roothash>\n"...)
	b = appendDirHashBody(b, "      ", f, content, structure, date)
	return append(b, "    </roothash>\n"...)
}

func appendDirHash(b []byte, p string, mod time.Time, f Format, content, structure string, date time.Time) []byte {
	b = append(b, "    <directoryhash>\n"...)
	b = appendPath(b, p, -1, mod)
	b = appendDirHashBody(b, "      ", f, content, structure, date)
	return append(b, "    </directoryhash>\n"...)
}

func appendDirHashBody(b []byte, indent string, f Format, content, structure string, date time.Time) []byte {
	for _, part := range [2]struct{ name, digest string }{{"content", content}, {"structure", structure}} {
		b = append(b, indent+"<"+part.name+">\n"...)
		b = appendHashValue(b, indent+"  ", Hash{Format: f, Digest: part.digest, HashDate: date})
		b = append(b, indent+"</"+part.name+">\n"...)
	}
	return b
}

// appendHash writes a <hash>; prev, if set, is its <previousPath>, which
// the schema puts after the hash values.
func appendHash(b []byte, p string, size int64, mod time.Time, hashes []Hash, prev string) []byte {
	b = append(b, "    <hash>\n"...)
	b = appendPath(b, p, size, mod)
	for _, h := range hashes {
		b = appendHashValue(b, "      ", h)
	}
	if prev != "" {
		b = append(b, "      <previousPath>"...)
		b = appendEscaped(b, prev)
		b = append(b, "</previousPath>\n"...)
	}
	return append(b, "    </hash>\n"...)
}

// appendPath writes a <path>; size < 0 leaves the size out (folders).
func appendPath(b []byte, p string, size int64, mod time.Time) []byte {
	b = append(b, "      <path"...)
	if size >= 0 {
		b = append(b, ` size="`...)
		b = strconv.AppendInt(b, size, 10)
		b = append(b, '"')
	}
	if !mod.IsZero() {
		b = append(b, ` lastmodificationdate="`...)
		b = append(b, formatDate(mod)...)
		b = append(b, '"')
	}
	b = append(b, '>')
	b = appendEscaped(b, p)
	return append(b, "</path>\n"...)
}

func appendHashValue(b []byte, indent string, h Hash) []byte {
	b = append(b, indent...)
	b = append(b, '<')
	b = append(b, h.Format...)
	if h.Action != "" {
		b = append(b, ` action="`...)
		b = append(b, h.Action...)
		b = append(b, '"')
	}
	if !h.HashDate.IsZero() {
		b = append(b, ` hashdate="`...)
		b = append(b, formatHashDate(h.HashDate)...)
		b = append(b, '"')
	}
	b = append(b, '>')
	b = append(b, h.Digest...)
	b = append(b, "</"...)
	b = append(b, h.Format...)
	return append(b, ">\n"...)
}

// appendEscaped escapes text for element content and attribute values.
// Whitespace other than a plain space is escaped too, so that XML's
// attribute and line-end normalisation cannot change a file name.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			b = append(b, "&amp;"...)
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '"':
			b = append(b, "&quot;"...)
		case '\'':
			b = append(b, "&apos;"...)
		case '\t':
			b = append(b, "&#x9;"...)
		case '\n':
			b = append(b, "&#xA;"...)
		case '\r':
			b = append(b, "&#xD;"...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// xmlSafe reports an error for text XML 1.0 cannot carry at all (control
// characters, invalid UTF-8): writing a substitute would record a name
// that does not exist.
func xmlSafe(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%q is not valid UTF-8", s)
	}
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r',
			r >= 0x20 && r <= 0xD7FF,
			r >= 0xE000 && r <= 0xFFFD,
			r >= 0x10000 && r <= 0x10FFFF:
		default:
			return fmt.Errorf("%q contains %U, which XML cannot carry", s, r)
		}
	}
	return nil
}
