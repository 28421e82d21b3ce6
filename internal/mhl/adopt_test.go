package mhl

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// Recheck gives what a new generation records for a file a history knows:
// each recorded format verified or failed, the added formats with the same
// verdict, and every mismatch named.
func TestRecheck(t *testing.T) {
	at := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	rec := func(failed bool, hs ...Hash) FileRecord {
		r := FileRecord{Path: "Clips/A.mov", Failed: failed}
		for _, h := range hs {
			r.Hashes = append(r.Hashes, RecordedHash{Hash: h})
		}
		return r
	}
	md5 := Hash{Format: MD5, Digest: "0a4879f29df4248542476da977676e39"}
	xxh := Hash{Format: XXH128, Digest: "c62a77b4a92056af3751327b6e3c5716"}
	for _, tc := range []struct {
		name       string
		rec        FileRecord
		got        map[Format]string
		want       []string
		mismatches int
	}{
		{"md5 matches, xxh128 added", rec(false, md5), map[Format]string{MD5: md5.Digest, XXH128: "ff"},
			[]string{"md5=verified", "xxh128=verified"}, 0},
		{"md5 in upper case matches", rec(false, md5), map[Format]string{MD5: "0A4879F29DF4248542476DA977676E39", XXH128: "ff"},
			[]string{"md5=verified", "xxh128=verified"}, 0},
		{"md5 differs: both failed", rec(false, md5), map[Format]string{MD5: "00", XXH128: "ff"},
			[]string{"md5=failed", "xxh128=failed"}, 1},
		{"xxh128 only", rec(false, xxh), map[Format]string{XXH128: xxh.Digest},
			[]string{"xxh128=verified"}, 0},
		{"one of two formats differs", rec(false, md5, xxh), map[Format]string{MD5: md5.Digest, XXH128: "ff"},
			[]string{"md5=failed", "xxh128=failed"}, 1},
		{"newest record failed", rec(true, xxh), map[Format]string{XXH128: xxh.Digest},
			[]string{"xxh128=failed"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hashes, mism := tc.rec.Recheck(tc.got, at, XXH128)
			var got []string
			for _, h := range hashes {
				got = append(got, string(h.Format)+"="+string(h.Action))
				if !h.HashDate.Equal(at) || h.Digest != tc.got[h.Format] {
					t.Errorf("%s: date %v digest %s", h.Format, h.HashDate, h.Digest)
				}
			}
			if !slices.Equal(got, tc.want) || len(mism) != tc.mismatches {
				t.Errorf("got %v (mismatches %q), want %v (%d)", got, mism, tc.want, tc.mismatches)
			}
		})
	}
}

// CompareChains tells a continued copy of a history from one that went
// its own way and from an unrelated one.
func TestCompareChains(t *testing.T) {
	tree := func() string {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "a.mov"), []byte("a"), 0o644)
		return dir
	}
	generation := func(dir, comment string) {
		t.Helper()
		g := testGeneration()
		g.Comment = comment
		if _, err := WriteGeneration(dir, g, walkTree(dir, []Format{XXH128}, nil)); err != nil {
			t.Fatal(err)
		}
	}
	src := tree()
	generation(src, "card offload")
	// A copy of the history, continued by a generation of its own.
	copied := t.TempDir()
	copyTree(t, src, copied, nil)
	generation(copied, "copy")
	// The source, added to since it was copied.
	later := t.TempDir()
	copyTree(t, src, later, nil)
	generation(later, "verified again at the source")
	other := tree()
	generation(other, "another tool")
	for _, tc := range []struct {
		name     string
		src, dst string
		want     Lineage
	}{
		{"itself", src, src, Continued},
		{"a continued copy", src, copied, Continued},
		{"the source has generations the copy lacks", later, copied, Diverged},
		{"an unrelated history", src, other, Unrelated},
	} {
		got, err := CompareChains(tc.src, tc.dst)
		if err != nil || got != tc.want {
			t.Errorf("%s: CompareChains = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestRecordable(t *testing.T) {
	for p, ok := range map[string]bool{"Clips/A.mov": true, "Tab\tName.wav": true, "Icon\r": true, "bell\x07.wav": false, "lat\xe9.wav": false} {
		if got := Recordable(p) == nil; got != ok {
			t.Errorf("Recordable(%q) = %v, want %v", p, got, ok)
		}
	}
}
