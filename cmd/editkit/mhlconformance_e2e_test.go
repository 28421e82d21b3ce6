package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/editkit/editkit/internal/verify"
)

// TestMHLConformance is the two-way ASC MHL conformance suite (issue 10):
// the ASC's reference tool and the built editkit binary run over the same
// trees, and the spec (github.com/ascmitc/mhl-specification, v1.0) is the
// judge where they differ. Run it alone with `make conformance`.
//
//   - editkit writes (copy of a card, of a plain folder, of a folder holding
//     a card; pull onto editkit's and another tool's drive; verify
//     generations) → the reference's verify, verify -dh, diff and
//     xsd-schema-check (with the schemas in testdata/ascmhl-reference, passed
//     by -xsd: the tool otherwise looks for xsd/ in its working folder), and
//     xmllint against the same schemas;
//   - the reference writes (create in md5, sha1, xxh64, xxh3, xxh128, c4;
//     nested histories; renamed with -dr; several generations) → editkit
//     verify, default and --mhl;
//   - each mutation on both kinds of tree → a table of the verdicts both
//     tools must give.
//
// An expectation that waits for another change (an issue 10 item being
// fixed at the same time, or a disagreement this suite found) is marked with
// it: it runs, its failure is logged as expected, and it fails the suite the
// day it passes, so the mark is removed with the fix.
func TestMHLConformance(t *testing.T) {
	long(t)
	ref := needRefTool(t)
	needTool(t, "xmllint")
	c := &conformance{ref: ref}
	t.Run("editkit-writes", c.editkitWrites)
	t.Run("reference-writes", c.referenceWrites)
	t.Run("mutations", c.mutations)
}

// conformance holds what the suite's parts share.
type conformance struct {
	ref string // the reference tool's folder
}

// expectation gathers the checks of one scenario or table row. With a
// reason set (the issue 10 item or finding it waits for), failed checks are
// the expected state of today's code: logged, and a pass is an error.
type expectation struct {
	t      *testing.T
	reason string
	misses []string
}

// expect starts an expectation; pendingItem is the issue 10 item it waits
// for (0: none), finding a disagreement this suite found and reported.
func expect(t *testing.T, pendingItem int, finding string) *expectation {
	e := &expectation{t: t}
	switch {
	case pendingItem != 0:
		e.reason = fmt.Sprintf("issue 10 item %d", pendingItem)
	case finding != "":
		e.reason = "the finding " + finding
	}
	t.Cleanup(e.settle)
	return e
}

func (e *expectation) check(ok bool, format string, args ...any) {
	e.t.Helper()
	if ok {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if e.reason == "" {
		e.t.Error(msg)
		return
	}
	e.misses = append(e.misses, msg)
}

func (e *expectation) settle() {
	switch {
	case e.reason == "":
	case len(e.misses) > 0:
		e.t.Logf("expected to fail until %s is fixed:\n  %s", e.reason, strings.Join(e.misses, "\n  "))
	case !e.t.Failed():
		e.t.Errorf("marked as waiting for %s, but passes: remove the mark from the table", e.reason)
	}
}

// ekVerdict is what editkit verify says: its exit code and the kinds of
// problem it lists.
type ekVerdict struct {
	code  int
	kinds []verify.Kind
}

func (v ekVerdict) String() string { return fmt.Sprintf("exit %d %v", v.code, v.kinds) }

func (v ekVerdict) equal(w ekVerdict) bool {
	return v.code == w.code && slices.Equal(v.kinds, w.kinds)
}

func intact() ekVerdict { return ekVerdict{code: 0} }

func problems(kinds ...verify.Kind) ekVerdict {
	slices.Sort(kinds)
	return ekVerdict{code: 1, kinds: kinds}
}

// ekVerify runs editkit verify --json with args and returns its verdict.
func ekVerify(t *testing.T, args ...string) (ekVerdict, result) {
	t.Helper()
	r := editkit(t, append([]string{"verify", "--json"}, args...)...)
	v := ekVerdict{code: r.code}
	if strings.TrimSpace(r.stdout) != "" {
		var out verifyOut
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("verify --json: %v\n%s", err, r)
		}
		for _, p := range out.Problems {
			if !slices.Contains(v.kinds, p.Kind) {
				v.kinds = append(v.kinds, p.Kind)
			}
		}
		slices.Sort(v.kinds)
	}
	return v, r
}

