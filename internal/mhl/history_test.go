package mhl

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/treepath"
)

const craftedRoot = "testdata/crafted/Shoot"

func filesOf(t *testing.T, h *History) map[string]FileRecord {
	t.Helper()
	out := map[string]FileRecord{}
	var order []string
	for f := range h.Files() {
		out[f.Path] = f
		order = append(order, f.Path)
	}
	if !slices.IsSortedFunc(order, treepath.Compare) {
		t.Errorf("Files not in tree order: %q", order)
	}
	return out
}

func digests(f FileRecord) string {
	var s []string
	for _, h := range f.Hashes {
		s = append(s, string(h.Format)+":"+h.Digest)
	}
	return strings.Join(s, " ")
}

// TestReadCrafted reads a history in the style of other tools: several
// formats, optional elements we never write, a nested history referenced
// from the parent, an updated hash and a failed verification.
func TestReadCrafted(t *testing.T) {
	h, err := Open(craftedRoot)
	if err != nil {
		t.Fatal(err)
	}
	if p := h.CheckChain(); len(p) != 0 {
		t.Errorf("CheckChain: %v", p)
	}
	gens := h.Generations()
	if len(gens) != 3 || gens[0].History != "" || gens[1].Seq != 2 || gens[2].History != "A002" {
		t.Fatalf("generations %+v", gens)
	}
	if !gens[0].Created.Equal(time.Date(2025, 3, 1, 17, 0, 0, 0, time.UTC)) || gens[0].Tool != "Offload Tool" ||
		gens[0].ToolVersion != "2.3 (build 77)" || gens[0].Process != ProcessTransfer {
		t.Errorf("generation 1: %+v", gens[0])
	}
	if len(gens[2].RootHash) != 1 || gens[2].RootHash[0].Content != "0123456789abcdef0123456789abcdef" {
		t.Errorf("nested root hash %+v", gens[2].RootHash)
	}
	files := filesOf(t, h)
	want := map[string]string{
		// md5 from generation 2 (newest wins), sha1 and xxh64 from 1
		"A001/clip1.mov": "md5:d41d8cd98f00b204e9800998ecf8427e sha1:a9993e364706816aba3e25717850c26c9cd0d89d xxh64:44bc2cf5ad770999",
		"A001/clip2.mov": "c4:c45S4rnaTNWonxss1u8LzsaJdEph1AJhWUF4sh2waXKMsutyfAxg4ybUeuXVWS9HdNcEypmeXn8FZGonD4w1rj9DZp xxh3:78af5f94892f3950",
		"A002/clip3.mov": "xxh128:06b05ab6733a618578af5f94892f3950",
		// failed in generation 2: the original of generation 1 is still
		// what the file should be (spec 5.6.4, note 2)
		"audio/take1.wav": "xxh64:44bc2cf5ad770999",
	}
	if len(files) != len(want) {
		t.Errorf("%d files, want %d", len(files), len(want))
	}
	for p, w := range want {
		if got := digests(files[p]); got != w {
			t.Errorf("%s: %s, want %s", p, got, w)
		}
	}
	c1 := files["A001/clip1.mov"]
	if c1.Size != 4100 || c1.Hashes[0].Generation.Seq != 2 || c1.Hashes[1].Generation.Seq != 1 || c1.Failed {
		t.Errorf("clip1: %+v", c1)
	}
	take := files["audio/take1.wav"]
	if take.Failed || !take.FailedLast || take.Hashes[0].Action != Original || take.Hashes[0].Generation.Seq != 1 {
		t.Errorf("take1: %+v", take)
	}
	if c3 := files["A002/clip3.mov"]; c3.Hashes[0].Generation.History != "A002" || c3.ModTime.Format(layoutDate) != "2025-03-01T17:00:00+00:00" {
		t.Errorf("clip3: %+v", c3)
	}
	if !slices.Contains(h.Ignore(), "*.RDC") || !h.Match("A001/x.RDC", false) || !h.Match("A002/ascmhl", true) {
		t.Errorf("ignore %q", h.Ignore())
	}
}

// copyCrafted gives a test its own copy of the crafted history to break.
func copyCrafted(t *testing.T) string {
	root := filepath.Join(t.TempDir(), "Shoot")
	copyTree(t, craftedRoot, root, nil)
	return root
}

