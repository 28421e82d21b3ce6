package manifest

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/editkit/editkit/internal/b3sum"
	"github.com/editkit/editkit/internal/treepath"
)

// The fuzz targets here cover everything this package reads from a drive,
// which anyone may have written: checked lines, the journal, manifest.ekm
// and drive.json. Seeds live in testdata/fuzz/<target>/; the shared
// hostile paths come from the repository's testdata/hostile-paths.txt.

// seal turns each '\n'-separated piece of data into a checked line with a
// correct CRC, so the fuzzer explores what a CRC-valid line can say rather
// than spending its time on checksums it cannot guess.
func seal(data []byte) []byte {
	var out []byte
	for _, body := range bytes.Split(data, []byte("\n")) {
		out = append(out, body...)
		out = fmt.Appendf(out, "\t%08x\n", crc32.Checksum(body, castagnoli))
	}
	return out
}

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
		p, err := unquote(l)
		if err != nil {
			f.Fatalf("testdata/hostile-paths.txt: %v", err)
		}
		out = append(out, p)
	}
	return out
}

// unquote reads a Go-quoted line of testdata/hostile-paths.txt.
func unquote(l string) (string, error) {
	var s string
	_, err := fmt.Sscanf(l, "%q", &s)
	return s, err
}

// newFuzzDrive makes a drive folder with a valid drive.json, once per
// fuzzing process: each input then only rewrites the files it is about
// (setState), which keeps the fuzzer fast.
func newFuzzDrive(f *testing.F) string {
	root := f.TempDir()
	d, err := Create(root, "fuzz", t0)
	if err != nil {
		f.Fatal(err)
	}
	if err := d.Close(); err != nil {
		f.Fatal(err)
	}
	return root
}

