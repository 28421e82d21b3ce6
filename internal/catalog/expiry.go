package catalog

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ParseExpiry reads a push --expires value: a time from now ("14d", "2w",
// "36h"), a date ("2026-12-31": the media may be kept through that day, in
// the local time zone, and expires at the midnight that ends it), an RFC
// 3339 time, or "never" (clears an expiry). never reports the last.
func ParseExpiry(s string, now time.Time) (t time.Time, never bool, err error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "never", "none":
		return time.Time{}, true, nil
	}
	if d, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
		return d.AddDate(0, 0, 1).UTC(), false, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), false, nil
	}
	if n := len(s); n > 1 && (s[n-1] == 'd' || s[n-1] == 'w') {
		if k, err := strconv.Atoi(s[:n-1]); err == nil && k > 0 {
			days := k
			if s[n-1] == 'w' {
				days = 7 * k
			}
			return now.AddDate(0, 0, days).UTC(), false, nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d).UTC(), false, nil
	}
	return time.Time{}, false, fmt.Errorf("--expires %q: give a time from now (14d, 2w, 36h), a date (2026-12-31) or never", s)
}

// Expired reports whether the item's expiry has passed at now.
func (it *Item) Expired(now time.Time) bool { return !it.Expires.IsZero() && !now.Before(it.Expires) }

// DriveExpiry is the review media a drive holds, soonest expiry first.
type DriveExpiry struct {
	Label string         `json:"label"`
	ID    string         `json:"id"`
	Items []ExpiringCopy `json:"items"`
}

// ExpiringCopy is a drive's copy of review media.
type ExpiringCopy struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	Expires time.Time `json:"expires"`
	// Expired: it should have been purged and the catalog says the drive
	// still has it.
	Expired bool `json:"expired"`
}

// ExpiringByDrive lists, per drive, the catalog's review media the drive
// holds: what expires when, and what expired and is still there (purge
// --expired removes it).
func (st *Status) ExpiringByDrive(now time.Time) []DriveExpiry {
	byID := map[string]*DriveExpiry{}
	var out []*DriveExpiry
	for _, it := range st.Items {
		if it.Expires.IsZero() {
			continue
		}
		for _, d := range it.Drives {
			de := byID[d.ID]
			if de == nil {
				de = &DriveExpiry{Label: d.Label, ID: d.ID}
				byID[d.ID] = de
				out = append(out, de)
			}
			de.Items = append(de.Items, ExpiringCopy{Path: it.Path, Size: it.Size, Expires: it.Expires, Expired: it.Item.Expired(now)})
		}
	}
	res := make([]DriveExpiry, 0, len(out))
	for _, de := range out {
		sort.SliceStable(de.Items, func(i, j int) bool { return de.Items[i].Expires.Before(de.Items[j].Expires) })
		res = append(res, *de)
	}
	sort.Slice(res, func(i, j int) bool { return res[i].Label < res[j].Label })
	return res
}
