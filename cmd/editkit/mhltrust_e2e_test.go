package main

import (
	"bytes"
	"encoding/xml"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The ASC MHL reference tool (github.com/ascmitc/mhl, kept unchanged beside
// the repository) is the judge of what editkit writes and reports: these
// tests run it over the same drives as the built binary.

// refToolDir is where the reference tool lives, relative to this package.
var refToolDir = filepath.Join("..", "..", "..", "shared", "reference", "ascmhl-tool")

// needRefTool fails under EDITKIT_REQUIRE_ALL (skips otherwise) when the
// reference tool or the Debian Python packages it runs on are missing, and
// returns the tool's folder.
func needRefTool(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(refToolDir)
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "run-ascmhl-debug"))
	}
	need(t, err == nil, "the ASC MHL reference tool in ../shared/reference/ascmhl-tool")
	err = exec.Command("/usr/bin/python3", "-c", "import click, lxml, packaging, pathspec, requests, xxhash, dateutil").Run()
	need(t, err == nil, "the reference tool's Python packages (python3-click python3-lxml python3-packaging python3-pathspec python3-requests python3-xxhash python3-dateutil; .ci/install-deps)")
	return dir
}

// refMHL runs the reference tool (run-ascmhl or run-ascmhl-debug) and
// returns its exit code and output.
func refMHL(t *testing.T, dir, runner string, args ...string) (int, string) {
	t.Helper()
	out, err := exec.Command(filepath.Join(dir, runner), args...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", runner, args, err)
	}
	return code, string(out)
}

// refVerify is the reference tool's `verify` of a tree against its history.
func refVerify(t *testing.T, dir, tree string) (int, string) {
	t.Helper()
	return refMHL(t, dir, "run-ascmhl-debug", "verify", tree)
}

// mhlHashEntry is one <hash> element of a generation, every format.
type mhlHashEntry struct {
	Path   string `xml:"path"`
	Values []struct {
		XMLName xml.Name
		Action  string `xml:"action,attr"`
		Digest  string `xml:",chardata"`
	} `xml:",any"`
}

func readHashEntries(t *testing.T, path string) map[string]mhlHashEntry {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Hashes []mhlHashEntry `xml:"hashes>hash"`
	}
	if err := xml.Unmarshal(b, &g); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]mhlHashEntry{}
	for _, h := range g.Hashes {
		out[h.Path] = h
	}
	return out
}

// actions renders an entry's hashes as "format=action" in document order.
func (e mhlHashEntry) actions() []string {
	var out []string
	for _, v := range e.Values {
		if !slices.Contains([]string{"path", "previousPath", "metadata"}, v.XMLName.Local) {
			out = append(out, v.XMLName.Local+"="+v.Action)
		}
	}
	return out
}

// genFile returns the generation file of the history at root whose
// name starts with prefix (e.g. "0002_").
func genFile(t *testing.T, root, prefix string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(root, "ascmhl", prefix+"*.mhl"))
	if len(m) != 1 {
		t.Fatalf("generation %s* in %s: %v", prefix, root, m)
	}
	return m[0]
}

