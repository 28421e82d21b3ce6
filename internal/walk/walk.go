// Package walk owns which files of a tree a command takes and in what order:
// the junk a Mac or Windows leaves behind, Avid's rebuildable databases,
// user --exclude patterns, symlinks (never followed) and unreadable entries,
// visited as a stream in tree order (treepath.Compare) with memory bounded by
// the tree's depth and the size of its largest folder.
package walk

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/hashing"
)

// Kind is the type of a tree entry.
type Kind int

// Entry kinds.
const (
	File Kind = iota
	Dir
	Symlink
	Other // device, socket, named pipe
)

// Entry is a file or folder that a walk keeps.
type Entry struct {
	Path    string // relative to the root, '/'-separated; "" for the root itself
	Kind    Kind
	Size    int64
	ModTime time.Time
	Mode    fs.FileMode
	Inode   uint64 // 0 where the system has none (see fsx.Inode)
	// Unread is set on a file of a walk with Visitor.Unread: its Size,
	// ModTime, Mode and Inode were not read (see Stat).
	Unread bool
}

// Stat reads what a walk with Visitor.Unread left out of a file's entry
// (root is the walk's root), without following a link.
func Stat(root string, e Entry) (Entry, error) {
	if !e.Unread {
		return e, nil
	}
	info, err := os.Lstat(filepath.Join(root, filepath.FromSlash(e.Path)))
	if err != nil {
		return e, err
	}
	if !info.Mode().IsRegular() {
		return e, fmt.Errorf("%s is no longer a regular file", filepath.Join(root, filepath.FromSlash(e.Path)))
	}
	e.Size, e.ModTime, e.Mode, e.Inode, e.Unread = info.Size(), info.ModTime(), info.Mode(), fsx.Inode(info), false
	return e, nil
}

// Skipped is an entry a walk leaves out, and why.
type Skipped struct {
	Path   string
	Dir    bool
	Reason string // the same for every entry skipped for one rule
	Detail string // about this entry, e.g. a symlink's target
	Err    error  // set when the entry could not be read: a failure, not a choice
}

// Rules decide which entries a walk leaves out.
type Rules struct {
	IncludeAvidDB bool     // keep msmMMOB.mdb / msmFMID.pmr
	Excludes      []string // user patterns, see Match
	// Internal are patterns the command itself adds (e.g. "ascmhl/" for
	// MHL histories), with the reason to report.
	Internal map[string]string
	// Custom, if set, is asked last; it returns a reason to leave an entry
	// out, or "" (e.g. an ASC MHL history's own ignore patterns).
	Custom func(rel string, isDir bool) string
	// Keep, if set, is asked first: an entry it returns true for is taken
	// whatever the other rules say (e.g. a file an ASC MHL history
	// records, or a folder holding one).
	Keep func(rel string, isDir bool) bool
}

// Validate reports a malformed exclude pattern.
func (r Rules) Validate() error {
	for _, p := range r.Excludes {
		if p == "" || p == "/" {
			return fmt.Errorf("--exclude %q: empty pattern", p)
		}
		if _, err := path.Match(strings.Trim(p, "/"), ""); err != nil {
			return fmt.Errorf("--exclude %q: %w", p, err)
		}
	}
	return nil
}

// junk lists what operating systems leave on drives; it never belongs in a
// copy (macOS and Windows recreate it). Keyed by exact name.
var junkFiles = map[string]string{
	".DS_Store":   "macOS Finder metadata",
	"Thumbs.db":   "Windows thumbnail cache",
	".localized":  "macOS Finder metadata",
	"Icon\r":      "macOS custom folder icon",
	"ehthumbs.db": "Windows thumbnail cache",
}

var junkDirs = map[string]string{
	".Spotlight-V100":           "macOS Spotlight index",
	".Trashes":                  "macOS trash",
	".fseventsd":                "macOS file-system event log",
	".TemporaryItems":           "macOS temporary items",
	".DocumentRevisions-V100":   "macOS document versions",
	"$RECYCLE.BIN":              "Windows recycle bin",
	"System Volume Information": "Windows system folder",
	".editkit":                  "editkit state of the source drive",
}

var avidDB = map[string]bool{"msmMMOB.mdb": true, "msmFMID.pmr": true}

// TempPrefix starts the names of files editkit writes before their final
// rename; a walk never takes them.
const TempPrefix = ".editkit-tmp-"

