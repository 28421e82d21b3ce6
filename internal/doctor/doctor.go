// Package doctor owns `editkit doctor`: the checks of the setup a cron job
// relies on — the settings file, the hub (reachable, credentials, a probe
// object written and deleted, the clock against the hub's), the tracker's
// Sheet, a drive's file system and free space, the state folder and the
// notification targets. Each check is a small function returning results
// of one line each: ok, warn or fail, what, and what to do.
package doctor

import (
	"fmt"
	"strings"
)

// Status is a check's verdict. Only Fail makes the setup unfit: a warning
// is worth knowing but does not stop a cron job.
type Status string

const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Result is one line of the doctor's answer.
type Result struct {
	Check   string `json:"check"` // settings, hub, clock, tracker, drive, space, state, notify
	Status  Status `json:"status"`
	Message string `json:"message"` // what, and what to do
}

func (r Result) String() string {
	return fmt.Sprintf("%-5s %s: %s", string(r.Status)+":", r.Check, r.Message)
}

func ok(check, format string, a ...any) Result {
	return Result{check, OK, fmt.Sprintf(format, a...)}
}

func warn(check, format string, a ...any) Result {
	return Result{check, Warn, fmt.Sprintf(format, a...)}
}

func fail(check, format string, a ...any) Result {
	return Result{check, Fail, fmt.Sprintf(format, a...)}
}

// Healthy reports whether no result failed.
func Healthy(rs []Result) bool {
	for _, r := range rs {
		if r.Status == Fail {
			return false
		}
	}
	return true
}

// Settings reports on the settings file: loadErr is what reading it said.
func Settings(path string, exists bool, loadErr error) Result {
	switch {
	case loadErr != nil:
		return fail("settings", "%v; fix that line (`editkit config init --force` writes a fresh commented file)", loadErr)
	case !exists:
		return warn("settings", "no settings file at %s: only flags and environment apply (`editkit config init` writes one)", path)
	}
	return ok("settings", "%s is valid", path)
}

// oneLine keeps an error's message on one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
