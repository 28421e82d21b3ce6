// Package portable owns editkit's rules for which file names can be copied
// as is onto an editor's external drive: exFAT most of the time, sometimes
// NTFS, APFS or HFS+, plugged into macOS and Windows machines in turn. The
// copy command asks CheckPath about every entry of the source tree and
// Siblings about every folder's names before it copies a byte, lists every
// Problem, and refuses unless the user passes --allow-unportable.
//
// The rules are the union of what exFAT, NTFS and the two operating systems
// refuse or silently change, because a drive filled on one machine is read on
// another; when a filesystem driver is more lenient than Windows (exfat-fuse
// on Linux happily keeps "a." and "CON"), the Windows rule still applies.
//
// Rules checked by CheckPath, on the last component of the path (the entry's
// own name; folders are checked when the walk reaches them, so a bad folder
// name is reported once, not once per file inside it):
//
//   - IllegalChar: < > : " \ | ? * are refused by exFAT and NTFS (through
//     Windows and through exfat-fuse alike). '/' cannot occur in a component.
//   - ControlChar: U+0000 to U+001F are refused by exFAT and NTFS. DEL
//     (U+007F) is allowed by both and is not reported.
//   - TrailingSpaceOrDot: Windows strips trailing spaces and dots from a name
//     without a word, so "a." opens "a": the file is unreachable or collides
//     with a sibling. exfat-fuse stores such names as given, while the Linux
//     kernel's exfat driver strips trailing dots unless mounted with
//     keep_last_dots: a name one driver writes, the other cannot open.
//     Leading dots (".hidden", "..a") and leading spaces are fine.
//   - ReservedName: the Windows device names CON, PRN, AUX, NUL, COM1–COM9,
//     COM¹ COM² COM³, LPT1–LPT9, LPT¹ LPT² LPT³, CONIN$ and CONOUT$, in any
//     ASCII case, alone or followed by an extension ("nul.txt",
//     "Com1.tar.gz") and with spaces before the dot ("CON .mxf"). Windows 11
//     no longer reserves the forms with an extension, older Windows does, so
//     they are reported. COM0 and LPT0 are not reserved (Go's path/filepath
//     and Git for Windows agree) and are not reported.
//   - NameTooLong: more than MaxNameUnits UTF-16 code units (the exFAT and
//     NTFS limit; a character outside the BMP, such as an emoji, takes two),
//     or more than MaxNameBytes bytes of UTF-8 (the APFS and ext4 limit: such
//     a name could be written to exFAT from Windows but never copied back to
//     a Mac's internal disk, so it is not portable either).
//   - PathTooLong: the whole relative path is more than MaxPathUnits UTF-16
//     code units. Windows' MAX_PATH is 260 units including the drive ("E:\")
//     and the terminating NUL, which leaves 256 for the path on the drive.
//     The path is taken to start at the drive's root: a caller copying into a
//     folder of the drive passes that folder joined with the tree path.
//     Every entry over the limit is reported, not only the first one.
//   - InvalidUTF8: the name is not valid UTF-8, so it has no UTF-16 form for
//     exFAT or NTFS and no Unicode form for APFS. exfat-fuse refuses it
//     (EILSEQ), except an encoded surrogate ("\xed\xa0\x80"), which it
//     stores and then cannot list: its daemon dies on the next readdir.
//
// Rules checked by Siblings, among the names of one folder (two entries can
// only collide if they share a parent):
//
//   - NormalizationCollision: the names are canonically equivalent Unicode
//     (the NFC "é" and the NFD "e"+U+0301): macOS (APFS, HFS+, and exFAT
//     through macOS) takes them as the same name, so one of the two files is
//     lost or unreachable. exfat-fuse on Linux keeps them apart, which is how
//     such a pair gets onto a drive in the first place.
//   - CaseCollision: the names are equal under full Unicode case folding
//     (golang.org/x/text/cases.Fold, after NFD, i.e. Unicode's canonical
//     caseless match): "A.mxf" and "a.mxf" are one file on a case-insensitive
//     drive. exFAT compares names through the volume's up-case table, a
//     simple per-character upper-casing: every pair that table merges is also
//     merged by full folding, but full folding merges a few more. They are
//     reported on purpose: a false alarm costs a rename, a missed collision
//     costs a file, and NTFS, HFS+ and APFS each compare names through their
//     own tables. So "ß", "ss" and "SS" are one name here (exFAT keeps "ß"
//     apart from "SS"), as are "ﬁ" and "fi", and the long "ſ" and "s".
//
// A pair that differs both in case and in normalization is reported once, as
// a CaseCollision. When three or more names collide, each one after the first
// (in byte order) is reported against the first. Identical names in the list
// are the same entry and are not reported.
//
// CheckPath allocates nothing for a name that passes, so it can be called for
// every entry of a million-file tree; Siblings keeps only the one folder's
// names, so a streaming walk stays bounded by the largest folder.
package portable

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits, in UTF-16 code units unless named bytes.
const (
	// MaxNameUnits is the longest name exFAT and NTFS can store.
	MaxNameUnits = 255
	// MaxNameBytes is the longest name, in UTF-8 bytes, APFS and ext4 can store.
	MaxNameBytes = 255
	// MaxPathUnits is the longest path relative to the drive's root that
	// Windows programs can open without long-path support: MAX_PATH (260)
	// minus the drive prefix "E:\" (3) and the terminating NUL (1).
	MaxPathUnits = 256
)