// TempName is the name a file called name is written under until it is
// verified: hidden, fixed-length whatever the name's length, and the same
// on every run, so an interrupted copy or pull is resumed or cleaned up by
// the next one.
func TempName(name string) string {
	sum := hashing.SumBLAKE3([]byte(name))
	return fmt.Sprintf("%s%x", TempPrefix, sum[:8])
}

// Skip returns why the entry at rel (its base name being name) is left out,
// or "" to keep it.
func (r Rules) Skip(rel string, isDir bool) string {
	if r.Keep != nil && r.Keep(rel, isDir) {
		return ""
	}
	name := rel[strings.LastIndexByte(rel, '/')+1:]
	if isDir {
		if why, ok := junkDirs[name]; ok {
			return why
		}
	} else {
		if why, ok := junkFiles[name]; ok {
			return why
		}
		if strings.HasPrefix(name, "._") {
			return "AppleDouble resource fork (macOS recreates it)"
		}
		if strings.HasPrefix(name, TempPrefix) {
			return "editkit temporary file of an interrupted copy"
		}
		if avidDB[name] && !r.IncludeAvidDB {
			return "Avid media database (Avid rebuilds it; --include-avid-db keeps it)"
		}
	}
	for p, why := range r.Internal {
		if Match(p, rel, isDir) {
			return why
		}
	}
	for _, p := range r.Excludes {
		if Match(p, rel, isDir) {
			return fmt.Sprintf("excluded by --exclude %q", p)
		}
	}
	if r.Custom != nil {
		return r.Custom(rel, isDir)
	}
	return ""
}

// SkipPatterns returns the names the built-in rules leave out as
// gitignore-style patterns (the dialect ASC MHL ignore lists use), so a
// record of a walk can say what the walk did not take. Folders are given
// without a trailing "/": the ASC MHL reference tool matches a folder's
// own path without one, and would otherwise count the folder, empty, in
// its directory hashes. "Icon\r" (a macOS folder icon) is left out: a
// pattern cannot end in a control character portably.
func (r Rules) SkipPatterns() []string {
	var out []string
	for _, m := range []map[string]string{junkDirs, junkFiles} {
		for _, name := range slices.Sorted(maps.Keys(m)) {
			if !strings.ContainsRune(name, '\r') {
				out = append(out, name)
			}
		}
	}
	out = append(out, "._*", TempPrefix+"*")
	if !r.IncludeAvidDB {
		out = append(out, slices.Sorted(maps.Keys(avidDB))...)
	}
	return out
}

// Match reports whether a pattern matches the entry at rel. Patterns follow
// the common subset of gitignore: a trailing "/" matches folders only; a
// pattern with a "/" elsewhere (or a leading one) is matched against the
// whole relative path; otherwise against the entry's name at any depth.
// Wildcards are those of path.Match (*, ?, [a-z]). A folder that matches is
// left out with everything in it.
func Match(pattern, rel string, isDir bool) bool {
	if strings.HasSuffix(pattern, "/") {
		if !isDir {
			return false
		}
		pattern = strings.TrimSuffix(pattern, "/")
	}
	if strings.Contains(pattern, "/") {
		ok, _ := path.Match(strings.TrimPrefix(pattern, "/"), rel)
		return ok
	}
	ok, _ := path.Match(pattern, rel[strings.LastIndexByte(rel, '/')+1:])
	return ok
}

// Visitor receives a walk's entries in tree order.
type Visitor struct {
	// Dir is called for every kept folder, the root included (Path ""),
	// before its contents, with the names of the children the walk keeps.
	Dir func(e Entry, children []string) error
	// File is called for every kept regular file.
	File func(e Entry) error
	// Skipped is called for every entry left out, including symlinks,
	// special files and entries that could not be read.
	Skipped func(s Skipped)
	// Unread passes regular files to File as the folder listing names
	// them (Entry.Unread), without a stat each: for a caller that opens
	// and fstats each file anyway, or already read the tree once.
	Unread bool
}

// Walk visits the tree at root. It stops at the first error a visitor
// returns, or when ctx is done; entries it cannot read are reported to
// Skipped and the walk goes on.
func Walk(ctx context.Context, root string, rules Rules, v Visitor) error {
	fi, err := os.Stat(root)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a folder", root)
	}
	w := walker{ctx: ctx, root: root, rules: rules, v: v}
	return w.dir(Entry{Path: "", Kind: Dir, ModTime: fi.ModTime(), Mode: fi.Mode()})
}

