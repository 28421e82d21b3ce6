package walk

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func mk(t *testing.T, root string, files ...string) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f))
		if strings.HasSuffix(f, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWalkSkipsJunkAndReportsSymlinks(t *testing.T) {
	root := t.TempDir()
	mk(t, root,
		"Avid MediaFiles/MXF/1/A001.mxf", "Avid MediaFiles/MXF/1/._A001.mxf",
		"Avid MediaFiles/MXF/1/msmMMOB.mdb", "Avid MediaFiles/MXF/1/msmFMID.pmr",
		".DS_Store", "Thumbs.db", ".Spotlight-V100/Store-V2/x", ".Trashes/501/y",
		".fseventsd/z", ".TemporaryItems/t", "Empty/", "Renders/out.mov", "Renders/out.mov.bak",
		".editkit/drive.json", "Bins/.editkit-tmp-0123", "Bins/Reel 1.avb")
	os.Symlink("Bins", filepath.Join(root, "link"))
	var files, dirs []string
	skipped := map[string]string{}
	v := Visitor{
		Dir:     func(e Entry, _ []string) error { dirs = append(dirs, e.Path); return nil },
		File:    func(e Entry) error { files = append(files, e.Path); return nil },
		Skipped: func(s Skipped) { skipped[s.Path] = s.Reason },
	}
	rules := Rules{Excludes: []string{"*.bak"}}
	if err := Walk(context.Background(), root, rules, v); err != nil {
		t.Fatal(err)
	}
	wantFiles := []string{"Avid MediaFiles/MXF/1/A001.mxf", "Bins/Reel 1.avb", "Renders/out.mov"}
	if !slices.Equal(files, wantFiles) {
		t.Fatalf("files %q, want %q", files, wantFiles)
	}
	wantDirs := []string{"", "Avid MediaFiles", "Avid MediaFiles/MXF", "Avid MediaFiles/MXF/1", "Bins", "Empty", "Renders"}
	if !slices.Equal(dirs, wantDirs) {
		t.Fatalf("dirs %q, want %q", dirs, wantDirs)
	}
	for _, p := range []string{".DS_Store", "Thumbs.db", ".Spotlight-V100", ".Trashes", ".fseventsd", ".TemporaryItems",
		"Avid MediaFiles/MXF/1/._A001.mxf", "Avid MediaFiles/MXF/1/msmMMOB.mdb", "Avid MediaFiles/MXF/1/msmFMID.pmr",
		".editkit", "Bins/.editkit-tmp-0123", "Renders/out.mov.bak"} {
		if skipped[p] == "" {
			t.Errorf("%s not skipped", p)
		}
	}
	if !strings.Contains(skipped["link"], "symbolic link") {
		t.Errorf("symlink not reported: %q", skipped["link"])
	}

	files = nil
	rules.IncludeAvidDB = true
	Walk(context.Background(), root, rules, v)
	if !slices.Contains(files, "Avid MediaFiles/MXF/1/msmMMOB.mdb") {
		t.Fatalf("--include-avid-db did not keep msmMMOB.mdb: %q", files)
	}
}

func TestMatch(t *testing.T) {
	cases := []struct {
		pattern, rel string
		dir, want    bool
	}{
		{"*.bak", "a/b/c.bak", false, true},
		{"*.bak", "c.bak", false, true},
		{"Renders/", "Renders", true, true},
		{"Renders/", "Renders", false, false},
		{"/ascmhl/", "ascmhl", true, true},
		{"/ascmhl/", "Card/ascmhl", true, false},
		{"Avid MediaFiles/MXF/2", "Avid MediaFiles/MXF/2", true, true},
		{"Avid MediaFiles/MXF/2", "X/Avid MediaFiles/MXF/2", true, false},
	}
	for _, c := range cases {
		if got := Match(c.pattern, c.rel, c.dir); got != c.want {
			t.Errorf("Match(%q, %q, %v) = %v", c.pattern, c.rel, c.dir, got)
		}
	}
	if err := (Rules{Excludes: []string{"[a-"}}).Validate(); err == nil {
		t.Error("bad pattern accepted")
	}
}

// A walk with Visitor.Unread takes the same entries, in the same order,
// without their sizes and times (the caller fstats what it opens); Stat
// reads them as a walk that stats would have, and links are still left out.
func TestWalkUnreadTakesTheSameEntries(t *testing.T) {
	root := t.TempDir()
	mk(t, root, "Bins/Reel 1.avb", "Bins/Reel 2.avb", "Bins/.DS_Store", "Audio/mix.wav", "Empty/")
	os.Symlink("Bins/Reel 1.avb", filepath.Join(root, "Bins", "link.avb"))
	// A folder big enough to be stat'ed on two goroutines (statAll).
	for i := range statTogether + 9 {
		mk(t, root, fmt.Sprintf("Many/bin %03d%s.avb", i, strings.Repeat("x", i)))
	}
	os.Symlink("bin 001x.avb", filepath.Join(root, "Many", "link.avb"))
	mk(t, root, "Many/.DS_Store", "Many/Sub/inner.avb")
	walkAll := func(unread bool) (files []Entry, skipped []string) {
		err := Walk(context.Background(), root, Rules{}, Visitor{
			File:    func(e Entry) error { files = append(files, e); return nil },
			Skipped: func(s Skipped) { skipped = append(skipped, s.Path) },
			Unread:  unread,
		})
		if err != nil {
			t.Fatal(err)
		}
		return files, skipped
	}
	stated, skippedStated := walkAll(false)
	unread, skippedUnread := walkAll(true)
	if !slices.Equal(skippedStated, skippedUnread) || len(stated) != len(unread) {
		t.Fatalf("unread walk took %v, skipped %v; the stating walk took %v, skipped %v", unread, skippedUnread, stated, skippedStated)
	}
	for i, e := range unread {
		if !e.Unread || e.Size != 0 || e.Path != stated[i].Path || e.Kind != File {
			t.Fatalf("unread entry %d is %+v; want %s, unread", i, e, stated[i].Path)
		}
		got, err := Stat(root, e)
		if err != nil {
			t.Fatal(err)
		}
		if got != stated[i] {
			t.Fatalf("Stat gave %+v; the stating walk %+v", got, stated[i])
		}
	}
}
