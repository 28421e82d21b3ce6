package samplemedia

import (
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"path"
	"strings"
	"time"
)

// kind says how a file counts in Stats.
type kind uint8

const (
	kindPlain kind = iota
	kindJunk
	kindAvidDB
	kindUnportable
)

// entry is a planned file. Its bytes are head followed by fill (noise, or
// zeros when zero is set), truncated to size.
type entry struct {
	path  string // slash-separated, relative to the target directory
	size  int64
	head  []byte
	zero  bool
	mode  fs.FileMode
	mtime time.Time
	kind  kind
	// header, if set, builds head once size is final: MXF and WAV headers
	// record their payload length, and the planner trims sizes last.
	header func(size int64) []byte
}

// dirEntry is a planned folder. Folders holding something get the mtime of
// their newest entry; empty ones keep the one they were planned with.
type dirEntry struct {
	path  string
	mtime time.Time
}

// tree is the whole plan: every name, size and mtime is decided here, from a
// single random stream, before anything touches the disk.
type tree struct {
	o     Options
	rng   *rand.Rand
	files []entry
	dirs  []dirEntry // parents before children
	dirAt map[string]int
	// folded holds the lower-cased paths planned so far, so that generated
	// names never collide on a case-insensitive volume (the unportable
	// folder is exempt: colliding there is its point).
	folded map[string]bool
}

func plan(o Options) *tree {
	if o.TotalBytes == 0 {
		o.TotalBytes = DefaultTotalBytes
	}
	if o.BaseTime.IsZero() {
		o.BaseTime = time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)
	}
	p := &tree{
		o:      o,
		rng:    rand.New(rand.NewPCG(o.Seed, 0x6564_6974_6b69_7400)), // "editkit\0"
		dirAt:  map[string]int{},
		folded: map[string]bool{},
	}
	if o.ManyFiles > 0 {
		p.planMany()
	} else {
		p.planRealistic()
	}
	// Last, so that asking for unportable names adds a folder to the tree
	// without changing anything else in it.
	if o.Unportable {
		p.planUnportable()
	}
	p.finish()
	return p
}

// add plans a file, and its folders if they are new. It returns the index of
// the entry, for the few that are adjusted later.
func (p *tree) add(e entry) int {
	if e.mode == 0 {
		e.mode = 0o644
	}
	p.claim(e.path, e.kind == kindUnportable)
	p.mkdirAll(path.Dir(e.path))
	p.files = append(p.files, e)
	return len(p.files) - 1
}

// addText plans a file holding exactly text.
func (p *tree) addText(name, text string, mtime time.Time, k kind) {
	p.add(entry{path: name, size: int64(len(text)), head: []byte(text), mtime: mtime, kind: k})
}

// addDir plans a folder that may stay empty.
func (p *tree) addDir(dir string, mtime time.Time) {
	p.mkdirAll(dir)
	p.dirs[p.dirAt[dir]].mtime = mtime
}

func (p *tree) mkdirAll(dir string) {
	if dir == "." {
		return
	}
	if _, ok := p.dirAt[dir]; ok {
		return
	}
	p.mkdirAll(path.Dir(dir))
	p.claim(dir, strings.HasPrefix(dir+"/", unportableDir+"/"))
	p.dirAt[dir] = len(p.dirs)
	p.dirs = append(p.dirs, dirEntry{path: dir})
}

// claim records a path and panics on a duplicate: names are generated, so a
// clash is a bug in the planner, never a user error.
func (p *tree) claim(name string, mayFold bool) {
	key := strings.ToLower(name)
	if mayFold {
		key = name
	}
	if p.folded[key] {
		panic(fmt.Sprintf("samplemedia: planned %q twice", name))
	}
	p.folded[key] = true
}

// unique returns dir/name, or dir/"name 2.ext", "name 3.ext"... if that is
// taken, ignoring case.
func (p *tree) unique(dir, name string) string {
	ext := path.Ext(name)
	base := strings.TrimSuffix(name, ext)
	candidate := path.Join(dir, name)
	for n := 2; p.folded[strings.ToLower(candidate)]; n++ {
		candidate = path.Join(dir, fmt.Sprintf("%s %d%s", base, n, ext))
	}
	return candidate
}

// finish builds the headers now that sizes are final and dates the folders.
func (p *tree) finish() {
	for i := range p.files {
		e := &p.files[i]
		if e.header != nil {
			e.head = e.header(e.size)
			e.header = nil
		}
		if int64(len(e.head)) > e.size {
			e.head = e.head[:e.size]
		}
		p.touchDir(path.Dir(e.path), e.mtime)
	}
	for i := len(p.dirs) - 1; i >= 0; i-- {
		p.touchDir(path.Dir(p.dirs[i].path), p.dirs[i].mtime)
	}
}

// touchDir makes dir at least as new as t, as adding an entry does.
func (p *tree) touchDir(dir string, t time.Time) {
	if i, ok := p.dirAt[dir]; ok && t.After(p.dirs[i].mtime) {
		p.dirs[i].mtime = t
	}
}

func (p *tree) stats() Stats {
	s := Stats{Files: len(p.files), Dirs: len(p.dirs)}
	for _, e := range p.files {
		s.Bytes += e.size
		switch e.kind {
		case kindJunk:
			s.Junk++
		case kindAvidDB:
			s.AvidDB++
		case kindUnportable:
			s.Unportable++
		}
	}
	return s
}

// between returns a uniform integer in [lo, hi].
func (p *tree) between(lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + p.rng.Int64N(hi-lo+1)
}

// logUniform returns an integer in [lo, hi] whose logarithm is uniform: as
// many files of a few KB as of a few MB, which is what media folders hold.
func (p *tree) logUniform(lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	l, h := math.Log(float64(lo)), math.Log(float64(hi))
	return min(hi, max(lo, int64(math.Exp(l+p.rng.Float64()*(h-l)))))
}

// ago returns a time between lo and hi before BaseTime, in whole seconds so
// that it survives file systems with coarse timestamps.
func (p *tree) ago(lo, hi time.Duration) time.Time {
	d := lo + time.Duration(p.rng.Int64N(int64(hi-lo)+1))
	return p.o.BaseTime.Add(-d).Truncate(time.Second)
}

// notAfterBase clamps t so that no mtime is later than BaseTime.
func (p *tree) notAfterBase(t time.Time) time.Time {
	if latest := p.o.BaseTime.Add(-time.Minute).Truncate(time.Second); t.After(latest) {
		return latest
	}
	return t.Truncate(time.Second)
}

func pick[T any](p *tree, list []T) T { return list[p.rng.IntN(len(list))] }