func TestCheckChain(t *testing.T) {
	gen1 := "ascmhl/0001_Shoot_2025-03-01_120000Z.mhl"
	gen2 := "ascmhl/0002_Shoot_2025-03-02_100000Z.mhl"
	nested := "A002/ascmhl/0001_A002_2025-03-02_090000Z.mhl"
	appendTo := func(t *testing.T, p, s string) {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		f.WriteString(s)
	}
	cases := []struct {
		name   string
		damage func(t *testing.T, root string)
		want   []ProblemKind
	}{
		{"tampered", func(t *testing.T, root string) {
			appendTo(t, filepath.Join(root, gen1), "<!-- edited -->\n")
		}, []ProblemKind{ProblemTampered}},
		{"tampered nested", func(t *testing.T, root string) {
			appendTo(t, filepath.Join(root, nested), "\n")
		}, []ProblemKind{ProblemTampered, ProblemTampered}}, // its chain, and the parent's reference
		{"missing", func(t *testing.T, root string) {
			os.Remove(filepath.Join(root, gen2))
		}, []ProblemKind{ProblemMissing}},
		{"missing nested", func(t *testing.T, root string) {
			os.Remove(filepath.Join(root, nested))
		}, []ProblemKind{ProblemMissing, ProblemReference}},
		{"unlisted", func(t *testing.T, root string) {
			b, _ := os.ReadFile(filepath.Join(root, gen2))
			os.WriteFile(filepath.Join(root, "ascmhl/0003_Shoot_2025-03-03_100000Z.mhl"), b, 0o644)
		}, []ProblemKind{ProblemUnlisted}},
		{"sequence", func(t *testing.T, root string) {
			p := filepath.Join(root, "ascmhl", chainFileName)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(b, []byte(`sequencenr="2"`), []byte(`sequencenr="3"`), 1), 0o644)
		}, []ProblemKind{ProblemSequence, ProblemSequence}}, // skips 2, and disagrees with the file name
		{"no chain", func(t *testing.T, root string) {
			os.Remove(filepath.Join(root, "ascmhl", chainFileName))
		}, []ProblemKind{ProblemUnlisted, ProblemUnlisted}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := copyCrafted(t)
			c.damage(t, root)
			h, err := Open(root)
			if err != nil {
				t.Fatal(err)
			}
			var got []ProblemKind
			for _, p := range h.CheckChain() {
				got = append(got, p.Kind)
				if !strings.Contains(p.String(), p.File) || p.File == "" {
					t.Errorf("problem %q does not name the file", p)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("problems %v, want %v: %v", got, c.want, h.CheckChain())
			}
		})
	}
}

// A generation that re-hashes files: the newest hash wins, but a failed
// verification never replaces a good hash (spec 5.6.4, note 2: a good copy
// put back verifies again); it only marks the file.
func TestNewestWins(t *testing.T) {
	root := t.TempDir()
	g := testGeneration()
	if _, err := WriteGeneration(root, g, entriesOf(fileEntry("a", "v1"), fileEntry("b", "b"), fileEntry("c", "c"))); err != nil {
		t.Fatal(err)
	}
	bad := fileEntry("b", "damaged")
	bad.Hashes[0].Action = Failed
	c := fileEntry("c", "c")
	c.Listed = false
	g.Created = g.Created.Add(time.Minute)
	if _, err := WriteGeneration(root, g, entriesOf(fileEntry("a", "v2"), bad, c)); err != nil {
		t.Fatal(err)
	}
	validateHistories(t, root)
	h, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if p := h.CheckChain(); len(p) != 0 {
		t.Errorf("CheckChain: %v", p)
	}
	files := filesOf(t, h)
	if f := files["a"]; f.Hashes[0].Digest != fileEntry("a", "v2").Hashes[0].Digest || f.Hashes[0].Generation.Seq != 2 || f.Size != 2 {
		t.Errorf("a: %+v", f)
	}
	if f := files["b"]; f.Failed || !f.FailedLast || f.Hashes[0].Digest != fileEntry("b", "b").Hashes[0].Digest || f.Size != 1 {
		t.Errorf("b: %+v", f)
	}
	if f := files["c"]; f.Failed || f.Hashes[0].Generation.Seq != 1 {
		t.Errorf("c: %+v", f)
	}
}

