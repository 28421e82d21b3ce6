package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/editkit/editkit/internal/catalog"
	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/outbox"
	"github.com/editkit/editkit/internal/tracker"
)

func timeNow() time.Time { return time.Now() }

// record keeps a command's changes in this computer's outbox, bound for the
// hub's event log (when the command has a hub) and the tracker, then
// delivers what waits there. It never fails the command: what cannot go now
// waits in the outbox for the next command, and the user is warned. It
// reports whether the events are safe in the outbox.
func (e *env) record(ctx context.Context, h *contenthub.Hub, evs []event.Event) bool {
	for i := range evs {
		if evs[i].User == "" {
			evs[i].User = e.run.User
		}
		if evs[i].Host == "" {
			evs[i].Host = e.run.Host
		}
	}
	// A batch goes to the hub when one is configured, reachable now or
	// not; without one it would wait for ever for a hub that may never be.
	to := []string{outbox.Tracker}
	if h != nil || e.hubConfigured() {
		to = append(to, outbox.Hub)
	}
	ob, err := e.openOutbox(ctx)
	if err == nil {
		err = ob.Add(outbox.NewBatch(time.Now(), to, evs))
	}
	if err != nil {
		e.term.Warnf("these changes could not be kept for the hub's event log and the tracker: %v", err)
		return false
	}
	if h != nil {
		e.deliverToHub(ctx, ob, h)
	}
	e.track(ctx)
	e.flushNotifications(ctx, ob)
	return true
}

// deliverToHub sends the hub's waiting batches to its event log.
func (e *env) deliverToHub(ctx context.Context, ob *outbox.Outbox, h *contenthub.Hub) {
	snd, err := ob.Lock(ctx, outbox.Hub, tracker.RealClock(), outboxLockWait)
	if err == nil {
		var warnings []string
		_, warnings, err = h.Deliver(ctx, snd)
		snd.Close()
		for _, w := range warnings {
			e.term.Warnf("hub event log: %s", w)
		}
	}
	if err != nil {
		e.term.Warnf("the hub's event log could not be updated now (%v); the changes wait in %s and go with the next command that reaches the hub", err, ob.Dir())
	}
}

// outboxLockWait is how long a command waits for another editkit on this
// computer that is delivering the same destination's events.
const outboxLockWait = 30 * time.Second

func (e *env) outboxDir() string { return filepath.Join(e.stateDir(), "outbox") }

// openOutbox opens this computer's outbox, first taking over the batches an
// editkit before the one outbox left in its two folders.
func (e *env) openOutbox(ctx context.Context) (*outbox.Outbox, error) {
	ob, err := outbox.Open(e.outboxDir(), testHook("outbox"))
	if err != nil {
		return nil, err
	}
	for _, old := range []struct{ dest, dir string }{{outbox.Hub, "hub-outbox"}, {outbox.Tracker, "tracker-outbox"}} {
		dir := filepath.Join(e.stateDir(), old.dir)
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		snd, err := ob.Lock(ctx, old.dest, tracker.RealClock(), outboxLockWait)
		if err != nil {
			e.term.Warnf("events waiting in %s were not taken over yet (%v); the next command tries again", dir, err)
			continue
		}
		_, warnings, err := snd.Import(dir)
		snd.Close()
		for _, w := range warnings {
			e.term.Warnf("%s", w)
		}
		if err != nil {
			e.term.Warnf("%v", err)
		}
	}
	return ob, nil
}

// recorder is record as a catalog.Recorder, for engines that record their
// own events (push).
func (e *env) recorder(h *contenthub.Hub) catalog.Recorder {
	return recorderFunc(func(ctx context.Context, evs []event.Event) error {
		if e.record(ctx, h, evs) {
			return nil
		}
		// Not kept on this computer: the push is in the catalog only if
		// the log has its events now.
		return h.Record(ctx, evs)
	})
}

type recorderFunc func(ctx context.Context, evs []event.Event) error

// Record fails only when the events are neither kept in the outbox nor in
// the hub's log.
func (f recorderFunc) Record(ctx context.Context, evs []event.Event) error { return f(ctx, evs) }

// warn tells the user something an engine noted.
func (e *env) warn(msg string) { e.term.Warnf("%s", msg) }

// catalogRefs lists the blobs the media catalog uses (every version of
// every item, withdrawn ones included: their history must stay
// restorable), for prune and check.
func (e *env) catalogRefs(h *contenthub.Hub) func(context.Context, func(b3, where string)) error {
	return func(ctx context.Context, add func(b3, where string)) error {
		state, _, err := catalog.Load(ctx, h, e.runEnv(nil).Now(), false)
		if err != nil {
			return err
		}
		for i, items := range []map[string]*catalog.Item{state.Items, state.Withdrawn} {
			kind := "media catalog"
			if i == 1 {
				kind = "media catalog (withdrawn)"
			}
			for _, it := range items {
				add(it.B3, kind+": "+it.Path)
				for _, v := range it.Previous {
					add(v.B3, kind+": "+it.Path+" (version of "+v.Time.Local().Format("2006-01-02 15:04")+")")
				}
			}
		}
		return nil
	}
}

// optionalHub opens the hub if one is configured (environment or settings
// file), for commands that work without one but record their changes in
// its event log when there is one. Problems are warnings.
func (e *env) optionalHub(ctx context.Context) *contenthub.Hub {
	if !e.hubConfigured() {
		return nil
	}
	h, err := e.openHub(ctx, &hubFlags{})
	if err != nil {
		e.term.Warnf("the hub could not be opened (%v); its event log hears of these changes from the next command that reaches it (they wait in %s)", err, e.outboxDir())
		return nil
	}
	return h
}

// hubConfigured reports whether the environment or the settings file name
// a hub (commands with --hub open theirs themselves).
func (e *env) hubConfigured() bool { return pick("", "EDITKIT_HUB", e.cfg.Hub) != "" }
