package verify

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/hashing"
	"github.com/editkit/editkit/internal/manifest"
	"lukechampine.com/blake3"
)

// decideFiles is the drive every case starts from: distinct contents, in
// folders, and one empty file.
var decideFiles = map[string][]byte{
	"Avid MediaFiles/MXF/1/A001.mxf": bytes.Repeat([]byte("A001"), 20000),
	"Avid MediaFiles/MXF/1/A002.mxf": bytes.Repeat([]byte("A002"), 20000),
	"Audio/dialogue.wav":             bytes.Repeat([]byte("wav!"), 5000),
	"Project/cut.avb":                []byte("bin"),
	"Project/empty.txt":              nil,
}

// decideDrive writes decideFiles into a new drive and records each, as a
// copy would, in its manifest.
func decideDrive(t *testing.T) string {
	t.Helper()
	return recordedDrive(t, decideFiles)
}

// recordedDrive writes files into a new drive and records each, as a copy
// would, in its compacted manifest (no ASC MHL history); it returns the
// drive's root.
func recordedDrive(t *testing.T, files map[string][]byte) string {
	t.Helper()
	root := t.TempDir()
	d, err := manifest.Create(root, "T", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		sum, err := hashing.HashFile(context.Background(), p, hashing.FileOptions{BLAKE3: true, XXH128: true})
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		mt := fi.ModTime().UnixNano()
		if err := d.Append(manifest.Record{Path: name, Size: sum.Size, ModTime: mt, SrcMTime: mt, BLAKE3: sum.BLAKE3Hex(), XXH128: sum.XXH128Hex(), Origin: "copy", Written: 1, Verified: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Compact(); err != nil {
		t.Fatal(err)
	}
	return root
}

// keepMTime runs change on the file at p and puts its modification time
// back, as a bit flip on the medium would leave it.
func keepMTime(t *testing.T, p string, change func()) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	change()
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
}

// What verify calls each change to a drive against its manifest: the
// decision a user acts on (re-copy, look for the file, ignore).
func TestVerifyDecidesWhatChanged(t *testing.T) {
	const clip, wav = "Avid MediaFiles/MXF/1/A001.mxf", "Audio/dialogue.wav"
	type want struct {
		kind        Kind
		path, other string
	}
	cases := []struct {
		name     string
		change   func(t *testing.T, root string)
		problems []want
		verified int // files found intact: a file with a problem is never one
	}{
		{"untouched", func(*testing.T, string) {}, nil, 5},
		{"one byte flipped, same size and time", func(t *testing.T, root string) {
			p := filepath.Join(root, filepath.FromSlash(clip))
			keepMTime(t, p, func() {
				f, _ := os.OpenFile(p, os.O_WRONLY, 0)
				f.WriteAt([]byte{'X'}, 40000)
				f.Close()
			})
		}, []want{{Modified, clip, ""}}, 4},
		{"truncated", func(t *testing.T, root string) {
			p := filepath.Join(root, filepath.FromSlash(clip))
			keepMTime(t, p, func() { os.Truncate(p, 1000) })
		}, []want{{SizeChanged, clip, ""}}, 4},
		{"same bytes, touched", func(t *testing.T, root string) {
			later := time.Now().Add(time.Hour)
			os.Chtimes(filepath.Join(root, filepath.FromSlash(wav)), later, later)
		}, []want{{MTimeChanged, wav, ""}}, 4},
		{"deleted", func(t *testing.T, root string) {
			os.Remove(filepath.Join(root, filepath.FromSlash(wav)))
		}, []want{{Missing, wav, ""}}, 4},
		{"a file nobody recorded", func(t *testing.T, root string) {
			os.WriteFile(filepath.Join(root, "Audio", "new.wav"), []byte("new"), 0o644)
		}, []want{{Extra, "Audio/new.wav", ""}}, 5},
		{"renamed intact", func(t *testing.T, root string) {
			os.Rename(filepath.Join(root, filepath.FromSlash(wav)), filepath.Join(root, "Audio", "dialogue v2.wav"))
		}, []want{{Moved, wav, "Audio/dialogue v2.wav"}}, 4},
		{"renamed and changed", func(t *testing.T, root string) {
			p := filepath.Join(root, "Audio", "dialogue v2.wav")
			os.Rename(filepath.Join(root, filepath.FromSlash(wav)), p)
			os.WriteFile(p, []byte("other"), 0o644)
		}, []want{{Missing, wav, ""}, {Extra, "Audio/dialogue v2.wav", ""}}, 4},
		{"a whole folder gone", func(t *testing.T, root string) {
			os.RemoveAll(filepath.Join(root, "Avid MediaFiles"))
		}, []want{{Missing, clip, ""}, {Missing, "Avid MediaFiles/MXF/1/A002.mxf", ""}}, 3},
		{"an empty file filled", func(t *testing.T, root string) {
			p := filepath.Join(root, "Project", "empty.txt")
			keepMTime(t, p, func() { os.WriteFile(p, []byte("x"), 0o644) })
		}, []want{{SizeChanged, "Project/empty.txt", ""}}, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := decideDrive(t)
			c.change(t, root)
			res, err := Run(context.Background(), Options{Drive: root, ReadOnly: true, Jobs: 2})
			if err != nil {
				t.Fatal(err)
			}
			var got []want
			for _, p := range res.Problems {
				got = append(got, want{p.Kind, p.Path, p.Other})
			}
			byPath := func(a, b want) int { return strings.Compare(a.path+string(a.kind), b.path+string(b.kind)) }
			slices.SortFunc(got, byPath)
			slices.SortFunc(c.problems, byPath)
			if !slices.Equal(got, c.problems) {
				t.Errorf("problems %v, want %v", got, c.problems)
			}
			if res.Verified != c.verified {
				t.Errorf("verified %d files, want %d", res.Verified, c.verified)
			}
			if res.OK() != (len(c.problems) == 0) {
				t.Errorf("OK() = %v with problems %v", res.OK(), got)
			}
			for k, n := range res.Counts {
				if n != len(slices.DeleteFunc(slices.Clone(got), func(w want) bool { return w.kind != k })) {
					t.Errorf("Counts[%s] = %d, problems %v", k, n, got)
				}
			}
		})
	}
}

// Against a b3sum list (a drive checked as b3sum --check would): a file
// whose bytes differ is modified, one that is gone is missing, and a file
// the list does not name is not verify's business.
func TestVerifyAgainstB3SumList(t *testing.T) {
	const clip, wav = "Avid MediaFiles/MXF/1/A001.mxf", "Audio/dialogue.wav"
	cases := []struct {
		name     string
		change   func(root string)
		problems map[string]Kind
	}{
		{"untouched", func(string) {}, map[string]Kind{}},
		{"one byte flipped", func(root string) {
			f, _ := os.OpenFile(filepath.Join(root, filepath.FromSlash(clip)), os.O_WRONLY, 0)
			f.WriteAt([]byte{'X'}, 7)
			f.Close()
		}, map[string]Kind{clip: Modified}},
		{"deleted", func(root string) { os.Remove(filepath.Join(root, filepath.FromSlash(wav))) }, map[string]Kind{wav: Missing}},
		{"unlisted file", func(root string) { os.WriteFile(filepath.Join(root, "new.txt"), nil, 0o644) }, map[string]Kind{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := decideDrive(t)
			var list strings.Builder
			for name, data := range decideFiles {
				sum := hashing.SumBLAKE3(data)
				fmt.Fprintf(&list, "%x  %s\n", sum, name)
			}
			listPath := filepath.Join(t.TempDir(), "drive.b3sum")
			os.WriteFile(listPath, []byte(list.String()), 0o644)
			c.change(root)
			res, err := Run(context.Background(), Options{Drive: root, ReadOnly: true, Against: WithB3Sum, B3Sum: listPath})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]Kind{}
			for _, p := range res.Problems {
				got[p.Path] = p.Kind
			}
			if !maps.Equal(got, c.problems) {
				t.Errorf("problems %v, want %v", got, c.problems)
			}
			if res.Verified != len(decideFiles)-len(c.problems) {
				t.Errorf("verified %d of %d", res.Verified, len(decideFiles))
			}
		})
	}
}

// A sample is chosen by the seed alone, file by file, so a sample that
// found a problem can be repeated (the seed is reported): the file at p is
// in a 40% sample when the first 8 bytes of BLAKE3(seed, p), read
// little-endian, fall below 40% of 2^64.
func TestVerifySampleIsRepeatable(t *testing.T) {
	root := decideDrive(t)
	const seed = 12345
	var key [8]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	sample := 40.0
	limit := uint64(sample / 100 * (1 << 63) * 2)
	want := 0
	for name := range decideFiles {
		ref := blake3.Sum256(append(key[:], name...)) // the reference implementation
		if binary.LittleEndian.Uint64(ref[:8]) >= limit {
			want++
		}
	}
	for range 2 {
		res, err := Run(context.Background(), Options{Drive: root, ReadOnly: true, Sample: sample, Seed: seed})
		if err != nil || !res.OK() {
			t.Fatalf("%v %+v", err, res)
		}
		if res.NotSampled != want || res.Seed != seed || res.Verified != len(decideFiles)-want {
			t.Errorf("seed %d: %d not sampled, %d verified; want %d not sampled", res.Seed, res.NotSampled, res.Verified, want)
		}
	}
}
