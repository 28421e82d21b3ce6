package mhl

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fileEntry makes a listed file entry whose xxh128 is that of content.
func fileEntry(p, content string) Entry {
	h, _ := NewHash(XXH128)
	h.Write([]byte(content))
	return Entry{Path: p, Size: int64(len(content)), Listed: true,
		Hashes: []Hash{{Format: XXH128, Digest: h.Digest(), Action: Original, HashDate: time.Now()}}}
}

func dirEntry(p string) Entry { return Entry{Path: p, Dir: true} }

// The reference tool lists a folder's files after the contents of its
// sub-folders even when they sort before them.
func TestWriteOrder(t *testing.T) {
	root := t.TempDir()
	path, err := WriteGeneration(root, testGeneration(), entriesOf(
		fileEntry("a.txt", "a"),
		dirEntry("b"),
		fileEntry("b/a.txt", "ba"),
		dirEntry("b/c"),
		fileEntry("b/c/x", "x"),
		fileEntry("b/d.txt", "bd"),
		dirEntry("b/e"), // empty
		fileEntry("c.txt", "c"),
		fileEntry("d/implicit/y", "y"), // folders d and d/implicit not given
	))
	if err != nil {
		t.Fatal(err)
	}
	validateHistories(t, root)
	got := parseFile(t, path).order
	want := []string{"b/c/x", "b/c/", "b/e/", "b/a.txt", "b/d.txt", "b/", "d/implicit/y", "d/implicit/", "d/", "a.txt", "c.txt"}
	if !slices.Equal(got, want) {
		t.Errorf("order\n got %q\nwant %q", got, want)
	}
}

// Unlisted files are not recorded but still count in directory hashes; a
// folder without listed files below it gets no directory hash.
func TestWritePartial(t *testing.T) {
	all := []Entry{
		dirEntry("A"), fileEntry("A/1", "1"), fileEntry("A/2", "2"),
		dirEntry("B"), fileEntry("B/3", "3"),
		dirEntry("C"),
	}
	full := t.TempDir()
	pf, err := WriteGeneration(full, testGeneration(), entriesOf(all...))
	if err != nil {
		t.Fatal(err)
	}
	partial := slices.Clone(all)
	partial[1].Listed = false // A/1
	partial[4].Listed = false // B/3
	part := t.TempDir()
	pp, err := WriteGeneration(part, testGeneration(), entriesOf(partial...))
	if err != nil {
		t.Fatal(err)
	}
	validateHistories(t, part)
	f, p := parseFile(t, pf), parseFile(t, pp)
	if !slices.Equal(p.order, []string{"A/2", "A/", "C/"}) {
		t.Errorf("partial generation lists %q", p.order)
	}
	if !sameDirHashes(f.hdr.Root, p.hdr.Root) || !sameDirHashes(f.dirs["A"].Hashes, p.dirs["A"].Hashes) {
		t.Error("unlisted files changed the directory hashes")
	}
}

func TestWriteIgnore(t *testing.T) {
	root := t.TempDir()
	g := testGeneration()
	g.Ignore = []string{"*.tmp", "Proxies/"}
	es := []Entry{
		fileEntry(".DS_Store", "junk"),
		dirEntry("Proxies"),
		fileEntry("Proxies/clip.mov", "p"),
		fileEntry("a.tmp", "t"),
		dirEntry("ascmhl"),
		fileEntry("ascmhl/0001_fake.mhl", "x"),
		fileEntry("clip.mxf", "m"),
	}
	path, err := WriteGeneration(root, g, entriesOf(es...))
	if err != nil {
		t.Fatal(err)
	}
	p := parseFile(t, path)
	if !slices.Equal(p.order, []string{"clip.mxf"}) {
		t.Errorf("recorded %q", p.order)
	}
	if !slices.Equal(p.hdr.Ignore, []string{".DS_Store", "ascmhl", "ascmhl/", "*.tmp", "Proxies/"}) {
		t.Errorf("patterns %q", p.hdr.Ignore)
	}
	// The root hash covers clip.mxf only.
	want, err := WriteGeneration(t.TempDir(), testGeneration(), entriesOf(fileEntry("clip.mxf", "m")))
	if err != nil {
		t.Fatal(err)
	}
	if !sameDirHashes(p.hdr.Root, parseFile(t, want).hdr.Root) {
		t.Error("ignored entries changed the root hash")
	}
	// A later generation keeps the patterns.
	path, err = WriteGeneration(root, testGeneration(), entriesOf(es...))
	if err != nil {
		t.Fatal(err)
	}
	if p := parseFile(t, path); !slices.Equal(p.order, []string{"clip.mxf"}) || len(p.hdr.Ignore) != 5 {
		t.Errorf("second generation: %q, patterns %q", p.order, p.hdr.Ignore)
	}
	h, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Match("x/y.tmp", false) || !h.Match("Proxies/a", false) || h.Match("clip.mxf", false) {
		t.Errorf("Match with %q", h.Ignore())
	}
}

// The reference tool ignores a whole tree that lives below any folder
// named ascmhl, because it matches absolute paths. We must not.
func TestWriteRootBelowAscmhlFolder(t *testing.T) {
	root := filepath.Join(t.TempDir(), "ascmhl", "Card")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	path, err := WriteGeneration(root, testGeneration(), entriesOf(fileEntry("clip.mxf", "m")))
	if err != nil {
		t.Fatal(err)
	}
	if p := parseFile(t, path); !slices.Equal(p.order, []string{"clip.mxf"}) {
		t.Errorf("recorded %q", p.order)
	}
}

