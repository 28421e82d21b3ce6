package treepath

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzValidate: a path Validate accepts, joined to a folder, stays inside
// it, is already clean, and holds none of what a hostile manifest, hub
// entry or history would use to escape.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{"a/b.mxf", "../x", "a/../../x", "/etc/passwd", "C:\\x", "C:x", "a\\b", "a\x00b", "a//b", "a/", ".", "..", "...", "a/.../b", "\xff", " a", "a "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if err := Validate(p); err != nil {
			return
		}
		root := filepath.FromSlash("/drive")
		j, err := Join(root, p)
		if err != nil {
			t.Fatalf("Validate accepted %q, Join refused it: %v", p, err)
		}
		rel, err := filepath.Rel(root, j)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || rel == "." {
			t.Fatalf("%q joined to %s gives %s, outside it", p, root, j)
		}
		if filepath.ToSlash(filepath.Clean(filepath.FromSlash(p))) != p {
			t.Fatalf("%q is accepted but not clean", p)
		}
		if !utf8.ValidString(p) || strings.ContainsAny(p, "\x00\\") || strings.HasPrefix(p, "/") {
			t.Fatalf("%q accepted", p)
		}
		if Base(p) == "" || (Parent(p) != "" && Validate(Parent(p)) != nil) {
			t.Fatalf("%q: parent %q, base %q", p, Parent(p), Base(p))
		}
	})
}

// FuzzCompare: tree order is a total order consistent with equality, puts
// a folder right before its contents, and agrees with Less.
func FuzzCompare(f *testing.F) {
	f.Add("a/b", "a b", "a")
	f.Add("a", "a/b", "a/b/c")
	f.Add("", "/", "//")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		ab, ba := Compare(a, b), Compare(b, a)
		if (ab == 0) != (a == b) || ab != -ba || Less(a, b) != (ab < 0) {
			t.Fatalf("Compare(%q, %q) = %d, reverse %d", a, b, ab, ba)
		}
		if ab < 0 && Compare(b, c) < 0 && Compare(a, c) >= 0 {
			t.Fatalf("%q < %q < %q but not %q < %q", a, b, c, a, c)
		}
		if Compare(a, a+"/"+b) >= 0 {
			t.Fatalf("%q does not sort before its content %q", a, a+"/"+b)
		}
	})
}