// writeHistory makes a history holding one generation file with the given
// <hashes> body and optional references, and no chain.
func writeHistory(t *testing.T, hashes, refs string) (root, file string) {
	t.Helper()
	root = t.TempDir()
	os.Mkdir(filepath.Join(root, folderName), 0o755)
	file = filepath.Join(root, folderName, "0001_x_2025-01-01_000000Z.mhl")
	doc := `<?xml version="1.0" encoding="UTF-8"?>
<hashlist version="2.0" xmlns="urn:ASC:MHL:v2.0">
  <creatorinfo><creationdate>2025-01-01T00:00:00Z</creationdate><hostname>h</hostname><tool>t</tool></creatorinfo>
  <processinfo><process>in-place</process></processinfo>
  <hashes>` + hashes + `</hashes>` + refs + `
</hashlist>
`
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, file
}

func TestHostilePaths(t *testing.T) {
	hash := func(p string) string {
		return `<hash><path>` + p + `</path><md5>900150983cd24fb0d6963f7d28e17f72</md5></hash>`
	}
	dir := func(p string) string {
		return `<directoryhash><path>` + p + `</path><content><md5>900150983cd24fb0d6963f7d28e17f72</md5></content><structure><md5>900150983cd24fb0d6963f7d28e17f72</md5></structure></directoryhash>`
	}
	ref := func(p string) string {
		return `<references><hashlistreference><path>` + p + `</path><c4>c45S4rnaTNWonxss1u8LzsaJdEph1AJhWUF4sh2waXKMsutyfAxg4ybUeuXVWS9HdNcEypmeXn8FZGonD4w1rj9DZp</c4></hashlistreference></references>`
	}
	cases := map[string][2]string{
		"parent":          {hash("../x"), ""},
		"absolute":        {hash("/etc/passwd"), ""},
		"deep escape":     {hash("a/../../x"), ""},
		"drive letter":    {hash("C:/Windows/x"), ""},
		"backslash":       {hash(`a\..\..\x`), ""},
		"empty":           {hash(""), ""},
		"directory":       {dir("../x"), ""},
		"reference":       {hash("ok"), ref("../other/ascmhl/0001.mhl")},
		"reference abs":   {hash("ok"), ref("/etc/ascmhl/0001.mhl")},
		"nul as char ref": {hash("a&#0;b"), ""}, // not even well-formed XML
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			root, file := writeHistory(t, c[0], c[1])
			_, err := Open(root)
			if err == nil {
				t.Fatal("hostile history accepted")
			}
			if !strings.Contains(err.Error(), file) {
				t.Errorf("error %q does not name %s", err, file)
			}
			if name != "nul as char ref" && !errors.Is(err, treepath.ErrUnsafe) {
				t.Errorf("error %q is not treepath.ErrUnsafe", err)
			}
		})
	}
	// A chain naming a file outside the history folder.
	root, _ := writeHistory(t, hash("ok"), "")
	chain := `<ascmhldirectory xmlns="urn:ASC:MHL:DIRECTORY:v2.0"><hashlist sequencenr="1"><path>../../etc/passwd</path>` +
		`<c4>c45S4rnaTNWonxss1u8LzsaJdEph1AJhWUF4sh2waXKMsutyfAxg4ybUeuXVWS9HdNcEypmeXn8FZGonD4w1rj9DZp</c4></hashlist></ascmhldirectory>`
	os.WriteFile(filepath.Join(root, folderName, chainFileName), []byte(chain), 0o644)
	if _, err := Open(root); !errors.Is(err, treepath.ErrUnsafe) || !strings.Contains(err.Error(), chainFileName) {
		t.Errorf("hostile chain: %v", err)
	}
}