type walker struct {
	ctx   context.Context
	root  string
	rules Rules
	v     Visitor
}

func (w *walker) skipped(s Skipped) {
	if w.v.Skipped != nil {
		w.v.Skipped(s)
	}
}

// statTogether is the number of entries from which a folder's are stat'ed
// on two goroutines (statAll).
const statTogether = 64

type fileInfo struct {
	info fs.FileInfo
	err  error
}

// statAll describes a folder's entries, half of them on a second
// goroutine: a walk of a tree of small files is a stat per file, made
// while nothing else runs (a copy's preflight), so the second core would
// otherwise wait. Each half is one hand-over, not one per entry.
func statAll(dirents []os.DirEntry) []fileInfo {
	infos := make([]fileInfo, len(dirents))
	stat := func(from, to int) {
		for i := from; i < to; i++ {
			infos[i].info, infos[i].err = dirents[i].Info()
		}
	}
	half := len(dirents) / 2
	var wg sync.WaitGroup
	wg.Go(func() { stat(half, len(dirents)) })
	stat(0, half)
	wg.Wait()
	return infos
}

func (w *walker) dir(d Entry) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	full := filepath.Join(w.root, filepath.FromSlash(d.Path))
	dirents, err := os.ReadDir(full) // sorted by name: tree order
	if err != nil && len(dirents) == 0 {
		if d.Path == "" {
			return fmt.Errorf("read %s: %w", full, err)
		}
		w.skipped(Skipped{Path: d.Path, Dir: true, Reason: "folder could not be read", Err: err})
		return nil
	}
	type child struct {
		entry Entry
		err   error
	}
	kept := make([]child, 0, len(dirents))
	names := make([]string, 0, len(dirents))
	var infos []fileInfo
	if !w.v.Unread && len(dirents) >= statTogether {
		infos = statAll(dirents)
	}
	for i, de := range dirents {
		rel := de.Name()
		if d.Path != "" {
			rel = d.Path + "/" + de.Name()
		}
		isDir := de.IsDir()
		if why := w.rules.Skip(rel, isDir); why != "" {
			w.skipped(Skipped{Path: rel, Dir: isDir, Reason: why})
			continue
		}
		if w.v.Unread && de.Type().IsRegular() {
			kept = append(kept, child{entry: Entry{Path: rel, Kind: File, Unread: true}})
			names = append(names, de.Name())
			continue
		}
		var info fs.FileInfo
		var err error
		if infos != nil {
			info, err = infos[i].info, infos[i].err
		} else {
			info, err = de.Info()
		}
		if err != nil {
			w.skipped(Skipped{Path: rel, Dir: isDir, Reason: "could not be read", Err: err})
			continue
		}
		e := Entry{Path: rel, Size: info.Size(), ModTime: info.ModTime(), Mode: info.Mode(), Inode: fsx.Inode(info)}
		switch t := info.Mode().Type(); {
		case t == 0:
			e.Kind = File
		case t == fs.ModeDir:
			e.Kind, e.Size = Dir, 0
		case t == fs.ModeSymlink:
			target, _ := os.Readlink(filepath.Join(full, de.Name()))
			w.skipped(Skipped{Path: rel, Reason: "symbolic link, not followed", Detail: "→ " + target})
			continue
		default:
			w.skipped(Skipped{Path: rel, Reason: "special file (device, socket or pipe), not copied", Detail: t.String()})
			continue
		}
		kept = append(kept, child{entry: e})
		names = append(names, de.Name())
	}
	if err != nil {
		// ReadDir failed part way: report the folder as incomplete.
		w.skipped(Skipped{Path: d.Path, Dir: true, Reason: "folder could only be read in part", Err: err})
	}
	if w.v.Dir != nil {
		if err := w.v.Dir(d, names); err != nil {
			return err
		}
	}
	names = nil
	for i := range kept {
		e := kept[i].entry
		if e.Kind == Dir {
			if err := w.dir(e); err != nil {
				return err
			}
			continue
		}
		if err := w.ctx.Err(); err != nil {
			return err
		}
		if w.v.File != nil {
			if err := w.v.File(e); err != nil {
				return err
			}
		}
	}
	return nil
}
