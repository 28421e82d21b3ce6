package portable

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

const (
	nfc = "caf\u00e9.mov"  // é as one code point
	nfd = "cafe\u0301.mov" // e followed by COMBINING ACUTE ACCENT
)

// pair is one reported collision, without its detail text.
type pair struct {
	path, other string
	kind        Kind
}

func pairs(ps []Problem) []pair {
	var out []pair
	for _, p := range ps {
		out = append(out, pair{p.Path, p.Other, p.Kind})
	}
	return out
}

func TestSiblings(t *testing.T) {
	tests := []struct {
		name  string
		dir   string
		names []string
		want  []pair
	}{
		{"empty", "d", nil, nil},
		{"distinct", "d", []string{"A001.mxf", "A002.mxf", "a001.wav", "Bin.avb"}, nil},
		{"case", "MXF/1", []string{"a.mxf", "A.mxf"},
			[]pair{{"MXF/1/a.mxf", "MXF/1/A.mxf", CaseCollision}}},
		{"root dir is empty", "", []string{"a.mxf", "A.mxf"},
			[]pair{{"a.mxf", "A.mxf", CaseCollision}}},
		{"root dir is dot", ".", []string{"a.mxf", "A.mxf"},
			[]pair{{"a.mxf", "A.mxf", CaseCollision}}},
		{"three-way case reports each extra against the first", "d", []string{"readme", "README", "ReadMe", "other"},
			[]pair{
				{"d/ReadMe", "d/README", CaseCollision},
				{"d/readme", "d/README", CaseCollision},
			}},
		{"normalization", "d", []string{nfd, nfc},
			[]pair{{"d/" + nfc, "d/" + nfd, NormalizationCollision}}}, // NFD sorts first: 'e' < 0xC3
		{"normalization in a longer name", "d", []string{"Sc\u00e8ne 1.wav", "Sce\u0300ne 1.wav"},
			[]pair{{"d/Sc\u00e8ne 1.wav", "d/Sce\u0300ne 1.wav", NormalizationCollision}}},
		{"case and normalization together is one case collision", "d", []string{"CAF\u00c9.mov", nfd},
			[]pair{{"d/" + nfd, "d/CAF\u00c9.mov", CaseCollision}}},
		{"three-way mixed: the kind is decided against the first", "d", []string{nfc, nfd, "CAFE\u0301.mov"},
			[]pair{
				{"d/" + nfd, "d/CAFE\u0301.mov", CaseCollision},
				{"d/" + nfc, "d/CAFE\u0301.mov", CaseCollision},
			}},
		{"non-ASCII case", "d", []string{"\u00c9cran", "\u00e9cran"},
			[]pair{{"d/\u00e9cran", "d/\u00c9cran", CaseCollision}}},
		{"Greek sigmas", "d", []string{"\u03a3", "\u03c3", "\u03c2"},
			[]pair{
				{"d/\u03c2", "d/\u03a3", CaseCollision},
				{"d/\u03c3", "d/\u03a3", CaseCollision},
			}},
		// Full folding: ß is "ss", so all three are one name. exFAT would keep
		// ß apart from the other two; reported on purpose (see package doc).
		{"sharp s folds to ss", "d", []string{"Stra\u00dfe", "STRASSE", "strasse"},
			[]pair{
				{"d/Stra\u00dfe", "d/STRASSE", CaseCollision},
				{"d/strasse", "d/STRASSE", CaseCollision},
			}},
		{"capital sharp s", "d", []string{"\u1e9e", "\u00df"},
			[]pair{{"d/\u1e9e", "d/\u00df", CaseCollision}}},
		{"Kelvin sign folds to ASCII k", "d", []string{"5k.mov", "5\u212a.mov"},
			[]pair{{"d/5\u212a.mov", "d/5k.mov", CaseCollision}}},
		// U+212A is canonically equivalent to K: normalization alone merges them.
		{"Kelvin sign normalizes to ASCII K", "d", []string{"5K.mov", "5\u212a.mov"},
			[]pair{{"d/5\u212a.mov", "d/5K.mov", NormalizationCollision}}},
		{"ligature fi", "d", []string{"\ufb01le", "FILE"},
			[]pair{{"d/\ufb01le", "d/FILE", CaseCollision}}},
		{"dotless i is not i", "d", []string{"\u0131", "i"}, nil},
		{"emoji are not letters", "d", []string{"\U0001F3AC.mov", "\U0001F3A5.mov"}, nil},
		{"the same name listed twice is one entry", "d", []string{"a", "a", "b"}, nil},
		{"a duplicate does not hide a collision", "d", []string{"A", "a", "a"},
			[]pair{{"d/a", "d/A", CaseCollision}}},
		{"invalid UTF-8 is compared as bytes", "d", []string{"a\xff", "A\xff", "a\xfe"}, nil},
		{"trailing dot is CheckPath's business", "d", []string{"a", "a."}, nil},
		{"output sorted by path", "d", []string{"b", "Z", "z", "B", "A", "a"},
			[]pair{
				{"d/a", "d/A", CaseCollision},
				{"d/b", "d/B", CaseCollision},
				{"d/z", "d/Z", CaseCollision},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.names)
			got := Siblings(tt.dir, in)
			if !slices.Equal(pairs(got), tt.want) {
				t.Errorf("Siblings(%q, %q) =\n%v\nwant\n%v", tt.dir, tt.names, pairs(got), tt.want)
			}
			if !slices.Equal(in, tt.names) {
				t.Errorf("Siblings modified its argument: %q", in)
			}
			for _, p := range got {
				if p.Detail == "" {
					t.Errorf("no detail in %#v", p)
				}
			}
		})
	}
}