// writeTree writes files (tree path → content) under root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, body := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// cloneTree copies a tree with its modification times (cp -a), so a
// drive's manifest still matches the copy.
func cloneTree(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s %s: %v\n%s", from, to, err, out)
	}
}

// conformanceFiles is the media of the trees the suite builds: nested
// folders, spaces, names in NFC and NFD, an empty file.
var conformanceFiles = map[string]string{
	"Clips/A001C001.mov":                 "picture, take one, with enough bytes to flip and truncate",
	"Clips/A001C002.mov":                 "picture, take two",
	"Sound/Day 01/Caf\u00e9 take 1.wav":  "sound for take one",
	"Sound/Day 01/Cafe\u0301 take 2.wav": "sound for take two",
	"notes.txt":                          "",
}

// refCreate runs the reference tool's create on tree.
func (c *conformance) refCreate(t *testing.T, tree string, args ...string) {
	t.Helper()
	if code, out := refMHL(t, c.ref, "run-ascmhl", append(append([]string{"create"}, args...), tree)...); code != 0 {
		t.Fatalf("reference create %v %s: exit %d\n%s", args, tree, code, out)
	}
}

// refCard writes a card of conformanceFiles (plus extra files) and has the
// reference tool create its history in format.
func (c *conformance) refCard(t *testing.T, format string, extra map[string]string) string {
	t.Helper()
	tree := filepath.Join(t.TempDir(), "Card")
	writeTree(t, tree, conformanceFiles)
	writeTree(t, tree, extra)
	c.refCreate(t, tree, "-h", format)
	return tree
}

// refVerdict is the reference tool's verify (with -dh: directory hashes
// too) exit code.
func (c *conformance) refVerdict(t *testing.T, tree string, dirHashes bool) (int, string) {
	t.Helper()
	args := []string{"verify", tree}
	if dirHashes {
		args = []string{"verify", "-dh", tree}
	}
	return refMHL(t, c.ref, "run-ascmhl-debug", args...)
}

// refAccepts checks a tree editkit wrote with the reference tool: verify,
// verify -dh and diff say 0, and every generation and chain file passes
// the reference's xsd-schema-check and xmllint.
func (c *conformance) refAccepts(t *testing.T, e *expectation, tree string) {
	t.Helper()
	c.refVerifies(t, e, tree, true)
	c.schemaCheck(t, e, tree)
}

// refVerifies checks that the reference's verify, verify -dh (with
// dirHashes) and diff of tree say 0.
func (c *conformance) refVerifies(t *testing.T, e *expectation, tree string, dirHashes bool) {
	t.Helper()
	runs := [][]string{{"run-ascmhl-debug", "verify"}, {"run-ascmhl", "diff"}}
	if dirHashes {
		runs = append(runs, []string{"run-ascmhl-debug", "verify", "-dh"})
	}
	for _, args := range runs {
		code, out := refMHL(t, c.ref, args[0], append(args[1:], tree)...)
		e.check(code == 0, "reference %s of %s: exit %d, want 0\n%s", strings.Join(args[1:], " "), tree, code, out)
		// It logs some mismatches without failing: a folder's is an error
		// all the same. The root's ("for .") it computes with ignored
		// folders in (see "copy of a plain folder"): root hashes are
		// checked against its create instead.
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "ERROR") && !strings.Contains(l, " for . ") {
				e.check(false, "reference %s of %s: %s", strings.Join(args[1:], " "), tree, strings.TrimSpace(l))
			}
		}
	}
}

