package main

import (
	"context"
	"path/filepath"
	"time"

	"github.com/editkit/editkit/internal/catalog"
	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/event"
)

func timeNow() time.Time { return time.Now() }

// record keeps a command's changes: in the hub's event log (through a local
// outbox, so nothing is lost while the hub is unreachable) and in the
// tracker. It never fails the command: what cannot go now waits in the
// outbox for the next command, and the user is warned.
func (e *env) record(ctx context.Context, h *contenthub.Hub, evs []event.Event) {
	for i := range evs {
		if evs[i].User == "" {
			evs[i].User = e.run.User
		}
		if evs[i].Host == "" {
			evs[i].Host = e.run.Host
		}
	}
	if h != nil {
		ob, err := contenthub.OpenOutbox(filepath.Join(e.stateDir(), "hub-outbox"))
		if err != nil {
			e.term.Warnf("could not keep the events for the hub: %v", err)
		} else if err := ob.Add(contenthub.NewBatch(time.Now(), evs)); err != nil {
			e.term.Warnf("could not keep the events for the hub: %v", err)
		} else if _, err := ob.Flush(ctx, h); err != nil {
			e.term.Warnf("the hub's event log could not be updated now (%v); the changes wait in %s and go with the next command", err, filepath.Join(e.stateDir(), "hub-outbox"))
		}
	}
	e.track(ctx, evs)
}

// recorder is record as a catalog.Recorder, for engines that record their
// own events (push).
func (e *env) recorder(h *contenthub.Hub) catalog.Recorder {
	return recorderFunc(func(ctx context.Context, evs []event.Event) { e.record(ctx, h, evs) })
}

type recorderFunc func(ctx context.Context, evs []event.Event)

// Record never fails: record warns, and keeps what it cannot deliver.
func (f recorderFunc) Record(ctx context.Context, evs []event.Event) error {
	f(ctx, evs)
	return nil
}

// warn tells the user something an engine noted.
func (e *env) warn(msg string) { e.term.Warnf("%s", msg) }

// catalogRefs lists the blobs the media catalog uses (every version of
// every item, withdrawn ones included: their history must stay
// restorable), for prune and check.
func (e *env) catalogRefs(h *contenthub.Hub) func(context.Context, func(b3, where string)) error {
	return func(ctx context.Context, add func(b3, where string)) error {
		state, _, err := catalog.Load(ctx, h, false)
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
	if pick("", "EDITKIT_HUB", e.cfg.Hub) == "" {
		return nil
	}
	h, err := e.openHub(ctx, &hubFlags{})
	if err != nil {
		e.term.Warnf("the hub's event log will not hear of this: %v", err)
		return nil
	}
	return h
}
