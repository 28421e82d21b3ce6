package doctor

import (
	"context"

	"github.com/editkit/editkit/internal/notify"
)

// Tracker reports on the tracker as tracker.CheckAccess found it.
func Tracker(reached string, err error) Result {
	if err != nil {
		return fail("tracker", "%s", oneLine(err))
	}
	return ok("tracker", "%s: reachable", reached)
}

// Notify reports on the notification targets: configured and well formed,
// and with send, a test message taken by each. Without targets, a warning:
// nobody hears of a failed nightly backup.
func Notify(ctx context.Context, s notify.Settings, send bool) []Result {
	var rs []Result
	for _, err := range s.Check() {
		rs = append(rs, fail("notify", "%v", err))
	}
	targets := s.Targets()
	if len(targets) == 0 {
		return append(rs, warn("notify", "no notification target: nobody hears of a failed backup or verify; set slack, teams, webhook or smtp in [notify]"))
	}
	if !send {
		for _, t := range targets {
			rs = append(rs, ok("notify", "%s is configured (not tried: --send-test sends a test message)", t.Name()))
		}
		return rs
	}
	for _, r := range notify.SendTest(ctx, s, "editkit doctor", "") {
		if r.Err != nil {
			rs = append(rs, fail("notify", "%s; check its setting in [notify]", oneLine(r.Err)))
		} else {
			rs = append(rs, ok("notify", "%s took a test message", r.Target))
		}
	}
	return rs
}
