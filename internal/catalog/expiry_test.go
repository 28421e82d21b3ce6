package catalog

import (
	"testing"
	"time"

	"github.com/editkit/editkit/internal/event"
)

// Every editor's catalog knows an item's expiry: from the push, changed by
// the same content pushed again "replacing itself", kept by a plain push
// of the same content, and removed from a drive's holdings by a purge.
func TestFoldExpiry(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	in14 := now.AddDate(0, 0, 14)
	s := NewState()
	e := pushed(now, "Review/cut.mov", 1, "")
	e.Expires = in14
	s.Apply(e)
	if got := s.Items["Review/cut.mov"].Expires; !got.Equal(in14) {
		t.Fatalf("expiry after push: %v", got)
	}
	s.Apply(pushed(now, "Review/cut.mov", 1, "")) // same content, no expiry asked: kept
	if got := s.Items["Review/cut.mov"].Expires; !got.Equal(in14) {
		t.Fatalf("a plain push of the same content changed the expiry: %v", got)
	}
	again := pushed(now, "Review/cut.mov", 1, hash(1)) // "never": replaces itself with no expiry
	s.Apply(again)
	if got := s.Items["Review/cut.mov"].Expires; !got.IsZero() {
		t.Fatalf("expiry after never: %v", got)
	}
	pl := event.New(now, event.Pulled)
	pl.DriveID, pl.Drive, pl.Path, pl.Hash = "d1", "ED1", "Review/cut.mov", hash(1)
	s.Apply(pl)
	pg := event.New(now, event.Purged)
	pg.DriveID, pg.Drive, pg.Path, pg.Hash = "d1", "ED1", "Review/cut.mov", hash(1)
	s.Apply(pg)
	if _, has := s.Drives["d1"].Has["Review/cut.mov"]; has {
		t.Fatal("a purged item is still on the drive in the catalog")
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in    string
		want  time.Time
		never bool
	}{
		{"14d", now.AddDate(0, 0, 14), false},
		{"2w", now.AddDate(0, 0, 14), false},
		{"36h", now.Add(36 * time.Hour), false},
		{"2026-12-31", time.Date(2027, 1, 1, 0, 0, 0, 0, time.Local).UTC(), false},
		{"never", time.Time{}, true},
	} {
		got, never, err := ParseExpiry(c.in, now)
		if err != nil || !got.Equal(c.want) || never != c.never {
			t.Errorf("%s: %v %v %v; want %v %v", c.in, got, never, err, c.want, c.never)
		}
	}
	for _, bad := range []string{"", "0d", "-3d", "tomorrow", "2026-13-01"} {
		if _, _, err := ParseExpiry(bad, now); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
