package mhl

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/editkit/editkit/internal/slowtest"
	"github.com/zeebo/xxh3"
)

// synthetic yields a tree of files that exist only as entries: fan^depth
// leaf folders of perLeaf files each, in tree order, hashed by name.
func synthetic(fan, depth, perLeaf int, sample func()) func(func(Entry, error) bool) {
	var n int
	var walk func(prefix string, level int, yield func(Entry, error) bool) bool
	emit := func(e Entry, yield func(Entry, error) bool) bool {
		if n++; n%10000 == 0 && sample != nil {
			sample()
		}
		return yield(e, nil)
	}
	walk = func(prefix string, level int, yield func(Entry, error) bool) bool {
		if level == depth {
			for i := range perLeaf {
				p := fmt.Sprintf("%sclip%05d.mxf", prefix, i)
				d := xxh3.Hash128([]byte(p)).Bytes()
				e := Entry{Path: p, Size: int64(i), Listed: true,
					Hashes: []Hash{{Format: XXH128, Digest: fmt.Sprintf("%x", d[:]), Action: Original}}}
				if !emit(e, yield) {
					return false
				}
			}
			return true
		}
		for i := range fan {
			dir := fmt.Sprintf("%sd%02d", prefix, i)
			if !emit(Entry{Path: dir, Dir: true}, yield) || !walk(dir+"/", level+1, yield) {
				return false
			}
		}
		return true
	}
	return func(yield func(Entry, error) bool) { walk("", 0, yield) }
}

// TestStreaming writes 200,000 files (10×10×10×10 folders of 20) and
// checks that the heap stays small while it does: nothing may grow with
// the number of entries.
func TestStreaming(t *testing.T) {
	slowtest.Skip(t, "writes 200,000 entries")
	var peak uint64
	sample := func() {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		peak = max(peak, m.HeapAlloc)
	}
	root := t.TempDir()
	path, err := WriteGeneration(root, testGeneration(), synthetic(10, 4, 20, sample))
	if err != nil {
		t.Fatal(err)
	}
	// The output is some 70 MB; a writer that kept it, or the entries,
	// in memory would be far over this.
	if peak > 24<<20 {
		t.Errorf("heap reached %d MiB while writing", peak>>20)
	}
	files, dirs := countElements(t, path)
	if files != 200000 || dirs != 11110 {
		t.Errorf("%d <hash>, %d <directoryhash>; want 200000, 11110", files, dirs)
	}
}

// TestLargeFolder puts 60,000 files in one folder ahead of a sub-folder,
// so they must wait (and spill to disk) until the folder closes.
func TestLargeFolder(t *testing.T) {
	slowtest.Skip(t, "writes 60,000 entries")
	const n = 60000
	entries := func(yield func(Entry, error) bool) {
		for i := range n {
			if !yield(fileEntry(fmt.Sprintf("big/a%05d", i), fmt.Sprint(i)), nil) {
				return
			}
		}
		yield(fileEntry("big/zz/last", "z"), nil)
	}
	root := t.TempDir()
	path, err := WriteGeneration(root, testGeneration(), entries)
	if err != nil {
		t.Fatal(err)
	}
	p := parseFile(t, path)
	if len(p.order) != n+3 || p.order[0] != "big/zz/last" || p.order[1] != "big/zz/" ||
		p.order[2] != "big/a00000" || p.order[n+1] != fmt.Sprintf("big/a%05d", n-1) || p.order[n+2] != "big/" {
		t.Errorf("order: %d elements, starting %q, ending %q", len(p.order), p.order[:3], p.order[len(p.order)-2:])
	}
	left, _ := os.ReadDir(root + "/ascmhl")
	if len(left) != 2 {
		t.Errorf("history folder holds %v; the spill file must be gone", left)
	}
}

func countElements(t *testing.T, path string) (files, dirs int) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		switch strings.TrimSpace(sc.Text()) {
		case "<hash>":
			files++
		case "<directoryhash>":
			dirs++
		}
	}
	return files, dirs
}
