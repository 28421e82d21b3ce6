package mhl

import (
	"bytes"
	"crypto/sha512"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/place"
	"github.com/editkit/editkit/internal/treepath"
)

// The fuzz targets here cover everything this package reads from a history
// someone else may have written: generation files, chain files, the digests
// and C4 ids in them, and their ignore patterns. Seeds: the reference
// vectors in the repository's testdata/ascmhl-reference, the crafted
// histories in testdata/crafted, the shared hostile paths in the
// repository's testdata/hostile-paths.txt, and testdata/fuzz/<target>/.

// hostilePaths reads the shared list of paths every parser must refuse.
func hostilePaths(f *testing.F) []string {
	data, err := os.ReadFile("../../testdata/hostile-paths.txt")
	if err != nil {
		f.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		var s string
		if _, err := fmt.Sscanf(l, "%q", &s); err != nil {
			f.Fatalf("testdata/hostile-paths.txt: %q: %v", l, err)
		}
		out = append(out, s)
	}
	return out
}

// realHistoryFiles returns every generation and chain file of the test vectors.
func realHistoryFiles(f *testing.F) [][]byte {
	seeds, _ := filepath.Glob("testdata/*/*/ascmhl/*")
	more, _ := filepath.Glob("testdata/*/*/*/ascmhl/*")
	vectors, _ := filepath.Glob(refDir + "/*/*/ascmhl/*")
	ex, _ := filepath.Glob(refDir + "/examples/*")
	var out [][]byte
	for _, p := range slices.Concat(seeds, more, vectors, ex) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		f.Fatal("no ASC MHL test vectors found")
	}
	return out
}

func hostileGeneration(p string) []byte {
	return []byte(`<hashlist version="2.0"><creatorinfo><creationdate>2025-01-01T00:00:00Z</creationdate></creatorinfo><processinfo/><hashes><hash><path>` +
		string(appendEscaped(nil, p)) + `</path><xxh64>0123456789abcdef</xxh64></hash></hashes></hashlist>`)
}

func hostileChain(p string) []byte {
	return []byte(`<ascmhldirectory xmlns="urn:ASC:MHL:DIRECTORY:v2.0"><hashlist sequencenr="1"><path>` +
		string(appendEscaped(nil, p)) + `</path><c4>c4` + strings.Repeat("1", 88) + `</c4></hashlist></ascmhldirectory>`)
}

// FuzzParse feeds arbitrary bytes to the generation and chain parsers:
// they return an error or what they accepted is well formed — clean
// relative paths, known hash formats with well-formed digests, chain
// entries that name a file in the same folder with a positive number.
func FuzzParse(f *testing.F) {
	for _, b := range realHistoryFiles(f) {
		f.Add(b)
		f.Add(b[:len(b)/3])
	}
	f.Add([]byte(`<hashlist version="2.0"><creatorinfo><creationdate>2025-01-01T00:00:00Z</creationdate></creatorinfo><processinfo/><hashes><hash><path>../x</path></hash></hashes></hashlist>`))
	for _, p := range hostilePaths(f) {
		f.Add(hostileGeneration(p))
		f.Add(hostileChain(p))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(p string) {
			if err := treepath.Validate(p); err != nil {
				t.Fatalf("parser let %q through: %v", p, err)
			}
		}
		checkHashes := func(p string, hs []Hash) {
			if len(hs) == 0 {
				t.Fatalf("<hash> %q accepted without a hash", p)
			}
			for _, h := range hs {
				if _, _, err := decodeDigest(h.Format, h.Digest); err != nil {
					t.Fatalf("<hash> %q accepted a bad digest: %v", p, err)
				}
				if h.Action != "" && !h.Action.valid() {
					t.Fatalf("<hash> %q accepted action %q", p, h.Action)
				}
			}
		}
		h, err := parseGeneration(bytes.NewReader(data), parseOpts{
			onFile: func(r *fileRec) error { check(r.Path); checkHashes(r.Path, r.Hashes); return nil },
			onDir:  func(r *dirRec) error { check(r.Path); return nil },
		})
		if err == nil {
			for _, r := range h.Refs {
				check(r.Path)
				if _, err := decodeC4(r.C4); err != nil {
					t.Fatalf("reference %q accepted with C4 %q", r.Path, r.C4)
				}
			}
			for _, d := range h.Root {
				if !d.Format.Valid() || d.Content == "" || d.Structure == "" {
					t.Fatalf("root hash %+v accepted", d)
				}
			}
		}
		if entries, err := parseChain(bytes.NewReader(data)); err == nil {
			for _, e := range entries {
				check(e.File)
				if strings.Contains(e.File, "/") || e.Seq < 1 {
					t.Fatalf("chain entry %+v accepted", e)
				}
				if _, err := decodeC4(e.C4); err != nil {
					t.Fatalf("chain entry %+v accepted with a bad C4", e)
				}
			}
		}
	})
}

