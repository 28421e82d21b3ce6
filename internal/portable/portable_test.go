package portable

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func kinds(ps []Problem) []Kind {
	var ks []Kind
	for _, p := range ps {
		ks = append(ks, p.Kind)
	}
	return ks
}

func TestCheckPath(t *testing.T) {
	emoji := "\U0001F3AC" // 🎬: 4 bytes of UTF-8, 2 UTF-16 units
	tests := []struct {
		path string
		want []Kind // nil: portable
	}{
		// Clean names.
		{"Avid MediaFiles/MXF/1/A001C003_2601150D.V1.mxf", nil},
		{"a", nil},
		{"..a", nil},
		{".DS_Store", nil},
		{"a.b.c", nil},
		{" leading space", nil},
		{"café/Épisode 1.mov", nil},
		{"e\u0301", nil}, // NFD is only a problem next to its NFC twin
		{"a\x7fb", nil},  // DEL is allowed on exFAT and NTFS
		{"a\u00a0", nil}, // only ASCII space is stripped
		{emoji + ".mov", nil},

		// Illegal characters, each one, and in a folder name's last component only.
		{"a<b", []Kind{IllegalChar}},
		{"a>b", []Kind{IllegalChar}},
		{"10:30.wav", []Kind{IllegalChar}},
		{`say "hi".txt`, []Kind{IllegalChar}},
		{`a\b`, []Kind{IllegalChar}},
		{"a|b", []Kind{IllegalChar}},
		{"what?.mxf", []Kind{IllegalChar}},
		{"*.mxf", []Kind{IllegalChar}},
		{"bad:dir/fine.mxf", nil}, // the folder is reported when the walk visits it

		// Control characters.
		{"a\x00b", []Kind{ControlChar}},
		{"a\x01b", []Kind{ControlChar}},
		{"tab\there", []Kind{ControlChar}},
		{"line\n", []Kind{ControlChar}},
		{"a\x1f", []Kind{ControlChar}},

		// Trailing space or dot.
		{"a.", []Kind{TrailingSpaceOrDot}},
		{"a ", []Kind{TrailingSpaceOrDot}},
		{"Reel 1 /a.mxf", nil},
		{"Reel 1 ", []Kind{TrailingSpaceOrDot}},
		{"...", []Kind{TrailingSpaceOrDot}},
		{"a. b", nil},

		// Reserved device names.
		{"con", []Kind{ReservedName}},
		{"CON", []Kind{ReservedName}},
		{"CON.txt", []Kind{ReservedName}},
		{"nul", []Kind{ReservedName}},
		{"Nul.tar.gz", []Kind{ReservedName}},
		{"prn.mov", []Kind{ReservedName}},
		{"aux", []Kind{ReservedName}},
		{"Com1.mxf", []Kind{ReservedName}},
		{"LPT9", []Kind{ReservedName}},
		{"com\u00b9", []Kind{ReservedName}},
		{"LPT\u00b2.wav", []Kind{ReservedName}},
		{"COM\u00b3", []Kind{ReservedName}},
		{"CON .mxf", []Kind{ReservedName}},
		{"conin$", []Kind{ReservedName}},
		{"CONOUT$.log", []Kind{ReservedName}},
		{"CON ", []Kind{TrailingSpaceOrDot, ReservedName}},
		{"aux.", []Kind{TrailingSpaceOrDot, ReservedName}},
		{"CON:x", []Kind{IllegalChar, ReservedName}},
		{"CONSOLE.mxf", nil},
		{"CON_01.mxf", nil},
		{"ACON", nil},
		{"COM0", nil},
		{"COM10", nil},
		{"LPT", nil},
		{"COM\u2074", nil}, // superscript four: not a port Windows knows
		{"COM\u00b9x", nil},
		{"con/x.mxf", nil}, // the folder is reported when the walk visits it

		// Invalid UTF-8.
		{"bad\xff.mxf", []Kind{InvalidUTF8}},
		{"\xc3", []Kind{InvalidUTF8}},
		{"\xed\xa0\x80", []Kind{InvalidUTF8}}, // an encoded surrogate (WTF-8)
		{"bad\xff:", []Kind{InvalidUTF8, IllegalChar}},

		// Name length: 255 units is the limit, astral characters take 2.
		{strings.Repeat("a", 255), nil},
		{strings.Repeat("a", 256), []Kind{NameTooLong}},
		{strings.Repeat("a", 254) + ".", []Kind{TrailingSpaceOrDot}},
		{strings.Repeat(emoji, 63), nil},                 // 126 units, 252 bytes
		{strings.Repeat(emoji, 64), []Kind{NameTooLong}}, // 128 units but 256 bytes
		{strings.Repeat("é", 127), nil},                  // 254 bytes
		{strings.Repeat("é", 128), []Kind{NameTooLong}},  // 128 units, 256 bytes
		{strings.Repeat("日", 85), nil},                   // 255 bytes
		{strings.Repeat("日", 86), []Kind{NameTooLong}},   // 258 bytes
		{strings.Repeat("日", 255), []Kind{NameTooLong}},
		{strings.Repeat("日", 256), []Kind{NameTooLong}},

		// Path length: 256 units is the limit.
		{strings.Repeat("d", 200) + "/" + strings.Repeat("f", 55), nil},
		{strings.Repeat("d", 200) + "/" + strings.Repeat("f", 56), []Kind{PathTooLong}},
		{strings.Repeat("é/", 85) + "é", nil},      // 171 units, 257 bytes
		{strings.Repeat(emoji+"/", 85) + "x", nil}, // 256 units, 511 bytes
		{strings.Repeat(emoji+"/", 85) + "xy", []Kind{PathTooLong}},
		{strings.Repeat("d", 300) + "/" + strings.Repeat("f", 300) + "?", []Kind{IllegalChar, NameTooLong, PathTooLong}},
	}
	for _, tt := range tests {
		got := CheckPath(tt.path)
		if !slices.Equal(kinds(got), tt.want) {
			t.Errorf("CheckPath(%.60q) = %v, want kinds %v", tt.path, got, tt.want)
			continue
		}
		for _, p := range got {
			if p.Path != tt.path || p.Other != "" || p.Detail == "" {
				t.Errorf("CheckPath(%.60q): malformed %#v", tt.path, p)
			}
		}
	}
}

