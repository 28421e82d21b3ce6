package verify

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/mhl"
	"github.com/editkit/editkit/internal/run"
)

// withHistory gives a test drive (verifyTestDrive) an ASC MHL history
// recording its files as originals, as a copy does.
func withHistory(t *testing.T, root string) {
	t.Helper()
	var entries []mhl.Entry
	for _, name := range []string{"a.mxf", "b.mxf", "c.wav"} {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		h, _ := mhl.NewHash(mhl.XXH128)
		h.Write(b)
		entries = append(entries, mhl.Entry{Path: name, Size: int64(len(b)), Listed: true,
			Hashes: []mhl.Hash{{Format: mhl.XXH128, Digest: h.Digest(), Action: mhl.Original}}})
	}
	seq := func(yield func(mhl.Entry, error) bool) {
		for _, e := range entries {
			if !yield(e, nil) {
				return
			}
		}
	}
	g := mhl.Generation{Process: mhl.ProcessTransfer, Tool: "editkit", Host: "test", Ignore: []string{".editkit"},
		Created: time.Now().Add(-time.Hour)}
	if _, err := mhl.WriteGeneration(root, g, seq); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyAppendsResults: what each verify run appends to the drive's ASC
// MHL history, in both modes — its results, problems included (spec
// 5.6.4), a rename with its previous path (spec 5.3.3), nothing onto a
// tampered chain.
func TestVerifyAppendsResults(t *testing.T) {
	type verdict struct {
		action mhl.Action // of the newest record; "" for a file the new generation does not list
		failed bool       // the newest record is a failure
	}
	cases := []struct {
		name     string
		mutate   func(t *testing.T, root string)
		appended bool
		want     map[string]verdict
		gone     []string
	}{
		{"clean", func(*testing.T, string) {}, true,
			map[string]verdict{"a.mxf": {mhl.Verified, false}, "b.mxf": {mhl.Verified, false}, "c.wav": {mhl.Verified, false}}, nil},
		{"a file changed", func(t *testing.T, root string) { flip(t, filepath.Join(root, "b.mxf")) }, true,
			map[string]verdict{"a.mxf": {mhl.Verified, false}, "b.mxf": {mhl.Original, true}, "c.wav": {mhl.Verified, false}}, nil},
		{"a file renamed", func(t *testing.T, root string) {
			os.Rename(filepath.Join(root, "c.wav"), filepath.Join(root, "d.wav"))
		}, true, map[string]verdict{"a.mxf": {mhl.Verified, false}, "d.wav": {mhl.Verified, false}}, []string{"c.wav"}},
		{"a file removed", func(t *testing.T, root string) { os.Remove(filepath.Join(root, "c.wav")) }, true,
			map[string]verdict{"a.mxf": {mhl.Verified, false}, "c.wav": {"", false}}, nil},
		{"chain tampered", func(t *testing.T, root string) {
			gens, _ := filepath.Glob(filepath.Join(root, "ascmhl", "0001_*.mhl"))
			b, _ := os.ReadFile(gens[0])
			os.WriteFile(gens[0], bytes.Replace(b, []byte("<hostname>test"), []byte("<hostname>else"), 1), 0o644)
		}, false, nil, nil},
	}
	for _, c := range cases {
		for _, against := range []Against{WithManifest, WithMHL} {
			t.Run(c.name+"/"+string(against), func(t *testing.T) {
				root := verifyTestDrive(t)
				withHistory(t, root)
				c.mutate(t, root)
				res, err := Run(context.Background(), Options{Drive: root, Against: against, Env: run.Env{Host: "test"}, Jobs: 2})
				if err != nil {
					t.Fatal(err)
				}
				h, err := mhl.Open(root)
				if err != nil {
					t.Fatal(err)
				}
				if gens := len(h.Generations()); (gens == 2) != c.appended || (res.MHL != "") != c.appended {
					t.Fatalf("%d generations, result's MHL %q; appended want %v (problems %v)", gens, res.MHL, c.appended, res.Problems)
				}
				files := map[string]mhl.FileRecord{}
				for f := range h.Files() {
					files[f.Path] = f
				}
				for p, w := range c.want {
					f, ok := files[p]
					if !ok {
						t.Errorf("%s: not in the history", p)
						continue
					}
					newest := f.Hashes[0]
					listed := newest.Generation.Seq == 2 || f.FailedLast
					switch {
					case w.action == "" && listed:
						t.Errorf("%s: listed in the new generation", p)
					case w.action != "" && (newest.Action != w.action || f.FailedLast != w.failed || !listed):
						t.Errorf("%s: newest %s (generation %d), failed %v; want %s, failed %v", p, newest.Action, newest.Generation.Seq, f.FailedLast, w.action, w.failed)
					}
				}
				for _, p := range c.gone {
					if _, ok := files[p]; ok {
						t.Errorf("%s: still recorded after the rename", p)
					}
				}
			})
		}
	}
}

func flip(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