func TestWriteRejects(t *testing.T) {
	noDirHash := fileEntry("x", "x")
	noDirHash.Hashes = []Hash{{Format: MD5, Digest: "900150983cd24fb0d6963f7d28e17f72"}}
	badDigest := fileEntry("x", "x")
	badDigest.Hashes[0].Digest = "xyz"
	twice := fileEntry("x", "x")
	twice.Hashes = append(twice.Hashes, twice.Hashes[0])
	negative := fileEntry("x", "x")
	negative.Size = -1
	cases := map[string][]Entry{
		"out of order":    {fileEntry("b", "b"), fileEntry("a", "a")},
		"repeated":        {fileEntry("a", "a"), fileEntry("a", "a")},
		"parent escape":   {fileEntry("../x", "x")},
		"absolute":        {fileEntry("/etc/passwd", "x")},
		"control char":    {fileEntry("a\x01b", "x")},
		"no dir hash":     {noDirHash},
		"bad digest":      {badDigest},
		"two of a format": {twice},
		"negative size":   {negative},
		"no hash":         {{Path: "x", Listed: true}},
	}
	for name, es := range cases {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			if _, err := WriteGeneration(root, testGeneration(), entriesOf(es...)); err == nil {
				t.Fatal("no error")
			} else if !strings.Contains(err.Error(), "mhl") {
				t.Errorf("error %q does not say where it comes from", err)
			}
			left, _ := os.ReadDir(filepath.Join(root, folderName))
			if len(left) != 0 {
				t.Errorf("left behind %v", left)
			}
		})
	}
	if _, err := WriteGeneration(t.TempDir(), Generation{Process: "copy", Tool: "x"}, entriesOf()); err == nil {
		t.Error("bad process accepted")
	}
	if _, err := WriteGeneration(t.TempDir(), Generation{Process: ProcessInPlace}, entriesOf()); err == nil {
		t.Error("missing tool accepted")
	}
	walkErr := errors.New("disk gone")
	_, err := WriteGeneration(t.TempDir(), testGeneration(), func(yield func(Entry, error) bool) {
		yield(fileEntry("a", "a"), nil)
		yield(Entry{}, walkErr)
	})
	if !errors.Is(err, walkErr) {
		t.Errorf("iterator error: %v", err)
	}
}

// Names with characters XML escapes must come back unchanged.
func TestWriteEscaping(t *testing.T) {
	root := t.TempDir()
	names := []string{`a&b<c>"d'.txt`, "tab\tname", "new\nline", "cr\rname", " lead and trail "}
	slices.SortFunc(names, strings.Compare)
	var es []Entry
	for _, n := range names {
		es = append(es, fileEntry(n, n))
	}
	g := testGeneration()
	g.Comment = "Tom & Jerry <day 1>"
	g.Author = "Ana Díaz"
	path, err := WriteGeneration(root, g, entriesOf(es...))
	if err != nil {
		t.Fatal(err)
	}
	validateHistories(t, root)
	p := parseFile(t, path)
	if !slices.Equal(p.order, names) {
		t.Errorf("got %q, want %q", p.order, names)
	}
	if p.hdr.Comment != g.Comment || p.hdr.Author != g.Author {
		t.Errorf("comment %q author %q", p.hdr.Comment, p.hdr.Author)
	}
}

// What verify does: append a generation of verified hashes to a history
// another tool wrote. The existing generation must stay byte for byte.
func TestAppendVerified(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Card")
	copyTree(t, vectorRoot, root, nil)
	before, err := os.ReadFile(filepath.Join(root, "ascmhl", "0001_Card_2026-11-24_153656Z.mhl"))
	if err != nil {
		t.Fatal(err)
	}
	walk := walkTree(root, []Format{XXH128}, nil)
	verified := func(yield func(Entry, error) bool) {
		for e, err := range walk {
			for i := range e.Hashes {
				e.Hashes[i].Action = Verified
			}
			if !yield(e, err) {
				return
			}
		}
	}
	g := testGeneration()
	g.Created = g.Created.Add(time.Hour)
	path, err := WriteGeneration(root, g, verified)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "0002_Card_2026-11-24_163656Z.mhl" {
		t.Errorf("new generation %s", filepath.Base(path))
	}
	validateHistories(t, root)
	after, _ := os.ReadFile(filepath.Join(root, "ascmhl", "0001_Card_2026-11-24_153656Z.mhl"))
	if !bytes.Equal(before, after) {
		t.Error("generation 1 changed")
	}
	compareGenerations(t, parseFile(t, path), parseFile(t, vectorGen))
	h, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if p := h.CheckChain(); len(p) != 0 {
		t.Errorf("CheckChain: %v", p)
	}
	if n := len(h.Generations()); n != 2 {
		t.Errorf("%d generations", n)
	}
	for f := range h.Files() {
		if f.Hashes[0].Action != Verified || f.Hashes[0].Generation.Seq != 2 || f.Failed {
			t.Errorf("%s: %+v", f.Path, f.Hashes[0])
		}
	}
	chain, err := readChainFile(filepath.Join(root, "ascmhl"))
	if err != nil || len(chain) != 2 || chain[0].C4 != "c429C2C8ZPLL2gMeGyVLEDeiFj7pwQRpQFQP1dh7TfEcxzPinf6frd4Pgi5gL3vBqZeX1Vh1sYQnkvT5pceh8ekLuU" {
		t.Errorf("chain %+v, %v", chain, err)
	}
}
