package catalog

import (
	"fmt"
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