// schemaCheck validates every history file under tree with the reference
// tool's xsd-schema-check and with xmllint.
func (c *conformance) schemaCheck(t *testing.T, e *expectation, tree string) {
	t.Helper()
	schemas, err := filepath.Abs(refDir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	filepath.WalkDir(tree, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(filepath.Dir(p)) != "ascmhl" {
			return nil
		}
		var args []string
		switch {
		case strings.HasSuffix(p, ".mhl"):
			args = []string{"xsd-schema-check", "-xsd", filepath.Join(schemas, "ASCMHL.xsd"), p}
		case d.Name() == "ascmhl_chain.xml":
			args = []string{"xsd-schema-check", "-df", "-xsd", filepath.Join(schemas, "ASCMHLDirectory.xsd"), p}
		default:
			return nil
		}
		n++
		code, out := refMHL(t, c.ref, "run-ascmhl-debug", args...)
		e.check(code == 0, "reference xsd-schema-check %s: exit %d\n%s", p, code, out)
		return nil
	})
	if n == 0 {
		t.Fatalf("no ASC MHL history under %s", tree)
	}
	xmllintAll(t, tree)
}

// rootHash is a generation's <roothash>: the format and the content and
// structure digests.
type rootHash struct {
	Format, Content, Structure string
}

func readRootHash(t *testing.T, gen string) rootHash {
	t.Helper()
	b, err := os.ReadFile(gen)
	if err != nil {
		t.Fatal(err)
	}
	type digests struct {
		Values []struct {
			XMLName xml.Name
			Value   string `xml:",chardata"`
		} `xml:",any"`
	}
	var g struct {
		Content   digests `xml:"processinfo>roothash>content"`
		Structure digests `xml:"processinfo>roothash>structure"`
	}
	if err := xml.Unmarshal(b, &g); err != nil {
		t.Fatalf("%s: %v", gen, err)
	}
	if len(g.Content.Values) == 0 || len(g.Structure.Values) == 0 {
		return rootHash{}
	}
	content, structure := g.Content.Values[0], g.Structure.Values[0]
	return rootHash{content.XMLName.Local, strings.TrimSpace(content.Value), strings.TrimSpace(structure.Value)}
}

// newestGeneration returns the newest generation file of the history at
// root.
func newestGeneration(t *testing.T, root string) string {
	t.Helper()
	gens, _ := filepath.Glob(filepath.Join(root, "ascmhl", "[0-9][0-9][0-9][0-9]_*.mhl"))
	if len(gens) == 0 {
		t.Fatalf("no generation in %s", root)
	}
	slices.Sort(gens)
	return gens[len(gens)-1]
}

