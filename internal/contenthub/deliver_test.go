package contenthub_test

import (
	"context"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/outbox"
	"github.com/editkit/editkit/internal/tracker"
)

// A delivery that stopped after the log object was written (killed, or the
// answer lost) is done again to the same object, chosen before the first
// attempt: the log holds the batch once, and the outbox lets it go.
func TestDeliverAfterAnUnansweredAppend(t *testing.T) {
	ctx := context.Background()
	h := newHub(t)
	ob, err := outbox.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := event.New(time.Now(), event.Verified)
	ev.DriveID = "ek-0123456789"
	if err := ob.Add(outbox.NewBatch(time.Now(), []string{outbox.Hub}, []event.Event{ev})); err != nil {
		t.Fatal(err)
	}
	// The first attempt: the object chosen and noted, written, and then
	// the process dies before noting it done.
	snd, err := ob.Lock(ctx, outbox.Hub, tracker.RealClock(), 0)
	if err != nil {
		t.Fatal(err)
	}
	p, _, _ := snd.Pending()
	p[0].Receipt.Key = contenthub.NewEventKey(time.Now())
	if err := snd.Save(p[0]); err != nil {
		t.Fatal(err)
	}
	if err := h.AppendEvents(ctx, contenthub.Batch{ID: p[0].ID, Events: p[0].Events, Key: p[0].Receipt.Key}); err != nil {
		t.Fatal(err)
	}
	snd.Close()

	for range 2 {
		snd, err := ob.Lock(ctx, outbox.Hub, tracker.RealClock(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, warnings, err := h.Deliver(ctx, snd); err != nil || len(warnings) > 0 {
			t.Fatalf("deliver: %v %q", err, warnings)
		}
		snd.Close()
	}
	keys, err := h.EventKeys(ctx, time.Time{}, time.Time{})
	if err != nil || len(keys) != 1 || keys[0] != p[0].Receipt.Key {
		t.Fatalf("log objects %q (want only %s): %v", keys, p[0].Receipt.Key, err)
	}
	if n := ob.Waiting(outbox.Hub); n != 0 {
		t.Fatalf("%d events still wait for the hub", n)
	}
}

// The log's new batches, recorded or delivered from the outbox, are named
// by the hub's clock (the command's run clock), so a command on a clock
// far ahead (a test's) lists them with that clock.
func TestNewBatchesAreNamedByTheHubsClock(t *testing.T) {
	ctx := context.Background()
	ahead := time.Now().AddDate(3, 0, 0).UTC()
	h, err := contenthub.Open(ctx, contenthub.Config{URL: t.TempDir(), Clock: func() time.Time { return ahead }})
	if err != nil {
		t.Fatal(err)
	}
	ev := event.New(ahead, event.Verified)
	ev.DriveID = "ek-0123456789"
	if err := h.Record(ctx, []event.Event{ev}); err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.Add(outbox.NewBatch(ahead, []string{outbox.Hub}, []event.Event{ev})); err != nil {
		t.Fatal(err)
	}
	snd, err := ob.Lock(ctx, outbox.Hub, tracker.RealClock(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	if sent, warnings, err := h.Deliver(ctx, snd); err != nil || sent != 1 || len(warnings) > 0 {
		t.Fatalf("deliver: %d sent, %v %q", sent, err, warnings)
	}
	keys, err := h.EventKeys(ctx, ahead, ahead)
	if err != nil || len(keys) != 2 {
		t.Fatalf("batches listed on the hub's clock: %q (want the recorded and the delivered one): %v", keys, err)
	}
	for _, k := range keys {
		if at, ok := contenthub.EventKeyTime(k); !ok || at.Sub(ahead).Abs() > time.Second {
			t.Fatalf("batch %s is named for %v, not the hub's clock (%v)", k, at, ahead)
		}
	}
}
