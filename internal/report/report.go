// Package report renders the pages a person reads: the HTML twin of each
// report editkit writes on a drive (copy, verify) and the team page
// (`editkit status --html`). Each page is one self-contained file — inline
// CSS, no scripts, nothing fetched from a network — that reads on a phone:
// the verdict in one line at the top, every problem listed, hashes folded
// away. Every name on a page goes through html/template's escaping.
package report

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/treepath"
	"github.com/editkit/editkit/internal/units"
)

//go:embed templates/*.html
var templateFiles embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"bytes": size,
	"count": Count,
	"time":  formatTime,
}).ParseFS(templateFiles, "templates/*.html"))

// State is the overall outcome a page's verdict line shows.
type State string

// The states a verdict can have; each has its colour on the page.
const (
	OK          State = "ok"
	Problems    State = "problems"
	Interrupted State = "interrupted"
)

// Drive names the drive a report is about.
type Drive struct {
	Label string
	ID    string
	Path  string // as the user named it
}

// Fact is one labelled line of a report's particulars (source, times, host).
type Fact struct {
	Name, Value string
}

// Hash is one digest of a file.
type Hash struct {
	Format, Digest string
}

// File is a file the run copied or verified, with the digests it checked.
type File struct {
	Path   string
	Size   int64
	Hashes []Hash
}

// Folder is a folder's share of a run: how many files and bytes under it.
type Folder struct {
	Path  string
	Files int
	Bytes int64
}

// DriveReport is what a copy or verify report on a drive says.
type DriveReport struct {
	Title    string // "editkit copy report"
	State    State
	Verdict  string // one line: "Verified: 1 204 files, 212.4 GiB, no problems"
	Drive    Drive
	Facts    []Fact
	Files    Tally    // what the run copied or verified
	Problems []string // every problem, one line each
	Notes    []string // what the run did that the reader may not expect
	// HashesElsewhere names where every file's hashes are when the page
	// lists only the first MaxHashes (the checksum list, the text report).
	HashesElsewhere string
}

// MaxHashes is how many files' hashes a page lists: a drive of a million
// small files would make a page no phone opens. The rest are in the
// drive's checksum list and text report.
const MaxHashes = 5000

// Tally sums a run's files by folder and keeps the first MaxHashes of them
// with their hashes, in memory that does not grow with the drive. The zero
// value is ready; it is not safe for concurrent use.
type Tally struct {
	Count   int
	Bytes   int64
	Listed  []File // the first MaxHashes files, with their hashes
	folders map[string]*Folder
	rows    template.HTML // Listed's table rows, once ListedRows made them
}

// ListedRows renders the table rows of the listed files, escaped as the
// page's template escapes them, and keeps them: a caller with a core to
// spare calls it before WriteDrive, which then has no rows left to render
// (thousands of them when a run copied many small files). Add after it
// discards the rows.
func (t *Tally) ListedRows() template.HTML {
	if t.rows == "" && len(t.Listed) > 0 {
		var b strings.Builder
		for _, f := range t.Listed {
			b.WriteString("<tr><td>")
			b.WriteString(template.HTMLEscapeString(f.Path))
			for _, h := range f.Hashes {
				b.WriteString(`<span class="hash">`)
				b.WriteString(template.HTMLEscapeString(h.Format))
				b.WriteByte(' ')
				b.WriteString(template.HTMLEscapeString(h.Digest))
				b.WriteString("</span>")
			}
			b.WriteString(`</td><td class="n">`)
			b.WriteString(strconv.FormatInt(f.Size, 10))
			b.WriteString("</td></tr>\n")
		}
		t.rows = template.HTML(b.String())
	}
	return t.rows
}

// Add counts f.
func (t *Tally) Add(f File) {
	t.rows = ""
	t.Count++
	t.Bytes += f.Size
	if len(t.Listed) < MaxHashes {
		t.Listed = append(t.Listed, f)
	}
	dir := folderOf(f.Path)
	fo := t.folders[dir]
	if fo == nil {
		if t.folders == nil {
			t.folders = map[string]*Folder{}
		}
		fo = &Folder{Path: dir}
		t.folders[dir] = fo
	}
	fo.Files++
	fo.Bytes += f.Size
}

// Unlisted is how many files were counted without their hashes.
func (t *Tally) Unlisted() int { return t.Count - len(t.Listed) }

// Folders is the tally by folder, in tree order.
func (t *Tally) Folders() []Folder {
	out := make([]Folder, 0, len(t.folders))
	for _, f := range t.folders {
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b Folder) int { return treepath.Compare(a.Path, b.Path) })
	return out
}

// Verdict writes the one-line outcome: "Verified: 1 204 files, 212.4 GiB,
// no problems", or "Verified: 1 200 of 1 204 files, …, 3 problems" when
// fewer were checked than there are.
func Verdict(done string, checked, files int, bytes int64, problems int) string {
	tail := "no problems"
	switch {
	case problems == 1:
		tail = "1 problem"
	case problems > 1:
		tail = Count(problems) + " problems"
	}
	of := ""
	if checked < files {
		of = Count(checked) + " of "
	}
	return fmt.Sprintf("%s: %s%s %s, %s, %s", done, of, Count(files), plural(files, "file", "files"), size(bytes), tail)
}

// WriteDrive renders r as one self-contained HTML page.
func WriteDrive(w io.Writer, r *DriveReport) error {
	return pages.ExecuteTemplate(w, "drive.html", struct {
		*DriveReport
		Folders []Folder
	}{r, r.Files.Folders()})
}

// folderOf is the folder a file is tallied under: two levels deep
// ("Proxies/Day01"), the depth at which an editorial drive's layout says
// what it holds; "/" for a file at the top of the drive.
func folderOf(p string) string {
	dir := path.Dir(p)
	if dir == "." {
		return "/"
	}
	// The first two names, sliced rather than split and joined: this runs
	// once per file of a copy.
	first := strings.IndexByte(dir, '/')
	if first < 0 {
		return dir
	}
	second := strings.IndexByte(dir[first+1:], '/')
	if second < 0 {
		return dir
	}
	return dir[:first+1+second]
}

// Count prints a number with its thousands set apart by no-break spaces,
// so "1 204" never wraps across lines on a phone.
func Count(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteRune('\u00a0')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// size prints a byte count that never wraps between number and unit.
func size(n int64) string { return strings.Replace(units.FormatBytes(n), " ", "\u00a0", 1) }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
