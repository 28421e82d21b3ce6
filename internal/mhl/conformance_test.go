package mhl

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/editkit/editkit/internal/treepath"
)

const (
	vectorRoot = refDir + "/vector1/Card"
	vectorGen  = vectorRoot + "/ascmhl/0001_Card_2026-11-24_153656Z.mhl"
)

// compareGenerations checks that got records the same files, directory
// hashes and root hash as want, in the same order.
func compareGenerations(t *testing.T, got, want parsed) {
	t.Helper()
	if !slices.Equal(got.order, want.order) {
		t.Errorf("element order differs:\n got %q\nwant %q", got.order, want.order)
	}
	for p, w := range want.files {
		g, ok := got.files[p]
		if !ok {
			t.Errorf("file %q missing", p)
			continue
		}
		if !slices.EqualFunc(g.Hashes, w.Hashes, func(a, b Hash) bool { return a.Format == b.Format && a.Digest == b.Digest }) {
			t.Errorf("file %q: hashes %v, want %v", p, g.Hashes, w.Hashes)
		}
		// The reference leaves size out for empty files; we write size="0".
		if w.Size >= 0 && g.Size != w.Size || w.Size < 0 && g.Size != 0 {
			t.Errorf("file %q: size %d, want %d", p, g.Size, w.Size)
		}
	}
	for p, w := range want.dirs {
		g, ok := got.dirs[p]
		if !ok {
			t.Errorf("directory hash of %q missing", p)
			continue
		}
		if !sameDirHashes(g.Hashes, w.Hashes) {
			t.Errorf("directory %q: %v, want %v", p, g.Hashes, w.Hashes)
		}
	}
	if len(got.files) != len(want.files) || len(got.dirs) != len(want.dirs) {
		t.Errorf("%d files, %d folders; want %d, %d", len(got.files), len(got.dirs), len(want.files), len(want.dirs))
	}
	if !sameDirHashes(got.hdr.Root, want.hdr.Root) {
		t.Errorf("root hash %v, want %v", got.hdr.Root, want.hdr.Root)
	}
}

func sameDirHashes(a, b []DirHash) bool {
	return slices.EqualFunc(a, b, func(x, y DirHash) bool {
		return x.Format == y.Format && x.Content == y.Content && x.Structure == y.Structure
	})
}

