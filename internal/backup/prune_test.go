package backup

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/hub"
)

// The keep policy follows restic's: the newest snapshot in each of the
// last N days, weeks and months, and the last N; any rule keeps.
func TestPolicyKeep(t *testing.T) {
	loc := time.Local
	var snaps []*hub.Snapshot
	// Two snapshots a day (09:00 and 23:30) for 70 days.
	start := time.Date(2026, 9, 1, 0, 0, 0, 0, loc)
	for d := 0; d < 70; d++ {
		for _, h := range []int{9, 23} {
			tm := start.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour)
			snaps = append(snaps, &hub.Snapshot{ID: tm.UTC().Format("20060102T150405") + fmt.Sprint(h), Time: tm})
		}
	}
	keep, remove := Policy{Daily: 7}.Keep(snaps)
	if len(keep) != 7 || len(keep)+len(remove) != len(snaps) {
		t.Fatalf("daily 7: kept %d", len(keep))
	}
	for _, s := range keep {
		if s.Time.Hour() != 23 {
			t.Errorf("daily kept %s, not the newest of its day", s.Time)
		}
	}
	keep, _ = Policy{Daily: 7, Weekly: 4, Monthly: 3, Last: 1}.Keep(snaps)
	months := map[string]bool{}
	for _, s := range keep {
		months[s.Time.Format("2006-01")] = true
	}
	if len(months) != 3 || len(keep) < 7 || len(keep) > 14 {
		t.Fatalf("mixed policy kept %d snapshots over %d months", len(keep), len(months))
	}
	if !slices.ContainsFunc(keep, func(s *hub.Snapshot) bool { return s == snaps[len(snaps)-1] }) {
		t.Fatal("the newest snapshot was not kept")
	}
	if (Policy{}).empty() != true {
		t.Fatal("empty policy")
	}
}