// Kind says which rule a Problem breaks.
type Kind int

// The rules; see the package documentation.
const (
	IllegalChar Kind = iota + 1
	ControlChar
	TrailingSpaceOrDot
	ReservedName
	NameTooLong
	PathTooLong
	InvalidUTF8
	CaseCollision
	NormalizationCollision
)

var kindNames = [...]string{
	IllegalChar:            "illegal-char",
	ControlChar:            "control-char",
	TrailingSpaceOrDot:     "trailing-space-or-dot",
	ReservedName:           "reserved-name",
	NameTooLong:            "name-too-long",
	PathTooLong:            "path-too-long",
	InvalidUTF8:            "invalid-utf8",
	CaseCollision:          "case-collision",
	NormalizationCollision: "normalization-collision",
}

// String returns a short stable identifier such as "illegal-char", fit for
// logs and machine-readable output.
func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Problem is one reason a name cannot be used as is on exFAT or NTFS, or on
// macOS or Windows.
type Problem struct {
	Path   string // tree path ('/'-separated, relative) of the entry concerned
	Other  string // for collisions: the tree path Path collides with; else ""
	Kind   Kind
	Detail string // human text, e.g. `contains ':' (not allowed on exFAT or NTFS)`
}

// String returns the quoted path and the detail, e.g.
// `"Audio/CON.wav": "CON" is a reserved device name on Windows`. The path is
// quoted because the problem may well be an invisible trailing space or a
// control character.
func (p Problem) String() string {
	return strconv.Quote(p.Path) + ": " + p.Detail
}