// TestVector1 hashes a copy of vector1 itself and must write what the
// reference tool wrote: every file hash, directory hash and root hash.
func TestVector1(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Card")
	copyTree(t, vectorRoot, root, func(rel string) bool { return rel == "ascmhl" })
	// git may not keep it: the ignore rules must leave it out either way.
	if err := os.WriteFile(filepath.Join(root, ".DS_Store"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}

	path, err := WriteGeneration(root, testGeneration(), walkTree(root, []Format{XXH128}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^0001_Card_2026-11-24_153656Z\.mhl$`).MatchString(filepath.Base(path)) {
		t.Errorf("file name %s", filepath.Base(path))
	}
	validateHistories(t, root)
	compareGenerations(t, parseFile(t, path), parseFile(t, vectorGen))

	h, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if p := h.CheckChain(); len(p) != 0 {
		t.Errorf("chain problems in a fresh history: %v", p)
	}
}

// TestExampleDirectoryHashes rebuilds the examples/ generation from its
// recorded file hashes (the media is not shipped) and must compute the
// same directory and root hashes.
func TestExampleDirectoryHashes(t *testing.T) {
	want := parseFile(t, refDir+"/examples/0001_mhltest_2026-11-24_153329Z.mhl")
	root := filepath.Join(t.TempDir(), "mhltest")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for p := range want.files {
		paths = append(paths, p)
	}
	for p := range want.dirs {
		paths = append(paths, p)
	}
	slices.SortFunc(paths, treepath.Compare)
	var es []Entry
	for _, p := range paths {
		if d, ok := want.dirs[p]; ok {
			es = append(es, Entry{Path: p, Dir: true, ModTime: d.ModTime})
			continue
		}
		f := want.files[p]
		es = append(es, Entry{Path: p, Size: f.Size, ModTime: f.ModTime, Hashes: f.Hashes, Listed: true})
	}
	path, err := WriteGeneration(root, testGeneration(), entriesOf(es...))
	if err != nil {
		t.Fatal(err)
	}
	validateHistories(t, root)
	compareGenerations(t, parseFile(t, path), want)
}

// TestReadReference reads the histories the reference tool wrote.
func TestReadReference(t *testing.T) {
	h, err := Open(vectorRoot)
	if err != nil {
		t.Fatal(err)
	}
	if p := h.CheckChain(); len(p) != 0 {
		t.Errorf("CheckChain: %v", p)
	}
	gens := h.Generations()
	if len(gens) != 1 {
		t.Fatalf("%d generations", len(gens))
	}
	g := gens[0]
	if g.Seq != 1 || g.File != "0001_Card_2026-11-24_153656Z.mhl" || g.Tool != "ascmhl" || g.ToolVersion != "1.2.0" ||
		g.Process != ProcessInPlace || g.Host != "vm" || g.Created.Format(layoutDate) != "2026-11-24T15:36:56+00:00" {
		t.Errorf("generation %+v", g)
	}
	if len(g.RootHash) != 1 || g.RootHash[0].Content != "f108f561c9c43a3b22c4f4a24248d88d" ||
		g.RootHash[0].Structure != "f9ddc12566114c5a367bbecfcd1ac4fd" {
		t.Errorf("root hash %+v", g.RootHash)
	}
	var files []FileRecord
	for f := range h.Files() {
		files = append(files, f)
	}
	want := []struct {
		path   string
		size   int64
		digest string
	}{
		{"Avid MediaFiles/MXF/1/A001C001.mxf", 13, "1a18b85b1d972c292059a5fb380fdaa5"},
		{"Avid MediaFiles/MXF/1/A001C002.mxf", 42893, "ac6764d701b2a18f59ead44713cf83bf"},
		{"Avid MediaFiles/MXF/1/empty.mxf", -1, "99aa06d3014798d86001c324468d497f"},
		{"Sound/Day 01/Café take 1.wav", 3, "5f714f0d4d1dd98ebff0e0f126eec1d9"},
		{"notes.txt", 21, "87aa362f183d2869a284bc6415fa926e"},
	}
	if len(files) != len(want) {
		t.Fatalf("%d files, want %d", len(files), len(want))
	}
	for i, w := range want {
		f := files[i]
		if f.Path != w.path || f.Size != w.size || len(f.Hashes) != 1 || f.Hashes[0].Digest != w.digest ||
			f.Hashes[0].Format != XXH128 || f.Hashes[0].Action != Original || f.Hashes[0].Generation.Seq != 1 || f.Failed {
			t.Errorf("file %d: %+v, want %+v", i, f, w)
		}
	}
	if !h.Match(".DS_Store", false) || !h.Match("ascmhl", true) || !h.Match("Sound/.DS_Store", false) || h.Match("notes.txt", false) {
		t.Error("default ignore patterns not applied")
	}

	// The chain's C4 is the C4 of the generation file's bytes.
	f, err := os.Open(vectorGen)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c4, err := fileC4(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := "c429C2C8ZPLL2gMeGyVLEDeiFj7pwQRpQFQP1dh7TfEcxzPinf6frd4Pgi5gL3vBqZeX1Vh1sYQnkvT5pceh8ekLuU"; c4 != want {
		t.Errorf("C4 of %s = %s, want %s", vectorGen, c4, want)
	}

	// The examples folder is a bare ascmhl folder: read it as a history.
	ex := filepath.Join(t.TempDir(), "mhltest")
	copyTree(t, refDir+"/examples", filepath.Join(ex, "ascmhl"), nil)
	h, err = Open(ex)
	if err != nil {
		t.Fatal(err)
	}
	if p := h.CheckChain(); len(p) != 0 {
		t.Errorf("examples CheckChain: %v", p)
	}
	n := 0
	for range h.Files() {
		n++
	}
	if n != 2 {
		t.Errorf("examples: %d files, want 2", n)
	}
}
