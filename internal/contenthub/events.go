package contenthub

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"sort"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/outbox"
)

const eventsPrefix = "events/"

// Batch is a group of events written as one object: one command's changes.
type Batch struct {
	ID     string        // unique (event.NewID)
	Events []event.Event // in order
	// Key is the object the batch is written to, chosen at the first
	// attempt to send it and kept for retries: the time in it is when the
	// batch reached the hub (not when it was made, which may be days
	// earlier for a laptop that was offline), so the log's order is arrival
	// order and readers that checkpointed the log do not miss late batches.
	Key string `json:",omitempty"`
}

// eventKey names a batch's object: by arrival day, then a time-ordered
// unique ID, so listing the log returns it in arrival order.
func eventKey(id string) string {
	return eventsPrefix + id[0:4] + "/" + id[4:6] + "/" + id[6:8] + "/" + id + ".jsonl"
}

// NewEventKey returns a fresh key for a batch reaching the hub now.
func NewEventKey(now time.Time) string { return eventKey(event.NewID(now)) }

// FirstEventKeyAt is a bound below every key of a batch that reached the
// hub at t or later, and above every key of one that reached it earlier:
// batch keys compare as their arrival times.
func FirstEventKeyAt(t time.Time) string {
	t = t.UTC()
	return eventsPrefix + t.Format("2006/01/02") + "/" + t.Format("20060102T150405.000000Z")
}

// EventKeyTime returns when a batch with the given key reached the hub.
func EventKeyTime(key string) (time.Time, bool) {
	base := key[strings.LastIndexByte(key, '/')+1:]
	if len(base) < 23 {
		return time.Time{}, false
	}
	const layout = "20060102T150405.000000Z"
	t, err := time.Parse(layout, base[:23])
	// Only the form NewEventKey writes: time.Parse also takes a comma
	// for the decimal point, and such a key would sort out of time order.
	return t, err == nil && t.Format(layout) == base[:23]
}

