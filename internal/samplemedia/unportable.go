package samplemedia

import (
	"path"
	"strings"
	"time"
)

const unportableDir = "Unportable"

// planUnportable plans names that a Mac or Linux volume holds but exFAT and
// NTFS refuse, or fold into one another, so that a copy's portability checks
// have something to find.
//
// One hazard cannot be planned: a name longer than 255 UTF-16 units. Linux
// and APFS cap a name at 255 bytes of UTF-8, and UTF-8 never takes fewer
// bytes than UTF-16 takes units, so such a name cannot exist on the source.
// The longest possible name (255 bytes) is planned instead, in a path longer
// than Windows' 260-character MAX_PATH.
func (p *tree) planUnportable() {
	t := p.ago(time.Hour, 2*day)
	long := strings.Repeat("Very Long Name ", 17)[:251] + ".txt"
	names := []string{
		"Sc 12: Take 3.mxf", // reserved characters
		"What?.wav",
		`"Quoted" Bin.avb`,
		"<Temp> Export.txt",
		"Dialog|Music.wav",
		"Star*.mxf",
		"Trailing Space ", // Windows strips trailing spaces and dots
		"Trailing Dot.",
		"CON.txt", // reserved device names, with and without extension
		"aux",
		"Icon\r", // control characters; Icon\r is the Finder's custom icon
		"Tab\tName.wav",
		"A.mxf", // the same name on a case-insensitive volume
		"a.mxf",
		"\u00e9.wav", // the same name once normalized: NFC then NFD
		"e\u0301.wav",
		"Long Path/" + long,
	}
	for i, name := range names {
		e := entry{path: unportableDir + "/" + name, mtime: t.Add(time.Duration(i) * time.Second), kind: kindUnportable}
		switch path.Ext(name) {
		case ".wav":
			e.size = wavSize(4<<10, 1)
			e.header = wavHeader(1, name, e.mtime)
		case ".mxf":
			e.size = 4 << 10
			e.header = mxfHeader(true)
		default:
			text := "A name that exFAT and NTFS cannot hold.\n"
			e.size, e.head = int64(len(text)), []byte(text)
		}
		p.add(e)
	}
}
