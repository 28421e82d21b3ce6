package mhl

import (
	"slices"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/walk"
)

// TestRecordedVerdicts writes histories generation by generation and checks
// what Files says a file should be: failed records never replace a good hash
// (spec 5.6.4, note 2), renames move a file's record (spec 5.3.3).
func TestRecordedVerdicts(t *testing.T) {
	good, bad := fileEntry("a.mov", "picture"), fileEntry("a.mov", "damaged")
	failed := func(e Entry) Entry {
		e.Hashes = slices.Clone(e.Hashes)
		e.Hashes[0].Action = Failed
		return e
	}
	verified := func(e Entry) Entry {
		e.Hashes = slices.Clone(e.Hashes)
		e.Hashes[0].Action = Verified
		return e
	}
	renamed := func(e Entry, to string) Entry {
		e.PreviousPath, e.Path = e.Path, to
		return e
	}
	type want struct {
		path       string
		digest     string
		failed     bool // only failed records
		failedLast bool
	}
	cases := []struct {
		name   string
		gens   [][]Entry
		want   []want
		absent []string
	}{
		{"original", [][]Entry{{good}}, []want{{"a.mov", good.Hashes[0].Digest, false, false}}, nil},
		{"failed after original", [][]Entry{{good}, {failed(bad)}},
			[]want{{"a.mov", good.Hashes[0].Digest, false, true}}, nil},
		{"failed then verified", [][]Entry{{good}, {failed(bad)}, {verified(good)}},
			[]want{{"a.mov", good.Hashes[0].Digest, false, false}}, nil},
		{"only failed", [][]Entry{{failed(bad)}},
			[]want{{"a.mov", bad.Hashes[0].Digest, true, true}}, nil},
		{"renamed", [][]Entry{{good}, {renamed(good, "b.mov")}},
			[]want{{"b.mov", good.Hashes[0].Digest, false, false}}, []string{"a.mov"}},
		{"renamed, then the old name used again", [][]Entry{{good}, {renamed(good, "b.mov")}, {bad}},
			[]want{{"a.mov", bad.Hashes[0].Digest, false, false}, {"b.mov", good.Hashes[0].Digest, false, false}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			g := testGeneration()
			for _, es := range c.gens {
				if _, err := WriteGeneration(root, g, entriesOf(es...)); err != nil {
					t.Fatal(err)
				}
				g.Created = g.Created.Add(time.Minute)
			}
			validateHistories(t, root)
			h, err := Open(root)
			if err != nil {
				t.Fatal(err)
			}
			if p := h.CheckChain(); len(p) != 0 {
				t.Fatalf("CheckChain: %v", p)
			}
			files := filesOf(t, h)
			for _, w := range c.want {
				f, ok := files[w.path]
				if !ok {
					t.Errorf("%s: not recorded", w.path)
					continue
				}
				if f.Hashes[0].Digest != w.digest || f.Failed != w.failed || f.FailedLast != w.failedLast {
					t.Errorf("%s: %s failed=%v failedLast=%v, want %s %v %v", w.path, f.Hashes[0].Digest, f.Failed, f.FailedLast, w.digest, w.failed, w.failedLast)
				}
				if !h.Records(w.path, false) {
					t.Errorf("Records(%s) = false", w.path)
				}
			}
			for _, p := range c.absent {
				if _, ok := files[p]; ok || h.Records(p, false) {
					t.Errorf("%s: still recorded after the rename", p)
				}
			}
		})
	}
}

// TestUnhiding: a pattern is recorded only when it hides nothing the
// generation describes.
func TestUnhiding(t *testing.T) {
	pats := []string{".editkit", "Thumbs.db", "._*", "$RECYCLE.BIN", "msmMMOB.mdb", "[bad"}
	cases := []struct {
		name  string
		paths map[string]bool
		want  []string
	}{
		{"nothing recorded", nil, []string{".editkit", "Thumbs.db", "._*", "$RECYCLE.BIN", "msmMMOB.mdb"}},
		{"a recorded Thumbs.db and AppleDouble file", map[string]bool{"Clips/Thumbs.db": false, "Clips/._a.mov": false, "Clips": true},
			[]string{".editkit", "$RECYCLE.BIN", "msmMMOB.mdb"}},
		{"a file in a recycle bin", map[string]bool{"$RECYCLE.BIN/S-1/x": false, "$RECYCLE.BIN/S-1": true, "$RECYCLE.BIN": true}, []string{".editkit", "Thumbs.db", "._*", "msmMMOB.mdb"}},
		{"Avid databases copied", map[string]bool{"Avid MediaFiles/MXF/1/msmMMOB.mdb": false}, []string{".editkit", "Thumbs.db", "._*", "$RECYCLE.BIN"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seq := func(yield func(string, bool) bool) {
				for p, d := range c.paths {
					if !yield(p, d) {
						return
					}
				}
			}
			if got := Unhiding(pats, seq); !slices.Equal(got, c.want) {
				t.Errorf("Unhiding: %q, want %q", got, c.want)
			}
		})
	}
}

// TestSkipPatternsMatchWalk: the ignore patterns editkit records for what a
// drive walk skips ignore exactly those names, in this package's (the
// reference tool's) dialect.
func TestSkipPatternsMatchWalk(t *testing.T) {
	for _, avid := range []bool{false, true} {
		rules := walk.Rules{IncludeAvidDB: avid}
		m, err := compilePatterns(rules.SkipPatterns())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			path  string
			isDir bool
		}{
			{".editkit", true}, {"$RECYCLE.BIN", true},
			{"System Volume Information", true}, {".DocumentRevisions-V100", true}, {".Spotlight-V100", true},
			{".Trashes", true}, {".fseventsd", true}, {".TemporaryItems", true}, {"Clips/Thumbs.db", false},
			{"Clips/._A001.mxf", false}, {".DS_Store", false}, {".editkit-tmp-0123", false},
			{"Avid MediaFiles/MXF/1/msmMMOB.mdb", false}, {"Avid MediaFiles/MXF/1/msmFMID.pmr", false},
			{"Clips/A001.mxf", false}, {"Clips", true}, {"Avid MediaFiles/MXF/1/A001.mxf", false},
		} {
			skipped := rules.Skip(c.path, c.isDir) != ""
			ignored := m.match(c.path, c.isDir)
			if skipped != ignored {
				t.Errorf("avid=%v %s: walk skips %v, ignore patterns ignore %v", avid, c.path, skipped, ignored)
			}
		}
	}
}
