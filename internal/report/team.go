package report

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// Team is what the team page shows: which drive has which media, what
// each lacks, the last backups and the review media about to expire.
type Team struct {
	Generated time.Time
	Drives    []TeamDrive
	Items     []TeamItem
	Backups   []TeamBackup
	Problems  []string // conflicts and refused catalog entries
}

// TeamDrive is one editor's drive as the catalog knows it.
type TeamDrive struct {
	Label, ID  string
	User       string
	LastPull   time.Time
	LastVerify time.Time
	VerifyOK   bool
}

// TeamItem is one media item of the catalog and the drives that hold it.
type TeamItem struct {
	Path     string
	Category string
	Size     int64
	Pushed   time.Time
	User     string
	On       []bool    // per Team.Drives, in order
	Expires  time.Time // zero: kept until withdrawn
}

// TeamBackup is the last backup of a set.
type TeamBackup struct {
	Set  string
	Time time.Time
	Who  string
	Note string
}

// teamDriveView is a drive's column with what it lacks.
type teamDriveView struct {
	TeamDrive
	Has        int
	Lacks      []TeamItem
	LacksBytes int64
}

// WriteTeam renders t as one self-contained HTML page.
func WriteTeam(w io.Writer, t *Team) error {
	views := make([]teamDriveView, len(t.Drives))
	for i, d := range t.Drives {
		views[i].TeamDrive = d
	}
	var expiring []TeamItem
	for _, it := range t.Items {
		for i := range views {
			if i < len(it.On) && it.On[i] {
				views[i].Has++
			} else {
				views[i].Lacks = append(views[i].Lacks, it)
				views[i].LacksBytes += it.Size
			}
		}
		if !it.Expires.IsZero() {
			expiring = append(expiring, it)
		}
	}
	slices.SortStableFunc(expiring, func(a, b TeamItem) int { return a.Expires.Compare(b.Expires) })
	lacking := 0
	for _, v := range views {
		if len(v.Lacks) > 0 {
			lacking++
		}
	}
	state, verdict := OK, teamVerdict(t, len(views), lacking)
	if lacking > 0 || len(t.Problems) > 0 {
		state = Problems
	}
	return pages.ExecuteTemplate(w, "team.html", struct {
		*Team
		State    State
		Verdict  string
		Views    []teamDriveView
		Expiring []TeamItem
	}{t, state, verdict, views, expiring})
}

// teamVerdict is the team page's one line: how many items and drives, and
// how many drives lack media.
func teamVerdict(t *Team, drives, lacking int) string {
	items := fmt.Sprintf("%s media %s", Count(len(t.Items)), plural(len(t.Items), "item", "items"))
	if drives == 0 {
		return items + ", no drive has pulled yet"
	}
	s := fmt.Sprintf("%s, %s %s: every drive has everything", items, Count(drives), plural(drives, "drive", "drives"))
	if lacking > 0 {
		s = fmt.Sprintf("%s, %s %s: %s %s media", items, Count(drives), plural(drives, "drive", "drives"), Count(lacking), plural(lacking, "lacks", "lack"))
	}
	if n := len(t.Problems); n > 0 {
		s += fmt.Sprintf(", %s %s", Count(n), plural(n, "problem", "problems"))
	}
	return s
}
