package mhl

import (
	"path"
	"strings"
	"testing"
)

func TestIgnoreMatch(t *testing.T) {
	m, err := compilePatterns(append(defaultIgnore(),
		"*.tmp", "/Render Files/", "Proxies/", "docs/**/*.pdf", "**/cache", "!keep.tmp", "# comment", "", `\#hash`, "[!a-c]?.log", "logs/**"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path  string
		dir   bool
		match bool
	}{
		{".DS_Store", false, true},
		{"Sound/.DS_Store", false, true},
		{"ascmhl", true, true},
		{"ascmhl/0001_x.mhl", false, true},
		{"Card/ascmhl", true, true},
		{"Card/ascmhl/ascmhl_chain.xml", false, true},
		{"ascmhlx", true, false},
		{"x.tmp", false, true},
		{"a/b/x.tmp", false, true},
		{"keep.tmp", false, false}, // re-included
		{"Render Files", true, true},
		{"Render Files/x.mov", false, true},
		{"a/Render Files", true, false}, // anchored
		{"Proxies", false, false},       // folders only
		{"Proxies", true, true},
		{"A/Proxies/x.mov", false, true},
		{"docs/x.pdf", false, true},
		{"docs/a/b/x.pdf", false, true},
		{"docs/a/b/x.txt", false, false},
		{"x/cache", true, true},
		{"cache", false, true},
		{"#hash", false, true},
		{"comment", false, false},
		{"dz.log", false, true},
		{"az.log", false, false},
		{"logs", true, false}, // "logs/**" is what is inside
		{"logs/a", false, true},
		{"notes.txt", false, false},
		{"Avid MediaFiles/MXF/1/A001C001.mxf", false, false},
	}
	for _, c := range cases {
		if got := m.match(c.path, c.dir); got != c.match {
			t.Errorf("match(%q, dir=%v) = %v, want %v", c.path, c.dir, got, c.match)
		}
	}
	if _, err := compilePatterns([]string{"[unclosed"}); err == nil {
		t.Error("bad pattern accepted")
	}
}

// A history is outside data: its ignore patterns must not be able to make
// matching take exponential time. Before matchSegs remembered what it had
// tried, this pattern on this path did not finish in hours.
func TestIgnoreManyDoubleStars(t *testing.T) {
	m, err := compilePatterns([]string{strings.Repeat("**/a*/", 20) + "z"})
	if err != nil {
		t.Fatal(err)
	}
	deep := strings.Repeat("aa/", 64)
	if m.match(deep+"y", false) {
		t.Fatal("matched a path without z")
	}
	if !m.match(deep+"z", false) {
		t.Fatal("did not match a path ending in z")
	}
}

// A one-component pattern matched without path.Match (a literal name,
// "*" and a literal, a literal and "*") matches exactly the names
// path.Match does.
func TestIgnoreBaseMatchIsPathMatch(t *testing.T) {
	pats := []string{".DS_Store", "*.tmp", "._*", "*", "Thumbs.db", "*~", "a*b", "[ab]*", `\*x`, "?.avb", ".editkit*", "*.avb.tmp"}
	names := []string{"", ".DS_Store", ".DS_Store2", "x.tmp", ".tmp", "tmp", "._x", "._", "_.x", "Thumbs.db", "thumbs.db", "a~", "~", "ab", "axb",
		"*x", "bx", "a.avb", ".editkit", ".editkit-tmp-1", "b.avb.tmp", "Ünïcode.tmp"}
	for _, pat := range pats {
		ip, ok, err := compilePattern(pat)
		if err != nil || !ok {
			t.Fatalf("%q: %v %v", pat, ok, err)
		}
		for _, name := range names {
			want, _ := path.Match(ip.segs[0], name)
			if got := ip.match("Bins/"+name, false); got != want {
				t.Errorf("pattern %q, name %q: matched %v, path.Match says %v", pat, name, got, want)
			}
		}
	}
}
