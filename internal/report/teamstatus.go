package report

import (
	"fmt"
	"time"

	"github.com/editkit/editkit/internal/catalog"
)

// TeamFromStatus is the team page for what `editkit status` read from the
// hub, as of now.
func TeamFromStatus(st *catalog.Status, now time.Time) *Team {
	t := &Team{Generated: now}
	col := map[string]int{}
	for i, d := range st.Drives {
		col[d.ID] = i
		t.Drives = append(t.Drives, TeamDrive{Label: d.Label, ID: d.ID, User: d.User,
			LastPull: d.LastPull, LastVerify: d.LastVerify, VerifyOK: d.VerifyOK})
	}
	for _, it := range st.Items {
		ti := TeamItem{Path: it.Path, Category: it.Category, Size: it.Size, Pushed: it.Time, User: it.User,
			On: make([]bool, len(t.Drives)), Expires: it.Expires}
		for _, c := range it.Drives {
			if i, ok := col[c.ID]; ok {
				ti.On[i] = true
			}
		}
		t.Items = append(t.Items, ti)
	}
	for _, b := range st.Backups {
		who := b.User
		if b.Host != "" {
			who += "@" + b.Host
		}
		t.Backups = append(t.Backups, TeamBackup{Set: b.Set, Time: b.Time, Who: who, Note: b.Note})
	}
	for _, rj := range st.Rejected {
		t.Problems = append(t.Problems, fmt.Sprintf("refused catalog entry %q (pushed by %s on %s): %s", rj.Path, rj.User, rj.Host, rj.Reason))
	}
	for _, c := range st.Conflicts {
		t.Problems = append(t.Problems, fmt.Sprintf("conflict: %s pushed a different file to %s (%s); the catalog kept the first",
			c.User, c.Path, c.Time.UTC().Format("2006-01-02 15:04 UTC")))
	}
	return t
}