// FuzzOpen puts arbitrary bytes in a history folder as a generation file
// and as its chain, and reads the history as verify does: Open either
// fails naming the file, or every file it reports has a clean path, the
// chain check and the ignore patterns run without a panic.
func FuzzOpen(f *testing.F) {
	real := realHistoryFiles(f)
	for i, b := range real {
		f.Add(b, real[(i+1)%len(real)])
	}
	for _, p := range hostilePaths(f) {
		f.Add(hostileGeneration(p), hostileChain(p))
	}
	f.Fuzz(func(t *testing.T, gen, chain []byte) {
		root := t.TempDir()
		dir := filepath.Join(root, folderName)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		const name = "0001_fuzz_2025-01-01_000000Z.mhl"
		os.WriteFile(filepath.Join(dir, name), gen, 0o644)
		os.WriteFile(filepath.Join(dir, chainFileName), chain, 0o644)
		h, err := Open(root)
		if err != nil {
			if !strings.Contains(err.Error(), dir) {
				t.Fatalf("error does not name the history: %v", err)
			}
			return
		}
		for r := range h.Files() {
			if err := treepath.Validate(r.Path); err != nil {
				t.Fatalf("Files yielded an unsafe path: %v", err)
			}
			h.Match(r.Path, false)
		}
		probs := h.CheckChain()
		if hdr, err := parseGeneration(bytes.NewReader(gen), parseOpts{}); err == nil && len(hdr.Refs) > 0 {
			return // its references to nested histories are checked too
		}
		// The chain lists this one file with its C4, or it is reported.
		sum := sha512.Sum512(gen)
		entries, _ := parseChain(bytes.NewReader(chain))
		good := len(entries) == 1 && entries[0].File == name && entries[0].Seq == 1 && entries[0].C4 == C4(sum)
		if good != (len(probs) == 0) {
			t.Fatalf("chain %+v, generation C4 %s: problems %v", entries, C4(sum), probs)
		}
	})
}

