package portable

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/editkit/editkit/internal/slowtest"
)

// requireExFAT names the environment variable CI sets to "1" where the exFAT
// tools are installed: there, a missing tool fails TestExFAT instead of
// skipping it, so the test cannot silently stop running. CI runs, as root
// with exfatprogs and exfat-fuse installed:
//
//	EDITKIT_REQUIRE_EXFAT=1 go test -run TestExFAT ./internal/portable/
//
// Elsewhere TestExFAT runs whenever it can (Linux, root, the tools, /dev/fuse)
// and skips, saying why, when it cannot.
const requireExFAT = "EDITKIT_REQUIRE_EXFAT"

// mountExFAT formats a 64 MiB exFAT image, attaches it to a loop device and
// mounts it through exfat-fuse (the in-kernel driver is not always there),
// and returns the mount point. Everything is undone when the test ends.
func mountExFAT(t *testing.T) string {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		why := fmt.Sprintf(format, args...)
		if os.Getenv(requireExFAT) == "1" {
			t.Fatalf("exFAT test required (%s=1) but cannot run: %s", requireExFAT, why)
		}
		slowtest.Missing(t, "the real exFAT test: "+why)
	}
	if runtime.GOOS != "linux" {
		unavailable("it needs Linux loop devices and exfat-fuse, not %s", runtime.GOOS)
	}
	for _, tool := range []string{"mkfs.exfat", "losetup", "mount.exfat-fuse", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			unavailable("%s not found (install exfatprogs and exfat-fuse)", tool)
		}
	}
	if os.Geteuid() != 0 {
		unavailable("it must run as root to attach a loop device and mount it")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		unavailable("no /dev/fuse: %v", err)
	}

	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			unavailable("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "exfat.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 64<<20); err != nil {
		t.Fatal(err)
	}
	run("mkfs.exfat", img)
	loop := strings.TrimSpace(run("losetup", "--find", "--show", img))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "--detach", loop).CombinedOutput(); err != nil {
			t.Errorf("losetup --detach %s: %v: %s", loop, err, out)
		}
	})
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	run("mount.exfat-fuse", loop, mnt)
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}

