package mhl

import "testing"

// A purged file's pattern ignores that file, wherever the tree is matched
// from (the reference tool matches absolute paths), glob characters in its
// name taken literally.
func TestPurgedPattern(t *testing.T) {
	p := PurgedPattern("Review/Reel [v2]*.mov")
	if p != `**/Review/Reel \[v2\]\*.mov` {
		t.Fatalf("pattern %q", p)
	}
	m, err := compilePatterns([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{
		"Review/Reel [v2]*.mov":             true,
		"Volumes/ED1/Review/Reel [v2]*.mov": true,
		"Review/Reel v2.mov":                false,
		"Review/Reel [v2]x.mov":             false,
	} {
		if got := m.match(path, false); got != want {
			t.Errorf("%s: %v, want %v", path, got, want)
		}
	}
	m, _ = compilePatterns([]string{p, Unignore(p)})
	if m.match("Review/Reel [v2]*.mov", false) {
		t.Error("re-included file still ignored")
	}
	if got := mergePatterns([]string{p, Unignore(p)}, []string{p}); got[len(got)-1] != p {
		t.Errorf("purged again after re-inclusion: %v", got)
	}
}