// CheckPath reports the problems of the last component of relPath (the
// entry's own name) and of relPath's length. Call it for every entry a walk
// visits, folders included: a folder's name is checked when the folder itself
// is. relPath is a tree path as internal/treepath defines it ('/'-separated,
// relative, no "." or ".." components); it may come straight from a source
// filesystem and so may hold invalid UTF-8. It returns nil when the entry is
// portable, without allocating.
func CheckPath(relPath string) []Problem {
	name := relPath[strings.LastIndexByte(relPath, '/')+1:]

	// One pass over the bytes finds everything a clean ASCII name could
	// break; the slower checks below only run when this pass asks for them.
	ascii, illegal, control := true, false, false
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= utf8.RuneSelf:
			ascii = false
		case c < 0x20:
			control = true
		case isIllegal(c):
			illegal = true
		}
	}

	var ps []Problem
	add := func(k Kind, detail string) {
		ps = append(ps, Problem{Path: relPath, Kind: k, Detail: detail})
	}
	if !ascii && !utf8.ValidString(name) {
		add(InvalidUTF8, "is not valid UTF-8 (cannot be stored on exFAT, NTFS or APFS)")
	}
	if illegal {
		add(IllegalChar, "contains "+listBytes(name, isIllegal, quoteByte)+" (not allowed on exFAT or NTFS)")
	}
	if control {
		add(ControlChar, "contains control character "+listBytes(name, isControl, uPlus)+" (not allowed on exFAT or NTFS)")
	}
	if n := len(name); n > 0 && (name[n-1] == ' ' || name[n-1] == '.') {
		what := "space"
		if name[n-1] == '.' {
			what = "dot"
		}
		add(TrailingSpaceOrDot, "ends with a "+what+" (Windows strips it silently, so the name changes)")
	}
	if base, ok := reservedBase(name); ok {
		add(ReservedName, strconv.Quote(base)+" is a reserved device name on Windows")
	}
	// UTF-16 units never exceed UTF-8 bytes, so a short string is within
	// every limit without counting.
	if len(name) > MaxNameBytes {
		if u := utf16Len(name); u > MaxNameUnits {
			add(NameTooLong, fmt.Sprintf("name is %d UTF-16 units long (exFAT and NTFS allow %d)", u, MaxNameUnits))
		} else {
			add(NameTooLong, fmt.Sprintf("name is %d bytes long in UTF-8 (APFS and Linux filesystems allow %d)", len(name), MaxNameBytes))
		}
	}
	if len(relPath) > MaxPathUnits {
		if u := utf16Len(relPath); u > MaxPathUnits {
			add(PathTooLong, fmt.Sprintf("path is %d UTF-16 units long (Windows programs open at most %d below the drive's root)", u, MaxPathUnits))
		}
	}
	return ps
}

// isIllegal reports the printable ASCII characters exFAT and NTFS refuse.
func isIllegal(c byte) bool {
	switch c {
	case '<', '>', ':', '"', '\\', '|', '?', '*':
		return true
	}
	return false
}

func isControl(c byte) bool { return c < 0x20 }

func quoteByte(c byte) string { return strconv.QuoteRune(rune(c)) }

func uPlus(c byte) string { return fmt.Sprintf("U+%04X", c) }

// listBytes lists, once each and in order of first appearance, the bytes of
// s that match, e.g. `':' and '?'`.
func listBytes(s string, match func(byte) bool, show func(byte) string) string {
	var seen [utf8.RuneSelf]bool
	var list []string
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < utf8.RuneSelf && match(c) && !seen[c] {
			seen[c] = true
			list = append(list, show(c))
		}
	}
	if len(list) == 1 {
		return list[0]
	}
	return strings.Join(list[:len(list)-1], ", ") + " and " + list[len(list)-1]
}

// reservedBase reports whether name is a Windows device name and returns the
// device part as written. Windows matches device names ASCII
// case-insensitively and ignores everything from the first dot (the
// "extension") or colon (a stream name), and the spaces before it.
func reservedBase(name string) (string, bool) {
	base := name
	if i := strings.IndexAny(base, ".:"); i >= 0 {
		base = base[:i]
	}
	base = strings.TrimRight(base, " ")
	switch len(base) {
	case 3:
		for _, dev := range [...]string{"CON", "PRN", "AUX", "NUL"} {
			if strings.EqualFold(base, dev) {
				return base, true
			}
		}
	case 4, 5: // "COM1", or "COM¹" whose superscript takes two bytes
		if !strings.EqualFold(base[:3], "COM") && !strings.EqualFold(base[:3], "LPT") {
			return "", false
		}
		switch d := base[3:]; {
		case len(d) == 1 && '1' <= d[0] && d[0] <= '9', d == "¹", d == "²", d == "³":
			return base, true
		}
	case 6, 7:
		if strings.EqualFold(base, "CONIN$") || strings.EqualFold(base, "CONOUT$") {
			return base, true
		}
	}
	return "", false
}

// utf16Len counts the UTF-16 code units s takes: two for a character outside
// the Basic Multilingual Plane, one for any other, and one for each invalid
// byte (which a conversion would turn into U+FFFD).
func utf16Len(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		n++
		if r > 0xFFFF {
			n++
		}
		i += size
	}
	return n
}