// flipTwoBytes damages a file in place, keeping its size.
func flipTwoBytes(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 4 {
		t.Fatalf("%s: too small to damage", path)
	}
	b[1] ^= 0xff
	b[len(b)-2] ^= 0x5a
	fi, _ := os.Stat(path)
	if err := os.WriteFile(path, b, fi.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
}

// A card whose file no longer matches the card's own ASC MHL history is
// damaged at the source. copy says so — exit 1, the file named and counted
// failed, its record in the drive's new generation "failed" — and never
// records the damaged hash as a new "original". The reference tool and
// editkit's verify (both modes) then agree that the drive does not hold
// what the card recorded. The damaged bytes are kept on the drive (the
// spec's "failed" records a copy that was made but did not verify) but not
// in the manifest, so nothing vouches for them.
func TestMHLTrustCopyDamagedCardFile(t *testing.T) {
	long(t)
	ref := needRefTool(t)
	src := filepath.Join(t.TempDir(), "Card")
	copyTree(t, filepath.Join(refDir, "vector1", "Card"), src)
	const bad = "Avid MediaFiles/MXF/1/A001C001.mxf"
	flipTwoBytes(t, filepath.Join(src, filepath.FromSlash(bad)))
	drive := filepath.Join(t.TempDir(), "EDITOR1")
	os.Mkdir(drive, 0o755)

	r := editkit(t, "copy", src, drive)
	if r.code != 1 {
		t.Fatalf("copy of a damaged card: want exit 1\n%s", r)
	}
	out := r.stdout + r.stderr
	for _, want := range []string{bad + ": damaged at the source", "1 failed", "copy this file again"} {
		if !strings.Contains(out, want) {
			t.Errorf("copy output lacks %q:\n%s", want, out)
		}
	}
	reports, _ := filepath.Glob(filepath.Join(drive, ".editkit", "reports", "copy_*.txt"))
	if len(reports) != 1 {
		t.Fatalf("copy reports: %v", reports)
	}
	if b, _ := os.ReadFile(reports[0]); !bytes.Contains(b, []byte("damaged at the source")) {
		t.Errorf("the copy report does not name the damaged file:\n%s", b)
	}

	entries := readHashEntries(t, genFile(t, drive, "0002_"))
	if got := entries[bad].actions(); !slices.Equal(got, []string{"xxh128=failed"}) {
		t.Errorf("%s in editkit's generation: %v, want xxh128=failed", bad, got)
	}
	for p, e := range entries {
		if slices.Contains(e.actions(), "xxh128=original") {
			t.Errorf("%s recorded as a new original although the card's history records it", p)
		}
	}
	xmllintAll(t, filepath.Join(drive, "ascmhl"))

	if code, out := refVerify(t, ref, drive); code != 11 {
		t.Errorf("reference verify of the drive: exit %d, want 11 (hash mismatch)\n%s", code, out)
	}
	if r := editkit(t, "verify", drive); r.code != 1 || !strings.Contains(r.stdout+r.stderr, bad) {
		t.Errorf("verify (manifest) passes a drive holding a damaged card file:\n%s", r)
	}
	if r := editkit(t, "verify", "--mhl", drive); r.code != 1 || !strings.Contains(r.stdout+r.stderr, bad) {
		t.Errorf("verify --mhl passes a drive holding a damaged card file:\n%s", r)
	}

	// Run again: the file is still damaged at the source, and copy still
	// says so rather than finding nothing to do.
	if r := editkit(t, "copy", src, drive); r.code != 1 || !strings.Contains(r.stdout+r.stderr, bad+": damaged at the source") {
		t.Errorf("second copy of the damaged card:\n%s", r)
	}
}

// A card whose history another tool wrote in md5 (the reference tool's
// create -h md5): each file copied gets "verified" in the format the card
// had plus xxh128, as the reference does when it adds a format; a damaged
// one gets "failed" in both. The reference accepts the drive of the intact
// card and rejects the other.
func TestMHLTrustCopyMD5Card(t *testing.T) {
	long(t)
	ref := needRefTool(t)
	for _, damaged := range []bool{false, true} {
		name := "intact"
		if damaged {
			name = "damaged"
		}
		t.Run(name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "Card")
			for p, body := range map[string]string{
				"Clips/A002C003.mov": "picture, take three",
				"Clips/A002C004.mov": "picture, take four",
				"Sound/take4.wav":    "sound for take four",
			} {
				os.MkdirAll(filepath.Dir(filepath.Join(src, p)), 0o755)
				os.WriteFile(filepath.Join(src, p), []byte(body), 0o644)
			}
			if code, out := refMHL(t, ref, "run-ascmhl", "create", "-h", "md5", src); code != 0 {
				t.Fatalf("reference create: exit %d\n%s", code, out)
			}
			if damaged {
				flipTwoBytes(t, filepath.Join(src, "Clips", "A002C004.mov"))
			}
			drive := filepath.Join(t.TempDir(), "EDITOR2")
			os.Mkdir(drive, 0o755)
			r := editkit(t, "copy", src, drive)
			want := 0
			if damaged {
				want = 1
			}
			if r.code != want {
				t.Fatalf("copy: want exit %d\n%s", want, r)
			}
			entries := readHashEntries(t, genFile(t, drive, "0002_"))
			if len(entries) != 3 {
				t.Errorf("editkit's generation lists %d files, want 3", len(entries))
			}
			for p, e := range entries {
				verdict := "verified"
				if damaged && p == "Clips/A002C004.mov" {
					verdict = "failed"
				}
				if got := e.actions(); !slices.Equal(got, []string{"md5=" + verdict, "xxh128=" + verdict}) {
					t.Errorf("%s: %v, want md5 and xxh128 %s", p, got, verdict)
				}
			}
			xmllintAll(t, filepath.Join(drive, "ascmhl"))
			code, out := refVerify(t, ref, drive)
			if want := map[bool]int{false: 0, true: 11}[damaged]; code != want {
				t.Errorf("reference verify: exit %d, want %d\n%s", code, want, out)
			}
			if r := editkit(t, "verify", "--mhl", drive); (r.code != 0) != damaged {
				t.Errorf("verify --mhl disagrees with the reference (exit %d):\n%s", code, r)
			}
		})
	}
}