// FuzzGenerationRoundTrip writes a generation for a tree whose names come
// from the fuzzer (NUL-separated) and reads it back: every name the writer
// accepted is recorded exactly, with its size and hashes; a name it
// refuses leaves the history as it was.
func FuzzGenerationRoundTrip(f *testing.F) {
	f.Add("A001/clip.mxf\x00A001/clip 2.mxf\x00B/\u00e9t\u00e9.wav\x00top.txt", int64(10), []byte("x"))
	f.Add("new\nline\x00tab\there\x00cr\rname\x00 lead space\x00trail space \x00amp&lt;x\x00quote\"'", int64(0), []byte{})
	f.Add("a\x00a/b", int64(1), []byte{1})
	f.Add("ctl\x01name", int64(1), []byte{1})
	for _, p := range hostilePaths(f) {
		f.Add(p, int64(1), []byte{2})
	}
	f.Fuzz(func(t *testing.T, names string, size int64, salt []byte) {
		if size < 0 {
			size = -size
		}
		// A tree: drop duplicates and names that are another's folder.
		var paths []string
		for _, p := range strings.Split(names, "\x00") {
			if treepath.Validate(p) != nil {
				continue
			}
			paths = append(paths, p)
		}
		slices.SortFunc(paths, treepath.Compare)
		paths = slices.Compact(paths)
		var files []string
		for i, p := range paths {
			if i+1 < len(paths) && strings.HasPrefix(paths[i+1], p+"/") {
				continue // a folder
			}
			files = append(files, p)
		}
		var entries []Entry
		want := map[string][]Hash{}
		for i, p := range files {
			content := fmt.Appendf(nil, "%d%s", i, salt)
			hs := []Hash{
				{Format: XXH128, Digest: encodeDigest(XXH128, sum(XXH128, nil, content)), Action: Original},
				{Format: MD5, Digest: encodeDigest(MD5, sum(MD5, nil, content)), Action: Original},
			}
			entries = append(entries, Entry{Path: p, Size: size + int64(i), ModTime: time.Unix(1764000000+int64(i), 0).UTC(), Hashes: hs, Listed: true})
			want[p] = hs
		}
		root := t.TempDir()
		g := testGeneration()
		g.DirHashFormat = XXH128
		_, err := WriteGeneration(root, g, entriesOf(entries...))
		if err != nil {
			if left, _ := filepath.Glob(filepath.Join(root, folderName, "*")); len(left) > 0 {
				t.Fatalf("a refused generation (%v) left %q", err, left)
			}
			for _, p := range files {
				if xmlSafe(p) != nil {
					return // refused a name XML cannot carry: right
				}
			}
			// Everything else (ignored names aside) must be written.
			for _, p := range files {
				if p == ".DS_Store" || strings.HasPrefix(p, "ascmhl") || strings.Contains(p, "/ascmhl") {
					return
				}
			}
			t.Fatalf("WriteGeneration refused %q: %v", files, err)
		}
		h, err := Open(root)
		if err != nil {
			t.Fatalf("our own history does not read: %v", err)
		}
		if probs := h.CheckChain(); len(probs) > 0 {
			t.Fatalf("our own history has chain problems: %v", probs)
		}
		got := map[string]FileRecord{}
		for r := range h.Files() {
			got[r.Path] = r
		}
		for p, hs := range want {
			if h.Match(p, false) {
				if _, ok := got[p]; ok {
					t.Fatalf("ignored file %q recorded", p)
				}
				continue
			}
			r, ok := got[p]
			if !ok {
				t.Fatalf("wrote %q, read back %v", p, keys(got))
			}
			delete(got, p)
			var gotHs []Hash
			for _, x := range r.Hashes {
				x.HashDate = time.Time{}
				gotHs = append(gotHs, x.Hash)
			}
			slices.SortFunc(hs, func(a, b Hash) int { return a.Format.rank() - b.Format.rank() })
			if !slices.Equal(gotHs, hs) {
				t.Fatalf("%q: wrote %v, read %v", p, hs, gotHs)
			}
		}
		if len(got) > 0 {
			t.Fatalf("read back files never written: %v", keys(got))
		}
	})
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// FuzzChainRoundTrip: a chain written with writeChain reads back as the
// same entries.
func FuzzChainRoundTrip(f *testing.F) {
	f.Add("0001_Shoot_2025-03-01_120000Z.mhl\x000002_Shoot_2025-03-02_100000Z.mhl", []byte{1})
	f.Add("0001_a&b<c>.mhl\x000002_\u00e9.mhl", []byte{2})
	f.Fuzz(func(t *testing.T, names string, salt []byte) {
		var entries []chainEntry
		for i, n := range strings.Split(names, "\x00") {
			if treepath.Validate(n) != nil || strings.Contains(n, "/") || xmlSafe(n) != nil || trimLayout(n) != n {
				// trimLayout: a name that starts or ends with a line
				// break reads as a foreign writer's layout around it.
				continue
			}
			sum := sha512.Sum512(fmt.Appendf(nil, "%d%s", i, salt))
			entries = append(entries, chainEntry{Seq: len(entries) + 1, File: n, C4: C4(sum)})
		}
		dir := t.TempDir()
		r, err := place.Open(dir, place.Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		if err := writeChain(r, "", entries); err != nil {
			t.Fatal(err)
		}
		got, err := readChainFile(dir)
		if err != nil {
			t.Fatalf("our own chain does not read: %v", err)
		}
		if !slices.Equal(got, entries) {
			t.Fatalf("wrote %+v, read %+v", entries, got)
		}
	})
}

// FuzzDigest: a recorded digest is accepted only in its format's form, and
// what is accepted encodes back to the same (lowercase) text; a C4 id
// decodes to the SHA-512 that encodes back to it.
func FuzzDigest(f *testing.F) {
	f.Add("xxh128", "0123456789abcdef0123456789ABCDEF")
	f.Add("c4", "c4"+strings.Repeat("1", 88))
	f.Add("c4", "c4"+strings.Repeat("z", 88))
	f.Add("md5", "d41d8cd98f00b204e9800998ecf8427e")
	f.Add("sha256", strings.Repeat("0", 64))
	f.Fuzz(func(t *testing.T, format, s string) {
		fm := Format(format)
		canon, b, err := decodeDigest(fm, s)
		if !fm.Valid() {
			if err == nil {
				t.Fatalf("format %q accepted", format)
			}
			return
		}
		if err != nil {
			return
		}
		if len(b) != digestSize(fm) {
			t.Fatalf("%s %q: %d bytes", fm, s, len(b))
		}
		if enc := encodeDigest(fm, b); enc != canon {
			t.Fatalf("%s %q decodes to %x, which encodes as %q, not %q", fm, s, b, enc, canon)
		}
		if fm != C4Format && canon != strings.ToLower(s) {
			t.Fatalf("%s %q: canonical %q", fm, s, canon)
		}
	})
}

// FuzzIgnore compiles patterns a history recorded (one per line) and
// matches a path: never a panic, a bad pattern is an error, and an
// unanchored one-component pattern matches as "**/" + itself, as in git.
func FuzzIgnore(f *testing.F) {
	f.Add(".DS_Store\nascmhl/\n*.tmp\n!keep.tmp\n", "a/b/x.tmp", false)
	f.Add("[!a]*\n\\#x\n\\!y\n**/z/**\n", "q/z/r", true)
	f.Add("a/**/b\n/root.txt\ntrail  \n", "a/x/y/b", false)
	f.Add("[", "x", false)
	f.Fuzz(func(t *testing.T, patterns, p string, isDir bool) {
		lines := strings.Split(patterns, "\n")
		m, err := compilePatterns(lines)
		if err != nil {
			return
		}
		if treepath.Validate(p) != nil {
			return
		}
		m.match(p, isDir)
		for _, l := range lines {
			if l == "" || strings.ContainsAny(l, "/\\ ") || l[0] == '#' || l[0] == '!' || l == "**" {
				continue
			}
			a, err1 := compilePatterns([]string{l})
			b, err2 := compilePatterns([]string{"**/" + l})
			if err1 != nil || err2 != nil {
				t.Fatalf("%q compiled in a list but not alone: %v %v", l, err1, err2)
			}
			if x, y := a.excluded(p, isDir), b.excluded(p, isDir); x != y {
				t.Fatalf("pattern %q matches %q: %v; as **/%s: %v", l, p, x, l, y)
			}
		}
	})
}