func TestMalformed(t *testing.T) {
	md5 := `<md5>900150983cd24fb0d6963f7d28e17f72</md5>`
	cases := map[string]string{
		"bad digest":    `<hash><path>a</path><md5>nothex</md5></hash>`,
		"short digest":  `<hash><path>a</path><xxh64>44bc</xxh64></hash>`,
		"bad size":      `<hash><path size="-1">a</path>` + md5 + `</hash>`,
		"bad action":    `<hash><path>a</path><md5 action="fine">900150983cd24fb0d6963f7d28e17f72</md5></hash>`,
		"bad date":      `<hash><path lastmodificationdate="yesterday">a</path>` + md5 + `</hash>`,
		"no hash":       `<hash><path>a</path></hash>`,
		"no path":       `<hash>` + md5 + `</hash>`,
		"no structure":  `<directoryhash><path>a</path><content>` + md5 + `</content></directoryhash>`,
		"two md5":       `<hash><path>a</path>` + md5 + md5 + `</hash>`,
		"mismatched":    `<hash><path>a</path>` + md5 + `</hsah>`,
		"unknown only":  `<hash><path>a</path><crc32>00000000</crc32></hash>`,
		"bad c4":        `<hash><path>a</path><c4>c4notbase58!</c4></hash>`,
		"entity":        `<hash><path>&xxe;</path>` + md5 + `</hash>`,
		"second root":   `</hashes></hashlist><hashlist version="2.0"><hashes>`,
		"text after it": `</hashes></hashlist>junk<hashlist><hashes>`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			root, file := writeHistory(t, body, "")
			if _, err := Open(root); err == nil || !strings.Contains(err.Error(), file) {
				t.Errorf("Open: %v", err)
			}
		})
	}
	for name, doc := range map[string]string{
		"v1":           `<hashlist version="1.1"><creatorinfo/></hashlist>`,
		"other ns":     `<hashlist version="2.0" xmlns="urn:other"></hashlist>`,
		"no info":      `<hashlist version="2.0" xmlns="urn:ASC:MHL:v2.0"></hashlist>`,
		"empty":        ``,
		"not xml":      "\x00\x01binary",
		"wrong root":   `<ascmhldirectory/>`,
		"bad encoding": `<?xml version="1.0" encoding="EBCDIC"?><hashlist version="2.0"/>`,
	} {
		if _, err := parseGeneration(strings.NewReader(doc), parseOpts{}); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// Every truncation of a valid generation or chain file is an error,
// never a shorter valid file and never a panic.
func TestTruncated(t *testing.T) {
	for _, p := range []string{vectorGen, craftedRoot + "/ascmhl/0001_Shoot_2025-03-01_120000Z.mhl"} {
		doc, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		end := bytes.LastIndex(doc, []byte("</hashlist>")) + len("</hashlist>")
		for n := 0; n < end; n++ {
			if _, err := parseGeneration(bytes.NewReader(doc[:n]), parseOpts{}); err == nil {
				t.Fatalf("%s cut at %d of %d parsed", p, n, len(doc))
			}
		}
	}
	chain, _ := os.ReadFile(craftedRoot + "/ascmhl/ascmhl_chain.xml")
	end := bytes.LastIndex(chain, []byte("</ascmhldirectory>")) + len("</ascmhldirectory>")
	for n := 0; n < end; n++ {
		if _, err := parseChain(bytes.NewReader(chain[:n])); err == nil {
			t.Fatalf("chain cut at %d parsed", n)
		}
	}
	// Through Open, the error names the file.
	root := filepath.Join(t.TempDir(), "Card")
	copyTree(t, vectorRoot, root, nil)
	gen := filepath.Join(root, "ascmhl", "0001_Card_2026-11-24_153656Z.mhl")
	doc, _ := os.ReadFile(gen)
	os.WriteFile(gen, doc[:len(doc)/2], 0o644)
	if _, err := Open(root); err == nil || !strings.Contains(err.Error(), gen) {
		t.Errorf("Open of a truncated generation: %v", err)
	}
}

func TestOpenNoHistory(t *testing.T) {
	_, err := Open(t.TempDir())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of a folder without history: %v", err)
	}
}

