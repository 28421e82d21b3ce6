package tracker

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/outbox"
)

// sink is a tracker backend: the Google Sheet or the CSV folder.
type sink interface {
	init(ctx context.Context) error
	// push makes every event present in the Log exactly once and the
	// derived tabs reflect them. It reports which events are confirmed
	// present (read back, not assumed from a response), even when it
	// fails part-way.
	push(ctx context.Context, evs []event.Event) (pushResult, error)
	rebuild(ctx context.Context, all []event.Event) error
	// notSent explains a push error to the user.
	notSent(err error) *NotSentError
}

type pushResult struct {
	confirmed map[string]bool // ids seen in the Log after writing
	written   int             // rows this push appended
	already   int             // events found present before writing
	warnings  []string
}

// engine is the Tracker both backends share: delivery from the outbox
// (internal/outbox, shared with the hub's event log) under the tracker's
// lock there, and the coalescing of per-file calls. The backend only has
// to make a set of events present exactly once.
type engine struct {
	cfg  Config
	sink sink
	ob   *outbox.Outbox // nil: no outbox configured

	mu        sync.Mutex // one send at a time within the process
	lastFlush time.Time
	// pending is how many events wait in the outbox as far as this
	// process knows (-1: not counted yet). Counting the files on every
	// deferred Record would make per-file recording quadratic.
	pending int
}

func newEngine(cfg Config, s sink) (*engine, error) {
	e := &engine{cfg: cfg, sink: s, pending: -1}
	if cfg.OutboxDir != "" {
		ob, err := outbox.Open(cfg.OutboxDir, cfg.OutboxHook)
		if err != nil {
			return nil, err
		}
		e.ob = ob
	}
	return e, nil
}

func (e *engine) Init(ctx context.Context) error { return e.sink.init(ctx) }

func validate(evs []event.Event) ([]event.Event, error) {
	seen := make(map[string]bool, len(evs))
	out := make([]event.Event, 0, len(evs))
	for _, ev := range evs {
		if err := ev.Validate(); err != nil {
			return nil, fmt.Errorf("tracker: %w", err)
		}
		if seen[ev.ID] {
			continue
		}
		seen[ev.ID] = true
		out = append(out, ev)
	}
	return out, nil
}

func (e *engine) Record(ctx context.Context, evs []event.Event) (Result, error) {
	evs, err := validate(evs)
	if err != nil {
		return Result{}, err
	}
	if e.ob == nil {
		return e.recordDirect(ctx, evs)
	}
	if err := e.ob.Add(outbox.NewBatch(time.Now(), []string{outbox.Tracker}, evs)); err != nil {
		return Result{}, err
	}
	e.mu.Lock()
	recent := e.cfg.MinFlushInterval > 0 && !e.lastFlush.IsZero() && e.cfg.Clock.Now().Sub(e.lastFlush) < e.cfg.MinFlushInterval
	if recent {
		if e.pending < 0 {
			e.pending = e.ob.Waiting(outbox.Tracker)
		} else {
			e.pending += len(evs)
		}
		n := e.pending
		e.mu.Unlock()
		return Result{Accepted: len(evs), Pending: n, Deferred: true}, nil
	}
	e.mu.Unlock()
	res, err := e.flush(ctx)
	res.Accepted = len(evs)
	if err != nil {
		// The events are safe in the outbox already: a failure to send
		// them (even a local one, like an unreadable lock file) is a
		// warning for this command, not a lost record.
		res.NotSent = &NotSentError{Pending: res.Pending, Outbox: e.ob.Dir(), Reason: err.Error(), Err: err}
		return res, nil
	}
	return res, nil
}

// recordDirect sends without an outbox: the events are accepted only if
// they reach the tracker, so a failure is the caller's error.
func (e *engine) recordDirect(ctx context.Context, evs []event.Event) (Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	pr, err := e.sink.push(ctx, evs)
	res := Result{Accepted: len(evs), Sent: pr.written, AlreadyThere: pr.already, Warnings: pr.warnings}
	for _, ev := range evs {
		if !pr.confirmed[ev.ID] {
			res.Pending++
		}
	}
	if res.Pending > 0 {
		if err == nil {
			err = errors.New("the tracker did not confirm every row")
		}
		ns := e.sink.notSent(err)
		ns.Pending = res.Pending
		return res, ns
	}
	return res, nil
}

func (e *engine) Sync(ctx context.Context) (Result, error) {
	if e.ob == nil {
		return Result{}, nil
	}
	return e.flush(ctx)
}

