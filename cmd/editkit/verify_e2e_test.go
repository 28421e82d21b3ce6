package main

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/editkit/editkit/internal/mhl"
	"github.com/editkit/editkit/internal/samplemedia"
	"github.com/editkit/editkit/internal/verify"
	"github.com/zeebo/xxh3"
)

type verifyOut struct {
	OK bool `json:"ok"`
	verify.Result
}

func runVerify(t *testing.T, args ...string) (verifyOut, result) {
	t.Helper()
	r := editkit(t, append([]string{"verify", "--json"}, args...)...)
	var v verifyOut
	if r.code != 2 {
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
			t.Fatalf("verify --json: %v\n%s", err, r)
		}
	}
	return v, r
}

// kinds lists problems as "kind path" strings, sorted.
func kinds(v verifyOut) []string {
	var out []string
	for _, p := range v.Problems {
		s := string(p.Kind) + " " + p.Path
		if p.Other != "" {
			s += " → " + p.Other
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// preparedDrive copies sample media to a new drive folder with editkit.
func preparedDrive(t *testing.T, seed uint64, size int64) (src, drive string) {
	t.Helper()
	src = filepath.Join(t.TempDir(), "Show")
	generate(t, src, samplemedia.Options{Seed: seed, TotalBytes: size})
	drive = filepath.Join(t.TempDir(), "EDITOR1")
	os.Mkdir(drive, 0o755)
	if r := editkit(t, "copy", "--label", "Anna", src, drive); r.code != 0 {
		t.Fatalf("copy: %s", r)
	}
	return src, drive
}

// flipByte changes one byte of a file in place, keeping its size and mtime:
// bit rot the file system does not notice.
func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	f.ReadAt(b, off)
	b[0] ^= 0x10
	f.WriteAt(b, off)
	f.Close()
	os.Chtimes(path, fi.ModTime(), fi.ModTime())
}

// Every kind of damage a drive can suffer is found and named, from the
// medium; a clean drive exits 0 and gets an ASC MHL "verified" generation.
func TestVerifyFindsEveryProblem(t *testing.T) {
	long(t)
	_, drive := preparedDrive(t, 20, 24<<20)
	v, r := runVerify(t, drive)
	if r.code != 0 || !v.OK || v.Verified == 0 || v.Verified != v.Files {
		t.Fatalf("clean drive: %s", r)
	}
	if v.MHL == "" || !strings.Contains(v.MHL, "0002_EDITOR1_") {
		t.Errorf("no verified generation after a clean verify: %q", v.MHL)
	}
	xmllintAll(t, filepath.Join(drive, "ascmhl"))
	if g := readGeneration(t, v.MHL); len(g.Hashes) != v.Verified || g.Hashes[0].XXH128.Action != "verified" || g.Process != "in-place" {
		t.Errorf("verified generation lists %d files (action %q, process %q), want %d verified", len(g.Hashes), g.Hashes[0].XXH128.Action, g.Process, v.Verified)
	}

	mxf := filepath.Join(drive, "Avid MediaFiles", "MXF", "1")
	entries, _ := os.ReadDir(mxf)
	var clips []string
	for _, e := range entries {
		if fi, _ := e.Info(); strings.HasSuffix(e.Name(), ".mxf") && fi.Size() > 4096 {
			clips = append(clips, e.Name())
		}
	}
	if len(clips) < 5 {
		t.Fatalf("need 5 clips, have %v", clips)
	}
	rel := func(name string) string { return "Avid MediaFiles/MXF/1/" + name }
	flipByte(t, filepath.Join(mxf, clips[0]), 1000)
	os.Truncate(filepath.Join(mxf, clips[1]), 100)
	os.Remove(filepath.Join(mxf, clips[2]))
	os.Rename(filepath.Join(mxf, clips[3]), filepath.Join(mxf, "renamed.mxf"))
	later := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(mxf, clips[4]), later, later)
	os.WriteFile(filepath.Join(drive, "stray.txt"), []byte("not from the copy"), 0o644)
	os.WriteFile(filepath.Join(drive, ".DS_Store"), []byte("junk"), 0o644) // junk is not "extra"

	v, r = runVerify(t, drive)
	if r.code != 1 || v.OK {
		t.Fatalf("damaged drive: %s", r)
	}
	want := []string{
		"extra stray.txt",
		"missing " + rel(clips[2]),
		"modified " + rel(clips[0]),
		"moved " + rel(clips[3]) + " → " + rel("renamed.mxf"),
		"mtime-changed " + rel(clips[4]),
		"size-changed " + rel(clips[1]),
	}
	sort.Strings(want)
	if got := kinds(v); !slices.Equal(got, want) {
		t.Errorf("problems\n got %q\nwant %q", got, want)
	}
	// The human output names them too.
	r = editkit(t, "verify", drive)
	for _, w := range []string{"modified", "missing", "moved", "size-changed", "mtime-changed", "extra", "report:"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("summary does not mention %s:\n%s", w, r.stdout)
		}
	}
	// Each run appended its results, problems included (spec 5.6.4):
	// the damaged files failed, the renamed one under its new name.
	gens, _ := filepath.Glob(filepath.Join(drive, "ascmhl", "*.mhl"))
	if len(gens) != 4 {
		t.Fatalf("generations after a clean and two failed verifies: %v", gens)
	}
	xmllintAll(t, filepath.Join(drive, "ascmhl"))
	last := readHashEntries(t, genFile(t, drive, "0004_"))
	for p, want := range map[string]string{
		rel(clips[0]):      "xxh128=failed",
		rel(clips[1]):      "xxh128=failed",
		rel("renamed.mxf"): "xxh128=verified",
		rel(clips[4]):      "xxh128=verified",
	} {
		if got := last[p].actions(); !slices.Equal(got, []string{want}) {
			t.Errorf("newest generation: %s %v, want %s", p, got, want)
		}
	}
	if _, ok := last[rel(clips[2])]; ok {
		t.Errorf("newest generation lists the missing %s", rel(clips[2]))
	}
}