// TestExFAT checks the rules against a real exFAT filesystem: what CheckPath
// calls illegal cannot be created there, what Siblings calls a case
// collision is one file there, and every case pair exFAT merges is reported.
// Where exFAT is more lenient than Windows, it logs what it saw: the Windows
// rule stands, because the drive will be plugged into Windows.
func TestExFAT(t *testing.T) {
	mnt := mountExFAT(t)
	var n int
	// fresh returns a new empty folder, so that each probe sees only its own names.
	fresh := func(t *testing.T) string {
		t.Helper()
		n++
		d := filepath.Join(mnt, fmt.Sprint(n))
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}

	emoji := "\U0001F3AC"
	t.Run("refused", func(t *testing.T) {
		// NUL is left out: no Unix system call can carry it. So is an
		// encoded surrogate ("\xed\xa0\x80", invalid UTF-8 that CheckPath
		// reports): exfat-fuse 1.3.0 creates it, then its daemon dies on the
		// next readdir of that folder, which would end the test.
		names := []struct {
			name string
			kind Kind
		}{
			{"a<b", IllegalChar}, {"a>b", IllegalChar}, {"a:b", IllegalChar}, {`a"b`, IllegalChar},
			{`a\b`, IllegalChar}, {"a|b", IllegalChar}, {"a?b", IllegalChar}, {"a*b", IllegalChar},
			{"a\x01b", ControlChar}, {"a\tb", ControlChar}, {"a\x1f", ControlChar},
			{"bad\xff", InvalidUTF8}, {"\xc3(", InvalidUTF8},
			{strings.Repeat("a", 256), NameTooLong},
			{strings.Repeat(emoji, 128), NameTooLong}, // 256 UTF-16 units
			{strings.Repeat("\u00e9", 256), NameTooLong},
		}
		for _, tt := range names {
			if !slices.Contains(kinds(CheckPath(tt.name)), tt.kind) {
				t.Errorf("CheckPath(%.20q) does not report %v", tt.name, tt.kind)
			}
			d := fresh(t)
			err := os.WriteFile(filepath.Join(d, tt.name), nil, 0o644)
			if err != nil {
				t.Logf("exFAT refuses %v %.20q: %v", tt.kind, tt.name, errors.Unwrap(err))
				continue
			}
			if got := list(t, d); slices.Contains(got, tt.name) {
				t.Errorf("exFAT stored %.20q unchanged, yet CheckPath reports %v", tt.name, tt.kind)
			} else {
				t.Logf("exFAT altered %v %.20q into %q", tt.kind, tt.name, got)
			}
		}
	})

	t.Run("accepted", func(t *testing.T) {
		// CheckPath must not refuse what exFAT's own limits allow, except
		// where another drive or OS forbids it (the Windows-only rules below).
		for _, name := range []string{
			strings.Repeat("a", 255),
			strings.Repeat("\u00e9", 127), // 254 bytes
			strings.Repeat(emoji, 63),     // 252 bytes, 126 UTF-16 units
			"a\x7fb",                      // DEL
			"..a",
			"CONSOLE.mxf",
		} {
			if ps := CheckPath(name); ps != nil {
				t.Errorf("CheckPath(%.20q) = %v, want nil", name, ps)
			}
			d := fresh(t)
			if err := os.WriteFile(filepath.Join(d, name), nil, 0o644); err != nil {
				t.Errorf("exFAT refuses %.20q, which CheckPath accepts: %v", name, err)
			} else if got := list(t, d); !slices.Equal(got, []string{name}) {
				t.Errorf("exFAT stored %.20q as %.20q", name, got)
			}
		}
	})

	t.Run("rules stricter than exFAT", func(t *testing.T) {
		deep := strings.Repeat("d", 200) + "/" + strings.Repeat("f", 57)
		for _, tt := range []struct {
			name string
			kind Kind
			who  string // who refuses the name, if exFAT does not
		}{
			{"trailing.", TrailingSpaceOrDot, "Windows"},
			{"trailing ", TrailingSpaceOrDot, "Windows"},
			{"CON", ReservedName, "Windows"},
			{"nul.txt", ReservedName, "Windows"},
			{"Com1.mxf", ReservedName, "Windows"},
			{deep, PathTooLong, "Windows"},
			{strings.Repeat("\u65e5", 86), NameTooLong, "APFS"},     // 258 bytes, 86 units
			{strings.Repeat("\u65e5", 255), NameTooLong, "APFS"},    // 765 bytes, 255 units
			{strings.Repeat(emoji, 127) + "a", NameTooLong, "APFS"}, // 509 bytes, 255 units
		} {
			if !slices.Contains(kinds(CheckPath(tt.name)), tt.kind) {
				t.Errorf("CheckPath(%.20q) does not report %v", tt.name, tt.kind)
			}
			d := fresh(t)
			p := filepath.Join(d, filepath.FromSlash(tt.name))
			err := os.MkdirAll(filepath.Dir(p), 0o755)
			if err == nil {
				err = os.WriteFile(p, nil, 0o644)
			}
			switch {
			case err != nil:
				t.Logf("exFAT refuses %v %.20q: %v", tt.kind, tt.name, errors.Unwrap(err))
			case slices.Contains(list(t, filepath.Dir(p)), filepath.Base(p)):
				t.Logf("exFAT stores %v %.20q unchanged; still reported because %s refuses it", tt.kind, tt.name, tt.who)
			default:
				t.Logf("exFAT altered %v %.20q into %.20q", tt.kind, tt.name, list(t, filepath.Dir(p)))
			}
		}
	})

	t.Run("case collisions are one file", func(t *testing.T) {
		for _, pair := range [][2]string{
			{"A001C003.mxf", "a001c003.mxf"},
			{"\u00c9cran.mov", "\u00e9cran.mov"},
			{"\u03a3", "\u03c3"},
			{"\u03c3", "\u03c2"}, // final sigma: both upcase to Σ
			{"\u01c4", "\u01c6"},
			{"\u0416", "\u0436"}, // Cyrillic Zhe
		} {
			if ps := Siblings("", pair[:]); len(ps) != 1 || ps[0].Kind != CaseCollision {
				t.Errorf("Siblings(%q) = %v, want one case collision", pair, ps)
			}
			if !sameFile(t, fresh(t), pair[0], pair[1]) {
				t.Errorf("exFAT keeps %q and %q apart", pair[0], pair[1])
			}
		}
	})

	t.Run("Siblings reports every case pair exFAT merges", func(t *testing.T) {
		// Every set of letters that simple case folding links (A a, K k K,
		// Σ σ ς...), plus letters whose upper case is outside their set:
		// any two exFAT merges must be reported by Siblings.
		var groups [][]rune
		for r := rune(0); r <= unicode.MaxRune; r++ {
			if unicode.SimpleFold(r) == r {
				continue
			}
			g := []rune{r}
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				g = append(g, f)
			}
			if slices.Min(g) == r { // each orbit once
				groups = append(groups, g)
			}
		}
		groups = append(groups, []rune{'i', 'I', '\u0131', '\u0130'}) // Turkish dotless and dotted I
		d := fresh(t)
		var pair, merged, overReported int
		var examples []string
		for _, g := range groups {
			for i, a := range g {
				for _, b := range g[i+1:] {
					// A prefix of its own per pair, so that b can only meet a.
					pair++
					pa, pb := fmt.Sprintf("%d-%c", pair, a), fmt.Sprintf("%d-%c", pair, b)
					reported := Siblings("", []string{pa, pb}) != nil
					if sameFile(t, d, pa, pb) {
						merged++
						if !reported {
							t.Errorf("exFAT merges %U and %U but Siblings does not report them", a, b)
						}
					} else if reported {
						overReported++
						if len(examples) < 12 {
							examples = append(examples, fmt.Sprintf("%U/%U", a, b))
						}
					}
				}
			}
		}
		t.Logf("%d case groups: exFAT merges %d pairs, all reported; %d more pairs reported that this exFAT keeps apart (full folding, newer Unicode), e.g. %s",
			len(groups), merged, overReported, strings.Join(examples, " "))
	})

	t.Run("normalization and full folding", func(t *testing.T) {
		for _, pair := range [][2]string{
			{"caf\u00e9", "cafe\u0301"},
			{"\u00df", "ss"},
			{"\u00df", "SS"},
			{"\ufb01le", "FILE"},
		} {
			ps := Siblings("", pair[:])
			if len(ps) != 1 {
				t.Errorf("Siblings(%q) = %v, want one collision", pair, ps)
				continue
			}
			if sameFile(t, fresh(t), pair[0], pair[1]) {
				t.Logf("exFAT: %+q and %+q are one file (%v)", pair[0], pair[1], ps[0].Kind)
			} else {
				t.Logf("exFAT keeps %+q and %+q apart; still reported as %v (see the package doc)", pair[0], pair[1], ps[0].Kind)
			}
		}
	})
}

// sameFile creates a in dir and then tries to create b next to it: exFAT
// answers "exists" when the two names are one name there.
func sameFile(t *testing.T, dir, a, b string) bool {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, a), []byte(a), 0o644); err != nil {
		t.Fatalf("create %q: %v", a, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, b), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return true
	}
	if err != nil {
		t.Fatalf("create %q next to %q: %v", b, a, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return false
}

// list returns the names in dir as the filesystem spells them.
func list(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}