func TestCheckPathDetail(t *testing.T) {
	tests := []struct{ path, want string }{
		{"a/10:30?.wav", `"a/10:30?.wav": contains ':' and '?' (not allowed on exFAT or NTFS)`},
		{`x<>:"\|?*<`, `"x<>:\"\\|?*<": contains '<', '>', ':', '"', '\\', '|', '?' and '*' (not allowed on exFAT or NTFS)`},
		{"a\x01\x1f\x01", `"a\x01\x1f\x01": contains control character U+0001 and U+001F (not allowed on exFAT or NTFS)`},
		{"Reel 1 ", `"Reel 1 ": ends with a space (Windows strips it silently, so the name changes)`},
		{"Reel 1.", `"Reel 1.": ends with a dot (Windows strips it silently, so the name changes)`},
		{"Audio/Con.wav", `"Audio/Con.wav": "Con" is a reserved device name on Windows`},
		{"\xff", `"\xff": is not valid UTF-8 (cannot be stored on exFAT, NTFS or APFS)`},
	}
	for _, tt := range tests {
		ps := CheckPath(tt.path)
		if len(ps) != 1 || ps[0].String() != tt.want {
			t.Errorf("CheckPath(%q) = %q, want one problem %q", tt.path, ps, tt.want)
		}
	}
	long := CheckPath(strings.Repeat("\U0001F3AC", 128))
	if len(long) != 1 || !strings.Contains(long[0].Detail, "256 UTF-16 units") {
		t.Errorf("128 emoji: got %q, want a name of 256 UTF-16 units", long)
	}
	bytes := CheckPath(strings.Repeat("日", 86))
	if len(bytes) != 1 || !strings.Contains(bytes[0].Detail, "258 bytes") {
		t.Errorf("86 CJK characters: got %q, want a name of 258 bytes", bytes)
	}
}

func TestUTF16Len(t *testing.T) {
	tests := []struct {
		s    string
		want int
	}{
		{"", 0},
		{"abc", 3},
		{"é", 1},
		{"e\u0301", 2},
		{"日本", 2},
		{"\U0001F3AC", 2},
		{"a\U0001F3ACb", 4},
		{"\xff\xfe", 2},
		{"\xf0\x9f\x8e", 3}, // a truncated 4-byte sequence: each byte alone
	}
	for _, tt := range tests {
		if got := utf16Len(tt.s); got != tt.want {
			t.Errorf("utf16Len(%q) = %d, want %d", tt.s, got, tt.want)
		}
	}
}

func TestKindString(t *testing.T) {
	for k := IllegalChar; k <= NormalizationCollision; k++ {
		if s := k.String(); s == "" || strings.HasPrefix(s, "Kind(") {
			t.Errorf("Kind %d has no name", int(k))
		}
	}
	if s := Kind(0).String(); s != "Kind(0)" {
		t.Errorf("Kind(0).String() = %q", s)
	}
}

func TestCheckPathCleanDoesNotAllocate(t *testing.T) {
	paths := []string{
		"Avid MediaFiles/MXF/1/A001C003_2601150D.V1.mxf",
		"Projects/Épisode 3/Bins/Scène 12.avb",
		strings.Repeat("é/", 100) + "x.mov", // long in bytes, short in units
	}
	for _, p := range paths {
		if n := testing.AllocsPerRun(100, func() { CheckPath(p) }); n != 0 {
			t.Errorf("CheckPath(%.40q) allocates %v times", p, n)
		}
	}
}

var sink []Problem

func BenchmarkCheckPath(b *testing.B) {
	for _, bc := range []struct{ name, path string }{
		{"ascii", "Avid MediaFiles/MXF/1/A001C003_2601150D.V1.mxf"},
		{"unicode", "Projects/Épisode 3/Bins/Scène 12 — version définitive.avb"},
		{"problem", "Audio/Reel 1/CON.wav"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = CheckPath(bc.path)
			}
		})
	}
}

func ExampleCheckPath() {
	for _, p := range []string{
		"Avid MediaFiles/MXF/1/A001C003_2601150D.V1.mxf",
		"Sound/Reel 1: Temp Mix.wav",
		"Sound/aux.wav",
		"Sound/Mix v2.",
	} {
		for _, problem := range CheckPath(p) {
			fmt.Printf("%s: %s\n", problem.Kind, problem)
		}
	}
	// Output:
	// illegal-char: "Sound/Reel 1: Temp Mix.wav": contains ':' (not allowed on exFAT or NTFS)
	// reserved-name: "Sound/aux.wav": "aux" is a reserved device name on Windows
	// trailing-space-or-dot: "Sound/Mix v2.": ends with a dot (Windows strips it silently, so the name changes)
}