// Subsets: named paths, --since, --sample; --read-only writes nothing.
func TestVerifySubsetsAndReadOnly(t *testing.T) {
	long(t)
	_, drive := preparedDrive(t, 21, 16<<20)
	before := snapshot(t, drive)
	v, r := runVerify(t, "--read-only", drive, "Avid MediaFiles/MXF/1")
	if r.code != 0 || v.Files == 0 {
		t.Fatalf("path subset: %s", r)
	}
	all, _ := runVerify(t, "--read-only", drive)
	if v.Files >= all.Files {
		t.Errorf("a subset checked %d files, the whole drive %d", v.Files, all.Files)
	}
	v, r = runVerify(t, "--read-only", "--sample", "30%", "--seed", "7", drive)
	if r.code != 0 || v.Verified == 0 || v.NotSampled == 0 || v.Seed != 7 {
		t.Fatalf("sample: %s", r)
	}
	again, _ := runVerify(t, "--read-only", "--sample", "30%", "--seed", "7", drive)
	if again.Verified != v.Verified {
		t.Errorf("the same seed sampled %d then %d files", v.Verified, again.Verified)
	}
	v, r = runVerify(t, "--read-only", "--since", "1h", drive)
	if r.code != 0 || v.Files != all.Files {
		t.Fatalf("--since 1h after a copy just now: %s", r)
	}
	v, r = runVerify(t, "--read-only", "--since", time.Now().Add(time.Hour).Format(time.RFC3339), drive)
	if r.code != 0 || v.Files != 0 {
		t.Fatalf("--since the future: %s", r)
	}
	if after := snapshot(t, drive); !slices.Equal(before, after) {
		t.Errorf("--read-only changed the drive:\n%v\n%v", before, after)
	}
	// A b3sum list, the drive's own.
	v, r = runVerify(t, "--read-only", "--b3sum", filepath.Join(drive, ".editkit", "checksums.b3sum"), drive)
	if r.code != 0 || v.Verified != all.Files {
		t.Fatalf("--b3sum: %s", r)
	}
}

// snapshot lists every file under root with its size and mtime.
func snapshot(t *testing.T, root string) []string {
	var out []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil {
			fi, _ := d.Info()
			out = append(out, fmt.Sprintf("%s %d %d", p, fi.Size(), fi.ModTime().UnixNano()))
		}
		return nil
	})
	return out
}