// TestNested copies a card that has its own history (vector1) into a
// drive and writes the drive's first generation. As the reference tool
// does, the card's history gets a generation for its files, and the
// drive's references it.
func TestNested(t *testing.T) {
	drive := filepath.Join(t.TempDir(), "Drive")
	card := filepath.Join(drive, "Card")
	copyTree(t, vectorRoot, card, nil)
	os.MkdirAll(filepath.Join(drive, "Other"), 0o755)
	os.WriteFile(filepath.Join(drive, "Other", "x"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(drive, "top.txt"), []byte("top"), 0o644)

	g := testGeneration()
	g.Process = ProcessTransfer
	g.Created = g.Created.Add(24 * time.Hour)
	path, err := WriteGeneration(drive, g, walkTree(drive, []Format{XXH128}, nil))
	if err != nil {
		t.Fatal(err)
	}
	validateHistories(t, drive)

	// The card's history: a second generation equal to the reference one.
	cardGen := filepath.Join(card, "ascmhl", "0002_Card_2026-11-25_153656Z.mhl")
	compareGenerations(t, parseFile(t, cardGen), parseFile(t, vectorGen))

	// The drive's: the card as a folder, and a reference to its generation.
	d := parseFile(t, path)
	if !slices.Equal(d.order, []string{"Card/", "Other/x", "Other/", "top.txt"}) {
		t.Errorf("drive generation lists %q", d.order)
	}
	if !sameDirHashes(d.dirs["Card"].Hashes, parseFile(t, vectorGen).hdr.Root) {
		t.Errorf("card folder hash %v", d.dirs["Card"].Hashes)
	}
	cf, _ := os.Open(cardGen)
	c4, _ := fileC4(cf)
	cf.Close()
	if len(d.hdr.Refs) != 1 || d.hdr.Refs[0] != (reference{Path: "Card/ascmhl/0002_Card_2026-11-25_153656Z.mhl", C4: c4}) {
		t.Errorf("references %+v", d.hdr.Refs)
	}

	h, err := Open(drive)
	if err != nil {
		t.Fatal(err)
	}
	if p := h.CheckChain(); len(p) != 0 {
		t.Errorf("CheckChain: %v", p)
	}
	if n := len(h.Generations()); n != 3 {
		t.Errorf("%d generations", n)
	}
	files := filesOf(t, h)
	if len(files) != 7 {
		t.Errorf("%d files: %v", len(files), files)
	}
	f := files["Card/Sound/Day 01/Café take 1.wav"]
	if digests(f) != "xxh128:5f714f0d4d1dd98ebff0e0f126eec1d9" || f.Hashes[0].Generation.History != "Card" || f.Hashes[0].Generation.Seq != 2 {
		t.Errorf("card file %+v", f)
	}

	// A generation listing nothing inside the card leaves its history alone.
	g.Created = g.Created.Add(time.Hour)
	path, err = WriteGeneration(drive, g, walkTree(drive, []Format{XXH128}, func(rel string) bool { return rel == "top.txt" }))
	if err != nil {
		t.Fatal(err)
	}
	if p := parseFile(t, path); !slices.Equal(p.order, []string{"top.txt"}) || len(p.hdr.Refs) != 0 {
		t.Errorf("partial drive generation: %q %+v", p.order, p.hdr.Refs)
	}
	if n := len(generationFiles(t, card)); n != 2 {
		t.Errorf("card history has %d generations", n)
	}
	// Tampering with the card's new generation shows in both chains.
	os.WriteFile(cardGen, append(must(os.ReadFile(cardGen)), '\n'), 0o644)
	h, err = Open(drive)
	if err != nil {
		t.Fatal(err)
	}
	if p := h.CheckChain(); len(p) != 2 {
		t.Errorf("CheckChain after tampering: %v", p)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// A nested history in a folder whose name starts with a space (legal on
// every drive format editkit writes) is referenced by its exact path: its
// parent's chain check must find it. Found by fuzzing the chain file.
func TestNestedFolderWithLeadingSpace(t *testing.T) {
	drive := filepath.Join(t.TempDir(), "Drive")
	copyTree(t, vectorRoot, filepath.Join(drive, " Card"), nil)
	g := testGeneration()
	g.Process = ProcessTransfer
	g.Created = g.Created.Add(24 * time.Hour)
	if _, err := WriteGeneration(drive, g, walkTree(drive, []Format{XXH128}, nil)); err != nil {
		t.Fatal(err)
	}
	h, err := Open(drive)
	if err != nil {
		t.Fatal(err)
	}
	if p := h.CheckChain(); len(p) != 0 {
		t.Errorf("CheckChain: %v", p)
	}
}