// setState gives the drive the manifest and journal bytes (nil: no such file).
func setState(t *testing.T, root string, base, journal []byte) {
	t.Helper()
	for name, data := range map[string][]byte{baseFile: base, journalFile: journal} {
		p := statePath(root, name)
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if data != nil {
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// readAll returns what Records yields, stopping at the first error, after
// checking what every reader relies on: clean paths, tree order, one
// record per path, no deletion markers.
func readAll(t *testing.T, root string) ([]Record, error) {
	t.Helper()
	d, err := Open(root)
	if err != nil {
		t.Fatalf("open a drive with a valid drive.json: %v", err)
	}
	var out []Record
	for r, err := range d.Records() {
		if err != nil {
			return out, err
		}
		if err := treepath.Validate(r.Path); err != nil {
			t.Fatalf("Records yielded an unsafe path: %v", err)
		}
		if r.Deleted {
			t.Fatalf("Records yielded the deletion marker of %q", r.Path)
		}
		if n := len(out); n > 0 && treepath.Compare(out[n-1].Path, r.Path) >= 0 {
			t.Fatalf("Records yielded %q after %q", r.Path, out[n-1].Path)
		}
		out = append(out, r)
	}
	return out, nil
}

// FuzzCheckedLine: a line is accepted only when its CRC matches its body,
// and what appendLine writes is accepted with the same body.
func FuzzCheckedLine(f *testing.F) {
	f.Add([]byte(`{"path":"a/b.mxf","size":3,"seq":1}`), false)
	f.Add([]byte(`{"path":"a/b.mxf","size":3,"seq":1}`+"\t00000000"), false)
	f.Add([]byte("\t"), false)
	f.Add([]byte(""), true)
	f.Fuzz(func(t *testing.T, raw []byte, sealed bool) {
		line := append(bytes.Clone(raw), '\n')
		if sealed {
			line = seal(raw)
		}
		body, ok := checkLine(line)
		if ok {
			tab := bytes.LastIndexByte(line, '\t')
			if !bytes.Equal(body, line[:tab]) {
				t.Fatalf("accepted body %q is not the line's %q", body, line[:tab])
			}
			want := fmt.Sprintf("%08x", crc32.Checksum(body, castagnoli))
			if got := strings.ToLower(string(line[tab+1 : len(line)-1])); got != want {
				t.Fatalf("accepted %q with checksum %s, the body's is %s", line, got, want)
			}
		}
		if sealed && !ok && bytes.Count(line, []byte("\n")) == 1 {
			t.Fatalf("a sealed line %q was refused", line)
		}
		// Whatever the body, a line appendLine writes reads back whole.
		enc, err := appendLine(nil, string(raw))
		if err != nil {
			t.Fatal(err)
		}
		got, ok := checkLine(enc)
		if !ok || bytes.Count(enc, []byte("\n")) != 1 || !bytes.Equal(got, enc[:len(enc)-10]) {
			t.Fatalf("appendLine wrote %q, which reads back as %q (%v)", enc, got, ok)
		}
	})
}

// FuzzJournal reads arbitrary bytes as a drive's journal (sealed: every
// line carries a correct CRC). Whatever is there, reading never panics and
// yields only clean paths; a drive that could be read can be written to,
// and what is appended is read back — a damaged line must not hide it.
func FuzzJournal(f *testing.F) {
	for _, s := range realJournals(f) {
		f.Add(s, false)
		f.Add(s[:len(s)*2/3], false) // torn
	}
	f.Add([]byte(`{"path":"a","seq":1}`+"\n"+`{"path":"b","seq":2,"deleted":true}`), true)
	f.Add([]byte(`{"path":"a","seq":1}`+"\n[1]\n"+`{"path":"b","seq":2}`), true)
	f.Add([]byte(`{"path":"a","seq":1}`+"\nnull\n"+`{"path":"b","seq":2}`), true)
	for _, p := range hostilePaths(f) {
		b, _ := appendLine(nil, Record{Path: p, Seq: 1})
		f.Add(b, false)
	}
	root := newFuzzDrive(f)
	f.Fuzz(func(t *testing.T, data []byte, sealed bool) {
		if sealed {
			data = seal(data)
		}
		setState(t, root, nil, data)
		before, err := readAll(t, root)
		if err != nil {
			return // refused: fine, as long as nothing panicked
		}
		d, err := OpenForWrite(root)
		if err != nil {
			t.Fatalf("the journal reads, but the drive cannot be opened for writing: %v", err)
		}
		added := Record{Path: "zz-fuzz/added.mxf", Size: 42, BLAKE3: strings.Repeat("ab", 32)}
		if err := d.Append(added); err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		after, err := readAll(t, root)
		if err != nil {
			t.Fatalf("the journal read before appending, not after: %v", err)
		}
		got := map[string]Record{}
		for _, r := range after {
			got[r.Path] = r
		}
		if r, ok := got[added.Path]; !ok || r.Size != added.Size || r.BLAKE3 != added.BLAKE3 {
			t.Fatalf("appended %+v, read back %+v (%v)", added, r, ok)
		}
		for _, r := range before {
			if r.Path != added.Path && got[r.Path] != r {
				t.Fatalf("record %+v changed to %+v by an append", r, got[r.Path])
			}
		}
	})
}

// FuzzManifest reads arbitrary bytes as manifest.ekm (sealed: every line
// carries a correct CRC). It is accepted only whole: a header, records in
// strict tree order with clean paths, a trailer with their count.
func FuzzManifest(f *testing.F) {
	for _, s := range realManifests(f) {
		f.Add(s, false)
		f.Add(s[:len(s)-1], false)
		f.Add(s[:len(s)/2], false)
	}
	f.Add([]byte(`{"format":"editkit-manifest/1","drive":"x","max_seq":2}`+"\n"+
		`{"path":"b","seq":1}`+"\n"+`{"path":"a","seq":2}`+"\n"+`{"end":true,"records":2}`), true)
	f.Add([]byte(`{"format":"editkit-manifest/1","drive":"x","max_seq":2}`+"\n"+
		`{"path":"a","seq":1}`+"\n"+`{"end":true,"records":2}`), true)
	f.Add([]byte(`{"format":"editkit-manifest/1","drive":"x","max_seq":2}`+"\n"+
		`{"path":"../a","seq":1}`+"\n"+`{"end":true,"records":1}`), true)
	root := newFuzzDrive(f)
	f.Fuzz(func(t *testing.T, data []byte, sealed bool) {
		if sealed {
			data = seal(data)
		}
		setState(t, root, data, nil)
		recs, err := readAll(t, root)
		if err != nil {
			if !strings.Contains(err.Error(), statePath(root, baseFile)) {
				t.Fatalf("an error about the manifest does not name it: %v", err)
			}
			return
		}
		// Accepted: the file must be a header, the records, a trailer.
		lines := bytes.SplitAfter(data, []byte("\n"))
		if n := len(lines); n > 0 && len(lines[n-1]) == 0 {
			lines = lines[:n-1]
		}
		if len(data) == 0 {
			return // no manifest yet
		}
		if len(lines) < len(recs)+2 {
			t.Fatalf("%d records read from %d lines", len(recs), len(lines))
		}
		for i, r := range recs {
			body, ok := checkLine(lines[i+1])
			if !ok || !bytes.Contains(body, []byte(`"seq"`)) || r.Path == "" {
				t.Fatalf("record %+v read from line %q", r, lines[i+1])
			}
		}
	})
}

// FuzzManifestRoundTrip: records appended (paths separated by NUL, which no
// path may hold) come back, after compaction and reopening, exactly as
// written, newest per path; unsafe paths are refused by Append; the drive's
// b3sum list names the same files with the same digests.
func FuzzManifestRoundTrip(f *testing.F) {
	f.Add("a/b.mxf\x00a b/c.wav\x00a\x00a/b.mxf", int64(7), int64(1764000000123456789), []byte("seed"))
	f.Add("Avid MediaFiles/MXF/1/A001C003.mxf\x00Pro Tools/Show.ptx\x00Music/cue\\01.wav\x00two\nlines.txt\x00cr\r", int64(0), int64(-1), []byte{0xff})
	for _, p := range hostilePaths(f) {
		f.Add(p+"\x00ok.mxf", int64(1), int64(1), []byte{1})
	}
	f.Fuzz(func(t *testing.T, paths string, size, mtime int64, salt []byte) {
		root := t.TempDir()
		d, err := Create(root, "fuzz", t0)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		want := map[string]Record{}
		for i, p := range strings.Split(paths, "\x00") {
			sum := make([]byte, 32)
			copy(sum, fmt.Appendf(nil, "%d%s", i, salt))
			r := Record{Path: p, Size: size + int64(i), ModTime: mtime, SrcMTime: mtime - 1,
				BLAKE3: hex.EncodeToString(sum), XXH128: hex.EncodeToString(sum[:16]), Origin: "copy", Written: mtime / 1e9}
			err := d.Append(r)
			if valid := treepath.Validate(p) == nil; valid != (err == nil) {
				t.Fatalf("Append(%q): %v (path valid: %v)", p, err, valid)
			}
			if err == nil {
				r.Seq = d.LastSeq()
				want[p] = r
			}
		}
		if err := d.Compact(); err != nil {
			t.Fatal(err)
		}
		if err := d.WriteChecksums(); err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := readAll(t, root)
		if err != nil {
			t.Fatal(err)
		}
		wantPaths := slices.SortedFunc(maps.Keys(want), treepath.Compare)
		if len(got) != len(wantPaths) {
			t.Fatalf("read %d records, wrote %d", len(got), len(wantPaths))
		}
		for i, r := range got {
			if w := want[wantPaths[i]]; r != w {
				t.Fatalf("record %d: wrote %+v, read %+v", i, w, r)
			}
		}
		// The b3sum list is the same manifest for tools without editkit.
		list, err := os.Open(filepath.Join(root, filepath.FromSlash(ChecksumsFile)))
		if err != nil {
			t.Fatal(err)
		}
		defer list.Close()
		i := 0
		for l, err := range b3sum.Parse(list) {
			if err != nil {
				t.Fatalf("our own b3sum list does not parse: %v", err)
			}
			if i >= len(got) || l.Path != got[i].Path || hex.EncodeToString(l.Digest[:]) != got[i].BLAKE3 {
				t.Fatalf("b3sum list line %d: %q %x, manifest has %v", i+1, l.Path, l.Digest, got[min(i, len(got)-1)])
			}
			i++
		}
		if i != len(got) {
			t.Fatalf("b3sum list has %d lines, the manifest %d records", i, len(got))
		}
	})
}

// FuzzDriveInfo reads arbitrary bytes as drive.json: an error or an
// identity in the one format this editkit writes, never a panic.
func FuzzDriveInfo(f *testing.F) {
	f.Add([]byte(`{"format":"editkit-drive/1","id":"ek-0123456789","label":"Anna","created":"2026-11-24T12:00:00Z","mhl_through":3,"running":{"command":"copy","started":"2026-11-24T12:00:00Z","pid":7}}`))
	f.Add([]byte(`{"format":"editkit-drive/2"}`))
	f.Add([]byte(`{"format":"editkit-drive/1","created":"not a time"}`))
	f.Add([]byte(`[]`))
	root := f.TempDir()
	if err := os.MkdirAll(statePath(root, ""), 0o755); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(statePath(root, infoFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := Open(root)
		if err != nil {
			if !strings.Contains(err.Error(), statePath(root, infoFile)) {
				t.Fatalf("error does not name drive.json: %v", err)
			}
			return
		}
		if d.Info.Format != infoFormat {
			t.Fatalf("accepted format %q", d.Info.Format)
		}
	})
}

// realJournals and realManifests are made by the code itself, so the
// fuzzer starts from what drives really hold.
func realJournals(f *testing.F) [][]byte {
	root := f.TempDir()
	d, err := Create(root, "seed", t0)
	if err != nil {
		f.Fatal(err)
	}
	for i, p := range []string{"Avid MediaFiles/MXF/1/A001C003_251124.mxf", "Pro Tools/Show.ptx", "a b/x", "a/z"} {
		if err := d.Append(Record{Path: p, Size: int64(i * 1000), ModTime: t0.UnixNano(), BLAKE3: strings.Repeat("0f", 32), Origin: "copy"}); err != nil {
			f.Fatal(err)
		}
	}
	d.Append(Record{Path: "a/z", Deleted: true})
	if err := d.Close(); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(statePath(root, journalFile))
	if err != nil {
		f.Fatal(err)
	}
	return [][]byte{b}
}

func realManifests(f *testing.F) [][]byte {
	root := f.TempDir()
	d, err := Create(root, "seed", t0)
	if err != nil {
		f.Fatal(err)
	}
	for i, p := range []string{"Avid MediaFiles/MXF/1/A001C003_251124.mxf", "Avid MediaFiles/MXF/1", "Pro Tools/Show.ptx", "a b/x", "a/z"} {
		if err := d.Append(Record{Path: p, Size: int64(i * 1000), ModTime: t0.UnixNano(), BLAKE3: strings.Repeat("0f", 32), Origin: "copy", Dir: i == 1}); err != nil {
			f.Fatal(err)
		}
	}
	if err := d.Compact(); err != nil {
		f.Fatal(err)
	}
	if err := d.Close(); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(statePath(root, baseFile))
	if err != nil {
		f.Fatal(err)
	}
	return [][]byte{b}
}