func TestVerifyUsage(t *testing.T) {
	long(t)
	empty := t.TempDir()
	for _, args := range [][]string{
		{"verify"},
		{"verify", empty}, // nothing to verify against
		{"verify", filepath.Join(empty, "missing")},
		{"verify", "--sample", "200%", empty},
		{"verify", "--since", "yesterday-ish", empty},
		{"verify", "--mhl", "--b3sum", "x", empty},
	} {
		if r := editkit(t, args...); r.code != 2 || strings.Contains(r.stderr, "panic") {
			t.Errorf("editkit %q: %s", args, r)
		}
	}
}

// craftHistory writes files and a one-generation ASC MHL history for them
// in the given format, the way another tool would, and returns the
// generation's path.
func craftHistory(t *testing.T, root, name string, format mhl.Format, files map[string]string, refs string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<hashlist version="2.0" xmlns="urn:ASC:MHL:v2.0">
  <creatorinfo><creationdate>2026-01-15T13:00:00+00:00</creationdate><hostname>dit-cart</hostname><tool version="9.1">OffloadTool</tool></creatorinfo>
  <processinfo><process>transfer</process><ignore><pattern>.DS_Store</pattern><pattern>ascmhl</pattern><pattern>ascmhl/</pattern></ignore></processinfo>
  <hashes>
`)
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(root, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, []byte(files[p]), 0o644)
		fmt.Fprintf(&b, "    <hash><path size=\"%d\">%s</path><%s action=\"original\" hashdate=\"2026-01-15T13:00:00+00:00\">%s</%s></hash>\n",
			len(files[p]), p, format, digestOf(format, []byte(files[p])), format)
	}
	b.WriteString("  </hashes>\n" + refs + "</hashlist>\n")
	dir := filepath.Join(root, "ascmhl")
	os.MkdirAll(dir, 0o755)
	gen := "0001_" + name + "_2026-01-15_130000Z.mhl"
	os.WriteFile(filepath.Join(dir, gen), []byte(b.String()), 0o644)
	chain := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<ascmhldirectory xmlns="urn:ASC:MHL:DIRECTORY:v2.0">
  <hashlist sequencenr="1"><path>%s</path><c4>%s</c4></hashlist>
</ascmhldirectory>
`, gen, digestOf(mhl.C4Format, []byte(b.String())))
	os.WriteFile(filepath.Join(dir, "ascmhl_chain.xml"), []byte(chain), 0o644)
	return filepath.Join(dir, gen)
}

// digestOf computes a digest independently of editkit's hashers.
func digestOf(f mhl.Format, data []byte) string {
	switch f {
	case mhl.MD5:
		s := md5.Sum(data)
		return hex.EncodeToString(s[:])
	case mhl.SHA1:
		s := sha1.Sum(data)
		return hex.EncodeToString(s[:])
	case mhl.XXH64:
		return fmt.Sprintf("%016x", xxhash.Sum64(data))
	case mhl.XXH3:
		return fmt.Sprintf("%016x", xxh3.Hash(data))
	case mhl.XXH128:
		s := xxh3.Hash128(data).Bytes()
		return hex.EncodeToString(s[:])
	case mhl.C4Format:
		return mhl.C4(sha512.Sum512(data))
	}
	panic(f)
}

// Drives made by offload tools, in every hash format the standard allows,
// verify; a changed file is caught in each; a clean run appends a verified
// generation that validates against the schema.
func TestVerifyForeignMHLFormats(t *testing.T) {
	long(t)
	for _, f := range []mhl.Format{mhl.MD5, mhl.SHA1, mhl.XXH64, mhl.XXH3, mhl.XXH128, mhl.C4Format} {
		t.Run(string(f), func(t *testing.T) {
			card := filepath.Join(t.TempDir(), "A001")
			craftHistory(t, card, "A001", f, map[string]string{
				"CLIPS/A001C001.mov": strings.Repeat("frame", 4000),
				"CLIPS/A001C002.mov": strings.Repeat("frame2", 3000),
				"A001.xml":           "<card/>",
			}, "")
			v, r := runVerify(t, card)
			if r.code != 0 || v.Verified != 3 || v.Against != verify.WithMHL || v.Formats[string(f)] != 3 {
				t.Fatalf("clean card: %s", r)
			}
			xmllintAll(t, filepath.Join(card, "ascmhl"))
			h, err := mhl.Open(card)
			if err != nil || len(h.Generations()) != 2 || len(h.CheckChain()) != 0 {
				t.Fatalf("history after verify: %v %v", err, h.CheckChain())
			}
			flipByte(t, filepath.Join(card, "CLIPS", "A001C002.mov"), 10)
			v, r = runVerify(t, card)
			if r.code != 1 || !slices.Equal(kinds(v), []string{"modified CLIPS/A001C002.mov"}) {
				t.Fatalf("changed file in a %s history: %s", f, r)
			}
		})
	}
}