// refRootHash is the root hash the reference tool's create computes for
// the media of tree (without editkit's .editkit/ and the history, plus the
// empty folders named), in format.
func (c *conformance) refRootHash(t *testing.T, tree, format string, emptyFolders ...string) rootHash {
	t.Helper()
	media := filepath.Join(t.TempDir(), filepath.Base(tree))
	for _, f := range emptyFolders {
		os.MkdirAll(filepath.Join(media, f), 0o755)
	}
	filepath.WalkDir(tree, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if d.IsDir() && (d.Name() == "ascmhl" || d.Name() == ".editkit") {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(tree, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(media, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return os.WriteFile(filepath.Join(media, rel), b, 0o644)
	})
	c.refCreate(t, media, "-h", format)
	return readRootHash(t, newestGeneration(t, media))
}

// editkitWrites: every history editkit writes is accepted by the
// reference tool, and its root hashes equal the reference's.
func (c *conformance) editkitWrites(t *testing.T) {
	copyOf := func(t *testing.T, src string) string {
		drive := filepath.Join(t.TempDir(), "EDITOR1")
		os.Mkdir(drive, 0o755)
		if r := editkit(t, "copy", src, drive); r.code != 0 {
			t.Fatalf("copy: %s", r)
		}
		return drive
	}
	plainFolder := func(t *testing.T) string {
		src := filepath.Join(t.TempDir(), "Show")
		writeTree(t, src, conformanceFiles)
		return src
	}
	sameRootHash := func(t *testing.T, e *expectation, drive string) {
		t.Helper()
		got, want := readRootHash(t, newestGeneration(t, drive)), c.refRootHash(t, drive, "xxh128")
		e.check(got == want, "root hash of %s: %+v, the reference's create computes %+v (spec 6.5.2, 6.5.3)", filepath.Base(newestGeneration(t, drive)), got, want)
	}

	t.Run("copy of a card", func(t *testing.T) {
		e := expect(t, 0, "")
		drive := copyOf(t, filepath.Join(refDir, "vector1", "Card"))
		c.refAccepts(t, e, drive)
	})
	t.Run("copy of a plain folder", func(t *testing.T) {
		e := expect(t, 0, "")
		drive := copyOf(t, plainFolder(t))
		c.refAccepts(t, e, drive)
		sameRootHash(t, e, drive)
		// The reference's own create on the drive, which reads the ignore
		// list of the drive's history, computes the same root hash: the list
		// names .editkit without a trailing slash too, because the reference
		// matches "dir/" against the folder's own path without one and
		// would otherwise record .editkit as an empty folder (spec 5.6.1.2:
		// a manifest holds no record of an ignored file or folder).
		clone := filepath.Join(t.TempDir(), filepath.Base(drive))
		cloneTree(t, drive, clone)
		c.refCreate(t, clone, "-h", "xxh128")
		theirs, ours := readRootHash(t, newestGeneration(t, clone)), readRootHash(t, newestGeneration(t, drive))
		e.check(theirs == ours, "the reference's create on the drive: root hash %+v, editkit's generation %+v", theirs, ours)
	})
	t.Run("copy of a folder holding a card with its history", func(t *testing.T) {
		e := expect(t, 0, "")
		src := plainFolder(t)
		card := filepath.Join(src, "Cards", "A002")
		writeTree(t, card, map[string]string{"Clips/A002C001.mov": "card clip one", "Clips/A002C002.mov": "card clip two"})
		// xxh128, editkit's format: the reference's verify -dh stops with
		// a KeyError on a nested history in another format, even on a tree
		// it created itself (mixed formats are checked without -dh below,
		// in reference-writes/nested histories).
		c.refCreate(t, card, "-h", "xxh128")
		drive := copyOf(t, src)
		c.refAccepts(t, e, drive)
		v, r := ekVerify(t, "--read-only", "--mhl", drive)
		e.check(v.equal(intact()), "verify --mhl of the drive: %s\n%s", v, r)
	})
	t.Run("verify generations", func(t *testing.T) {
		e := expect(t, 0, "")
		drive := copyOf(t, plainFolder(t))
		for _, args := range [][]string{{drive}, {"--mhl", drive}, {drive}} {
			if v, r := ekVerify(t, args...); !v.equal(intact()) {
				t.Fatalf("verify %v: %s\n%s", args, v, r)
			}
		}
		if gens, _ := filepath.Glob(filepath.Join(drive, "ascmhl", "*.mhl")); len(gens) != 4 {
			t.Fatalf("generations after a copy and three verifies: %v", gens)
		}
		c.refAccepts(t, e, drive)
		sameRootHash(t, e, drive)
	})

	pullOnto := func(t *testing.T, drive string) {
		t.Helper()
		inbox, hub := t.TempDir(), t.TempDir()
		writeTree(t, inbox, map[string]string{"VFX_010_v1.mxf": "vfx shot ten, version one"})
		env := stateEnv(t)
		if r := editkitEnv(t, env, "push", "--hub", hub, "--category", "vfx", "--dest-path", "Avid MediaFiles/MXF/7", filepath.Join(inbox, "VFX_010_v1.mxf")); r.code != 0 {
			t.Fatalf("push: %s", r)
		}
		if r := editkitEnv(t, env, "pull", "--hub", hub, drive); r.code != 0 {
			t.Fatalf("pull: %s", r)
		}
	}
	t.Run("pull onto an editkit drive", func(t *testing.T) {
		e := expect(t, 0, "")
		drive := copyOf(t, plainFolder(t))
		pullOnto(t, drive)
		c.refAccepts(t, e, drive)
		sameRootHash(t, e, drive)
	})
	t.Run("pull onto a drive another tool prepared", func(t *testing.T) {
		drive := filepath.Join(t.TempDir(), "EDITOR2")
		writeTree(t, drive, conformanceFiles)
		c.refCreate(t, drive, "-h", "xxh128")
		pullOnto(t, drive)
		c.refAccepts(t, expect(t, 0, ""), drive)
		// The pull generation covers every child (spec 6.5.2), the drive's
		// record is adopted: default verify finds nothing extra, and the
		// checksum list names every file.
		e := expect(t, 0, "")
		sameRootHash(t, e, drive)
		v, r := ekVerify(t, "--read-only", drive)
		e.check(v.equal(intact()), "verify (default) after the pull: %s, want every file of the drive's record verified\n%s", v, r)
		list, _ := os.ReadFile(filepath.Join(drive, ".editkit", "checksums.b3sum"))
		for p := range conformanceFiles {
			e.check(bytes.Contains(list, []byte(" "+p+"\n")), "checksums.b3sum does not list %s", p)
		}
	})
}

// referenceWrites: trees the reference tool recorded verify in editkit,
// and what editkit then appends is accepted by the reference.
func (c *conformance) referenceWrites(t *testing.T) {
	bothModes := func(t *testing.T, e *expectation, tree string, want ekVerdict) {
		t.Helper()
		for _, mode := range [][]string{{"--read-only"}, {"--read-only", "--mhl"}} {
			v, r := ekVerify(t, append(mode, tree)...)
			e.check(v.equal(want), "editkit verify %v: %s, want %s\n%s", mode, v, want, r)
		}
	}
	// appended runs a verify that writes on a clone of tree and checks what
	// it appended (spec 5.6.4, 5.6.5): valid against the schemas, and
	// accepted by the reference, which needs editkit's own files in the
	// ignore list of its generation (issue 10 item 5).
	appended := func(t *testing.T, tree string, dirHashes bool) string {
		t.Helper()
		clone := filepath.Join(t.TempDir(), filepath.Base(tree))
		cloneTree(t, tree, clone)
		if v, r := ekVerify(t, clone); !v.equal(intact()) {
			t.Fatalf("editkit verify: %s\n%s", v, r)
		}
		c.schemaCheck(t, expect(t, 0, ""), clone)
		c.refVerifies(t, expect(t, 0, ""), clone, dirHashes)
		return clone
	}
	for _, format := range []string{"md5", "sha1", "xxh64", "xxh3", "xxh128", "c4"} {
		t.Run("create "+format, func(t *testing.T) {
			tree := c.refCard(t, format, nil)
			bothModes(t, expect(t, 0, ""), tree, intact())
			gen := newestGeneration(t, appended(t, tree, true))
			if rh := readRootHash(t, gen); rh.Format != format {
				t.Errorf("%s: root hash in %q, want the history's format %s", filepath.Base(gen), rh.Format, format)
			}
		})
	}
	t.Run("nested histories", func(t *testing.T) {
		e := expect(t, 0, "")
		tree := filepath.Join(t.TempDir(), "Shoot")
		writeTree(t, tree, conformanceFiles)
		card := filepath.Join(tree, "Cards", "A002")
		writeTree(t, card, map[string]string{"Clips/A002C001.mov": "card clip one", "Clips/A002C002.mov": "card clip two"})
		c.refCreate(t, card, "-h", "md5")
		c.refCreate(t, tree, "-h", "xxh128")
		bothModes(t, e, tree, intact())
		// Spec 5.3.2: a verification propagates into the nested history —
		// a new card generation, referenced by the new parent one. (No
		// -dh: the reference's stops with a KeyError on a nested history
		// in another format, even on a tree it created itself.)
		cardGens, _ := filepath.Glob(filepath.Join(card, "ascmhl", "*.mhl"))
		clone := appended(t, tree, false)
		clonedCard := filepath.Join(clone, "Cards", "A002")
		after, _ := filepath.Glob(filepath.Join(clonedCard, "ascmhl", "*.mhl"))
		e.check(len(after) == len(cardGens)+1, "card generations after editkit verify: %d, want %d", len(after), len(cardGens)+1)
		parent, _ := os.ReadFile(newestGeneration(t, clone))
		ref := "Cards/A002/ascmhl/" + filepath.Base(newestGeneration(t, clonedCard))
		e.check(bytes.Contains(parent, []byte(ref)), "editkit's generation does not reference %s", ref)

		flipByte(t, filepath.Join(card, "Clips", "A002C002.mov"), 3)
		code, out := c.refVerdict(t, tree, false)
		e.check(code == 11, "reference verify of a flipped card file: exit %d, want 11\n%s", code, out)
		bothModes(t, e, tree, problems(verify.Modified))
	})
	t.Run("several generations", func(t *testing.T) {
		tree := c.refCard(t, "md5", nil)
		for _, f := range []string{"xxh64", "c4", "xxh128"} {
			c.refCreate(t, tree, "-h", f)
		}
		bothModes(t, expect(t, 0, ""), tree, intact())
		appended(t, tree, true)
	})
	t.Run("renamed with -dr", func(t *testing.T) {
		tree := c.refCard(t, "xxh128", nil)
		if err := os.Rename(filepath.Join(tree, "Clips", "A001C002.mov"), filepath.Join(tree, "Clips", "A001C002_renamed.mov")); err != nil {
			t.Fatal(err)
		}
		c.refCreate(t, tree, "-h", "xxh128", "-dr")
		e := expect(t, 0, "")
		code, out := c.refVerdict(t, tree, false)
		e.check(code == 0, "reference verify after a rename it recorded: exit %d\n%s", code, out)
		// Spec 5.3.3: implementations shall support renaming (previousPath).
		bothModes(t, expect(t, 0, ""), tree, intact())
	})
	t.Run("names editkit skips, recorded by another tool", func(t *testing.T) {
		tree := c.refCard(t, "xxh128", map[string]string{"Clips/._A001C001.mov": "resource fork", "Clips/Thumbs.db": "thumbnails"})
		// Spec 5.6.1.2: what the history's ignore patterns leave in is
		// covered; editkit's own skip list decides what it copies, not
		// what a history records.
		bothModes(t, expect(t, 0, ""), tree, intact())
	})
	t.Run("failed then a good copy restored", func(t *testing.T) {
		tree := c.refCard(t, "xxh128", nil)
		clip := filepath.Join(tree, "Clips", "A001C001.mov")
		good, _ := os.ReadFile(clip)
		flipByte(t, clip, 5)
		if code, out := refMHL(t, c.ref, "run-ascmhl", "create", "-h", "xxh128", tree); code != 11 {
			t.Fatalf("reference create over a damaged file: exit %d, want 11 (and a failed record)\n%s", code, out)
		}
		os.WriteFile(clip, good, 0o644)
		e := expect(t, 0, "")
		code, out := c.refVerdict(t, tree, false)
		e.check(code == 0, "reference verify after the good copy is back: exit %d\n%s", code, out)
		// Spec 5.6.4: failed hashes are not used; note 2: an unintended
		// change is resolved by a good copy matching the original.
		bothModes(t, expect(t, 0, ""), tree, intact())
	})
	t.Run("verify appends failed results", func(t *testing.T) {
		tree := c.refCard(t, "xxh128", nil)
		flipByte(t, filepath.Join(tree, "Clips", "A001C001.mov"), 5)
		e := expect(t, 0, "")
		v, r := ekVerify(t, tree)
		e.check(v.equal(problems(verify.Modified)), "editkit verify of a flipped file: %s\n%s", v, r)
		// Spec 5.6.4: verifying with a history appends a generation with
		// the results, failed ones too (5.6.5).
		e8 := expect(t, 0, "")
		gens, _ := filepath.Glob(filepath.Join(tree, "ascmhl", "*.mhl"))
		e8.check(len(gens) == 2, "generations after a verify that found a problem: %d, want 2", len(gens))
		if len(gens) == 2 {
			acts := readHashEntries(t, newestGeneration(t, tree))["Clips/A001C001.mov"].actions()
			e8.check(slices.Contains(acts, "xxh128=failed"), "the flipped file in editkit's generation: %v, want xxh128=failed", acts)
			code, out := c.refVerdict(t, tree, false)
			e8.check(code == 11, "reference verify after editkit recorded the failure: exit %d, want 11\n%s", code, out)
			c.schemaCheck(t, e8, tree)
		}
	})
}

// mutation is one row of the verdict table: a change made to a tree whose
// history was just written, and what each tool must say about it.
type mutation struct {
	name   string
	mutate func(t *testing.T, tree string)
	ref    int       // the reference tool's verify exit code
	ek     ekVerdict // editkit verify --mhl, and default verify of a tree without a manifest
	// manifest, when set, is editkit's default verify of its own drive,
	// which checks the drive's editkit manifest, where that differs.
	manifest *ekVerdict
	// why gives the spec-cited reason where the two tools differ.
	why string
	// pendingItem: the issue 10 item whose fix makes editkit's side pass
	// (0: must hold now); finding: a disagreement this suite found beyond
	// issue 10's items (reported; same handling).
	pendingItem int
	finding     string
}

// mutations: the verdict table, run on an editkit drive (copy, then a
// verify: two generations) and on a tree the reference recorded (create
// twice).
func (c *conformance) mutations(t *testing.T) {
	const clip = "Clips/A001C001.mov"
	at := func(tree, p string) string { return filepath.Join(tree, filepath.FromSlash(p)) }
	// chainC4 rewrites the C4 id the chain records for the first generation.
	chainC4 := func(t *testing.T, tree string, edit func(c4 string) string) {
		mrEditFile(t, at(tree, "ascmhl/ascmhl_chain.xml"), func(b []byte) []byte {
			i := bytes.Index(b, []byte("<c4>"))
			j := bytes.Index(b, []byte("</c4>"))
			if i < 0 || j < i {
				t.Fatal("the chain records no C4")
			}
			return slices.Concat(b[:i+4], []byte(edit(string(b[i+4:j]))), b[j:])
		})
	}
	table := []mutation{
		{name: "none", mutate: func(*testing.T, string) {}, ref: 0, ek: intact()},
		{name: "flip a byte", mutate: func(t *testing.T, tree string) { flipByte(t, at(tree, clip), 7) },
			ref: 11, ek: problems(verify.Modified)},
		{name: "append", mutate: func(t *testing.T, tree string) {
			f, err := os.OpenFile(at(tree, clip), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(" and more")
			f.Close()
		}, ref: 11, ek: problems(verify.SizeChanged),
			why: "same verdict; editkit names the kind of change (the size differs from the record, so the hash cannot match)"},
		{name: "truncate", mutate: func(t *testing.T, tree string) {
			if err := os.Truncate(at(tree, clip), 10); err != nil {
				t.Fatal(err)
			}
		}, ref: 11, ek: problems(verify.SizeChanged), why: "as append"},
		{name: "delete", mutate: func(t *testing.T, tree string) { os.Remove(at(tree, clip)) },
			ref: 10, ek: problems(verify.Missing)},
		{name: "add a file", mutate: func(t *testing.T, tree string) {
			writeTree(t, tree, map[string]string{"Clips/A001C003.mov": "picture, take three"})
		}, ref: 21, ek: problems(verify.Extra)},
		{name: "rename", mutate: func(t *testing.T, tree string) {
			if err := os.Rename(at(tree, clip), at(tree, "Clips/A001C001_v2.mov")); err != nil {
				t.Fatal(err)
			}
		}, ref: 21, ek: problems(verify.Moved),
			why: "same verdict; the reference reports the new name first (21; its diff says 10), editkit pairs the missing file with the new one holding its bytes"},
		{name: "touch mtime", mutate: func(t *testing.T, tree string) {
			old := mustStat(t, at(tree, clip)).ModTime().AddDate(-1, 0, 0)
			os.Chtimes(at(tree, clip), old, old)
		}, ref: 0, ek: intact(), manifest: &ekVerdict{1, []verify.Kind{verify.MTimeChanged}},
			why: "spec 5.6.4 judges by hashes only (lastmodificationdate, 6.5, is recorded, not verified), and so does --mhl; editkit's manifest records each file's mtime, and default verify of its own drive reports a changed one (an NLE relinks by it)"},
		{name: "generation edited", mutate: func(t *testing.T, tree string) {
			mrEditFile(t, genFile(t, tree, "0001_"), func(b []byte) []byte {
				return bytes.Replace(b, []byte("<hostname>"), []byte("<hostname>somebody-else-"), 1)
			})
		}, ref: 31, ek: problems(verify.Tampered)},
		{name: "first generation deleted", mutate: func(t *testing.T, tree string) { os.Remove(genFile(t, tree, "0001_")) },
			ref: 33, ek: problems(verify.Tampered)},
		{name: "newest generation deleted", mutate: func(t *testing.T, tree string) { os.Remove(genFile(t, tree, "0002_")) },
			ref: 33, ek: problems(verify.Tampered)},
		{name: "generation added", mutate: func(t *testing.T, tree string) {
			b, err := os.ReadFile(genFile(t, tree, "0002_"))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(at(tree, "ascmhl/0003_"+filepath.Base(tree)+"_2026-12-01_120000Z.mhl"), b, 0o644)
		}, ref: 0, ek: problems(verify.Tampered),
			why: "spec 5.3.1: a history is the chain and the manifests it references; 5.4: the chain lists all of them so their integrity can be verified — a generation it does not list was added outside the chain (the reference loads every file in ascmhl/, a quirk its README notes; issue 10 item 10 keeps this an error)"},
		{name: "chain edited", mutate: func(t *testing.T, tree string) {
			chainC4(t, tree, func(c4 string) string {
				return c4[:len(c4)-1] + map[bool]string{true: "2", false: "1"}[strings.HasSuffix(c4, "1")]
			})
		}, ref: 31, ek: problems(verify.Tampered)},
		{name: "chain edited, unreadable C4", mutate: func(t *testing.T, tree string) {
			chainC4(t, tree, func(c4 string) string { return "c4z" + c4[3:] })
		}, ref: 31, ek: problems(verify.Tampered)},
		{name: "chain deleted", mutate: func(t *testing.T, tree string) { os.Remove(at(tree, "ascmhl/ascmhl_chain.xml")) },
			ref: 32, ek: problems(verify.Tampered)},
	}

	editkitDrive := filepath.Join(t.TempDir(), "EDITOR1")
	{
		src := filepath.Join(t.TempDir(), "Show")
		writeTree(t, src, conformanceFiles)
		os.Mkdir(editkitDrive, 0o755)
		if r := editkit(t, "copy", src, editkitDrive); r.code != 0 {
			t.Fatalf("copy: %s", r)
		}
		if v, r := ekVerify(t, editkitDrive); !v.equal(intact()) {
			t.Fatalf("verify of the new drive: %s\n%s", v, r)
		}
	}
	referenceTree := c.refCard(t, "md5", nil)
	c.refCreate(t, referenceTree, "-h", "xxh128")

	for _, kind := range []struct{ name, pristine string }{{"editkit drive", editkitDrive}, {"reference tree", referenceTree}} {
		t.Run(kind.name, func(t *testing.T) {
			for _, m := range table {
				t.Run(m.name, func(t *testing.T) {
					tree := filepath.Join(t.TempDir(), filepath.Base(kind.pristine))
					cloneTree(t, kind.pristine, tree)
					m.mutate(t, tree)
					wantDefault := m.ek
					if m.manifest != nil && kind.pristine == editkitDrive {
						wantDefault = *m.manifest
					}
					code, out := c.refVerdict(t, tree, false)
					if code != m.ref {
						t.Errorf("reference verify: exit %d, the table says %d\n%s", code, m.ref, out)
					}
					if m.why == "" && ((m.ref == 0) != (wantDefault.code == 0) || (m.ref == 0) != (m.ek.code == 0)) {
						t.Errorf("the table has the tools disagree (reference %d, editkit %s / --mhl %s) without the spec-cited reason", m.ref, wantDefault, m.ek)
					}
					e := expect(t, m.pendingItem, m.finding)
					for _, mode := range []struct {
						args []string
						want ekVerdict
					}{{[]string{"--read-only"}, wantDefault}, {[]string{"--read-only", "--mhl"}, m.ek}} {
						v, r := ekVerify(t, append(mode.args, tree)...)
						e.check(v.equal(mode.want), "editkit verify %v: %s, the table says %s\n%s", mode.args, v, mode.want, r)
					}
				})
			}
		})
	}
}

func mustStat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}
