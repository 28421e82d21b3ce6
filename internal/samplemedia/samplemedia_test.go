package samplemedia

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf16"

	"github.com/editkit/editkit/internal/slowtest"
	"golang.org/x/text/unicode/norm"
)

const testSize = 16 << 20

func generateT(t *testing.T, o Options) (string, Stats) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tree")
	st, err := Generate(context.Background(), dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return dir, st
}

// node is what the tests see of one entry of a generated tree.
type node struct {
	rel  string // slash-separated
	info fs.FileInfo
}

func walk(t *testing.T, root string) []node {
	t.Helper()
	var nodes []node
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		nodes = append(nodes, node{filepath.ToSlash(rel), info})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}

// hashTree digests names, types, modes, mtimes, sizes and contents. Paths
// under skip are left out.
func hashTree(t *testing.T, root, skip string) string {
	t.Helper()
	h := sha256.New()
	for _, n := range walk(t, root) {
		if skip != "" && (n.rel == skip || strings.HasPrefix(n.rel, skip+"/")) {
			continue
		}
		fmt.Fprintf(h, "%q %v %d %d\n", n.rel, n.info.Mode(), n.info.ModTime().UnixNano(), n.info.Size())
		if n.info.Mode().IsRegular() {
			f, err := os.Open(filepath.Join(root, filepath.FromSlash(n.rel)))
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func isJunk(rel string) bool {
	for c := range strings.SplitSeq(rel, "/") {
		switch {
		case c == ".DS_Store", c == "Thumbs.db", strings.HasPrefix(c, "._"),
			c == ".Spotlight-V100", c == ".fseventsd", c == ".Trashes", c == ".TemporaryItems":
			return true
		}
	}
	return false
}

func TestDeterministic(t *testing.T) {
	slowtest.Skip(t, "generates every tree twice")
	for _, o := range []Options{
		{Seed: 7, TotalBytes: testSize, Unportable: true},
		{Seed: 7, ManyFiles: 600},
	} {
		a, _ := generateT(t, o)
		b, _ := generateT(t, o)
		if ha, hb := hashTree(t, a, ""), hashTree(t, b, ""); ha != hb {
			t.Errorf("%+v: two runs differ: %s vs %s", o, ha, hb)
		}
		o.Seed++
		c, _ := generateT(t, o)
		if hashTree(t, a, "") == hashTree(t, c, "") {
			t.Errorf("%+v: seeds %d and %d give the same tree", o, o.Seed-1, o.Seed)
		}
	}
}

func TestStatsMatchDisk(t *testing.T) {
	dir, st := generateT(t, Options{Seed: 1, TotalBytes: testSize, Unportable: true})
	var got Stats
	for _, n := range walk(t, dir) {
		if n.info.IsDir() {
			got.Dirs++
			continue
		}
		got.Files++
		got.Bytes += n.info.Size()
		switch name := path.Base(n.rel); {
		case strings.HasPrefix(n.rel, unportableDir+"/"):
			got.Unportable++
		case isJunk(n.rel):
			got.Junk++
		case name == "msmMMOB.mdb" || name == "msmFMID.pmr":
			got.AvidDB++
		}
	}
	if got != st {
		t.Errorf("on disk %+v, Stats say %+v", got, st)
	}
}

func TestTotalBytes(t *testing.T) {
	for _, size := range []int64{5 << 20, testSize, 40 << 20} {
		dir, st := generateT(t, Options{Seed: 3, TotalBytes: size})
		if diff := float64(st.Bytes-size) / float64(size); diff < -0.1 || diff > 0.1 {
			t.Errorf("TotalBytes %d: tree of %d bytes", size, st.Bytes)
		}
		if size < 10<<20 {
			continue // below that the skeleton is a sizeable part of the tree
		}
		var media int64
		for _, n := range walk(t, dir) {
			if ext := path.Ext(n.rel); (ext == ".mxf" || ext == ".wav") && !isJunk(n.rel) {
				media += n.info.Size()
			}
		}
		if diff := float64(media-size) / float64(size); diff < -0.1 || diff > 0.1 {
			t.Errorf("TotalBytes %d: %d bytes of MXF and WAV", size, media)
		}
	}
}

// TestSizeMix checks the plan, without writing it, for the sizes the brief
// asks of big trees: a couple of files of 100 MiB or more, and files of a few
// KB next to them.
func TestSizeMix(t *testing.T) {
	for _, tc := range []struct {
		total, big int64
		wantBig    int
	}{
		{20 << 20, 1 << 20, 2},
		{1 << 30, 100 << 20, 2},
		{2 << 30, 100 << 20, 2},
	} {
		p := plan(Options{Seed: 11, TotalBytes: tc.total})
		var big, small, empty int
		var sum int64
		for _, e := range p.files {
			sum += e.size
			if path.Ext(e.path) != ".mxf" || isJunk(e.path) {
				continue
			}
			switch {
			case e.size >= tc.big:
				big++
			case e.size == 0:
				empty++
			case e.size < 16<<10:
				small++
			}
		}
		if big < tc.wantBig || small == 0 || empty != 1 {
			t.Errorf("TotalBytes %d: %d MXF files >= %d, %d under 16 KiB, %d empty", tc.total, big, tc.big, small, empty)
		}
		if sum != tc.total {
			t.Errorf("TotalBytes %d: planned %d", tc.total, sum)
		}
	}
}

// TestPlans checks many plans without writing them: no collisions, no
// unportable names, and the total hit whenever the tree is big enough.
func TestPlans(t *testing.T) {
	for seed := range uint64(60) {
		for _, total := range []int64{1, 1 << 20, 20 << 20, 3 << 30, 200 << 30} {
			p := plan(Options{Seed: seed, TotalBytes: total})
			seen := map[string]string{}
			var sum int64
			for _, e := range p.files {
				sum += e.size
				if why := unportable(path.Base(e.path)); why != "" {
					t.Errorf("seed %d, %d bytes: %q: %s", seed, total, e.path, why)
				}
				key := path.Join(path.Dir(e.path), foldKey(path.Base(e.path)))
				if other, ok := seen[key]; ok {
					t.Errorf("seed %d, %d bytes: %q and %q collide", seed, total, other, e.path)
				}
				seen[key] = e.path
				if e.size < 0 || int64(len(e.head)) > e.size {
					t.Errorf("seed %d, %d bytes: %q: size %d, header %d", seed, total, e.path, e.size, len(e.head))
				}
			}
			if total >= 20<<20 && sum != total {
				t.Errorf("seed %d: planned %d bytes of %d", seed, sum, total)
			}
		}
	}
}

func TestManyFiles(t *testing.T) {
	slowtest.Skip(t, "writes 1234 files")
	dir, st := generateT(t, Options{Seed: 5, ManyFiles: 1234})
	if st.Files != 1234 || st.Junk != 0 || st.AvidDB != 0 {
		t.Errorf("Stats %+v, want exactly 1234 files and no junk", st)
	}
	var files int
	for _, n := range walk(t, dir) {
		if !n.info.IsDir() {
			files++
			if s := n.info.Size(); s < 1 || s > 64<<10 {
				t.Errorf("%s: %d bytes", n.rel, s)
			}
		}
	}
	if files != 1234 {
		t.Errorf("%d files on disk, want 1234", files)
	}

	// The full-size plan, not written: no folder over 200 entries.
	p := plan(Options{Seed: 5, ManyFiles: 100_000})
	entries := map[string]int{}
	for _, e := range p.files {
		entries[path.Dir(e.path)]++
	}
	for _, d := range p.dirs {
		entries[path.Dir(d.path)]++
	}
	for dir, n := range entries {
		if n > manyPerDir {
			t.Errorf("%s: %d entries", dir, n)
		}
	}
	if len(p.files) != 100_000 {
		t.Errorf("planned %d files", len(p.files))
	}
}

func TestRealisticLayout(t *testing.T) {
	dir, st := generateT(t, Options{Seed: 9, TotalBytes: testSize})
	nodes := walk(t, dir)
	has := func(pattern string) int {
		var n int
		for _, nd := range nodes {
			if ok, _ := path.Match(pattern, nd.rel); ok {
				n++
			}
		}
		return n
	}
	for pattern, min := range map[string]int{
		"Avid MediaFiles/MXF/1/*.V1.mxf":                 1,
		"Avid MediaFiles/MXF/*/*.A1.mxf":                 1,
		"Avid MediaFiles/MXF/2/*.mxf":                    1,
		"Avid MediaFiles/MXF/*/msmMMOB.mdb":              2,
		"Avid MediaFiles/MXF/*/msmFMID.pmr":              2,
		"Avid Projects/*/*.avp":                          1,
		"Avid Projects/*/* Settings.avs":                 1,
		"Avid Projects/*/Assembly \u2013 Reel 2.avb":     1,
		"Avid Projects/*/*/*.avb":                        3,
		"Avid Attic/*/Reel 1 v03/Reel 1 v03.avb.[0-9]":   2,
		"Pro Tools/*/*.ptx":                              1,
		"Pro Tools/*/Audio Files/*.wav":                  3,
		"Pro Tools/*/Session File Backups/*.bak.00?.ptx": 3,
		"Pro Tools/*/Video Files":                        1,
		"Music/Caf\u00e9 Score.wav":                      1,
		nfdDir + "/" + nfdMovie:                          1,
		deepFolder + "/*":                                1,
		// Junk.
		".DS_Store":                          1,
		"*/*/.DS_Store":                      2,
		"Avid MediaFiles/MXF/1/._*.mxf":      1,
		"Music/._*.wav":                      1,
		".Spotlight-V100/Store-V2/*/*":       3,
		".fseventsd/*":                       2,
		".Trashes/501/*":                     1,
		"Archive/Thumbs.db":                  1,
		".TemporaryItems/*/*/*/*":            1,
		"Avid MediaFiles/MXF/*/.DS_Store":    1,
		"Pro Tools/*/.DS_Store":              1,
		"Avid Projects/*/Cuts/Old/*.avb":     2,
		"Avid Projects/*/Dailies/Day 0?.avb": 3,
	} {
		if got := has(pattern); got < min {
			t.Errorf("%d entries match %q, want at least %d", got, pattern, min)
		}
	}
	if st.AvidDB != has("Avid MediaFiles/MXF/*/msmMMOB.mdb")*2 {
		t.Errorf("Stats.AvidDB = %d", st.AvidDB)
	}

	var emptyBin, emptyMXF, readOnly, deepest int
	for _, n := range nodes {
		if n.info.IsDir() {
			continue
		}
		switch {
		case n.info.Size() == 0 && path.Ext(n.rel) == ".avb":
			emptyBin++
		case n.info.Size() == 0 && path.Ext(n.rel) == ".mxf":
			emptyMXF++
		case strings.HasPrefix(path.Base(n.rel), "._"):
			if n.info.Size() != 4096 {
				t.Errorf("%s: %d bytes, want 4096", n.rel, n.info.Size())
			}
		}
		if n.info.Mode().Perm() == 0o444 {
			readOnly++
		} else if n.info.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v", n.rel, n.info.Mode())
		}
		deepest = max(deepest, strings.Count(n.rel, "/"))
	}
	if emptyBin == 0 || emptyMXF == 0 || readOnly != 1 || deepest < 12 {
		t.Errorf("%d empty bins, %d empty MXF, %d read-only files, deepest file %d folders down", emptyBin, emptyMXF, readOnly, deepest)
	}
}

// foldKey is how exFAT, NTFS and APFS compare names: without case, after
// normalization.
func foldKey(name string) string { return strings.ToLower(norm.NFC.String(name)) }

func TestNamesPortable(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		dir, _ := generateT(t, Options{Seed: seed, TotalBytes: 8 << 20})
		siblings := map[string]map[string]string{} // folder -> fold key -> name
		nfc, nfd := map[string]bool{}, map[string]bool{}
		for _, n := range walk(t, dir) {
			parent, name := path.Split(n.rel)
			if siblings[parent] == nil {
				siblings[parent] = map[string]string{}
			}
			if other, ok := siblings[parent][foldKey(name)]; ok {
				t.Errorf("seed %d: %q and %q collide in %q", seed, other, name, parent)
			}
			siblings[parent][foldKey(name)] = name
			if why := unportable(name); why != "" {
				t.Errorf("seed %d: %q: %s", seed, n.rel, why)
			}
			switch {
			case !norm.NFC.IsNormalString(name):
				nfd[parent] = true
			case !norm.NFD.IsNormalString(name):
				nfc[parent] = true
			}
		}
		if len(nfc) == 0 || len(nfd) == 0 {
			t.Errorf("seed %d: NFC names in %v, NFD names in %v; want both", seed, nfc, nfd)
		}
		for parent := range nfd {
			if nfc[parent] {
				t.Errorf("seed %d: %q holds both NFC and NFD names", seed, parent)
			}
		}
	}
}

// unportable says why exFAT or NTFS would refuse name, or "".
func unportable(name string) string {
	if strings.ContainsAny(name, `:*?"<>|\`) {
		return "reserved character"
	}
	if strings.ContainsFunc(name, unicode.IsControl) {
		return "control character"
	}
	if strings.HasSuffix(name, " ") || strings.HasSuffix(name, ".") {
		return "trailing space or dot"
	}
	stem, _, _ := strings.Cut(strings.ToUpper(name), ".")
	switch stem {
	case "CON", "PRN", "AUX", "NUL", "COM1", "LPT1":
		return "reserved device name"
	}
	if len(utf16.Encode([]rune(name))) > 255 {
		return "longer than 255 UTF-16 units"
	}
	return ""
}

func TestUnportable(t *testing.T) {
	plain, _ := generateT(t, Options{Seed: 4, TotalBytes: 8 << 20})
	dir, st := generateT(t, Options{Seed: 4, TotalBytes: 8 << 20, Unportable: true})
	if hashTree(t, plain, "") != hashTree(t, dir, unportableDir) {
		t.Error("Unportable changed the rest of the tree")
	}
	var files int
	keys := map[string][]string{}
	reasons := map[string]bool{}
	for _, n := range walk(t, filepath.Join(dir, unportableDir)) {
		if n.info.IsDir() {
			continue
		}
		files++
		key := path.Join(path.Dir(n.rel), foldKey(path.Base(n.rel)))
		keys[key] = append(keys[key], n.rel)
		if why := unportable(path.Base(n.rel)); why != "" {
			reasons[why] = true
		}
		if len(n.rel) > 255 {
			reasons["long path"] = true
		}
	}
	if files != st.Unportable || files == 0 {
		t.Errorf("%d files in %s, Stats.Unportable = %d", files, unportableDir, st.Unportable)
	}
	var collisions []string
	for _, names := range keys {
		if len(names) > 1 {
			slices.Sort(names)
			collisions = append(collisions, strings.Join(names, " = "))
		}
	}
	slices.Sort(collisions)
	want := []string{"A.mxf = a.mxf", "e\u0301.wav = \u00e9.wav"}
	if !slices.Equal(collisions, want) {
		t.Errorf("collisions %q, want %q", collisions, want)
	}
	for _, why := range []string{"reserved character", "control character", "trailing space or dot", "reserved device name", "long path"} {
		if !reasons[why] {
			t.Errorf("no name in %s for %q", unportableDir, why)
		}
	}
}

func TestWAVHeaders(t *testing.T) {
	dir, _ := generateT(t, Options{Seed: 6, TotalBytes: testSize, Unportable: true})
	var checked int
	for _, n := range walk(t, dir) {
		if path.Ext(n.rel) != ".wav" || isJunk(n.rel) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(n.rel)))
		if err != nil {
			t.Fatal(err)
		}
		if err := checkWAV(b); err != nil {
			t.Errorf("%s: %v", n.rel, err)
		}
		checked++
	}
	if checked < 5 {
		t.Errorf("checked %d WAV files", checked)
	}
}

func checkWAV(b []byte) error {
	le := binary.LittleEndian
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return errors.New("no RIFF/WAVE header")
	}
	if size := le.Uint32(b[4:]); int(size) != len(b)-8 {
		return fmt.Errorf("RIFF size %d, file holds %d", size, len(b)-8)
	}
	var blockAlign uint16
	var data bool
	for rest := b[12:]; len(rest) > 0; {
		if len(rest) < 8 {
			return fmt.Errorf("%d stray bytes at the end", len(rest))
		}
		id, size := string(rest[:4]), int(le.Uint32(rest[4:]))
		if size > len(rest)-8 {
			return fmt.Errorf("chunk %q of %d bytes overruns the file", id, size)
		}
		body := rest[8 : 8+size]
		switch id {
		case "fmt ":
			if size < 16 {
				return fmt.Errorf("fmt chunk of %d bytes", size)
			}
			format, channels, rate := le.Uint16(body), le.Uint16(body[2:]), le.Uint32(body[4:])
			byteRate, bits := le.Uint32(body[8:]), le.Uint16(body[14:])
			blockAlign = le.Uint16(body[12:])
			if format != 1 || rate != 48000 || bits != 24 || channels == 0 ||
				blockAlign != channels*3 || byteRate != rate*uint32(blockAlign) {
				return fmt.Errorf("fmt: format %d, %d channels, %d Hz, %d bits, block %d, %d B/s", format, channels, rate, bits, blockAlign, byteRate)
			}
		case "data":
			if blockAlign == 0 {
				return errors.New("data before fmt")
			}
			if size%int(blockAlign) != 0 {
				return fmt.Errorf("data of %d bytes is not whole frames of %d", size, blockAlign)
			}
			data = true
		}
		rest = rest[8+size+size%2:]
	}
	if !data {
		return errors.New("no data chunk")
	}
	return nil
}

func TestMXFHeaders(t *testing.T) {
	dir, _ := generateT(t, Options{Seed: 8, TotalBytes: testSize})
	var checked int
	for _, n := range walk(t, dir) {
		if path.Ext(n.rel) != ".mxf" || isJunk(n.rel) || n.info.Size() == 0 {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(n.rel)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte(mxfHeaderPartitionKey)) || b[16] != 0x83 {
			t.Errorf("%s: no header partition pack: % x", n.rel, b[:min(len(b), 20)])
			continue
		}
		pack := 20 + int(b[17])<<16 | int(b[18])<<8 | int(b[19])
		element := b[pack:]
		if len(element) < 25 || element[16] != 0x88 {
			t.Errorf("%s: no essence element after the partition pack", n.rel)
			continue
		}
		if got := binary.BigEndian.Uint64(element[17:]); got != uint64(len(element)-25) {
			t.Errorf("%s: essence length %d, %d bytes follow", n.rel, got, len(element)-25)
		}
		checked++
	}
	if checked < 10 {
		t.Errorf("checked %d MXF files", checked)
	}
}

func TestMtimes(t *testing.T) {
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	dir, _ := generateT(t, Options{Seed: 2, TotalBytes: 8 << 20, BaseTime: base, Unportable: true})
	nodes := walk(t, dir)
	newest := map[string]time.Time{}
	for _, n := range nodes {
		m := n.info.ModTime()
		if m.After(base) || m.Before(base.AddDate(0, -3, 0)) || m.Nanosecond() != 0 {
			t.Errorf("%s: mtime %v, want whole seconds in the three months before %v", n.rel, m, base)
		}
		if parent := path.Dir(n.rel); m.After(newest[parent]) {
			newest[parent] = m
		}
	}
	for _, n := range nodes {
		if n.info.IsDir() && n.info.ModTime().Before(newest[n.rel]) {
			t.Errorf("%s: folder dated %v, before its entry of %v", n.rel, n.info.ModTime(), newest[n.rel])
		}
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := filepath.Join(t.TempDir(), "tree")
	if _, err := Generate(ctx, dir, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before the start: %v", err)
	}

	// Cancel once writing has started (planning 100 000 files comes first).
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for {
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	_, err := Generate(ctx, dir, Options{ManyFiles: 100_000})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled midway: %v", err)
	}
	// That it stopped is shown by what it did not write, not by a time
	// (which a loaded machine would stretch).
	var files int
	for _, n := range walk(t, dir) {
		if !n.info.IsDir() {
			files++
		}
	}
	if files >= 100_000 {
		t.Errorf("wrote all %d files despite the cancellation", files)
	}
}

func TestRefusesNonEmpty(t *testing.T) {
	dir := t.TempDir()
	precious := filepath.Join(dir, "precious.mxf")
	if err := os.WriteFile(precious, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(context.Background(), dir, Options{TotalBytes: 1 << 20}); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("non-empty dir: %v", err)
	}
	if _, err := Generate(context.Background(), precious, Options{TotalBytes: 1 << 20}); err == nil {
		t.Error("generated into a file")
	}
	if b, err := os.ReadFile(precious); err != nil || string(b) != "keep" {
		t.Errorf("precious.mxf now %q, %v", b, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries in the non-empty dir", len(entries))
	}

	// An existing empty directory is fine.
	empty := t.TempDir()
	if _, err := Generate(context.Background(), empty, Options{TotalBytes: 1 << 20}); err != nil {
		t.Errorf("empty dir: %v", err)
	}
}

func TestNoiseIsNotCompressible(t *testing.T) {
	n := newNoise(1, "a")
	b := make([]byte, 1<<16)
	n.fill(b)
	seen := map[uint64]bool{}
	for i := 0; i+8 <= len(b); i += 8 {
		seen[binary.LittleEndian.Uint64(b[i:])] = true
	}
	if len(seen) != len(b)/8 {
		t.Errorf("%d distinct words out of %d", len(seen), len(b)/8)
	}
	m := newNoise(1, "b")
	c := make([]byte, len(b))
	m.fill(c)
	if bytes.Equal(b, c) {
		t.Error("two paths, same noise")
	}
}

func BenchmarkNoise(b *testing.B) {
	n := newNoise(1, "bench")
	buf := make([]byte, chunkSize)
	b.SetBytes(chunkSize)
	for b.Loop() {
		n.fill(buf)
	}
}

func BenchmarkGenerate(b *testing.B) {
	b.SetBytes(256 << 20)
	dir := filepath.Join(b.TempDir(), "tree")
	for b.Loop() {
		if _, err := Generate(context.Background(), dir, Options{TotalBytes: 256 << 20}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
