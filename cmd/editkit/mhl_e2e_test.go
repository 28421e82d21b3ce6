package main

import (
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/editkit/editkit/internal/mhl"
	"github.com/editkit/editkit/internal/samplemedia"
)

// refDir holds the ASC MHL schemas and conformance vector (a copy of
// ../shared/reference/ascmhl kept in the repository's shared testdata).
var refDir = filepath.Join("..", "..", "testdata", "ascmhl-reference")

// generationFile is the part of an MHL generation the conformance check reads.
type generationFile struct {
	RootHash struct {
		Content   string `xml:"content>xxh128"`
		Structure string `xml:"structure>xxh128"`
	} `xml:"processinfo>roothash"`
	Process string `xml:"processinfo>process"`
	Hashes  []struct {
		Path   string `xml:"path"`
		XXH128 struct {
			Digest string `xml:",chardata"`
			Action string `xml:"action,attr"`
		} `xml:"xxh128"`
	} `xml:"hashes>hash"`
	DirHashes []struct {
		Path      string `xml:"path"`
		Content   string `xml:"content>xxh128"`
		Structure string `xml:"structure>xxh128"`
	} `xml:"hashes>directoryhash"`
}

func readGeneration(t *testing.T, path string) generationFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var g generationFile
	if err := xml.Unmarshal(b, &g); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return g
}

// xmllint validates every .mhl and chain file under dir against the schemas.
func xmllintAll(t *testing.T, dir string) int {
	t.Helper()
	needTool(t, "xmllint")
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		schema := ""
		switch {
		case strings.HasSuffix(p, ".mhl"):
			schema = "ASCMHL.xsd"
		case d.Name() == "ascmhl_chain.xml":
			schema = "ASCMHLDirectory.xsd"
		default:
			return nil
		}
		n++
		out, err := exec.Command("xmllint", "--noout", "--schema", filepath.Join(refDir, schema), p).CombinedOutput()
		if err != nil {
			t.Errorf("xmllint %s: %v\n%s", p, err, out)
		}
		return nil
	})
	return n
}

// Copying the conformance vector (a card with its own history) to a drive:
// the card's generation is carried over, editkit's transfer generation
// follows it in the chain with file, directory and root hashes equal to the
// reference implementation's, and every file validates against the schemas.
func TestCopyWritesConformingMHL(t *testing.T) {
	card := filepath.Join(refDir, "vector1", "Card")
	drive := filepath.Join(t.TempDir(), "EDITOR1")
	os.Mkdir(drive, 0o755)
	if r := editkit(t, "copy", card, drive); r.code != 0 {
		t.Fatalf("copy: %s", r)
	}
	assertCopied(t, card, drive)
	if n := xmllintAll(t, filepath.Join(drive, "ascmhl")); n != 3 {
		t.Fatalf("%d MHL files on the drive, want 2 generations and a chain", n)
	}
	ref := readGeneration(t, filepath.Join(card, "ascmhl", "0001_Card_2026-11-24_153656Z.mhl"))
	carried, err := os.ReadFile(filepath.Join(drive, "ascmhl", "0001_Card_2026-11-24_153656Z.mhl"))
	orig, _ := os.ReadFile(filepath.Join(card, "ascmhl", "0001_Card_2026-11-24_153656Z.mhl"))
	if err != nil || string(carried) != string(orig) {
		t.Fatalf("the card's own generation was not carried to the drive unchanged: %v", err)
	}
	gens, _ := filepath.Glob(filepath.Join(drive, "ascmhl", "0002_EDITOR1_*Z.mhl"))
	if len(gens) != 1 {
		t.Fatalf("editkit's generation: %v", gens)
	}
	ours := readGeneration(t, gens[0])
	if ours.Process != "transfer" {
		t.Errorf("process %q, want transfer", ours.Process)
	}
	if ours.RootHash != ref.RootHash {
		t.Errorf("root hash %+v, reference %+v", ours.RootHash, ref.RootHash)
	}
	type fh struct{ path, hash string }
	var got, want []fh
	for _, h := range ours.Hashes {
		got = append(got, fh{h.Path, h.XXH128.Digest})
		if h.XXH128.Action != "verified" {
			t.Errorf("%s: action %q; the card's history records the same hash, so verified", h.Path, h.XXH128.Action)
		}
	}
	for _, h := range ref.Hashes {
		want = append(want, fh{h.Path, h.XXH128.Digest})
	}
	if !slices.Equal(got, want) {
		t.Errorf("file hashes\n got %v\nwant %v", got, want)
	}
	if !slices.Equal(ours.DirHashes, ref.DirHashes) {
		t.Errorf("directory hashes\n got %+v\nwant %+v", ours.DirHashes, ref.DirHashes)
	}
	h, err := mhl.Open(drive)
	if err != nil {
		t.Fatal(err)
	}
	if problems := h.CheckChain(); len(problems) != 0 {
		t.Errorf("chain problems: %v", problems)
	}
	if len(h.Generations()) != 2 {
		t.Errorf("%d generations in the chain, want 2", len(h.Generations()))
	}
}

// A drive prepared from sample media gets a first generation listing every
// file; a second copy that brings nothing new adds no generation, and one
// that brings a new file adds a generation listing just that file.
func TestCopyMHLGenerations(t *testing.T) {
	long(t)
	src := filepath.Join(t.TempDir(), "Show")
	generate(t, src, samplemedia.Options{Seed: 9, TotalBytes: 8 << 20})
	drive := filepath.Join(t.TempDir(), "EDITOR2")
	os.Mkdir(drive, 0o755)
	for i := 0; i < 2; i++ {
		if r := editkit(t, "copy", src, drive); r.code != 0 {
			t.Fatalf("copy %d: %s", i, r)
		}
	}
	gens, _ := filepath.Glob(filepath.Join(drive, "ascmhl", "*.mhl"))
	if len(gens) != 1 {
		t.Fatalf("generations after two identical copies: %v", gens)
	}
	first := readGeneration(t, gens[0])
	files := fileHashes(t, drive, destRules)
	for _, h := range first.Hashes {
		delete(files, h.Path)
	}
	if len(files) != 0 {
		t.Errorf("first generation misses %d files: %v", len(files), files)
	}
	os.WriteFile(filepath.Join(src, "Avid MediaFiles", "MXF", "1", "VFX_010_v2.mxf"), []byte("new shot"), 0o644)
	if r := editkit(t, "copy", src, drive); r.code != 0 {
		t.Fatalf("copy 3: %s", r)
	}
	gens, _ = filepath.Glob(filepath.Join(drive, "ascmhl", "*.mhl"))
	if len(gens) != 2 {
		t.Fatalf("generations after a copy with one new file: %v", gens)
	}
	second := readGeneration(t, gens[1])
	if len(second.Hashes) != 1 || second.Hashes[0].Path != "Avid MediaFiles/MXF/1/VFX_010_v2.mxf" || second.Hashes[0].XXH128.Action != "original" {
		t.Errorf("second generation lists %+v", second.Hashes)
	}
	if second.RootHash == first.RootHash {
		t.Error("root hash unchanged although a file was added")
	}
	xmllintAll(t, filepath.Join(drive, "ascmhl"))
}