// An editkit drive whose ASC MHL history was changed after the fact — a
// generation edited or deleted — is tampered: the reference tool says so
// (31, 33) and so does every mode of editkit verify, which exits 1, names
// the generation and the way out, and appends nothing to the broken chain.
func TestMHLTrustVerifyTamperedChain(t *testing.T) {
	long(t)
	ref := needRefTool(t)
	cases := []struct {
		name    string
		refCode int
		tamper  func(t *testing.T, gen string)
	}{
		{"generation edited", 31, func(t *testing.T, gen string) {
			b, err := os.ReadFile(gen)
			if err != nil {
				t.Fatal(err)
			}
			i, j := bytes.Index(b, []byte("<hostname>")), bytes.Index(b, []byte("</hostname>"))
			if i < 0 || j < i {
				t.Fatalf("%s has no hostname", gen)
			}
			b = slices.Concat(b[:i], []byte("<hostname>somebody-else"), b[j:])
			if err := os.WriteFile(gen, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"generation deleted", 33, func(t *testing.T, gen string) {
			if err := os.Remove(gen); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "Show")
			for p, body := range map[string]string{
				"Avid MediaFiles/MXF/1/V01.mxf": "proxy one",
				"Avid MediaFiles/MXF/1/V02.mxf": "proxy two",
				"Project/Show.avp":              "project",
			} {
				os.MkdirAll(filepath.Dir(filepath.Join(src, p)), 0o755)
				os.WriteFile(filepath.Join(src, p), []byte(body), 0o644)
			}
			drive := filepath.Join(t.TempDir(), "EDITOR3")
			os.Mkdir(drive, 0o755)
			if r := editkit(t, "copy", src, drive); r.code != 0 {
				t.Fatalf("copy: %s", r)
			}
			// A clean verify adds a second generation; then the first is
			// tampered with.
			if r := editkit(t, "verify", drive); r.code != 0 {
				t.Fatalf("verify of the fresh drive: %s", r)
			}
			if code, out := refVerify(t, ref, drive); code != 0 {
				t.Fatalf("reference verify of the fresh drive: exit %d\n%s", code, out)
			}
			gen := genFile(t, drive, "0001_")
			tc.tamper(t, gen)
			before := historyFiles(t, drive)

			if code, out := refVerify(t, ref, drive); code != tc.refCode {
				t.Errorf("reference verify: exit %d, want %d\n%s", code, tc.refCode, out)
			}
			for _, mode := range [][]string{
				{"verify", drive},
				{"verify", "--mhl", drive},
				{"verify", "--b3sum", filepath.Join(drive, ".editkit", "checksums.b3sum"), drive},
			} {
				r := editkit(t, mode...)
				out := r.stdout + r.stderr
				if r.code != 1 {
					t.Errorf("%v on a tampered history: want exit 1\n%s", mode, r)
				}
				for _, want := range []string{"tampered", filepath.Base(gen), "restore the ascmhl folder from another copy"} {
					if !strings.Contains(out, want) {
						t.Errorf("%v: output lacks %q:\n%s", mode, want, out)
					}
				}
				if after := historyFiles(t, drive); !maps.Equal(before, after) {
					t.Errorf("%v changed the tampered history:\nbefore %v\nafter  %v", mode, slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after)))
				}
			}
		})
	}
}

// historyFiles returns the contents of every file in a drive's ascmhl folder.
func historyFiles(t *testing.T, drive string) map[string]string {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(drive, "ascmhl"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join(drive, "ascmhl", de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[de.Name()] = string(b)
	}
	return out
}

// A history whose generations use several formats (the reference tool's
// create in md5, then xxh128, then c4 twice): verify --mhl records every
// file it re-hashed as "verified" in each format — never "original" for a
// file the history already recorded (here in c4, the run's format), as the
// reference does.
func TestMHLTrustVerifySeveralFormats(t *testing.T) {
	long(t)
	ref := needRefTool(t)
	tree := filepath.Join(t.TempDir(), "Card")
	for p, body := range map[string]string{"Clips/A003C001.mov": "picture", "Sound/take1.wav": "sound"} {
		os.MkdirAll(filepath.Dir(filepath.Join(tree, p)), 0o755)
		os.WriteFile(filepath.Join(tree, p), []byte(body), 0o644)
	}
	for _, f := range []string{"md5", "xxh128", "c4", "c4"} {
		if code, out := refMHL(t, ref, "run-ascmhl", "create", "-h", f, tree); code != 0 {
			t.Fatalf("reference create -h %s: exit %d\n%s", f, code, out)
		}
	}
	if r := editkit(t, "verify", "--mhl", tree); r.code != 0 {
		t.Fatalf("verify --mhl: %s", r)
	}
	entries := readHashEntries(t, genFile(t, tree, "0005_"))
	if len(entries) != 2 {
		t.Errorf("editkit's generation lists %d files, want 2", len(entries))
	}
	for p, e := range entries {
		acts := e.actions()
		if len(acts) == 0 {
			t.Errorf("%s: no hashes", p)
		}
		for _, a := range acts {
			if !strings.HasSuffix(a, "=verified") {
				t.Errorf("%s: %v, want every format verified", p, acts)
				break
			}
		}
	}
	xmllintAll(t, filepath.Join(tree, "ascmhl"))
}