func TestSiblingsDetail(t *testing.T) {
	got := Siblings("Sound", []string{"Mix.wav", "mix.wav"})
	want := `"Sound/mix.wav": same name as "Mix.wav" on a case-insensitive drive`
	if len(got) != 1 || got[0].String() != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got = Siblings("Sound", []string{nfc, nfd})
	want = `"Sound/` + nfc + `": same name as "cafe\u0301.mov" (NFD) on macOS, which ignores Unicode normalization; this one is "caf\u00e9.mov" (NFC)`
	if len(got) != 1 || got[0].String() != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestSiblingsOrderIndependent checks that the report depends on the set of
// names, not on the order the directory listing returned them in.
func TestSiblingsOrderIndependent(t *testing.T) {
	names := []string{"a", "A", "b", "B.mxf", "b.mxf", nfc, nfd, "CAF\u00c9.mov", "\u00df", "SS", "ss", "x", "y\xff"}
	want := Siblings("d", names)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		if got := Siblings("d", names); !slices.Equal(got, want) {
			t.Fatalf("order %q gives\n%v\nwant\n%v", names, got, want)
		}
	}
}

func TestMatchKeyASCIIFastPathAgreesWithFolding(t *testing.T) {
	// The ASCII shortcut must give exactly what the Unicode path would, or an
	// ASCII name and a non-ASCII one that folds to ASCII (the Kelvin sign,
	// the long s, the fi ligature) would be compared under different rules.
	var b strings.Builder
	for c := byte(0); c < 0x80; c++ {
		b.WriteByte(c)
	}
	ascii := b.String()
	if got, want := matchKey(ascii, cases.Fold()), unicodeKey(ascii); got != want {
		t.Errorf("matchKey(ASCII) = %q, want %q", got, want)
	}
	for _, tt := range [][2]string{{"\u212a", "k"}, {"\u017f", "s"}, {"\ufb01", "fi"}} {
		if a, b := matchKey(tt[0], cases.Fold()), matchKey(tt[1], cases.Fold()); a != b {
			t.Errorf("matchKey(%q) = %q, matchKey(%q) = %q: want equal", tt[0], a, tt[1], b)
		}
	}
}

func unicodeKey(s string) string {
	return norm.NFD.String(cases.Fold().String(norm.NFD.String(s)))
}

func BenchmarkSiblings(b *testing.B) {
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("A%03dC%03d_2601150D.V1.mxf", i/10, i%10)
	}
	accented := make([]string, 1000)
	for i := range accented {
		accented[i] = fmt.Sprintf("Scène %d — prise %d.wav", i/10, i%10)
	}
	for _, bc := range []struct {
		name  string
		names []string
	}{{"ascii-1000", names}, {"accented-1000", accented}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = Siblings("Avid MediaFiles/MXF/1", bc.names)
			}
		})
	}
}

func ExampleSiblings() {
	names := []string{"A001C003.mxf", "a001c003.mxf", "Sc\u00e8ne 1.wav", "Sce\u0300ne 1.wav"}
	for _, p := range Siblings("Reel 1", names) {
		fmt.Printf("%s %s: %s\n", p.Kind, strconv.QuoteToASCII(p.Path), p.Detail)
	}
	// Output:
	// normalization-collision "Reel 1/Sc\u00e8ne 1.wav": same name as "Sce\u0300ne 1.wav" (NFD) on macOS, which ignores Unicode normalization; this one is "Sc\u00e8ne 1.wav" (NFC)
	// case-collision "Reel 1/a001c003.mxf": same name as "A001C003.mxf" on a case-insensitive drive
}
