package offload

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// What a copy run does with a file that an earlier run put on the
// destination, for each way the source or the drive changed since: skip
// it (already there), read it back first, or copy it again.
func TestCopyPlansEachFile(t *testing.T) {
	const clip = "Reel 1/A001.mxf"
	data := bytes.Repeat([]byte("A001 frame "), 30000)
	later := time.Now().Add(time.Hour)
	cases := []struct {
		name        string
		first       VerifyMode // the earlier run's --verify
		change      func(t *testing.T, src, dst string)
		copied      int
		already     int
		verified    int  // read back in the second run
		sameAsFirst bool // the drive's file still holds what it held (not re-copied)
	}{
		{"nothing changed", VerifyDest, func(*testing.T, string, string) {}, 0, 1, 0, true},
		{"source re-exported", VerifyDest, func(t *testing.T, src, _ string) {
			os.WriteFile(filepath.Join(src, clip), append(data, "v2"...), 0o644)
		}, 1, 0, 1, false},
		{"source touched, same bytes", VerifyDest, func(t *testing.T, src, _ string) {
			os.Chtimes(filepath.Join(src, clip), later, later)
		}, 1, 0, 1, true},
		{"deleted from the drive", VerifyDest, func(t *testing.T, _, dst string) {
			os.Remove(filepath.Join(dst, clip))
		}, 1, 0, 1, false},
		{"touched on the drive", VerifyDest, func(t *testing.T, _, dst string) {
			os.Chtimes(filepath.Join(dst, clip), later, later)
		}, 1, 0, 1, true},
		{"truncated on the drive", VerifyDest, func(t *testing.T, _, dst string) {
			p := filepath.Join(dst, clip)
			fi, _ := os.Stat(p)
			os.Truncate(p, 10)
			os.Chtimes(p, fi.ModTime(), fi.ModTime())
		}, 1, 0, 1, false},
		{"never read back: read back now", VerifyNone, func(*testing.T, string, string) {}, 0, 0, 1, true},
		{"never read back and damaged: copied again", VerifyNone, func(t *testing.T, _, dst string) {
			p := filepath.Join(dst, clip)
			fi, _ := os.Stat(p)
			f, _ := os.OpenFile(p, os.O_WRONLY, 0)
			f.WriteAt([]byte("XXXX"), 1000)
			f.Close()
			os.Chtimes(p, fi.ModTime(), fi.ModTime())
		}, 1, 0, 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, dst := t.TempDir(), t.TempDir()
			os.MkdirAll(filepath.Join(src, "Reel 1"), 0o755)
			if err := os.WriteFile(filepath.Join(src, clip), data, 0o644); err != nil {
				t.Fatal(err)
			}
			if res, err := Run(context.Background(), Options{Source: src, Dests: []string{dst}, Verify: c.first, Jobs: 1}); err != nil || !res.OK() {
				t.Fatalf("first copy: %v %+v", err, res)
			}
			before, _ := os.ReadFile(filepath.Join(dst, clip))
			c.change(t, src, dst)
			after, _ := os.ReadFile(filepath.Join(dst, clip))
			res, err := Run(context.Background(), Options{Source: src, Dests: []string{dst}, Jobs: 1})
			if err != nil || !res.OK() {
				t.Fatalf("second copy: %v %+v", err, res)
			}
			d := res.Destinations[0]
			if d.Copied != c.copied || d.AlreadyThere != c.already || d.Verified != c.verified {
				t.Errorf("copied %d, already there %d, verified %d; want %d, %d, %d", d.Copied, d.AlreadyThere, d.Verified, c.copied, c.already, c.verified)
			}
			want, _ := os.ReadFile(filepath.Join(src, clip))
			got, _ := os.ReadFile(filepath.Join(dst, clip))
			if !bytes.Equal(got, want) {
				t.Error("the drive's file differs from the source after the second run")
			}
			if c.sameAsFirst && !bytes.Equal(after, before) {
				t.Error("the case changed the drive's bytes; it should not")
			}
		})
	}
}

// Junk the operating systems leave and links are never copied, and the
// result names each with its reason; everything else is copied, hidden
// files and backups included.
func TestCopySkipsJunkAndLinks(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	for name, data := range map[string]string{
		"A001.mxf":      "media",
		".DS_Store":     "finder",
		"._A001.mxf":    "resource fork",
		"Thumbs.db":     "windows",
		"Reel 1/b.mxf":  "media",
		"Reel 1/.keep":  "",
		"Reel 1/c.mxf~": "",
	} {
		p := filepath.Join(src, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(data), 0o644)
	}
	haveLink := os.Symlink("A001.mxf", filepath.Join(src, "link.mxf")) == nil // not everywhere on Windows
	res, err := Run(context.Background(), Options{Source: src, Dests: []string{dst}})
	if err != nil || !res.OK() {
		t.Fatalf("%v %+v", err, res)
	}
	skipped := map[string]bool{}
	for _, s := range res.Skipped {
		if s.Reason == "" || s.Count != len(s.Paths) {
			t.Errorf("skip entry %+v", s)
		}
		for _, p := range s.Paths {
			skipped[p] = true
		}
	}
	for _, c := range []struct {
		path   string
		copied bool
	}{
		{"A001.mxf", true}, {"Reel 1/b.mxf", true}, {"Reel 1/.keep", true}, {"Reel 1/c.mxf~", true},
		{".DS_Store", false}, {"._A001.mxf", false}, {"Thumbs.db", false}, {"link.mxf", false},
	} {
		if c.path == "link.mxf" && !haveLink {
			continue
		}
		_, err := os.Lstat(filepath.Join(dst, filepath.FromSlash(c.path)))
		if there := err == nil; there != c.copied {
			t.Errorf("%s: on the drive %v, want %v", c.path, there, c.copied)
		}
		listed := skipped[c.path] || skipped[c.path+" → A001.mxf"]
		if listed == c.copied {
			t.Errorf("%s: listed as skipped %v, want %v (%+v)", c.path, listed, !c.copied, res.Skipped)
		}
	}
	if got := res.Destinations[0].Copied; got != 4 {
		t.Errorf("%d copied, want 4", got)
	}
}