// A generation edited after the fact is reported as tampered; a nested
// history (a card inside a drive) is verified with its parent.
func TestVerifyTamperedAndNestedMHL(t *testing.T) {
	long(t)
	drive := filepath.Join(t.TempDir(), "SHOOT")
	cardGen := craftHistory(t, filepath.Join(drive, "Day01", "A002"), "A002", mhl.XXH64, map[string]string{
		"A002C001.mov": "card clip one",
		"A002C002.mov": "card clip two",
	}, "")
	cardBytes, _ := os.ReadFile(cardGen)
	refs := fmt.Sprintf("  <references><hashlistreference><path>Day01/A002/ascmhl/%s</path><c4>%s</c4></hashlistreference></references>\n",
		filepath.Base(cardGen), digestOf(mhl.C4Format, cardBytes))
	craftHistory(t, drive, "SHOOT", mhl.MD5, map[string]string{"notes.txt": "day one notes"}, refs)

	v, r := runVerify(t, "--read-only", drive)
	if r.code != 0 || v.Verified != 3 {
		t.Fatalf("drive with a nested card history: %s", r)
	}
	flipByte(t, filepath.Join(drive, "Day01", "A002", "A002C002.mov"), 2)
	v, _ = runVerify(t, "--read-only", drive)
	if got := kinds(v); !slices.Equal(got, []string{"modified Day01/A002/A002C002.mov"}) {
		t.Errorf("nested file changed: %q", got)
	}
	flipByte(t, filepath.Join(drive, "Day01", "A002", "A002C002.mov"), 2)

	// Someone "fixes" a hash in the card's generation: its C4 in the chain
	// no longer matches.
	b, _ := os.ReadFile(cardGen)
	os.WriteFile(cardGen, []byte(strings.Replace(string(b), "A002C001.mov", "A002C001.mov ", 1)), 0o644)
	v, r = runVerify(t, "--read-only", drive)
	if r.code != 1 || v.Counts[verify.Tampered] == 0 {
		t.Fatalf("tampered generation not reported: %s", r)
	}
}

// The conformance vector from the reference implementation verifies, and
// a verified generation is appended as the reference tool would.
func TestVerifyReferenceVector(t *testing.T) {
	card := filepath.Join(t.TempDir(), "Card")
	copyTree(t, filepath.Join(refDir, "vector1", "Card"), card)
	v, r := runVerify(t, card)
	if r.code != 0 || v.Verified != 5 {
		t.Fatalf("vector1: %s", r)
	}
	xmllintAll(t, filepath.Join(card, "ascmhl"))
	ref := readGeneration(t, filepath.Join(card, "ascmhl", "0001_Card_2026-11-24_153656Z.mhl"))
	ours := readGeneration(t, v.MHL)
	if ours.RootHash != ref.RootHash {
		t.Errorf("verified generation's root hash %+v, reference %+v", ours.RootHash, ref.RootHash)
	}
}

// copyTree copies a folder with plain file I/O (test setup).
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return os.WriteFile(dst, b, 0o644)
	})
}

// A drive on exFAT (through FUSE, on a loop device): verified, and a flipped
// byte is caught reading from the medium.
func TestVerifyExfatDrive(t *testing.T) {
	long(t)
	src := filepath.Join(t.TempDir(), "Show")
	generate(t, src, samplemedia.Options{Seed: 22, TotalBytes: 16 << 20})
	drive := mountExfat(t, "128M")
	if r := editkit(t, "copy", src, drive); r.code != 0 {
		t.Fatalf("copy: %s", r)
	}
	if v, r := runVerify(t, drive); r.code != 0 || !v.OK {
		t.Fatalf("exFAT drive: %s", r)
	}
	victim := largestMXF(t, drive)
	flipByte(t, filepath.Join(drive, filepath.FromSlash(victim)), 4097)
	v, r := runVerify(t, drive)
	if r.code != 1 || !slices.Equal(kinds(v), []string{"modified " + victim}) {
		t.Fatalf("flipped byte on exFAT: %s", r)
	}
}