// flush sends the outbox under its lock.
func (e *engine) flush(ctx context.Context) (res Result, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lastFlush = e.cfg.Clock.Now()
	snd, err := e.ob.Lock(ctx, outbox.Tracker, e.cfg.Clock, e.cfg.LockWait)
	if err != nil {
		n := e.ob.Waiting(outbox.Tracker)
		if errors.Is(err, fsx.ErrLocked) {
			return Result{Pending: n, NotSent: &NotSentError{Pending: n, Outbox: e.ob.Dir(), Temporary: true, Err: err,
				Reason: "another editkit on this computer is sending the tracker events right now"}}, nil
		}
		if ctx.Err() != nil {
			return Result{Pending: n, NotSent: &NotSentError{Pending: n, Outbox: e.ob.Dir(), Temporary: true, Err: ctx.Err(),
				Reason: "interrupted"}}, nil
		}
		return Result{Pending: n}, fmt.Errorf("tracker outbox %s: %w", e.ob.Dir(), err)
	}
	defer snd.Close()
	batches, warnings, err := snd.Pending()
	if err != nil {
		return Result{}, err
	}
	var pending []event.Event
	seen := map[string]bool{}
	for _, b := range batches {
		for _, ev := range b.Unconfirmed() {
			if !seen[ev.ID] {
				seen[ev.ID] = true
				pending = append(pending, ev)
			}
		}
	}
	res = Result{Warnings: warnings}
	if len(pending) == 0 {
		e.pending = 0
		return res, nil
	}
	defer func() { e.pending = res.Pending }()
	snd.Step("sending")
	pr, perr := e.sink.push(ctx, pending)
	snd.Step("sent")
	res.Warnings = append(res.Warnings, pr.warnings...)
	res.Sent, res.AlreadyThere = pr.written, pr.already
	if serr := settle(snd, batches, pr.confirmed); serr != nil {
		// The events are in the tracker; a receipt not written only costs
		// a read next time (their ids are found present and skipped).
		res.Warnings = append(res.Warnings, fmt.Sprintf("could not note in the outbox %s what the tracker confirmed: %v", e.ob.Dir(), serr))
	}
	for _, ev := range pending {
		if !pr.confirmed[ev.ID] {
			res.Pending++
		}
	}
	if res.Pending > 0 {
		if perr == nil {
			perr = errors.New("the tracker did not confirm every row")
		}
		ns := e.sink.notSent(perr)
		ns.Pending, ns.Outbox = res.Pending, e.ob.Dir()
		res.NotSent = ns
		e.cfg.Logger.Warn("tracker events queued", "pending", res.Pending, "reason", ns.Reason)
	}
	return res, nil
}

// settle writes the tracker's receipt of every batch the push confirmed
// more of: the events confirmed so far, done when that is all of them (the
// batch then leaves the outbox once its other destinations are done too).
// A batch is never rewritten: a partly confirmed one keeps its events, and
// its receipt says which not to send again.
func settle(snd *outbox.Sender, batches []outbox.Pending, confirmed map[string]bool) error {
	var errs []error
	for _, b := range batches {
		before := len(b.Receipt.Confirmed)
		for _, ev := range b.Unconfirmed() {
			if confirmed[ev.ID] {
				b.Receipt.Confirmed = append(b.Receipt.Confirmed, ev.ID)
			}
		}
		if len(b.Receipt.Confirmed) == before {
			continue
		}
		if len(b.Unconfirmed()) == 0 {
			b.Receipt = outbox.Receipt{Done: true}
		}
		if err := snd.Save(b); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (e *engine) Rebuild(ctx context.Context, all iter.Seq[event.Event]) error {
	var evs []event.Event
	seen := map[string]bool{}
	for ev := range all {
		if err := ev.Validate(); err != nil {
			return fmt.Errorf("tracker rebuild: %w", err)
		}
		if !seen[ev.ID] {
			seen[ev.ID] = true
			evs = append(evs, ev)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	e.mu.Lock()
	if e.ob != nil {
		// Hold the send lock so this machine's own outbox does not race
		// the backfill of the Log.
		snd, err := e.ob.Lock(ctx, outbox.Tracker, e.cfg.Clock, e.cfg.LockWait)
		if err != nil {
			e.mu.Unlock()
			return fmt.Errorf("tracker rebuild: %w", err)
		}
		err = e.sink.rebuild(ctx, evs)
		snd.Close()
		e.mu.Unlock()
		if err != nil {
			return err
		}
		// Events waiting in the outbox are now found in the Log: settle.
		_, err = e.flush(ctx)
		return err
	}
	defer e.mu.Unlock()
	return e.sink.rebuild(ctx, evs)
}
