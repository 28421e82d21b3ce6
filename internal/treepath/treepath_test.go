package treepath

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestCompareMatchesWalkDirOrder(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"a/x", "a b", "a-b/c", "a/b/c", "B", "b", "a.txt", "Z/z", "é", "e\u0301"} {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var walked []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root {
			rel, _ := filepath.Rel(root, p)
			walked = append(walked, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sorted := slices.Clone(walked)
	slices.Reverse(sorted)
	slices.SortFunc(sorted, Compare)
	if !slices.Equal(sorted, walked) {
		t.Fatalf("tree order differs from WalkDir:\n got %q\nwant %q", sorted, walked)
	}
}

func TestCompare(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"a", "a", 0},
		{"a", "a/b", -1},
		{"a/b", "a b", -1},
		{"a b", "a/b", 1},
		{"x/y/z", "x/y/z", 0},
		{"x/y", "x/z", -1},
	}
	for _, c := range cases {
		if got := Compare(c.a, c.b); got != c.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	good := []string{"a", "Avid MediaFiles/MXF/1/A001.mxf", "..a", "a..", "Café take 1.wav"}
	bad := []string{"", "/etc/passwd", "../x", "a/../../x", "a//b", "a/./b", "a/", "C:/x", "a\\..\\b", "a\x00b", "\xff"}
	for _, p := range good {
		if err := Validate(p); err != nil {
			t.Errorf("Validate(%q) = %v, want nil", p, err)
		}
	}
	for _, p := range bad {
		if err := Validate(p); err == nil {
			t.Errorf("Validate(%q) = nil, want an error", p)
		}
	}
	if _, err := Join("/drive", "../../etc/passwd"); err == nil {
		t.Error("Join escaped its root")
	}
}