// AppendEvents writes a batch to the log under b.Key. Writing the same
// batch again (a retry after a timeout whose outcome was unknown) changes
// nothing: objects are created only if absent.
func (h *Hub) AppendEvents(ctx context.Context, b Batch) error {
	if err := validBatch(b); err != nil {
		return err
	}
	if b.Key == "" {
		return fmt.Errorf("event batch %s has no key", b.ID)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, e := range b.Events {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	err := h.backend.Put(ctx, b.Key, backend.BytesSource(buf.Bytes()), backend.PutOptions{IfNotExists: true})
	if errors.Is(err, backend.ErrExists) {
		return nil
	}
	return err
}

// validBatch checks a batch before it is written to the log, or read
// from the outbox: an event the log's readers refuse would make the whole
// log unreadable for everyone, so it must never get there.
func validBatch(b Batch) error {
	if err := validBatchID(b.ID); err != nil {
		return err
	}
	if b.Key != "" {
		if _, ok := EventKeyTime(b.Key); !ok || !strings.HasPrefix(b.Key, eventsPrefix) || !strings.HasSuffix(b.Key, ".jsonl") || backend.ValidateKey(b.Key) != nil {
			return fmt.Errorf("event batch %s has no valid key %q", b.ID, b.Key)
		}
	}
	for _, e := range b.Events {
		if err := e.Validate(); err != nil {
			return fmt.Errorf("event batch %s: %w", b.ID, err)
		}
	}
	return nil
}

func validBatchID(id string) error {
	if id == "" || len(id) > 100 || strings.ContainsAny(id, "/\\\x00 ") || strings.Contains(id, "..") {
		return fmt.Errorf("event batch id %q is not valid", id)
	}
	return nil
}

// EventRecord is an event with the log object it came from.
type EventRecord struct {
	Key string
	event.Event
}

// EventKeys lists the log's batch keys in order, those that arrived on or
// after the day of since (zero: all), listing only the folders of the days
// from since to two days after now, the caller's clock (the command's run
// clock: computers' clocks differ, and a test's runs ahead).
func (h *Hub) EventKeys(ctx context.Context, since, now time.Time) ([]string, error) {
	var prefixes []string
	until := now.UTC().Add(48 * time.Hour)
	if since.IsZero() || until.Sub(since) > 90*24*time.Hour {
		prefixes = []string{eventsPrefix}
	} else {
		for d := since.UTC().Truncate(24 * time.Hour); !d.After(until); d = d.Add(24 * time.Hour) {
			prefixes = append(prefixes, eventsPrefix+d.Format("2006/01/02")+"/")
		}
	}
	var keys []string
	for _, p := range prefixes {
		for oi, err := range h.backend.List(ctx, p) {
			if err != nil {
				return nil, fmt.Errorf("listing the event log: %w", err)
			}
			if _, ok := EventKeyTime(oi.Key); ok && strings.HasSuffix(oi.Key, ".jsonl") {
				keys = append(keys, oi.Key)
			}
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// ReadBatch returns the events of one batch object.
func (h *Hub) ReadBatch(ctx context.Context, key string) ([]event.Event, error) {
	return h.readBatch(ctx, key)
}

// Events streams the whole event log, oldest batch first; events of a batch
// in their order. A damaged object or event is an error naming it, not a
// silent gap.
func (h *Hub) Events(ctx context.Context) iter.Seq2[EventRecord, error] {
	return func(yield func(EventRecord, error) bool) {
		keys, err := h.EventKeys(ctx, time.Time{}, time.Time{})
		if err != nil {
			yield(EventRecord{}, err)
			return
		}
		for _, k := range keys {
			evs, err := h.readBatch(ctx, k)
			if err != nil {
				yield(EventRecord{}, err)
				return
			}
			for _, e := range evs {
				if !yield(EventRecord{Key: k, Event: e}, nil) {
					return
				}
			}
		}
	}
}

func (h *Hub) readBatch(ctx context.Context, key string) ([]event.Event, error) {
	rc, err := h.backend.Get(ctx, key, 0, -1)
	if err != nil {
		return nil, fmt.Errorf("event log %s: %w", key, err)
	}
	defer rc.Close()
	var out []event.Event
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		var e event.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("event log %s line %d: %w", key, n, err)
		}
		if err := e.Validate(); err != nil {
			return nil, fmt.Errorf("event log %s line %d: %w", key, n, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("event log %s: %w", key, err)
	}
	return out, nil
}

// Deliver sends to the log the batches waiting for the hub in this
// computer's outbox (s holds its hub lock), oldest first, stopping at the
// first failure: the rest waits for the next command. Each batch's object
// is chosen (named by the hub's clock) and saved in its receipt before
// the first attempt, so a retry after a crash or a timeout writes the
// same object, which AppendEvents creates only if absent: a batch lands
// in the log once. A batch the log refuses for good (its saved object is
// not a log key) is put aside, not left to block the others.
func (h *Hub) Deliver(ctx context.Context, s *outbox.Sender) (sent int, warnings []string, err error) {
	pending, warnings, err := s.Pending()
	if err != nil {
		return 0, warnings, err
	}
	for _, p := range pending {
		if p.Receipt.Key == "" {
			p.Receipt.Key = NewEventKey(h.now())
			if err := s.Save(p); err != nil {
				return sent, warnings, err
			}
		}
		b := Batch{ID: p.ID, Events: p.Events, Key: p.Receipt.Key}
		if err := validBatch(b); err != nil {
			warnings = append(warnings, s.Quarantine(p.ID, err))
			continue
		}
		s.Step("sending")
		if err := h.AppendEvents(ctx, b); err != nil {
			return sent, warnings, err
		}
		s.Step("sent")
		p.Receipt.Done = true
		if err := s.Save(p); err != nil {
			return sent, warnings, err
		}
		sent++
	}
	return sent, warnings, nil
}

// Record appends events to the log as one batch arriving now (by the
// hub's clock). Commands
// record through the outbox (internal/outbox) instead, so that an
// unreachable hub loses nothing.
func (h *Hub) Record(ctx context.Context, evs []event.Event) error {
	now := h.now()
	return h.AppendEvents(ctx, Batch{ID: event.NewID(now), Events: evs, Key: NewEventKey(now)})
}
