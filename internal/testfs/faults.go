//go:build linux

package testfs

import (
	"fmt"
	"path"
	"strings"
	"syscall"
)

// faults is the set of faults switched on. Rule slices are replaced, never
// changed in place, so a read can work from a snapshot taken when it starts.
type faults struct {
	corrupt   []corruptRule
	failReads []failReadRule
	change    []*changeRule
	writes    *writeBudget // nil: writes never fail
}

func (fl faults) readsAffected() bool {
	return len(fl.corrupt)+len(fl.failReads)+len(fl.change) > 0
}

type corruptRule struct {
	glob   string
	offset int64
}

type failReadRule struct {
	glob  string
	after int64
	errno syscall.Errno
}

// changeRule is one ChangeContent call and what it has seen since; its maps
// are guarded by FS.mu.
type changeRule struct {
	glob  string
	reads map[string]int    // per path: opens that have read the file
	seen  map[string]*spans // per path: byte ranges returned at least once
}

type writeBudget struct {
	left  int64 // bytes that may still be written
	errno syscall.Errno
}

// take reserves up to n bytes of the budget and returns how many may be
// written, or the errno once nothing is left.
func (b *writeBudget) take(n int) (int, syscall.Errno) {
	if b == nil {
		return n, 0
	}
	if b.left <= 0 {
		return 0, b.errno
	}
	k := int(min(int64(n), b.left))
	b.left -= int64(k)
	return k, 0
}

// full reports the errno for operations that need space once the budget is
// spent.
func (b *writeBudget) full() syscall.Errno {
	if b != nil && b.left <= 0 {
		return b.errno
	}
	return 0
}

func mustGlob(glob string) {
	if _, err := path.Match(glob, ""); err != nil {
		panic(fmt.Sprintf("testfs: bad glob %q: %v", glob, err))
	}
}

// matches applies glob to rel, a path relative to the mount: to the whole
// path if the glob names folders, else to the base name.
func matches(glob, rel string) bool {
	if !strings.Contains(glob, "/") {
		rel = path.Base(rel)
	}
	ok, _ := path.Match(glob, rel)
	return ok
}

// changePage is the page size of ChangeContent's pattern: one flipped byte
// per page, so any read of a page sees the change.
const changePage = 4096

// applyReadFaults applies the faults in fl to data, which a handle h read at
// file offset off of the file at rel. Called with FS.mu held.
func (f *FS) applyReadFaults(fl faults, h *handle, rel string, data []byte, off int64) syscall.Errno {
	end := off + int64(len(data))
	for _, r := range fl.failReads {
		if len(data) > 0 && end > r.after && matches(r.glob, rel) {
			f.stats.ReadsFailed++
			return r.errno
		}
	}
	for _, r := range fl.change {
		if !matches(r.glob, rel) || len(data) == 0 {
			continue
		}
		ord := h.readOrdinal[r]
		if ord == 0 {
			r.reads[rel]++
			ord = r.reads[rel]
			h.readOrdinal[r] = ord
		}
		seen := r.seen[rel]
		if seen == nil {
			seen = &spans{}
			r.seen[rel] = seen
		}
		first := (off + changePage - 1) / changePage * changePage
		for p := first; p < end; p += changePage {
			if ord > 1 || seen.contains(p) {
				data[p-off] ^= 0xFF
			}
		}
		seen.add(off, end)
	}
	for _, r := range fl.corrupt {
		if off <= r.offset && r.offset < end && matches(r.glob, rel) {
			data[r.offset-off] ^= 0x01
		}
	}
	return 0
}

// spans is a set of byte ranges, kept sorted and merged; reads are mostly
// sequential, so it stays a handful of entries.
type spans struct {
	s [][2]int64 // [start, end)
}

func (sp *spans) contains(x int64) bool {
	for _, r := range sp.s {
		if r[0] <= x && x < r[1] {
			return true
		}
	}
	return false
}

func (sp *spans) add(start, end int64) {
	if start >= end {
		return
	}
	out := make([][2]int64, 0, len(sp.s)+1)
	placed := false
	for _, r := range sp.s {
		switch {
		case r[1] < start:
			out = append(out, r)
		case end < r[0]:
			if !placed {
				out = append(out, [2]int64{start, end})
				placed = true
			}
			out = append(out, r)
		default: // touches or overlaps: absorb it
			start, end = min(start, r[0]), max(end, r[1])
		}
	}
	if !placed {
		out = append(out, [2]int64{start, end})
	}
	sp.s = out
}
