package doctor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/fsx"
)

// ProbePrefix is where the hub check writes its probe object: no reader
// of the hub (catalog, snapshots, prune) lists it.
const ProbePrefix = "doctor/"

// Skew limits: S3 refuses requests signed more than 15 minutes off its
// clock; past a minute, something is already wrong with time keeping.
const (
	SkewFail = 15 * time.Minute
	SkewWarn = time.Minute
)

// Hub writes a probe object, reads its time back and deletes it: the hub
// can be reached, the credentials are good, objects can be written and
// deleted, and this computer's clock (now: a fake one in tests) agrees with
// the hub's. where names the hub in messages.
func Hub(ctx context.Context, store backend.Backend, where string, now func() time.Time) []Result {
	key := ProbePrefix + "probe-" + fsx.RandomID(8)
	before := now()
	err := store.Put(ctx, key, backend.BytesSource([]byte("editkit doctor probe; safe to delete\n")), backend.PutOptions{IfNotExists: true})
	after := now()
	if err != nil {
		return []Result{hubFailure(where, "could not write a probe object", err)}
	}
	rs := []Result{}
	info, err := store.Stat(ctx, key)
	if err != nil {
		rs = append(rs, hubFailure(where, "wrote a probe object but cannot read it back", err))
	}
	if err := store.Delete(ctx, key); err != nil {
		rs = append(rs, hubFailure(where, "wrote a probe object but cannot delete it ("+key+")", err))
	} else if _, err := store.Stat(ctx, key); !errors.Is(err, backend.ErrNotFound) {
		rs = append(rs, fail("hub", "%s: the probe object %s is still there after it was deleted; check the store's versioning or object-lock settings", where, key))
	}
	if len(rs) == 0 {
		rs = append(rs, ok("hub", "%s: reachable, credentials accepted, a probe object was written and deleted", where))
	}
	if !info.Modified.IsZero() {
		rs = append(rs, clock(info.Modified, before, after))
	}
	return rs
}

// clock compares the hub's time for the probe (its last-modified time,
// to the second) with this computer's around the write.
func clock(hubTime, before, after time.Time) Result {
	mid := before.Add(after.Sub(before) / 2)
	skew := mid.Sub(hubTime)
	// The hub's time has one-second resolution and the write took a while.
	slack := after.Sub(before)/2 + time.Second
	abs := skew.Abs()
	if abs <= slack {
		return ok("clock", "this computer's clock agrees with the hub's (within %s)", slack.Round(time.Millisecond))
	}
	dir := "ahead of"
	if skew < 0 {
		dir = "behind"
	}
	// The hub's time is to the second: say minutes once there are some.
	off := abs.Round(time.Second).String()
	if abs >= time.Minute {
		off = fmt.Sprintf("about %d minutes", int(abs.Round(time.Minute).Minutes()))
	}
	msg := fmt.Sprintf("this computer's clock is %s %s the hub's", off, dir)
	switch {
	case abs >= SkewFail:
		return fail("clock", "%s: S3 refuses requests signed more than 15 minutes off; set the clock right (turn on automatic date and time / NTP)", msg)
	case abs >= SkewWarn:
		return warn("clock", "%s: S3 refuses requests past 15 minutes; turn on automatic date and time (NTP)", msg)
	}
	return ok("clock", "%s (fine)", msg)
}

func hubFailure(where, what string, err error) Result {
	switch {
	case errors.Is(err, backend.ErrAuth):
		return fail("hub", "%s: %s: the credentials were refused (%s); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE and the key's permissions", where, what, oneLine(err))
	case errors.Is(err, backend.ErrNoBucket):
		return fail("hub", "%s: %s: %s; check the hub setting (bucket name, folder path) or create it", where, what, oneLine(err))
	case errors.Is(err, context.DeadlineExceeded), backend.IsTransient(err):
		return fail("hub", "%s: %s: cannot reach it (%s); check the network, the s3_endpoint setting, or that the server is running", where, what, oneLine(err))
	}
	return fail("hub", "%s: %s: %s", where, what, oneLine(err))
}

// HubUnopened is the hub check's answer when the hub at where could not
// even be opened (the open's first request failed): the same advice as a
// failed probe, by kind of failure.
func HubUnopened(where string, err error) Result {
	return hubFailure(where, "could not open it", err)
}
