package outbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/fsx"
)

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }
func (wallClock) Sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func events(n int) []event.Event {
	var out []event.Event
	for i := range n {
		e := event.New(time.Date(2026, 11, 24, 10, 0, i, 0, time.UTC), event.Pulled)
		e.Drive, e.Path = "EDIT_01", fmt.Sprintf("A/%d.mov", i)
		out = append(out, e)
	}
	return out
}

func open(t *testing.T) *Outbox {
	t.Helper()
	ob, err := Open(filepath.Join(t.TempDir(), "outbox"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return ob
}

func lock(t *testing.T, ob *Outbox, dest string) *Sender {
	t.Helper()
	s, err := ob.Lock(context.Background(), dest, wallClock{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func pending(t *testing.T, s *Sender) []Pending {
	t.Helper()
	p, warnings, err := s.Pending()
	if err != nil || len(warnings) > 0 {
		t.Fatalf("pending: %v %q", err, warnings)
	}
	return p
}

func files(t *testing.T, ob *Outbox) []string {
	t.Helper()
	entries, _ := os.ReadDir(ob.Dir())
	var out []string
	for _, de := range entries {
		if !strings.HasPrefix(de.Name(), ".") {
			out = append(out, de.Name())
		}
	}
	return out
}

// A batch for the hub and the tracker stays until both are done with it;
// one done destination does not see it again.
func TestBatchLeavesWhenEveryDestinationIsDone(t *testing.T) {
	ob := open(t)
	b := NewBatch(time.Now(), []string{Tracker, Hub}, events(3))
	if err := ob.Add(b); err != nil {
		t.Fatal(err)
	}
	hub := lock(t, ob, Hub)
	p := pending(t, hub)
	if len(p) != 1 || p[0].ID != b.ID || len(p[0].Events) != 3 {
		t.Fatalf("hub pending: %+v", p)
	}
	p[0].Receipt = Receipt{Key: "events/x", Done: true}
	if err := hub.Save(p[0]); err != nil {
		t.Fatal(err)
	}
	if p := pending(t, hub); len(p) != 0 {
		t.Fatalf("the hub sees its done batch again: %+v", p)
	}
	if ob.Waiting(Tracker) != 3 || ob.Waiting(Hub) != 0 {
		t.Fatalf("waiting: tracker %d hub %d", ob.Waiting(Tracker), ob.Waiting(Hub))
	}
	tr := lock(t, ob, Tracker)
	p = pending(t, tr)
	if len(p) != 1 {
		t.Fatalf("tracker pending: %+v", p)
	}
	p[0].Receipt = Receipt{Done: true}
	if err := tr.Save(p[0]); err != nil {
		t.Fatal(err)
	}
	if left := files(t, ob); len(left) != 0 {
		t.Fatalf("left in the outbox: %v", left)
	}
}

// A batch recorded without a hub goes to the tracker only, and leaves once
// the tracker has it: it never waits for a hub.
func TestBatchWithoutHubDoesNotWaitForOne(t *testing.T) {
	ob := open(t)
	ob.Add(NewBatch(time.Now(), []string{Tracker}, events(2)))
	if p := pending(t, lock(t, ob, Hub)); len(p) != 0 {
		t.Fatalf("the hub was given a batch not meant for it: %+v", p)
	}
	tr := lock(t, ob, Tracker)
	p := pending(t, tr)
	p[0].Receipt.Done = true
	tr.Save(p[0])
	if left := files(t, ob); len(left) != 0 {
		t.Fatalf("left in the outbox: %v", left)
	}
}

// A batch partly confirmed is never rewritten: its receipt says which
// events are confirmed, and only the others are offered again.
func TestPartlyConfirmedBatchKeepsItsFile(t *testing.T) {
	ob := open(t)
	evs := events(4)
	b := NewBatch(time.Now(), []string{Tracker, Hub}, evs)
	ob.Add(b)
	before, _ := os.ReadFile(ob.batchPath(b.ID))
	tr := lock(t, ob, Tracker)
	p := pending(t, tr)
	p[0].Receipt.Confirmed = []string{evs[0].ID, evs[2].ID}
	if err := tr.Save(p[0]); err != nil {
		t.Fatal(err)
	}
	p = pending(t, tr)
	got := p[0].Unconfirmed()
	if len(got) != 2 || got[0].ID != evs[1].ID || got[1].ID != evs[3].ID {
		t.Fatalf("unconfirmed: %+v", got)
	}
	if ob.Waiting(Tracker) != 2 {
		t.Fatalf("waiting for the tracker: %d", ob.Waiting(Tracker))
	}
	after, _ := os.ReadFile(ob.batchPath(b.ID))
	if !bytes.Equal(before, after) {
		t.Fatal("the batch file was rewritten")
	}
	// The hub still gets the whole batch.
	if p := pending(t, lock(t, ob, Hub)); len(p[0].Unconfirmed()) != 4 {
		t.Fatalf("hub: %+v", p)
	}
}

// Damaged batches and receipts are put aside and reported; the batches
// after them still go, and a temporary file of a writer that died is
// removed.
func TestDamageIsPutAside(t *testing.T) {
	ob := open(t)
	good := NewBatch(time.Now(), []string{Hub}, events(1))
	ob.Add(good)
	withBadReceipt := NewBatch(time.Now().Add(-time.Hour), []string{Hub}, events(2))
	ob.Add(withBadReceipt)
	os.WriteFile(ob.receiptPath(withBadReceipt.ID, Hub), []byte(`{"key":`), 0o600)
	os.WriteFile(filepath.Join(ob.Dir(), "20261101T000000.000000Z-bad.batch"), []byte("{\"id\":"), 0o600)
	tmp := filepath.Join(ob.Dir(), "."+good.ID+".batch.123.tmp")
	os.WriteFile(tmp, []byte("half"), 0o600)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(tmp, old, old)

	p, warnings, err := lock(t, ob, Hub).Pending()
	if err != nil || len(p) != 1 || p[0].ID != good.ID {
		t.Fatalf("pending: %+v %v", p, err)
	}
	if len(warnings) != 2 {
		t.Fatalf("warnings: %q", warnings)
	}
	for _, name := range []string{"20261101T000000.000000Z-bad.batch", withBadReceipt.ID + ".batch", withBadReceipt.ID + ".hub.receipt"} {
		if _, err := os.Stat(filepath.Join(ob.Dir(), name+asideSuffix)); err != nil {
			t.Errorf("%s not put aside: %v", name, err)
		}
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary file kept: %v", err)
	}
}

// A holder killed between removing a batch and its receipts leaves
// receipts without a batch: the next holder of that destination removes
// its own, never another destination's.
func TestOrphanReceiptsRemoved(t *testing.T) {
	ob := open(t)
	for _, d := range []string{Hub, Tracker} {
		os.WriteFile(ob.receiptPath("20261101T000000.000000Z-gone", d), []byte(`{"done":true}`), 0o600)
	}
	pending(t, lock(t, ob, Hub))
	if got := files(t, ob); !slices.Equal(got, []string{"20261101T000000.000000Z-gone.tracker.receipt"}) {
		t.Fatalf("left: %v", got)
	}
}

// Each destination has its own send lock: a slow Sheet never holds back
// the hub's log; two senders of one destination never run at once.
func TestOneLockPerDestination(t *testing.T) {
	ob := open(t)
	lock(t, ob, Tracker)
	lock(t, ob, Hub)
	if _, err := ob.Lock(context.Background(), Hub, wallClock{}, 0); !errors.Is(err, fsx.ErrLocked) {
		t.Fatalf("a second hub sender: %v", err)
	}
}

// The folders of an editkit before the one outbox are taken over once:
// the hub's batches keep the log object chosen for them (a retry must write
// that one, not a second), the tracker's their events; the old folders go;
// a damaged old file is put aside and reported.
func TestImportOldOutboxes(t *testing.T) {
	state := t.TempDir()
	ob, _ := Open(filepath.Join(state, "outbox"), nil)
	oldHub, oldTracker := filepath.Join(state, "hub-outbox"), filepath.Join(state, "tracker-outbox")
	os.MkdirAll(oldHub, 0o700)
	os.MkdirAll(oldTracker, 0o700)
	evs := events(5)
	const key = "events/2026/11/24/20261124T100000.000000Z-0a1b2c3d.jsonl"
	tried, _ := json.Marshal(map[string]any{"ID": "20261124T095959.000000Z-00000001", "Events": evs[:2], "Key": key})
	fresh, _ := json.Marshal(map[string]any{"ID": "20261124T100001.000000Z-00000002", "Events": evs[2:3]})
	os.WriteFile(filepath.Join(oldHub, "20261124T095959.000000Z-00000001.json"), tried, 0o600)
	os.WriteFile(filepath.Join(oldHub, "20261124T100001.000000Z-00000002.json"), fresh, 0o600)
	os.WriteFile(filepath.Join(oldHub, ".lock"), nil, 0o600)
	var lines bytes.Buffer
	for _, e := range evs[3:] {
		b, _ := json.Marshal(e)
		lines.Write(append(b, '\n'))
	}
	os.WriteFile(filepath.Join(oldTracker, evs[3].ID+"-abcd.jsonl"), lines.Bytes(), 0o600)
	os.WriteFile(filepath.Join(oldTracker, "20261124T000000.000000Z-bad-0000.jsonl"), []byte("{\"id\""), 0o600)

	for round := range 2 { // a second run finds nothing more to do
		hub := lock(t, ob, Hub)
		n, warnings, err := hub.Import(oldHub)
		if err != nil || len(warnings) != 0 || n != 2-2*round {
			t.Fatalf("hub import %d: %d %q %v", round, n, warnings, err)
		}
		hub.Close()
		tr := lock(t, ob, Tracker)
		n, warnings, err = tr.Import(oldTracker)
		if err != nil || n != 1-round || len(warnings) != 1-round {
			t.Fatalf("tracker import %d: %d %q %v", round, n, warnings, err)
		}
		tr.Close()
	}
	if _, err := os.Stat(oldHub); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the old hub outbox is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(oldTracker, "20261124T000000.000000Z-bad-0000.jsonl"+asideSuffix)); err != nil {
		t.Errorf("damaged old file not put aside: %v", err)
	}
	p := pending(t, lock(t, ob, Hub))
	if len(p) != 2 || p[0].Receipt.Key != key || p[1].Receipt.Key != "" || len(p[0].Events) != 2 || p[0].Events[1].ID != evs[1].ID {
		t.Fatalf("hub batches: %+v", p)
	}
	p = pending(t, lock(t, ob, Tracker))
	if len(p) != 1 || len(p[0].Events) != 2 || p[0].Events[0].ID != evs[3].ID {
		t.Fatalf("tracker batches: %+v", p)
	}
}

// FuzzBatchFile puts an arbitrary file in the outbox as a batch, as damage
// or another program might: reading never panics, the file is either read
// (valid events only) or set aside and reported, so it cannot block the
// batches after it; what is read, written again, reads back the same.
func FuzzBatchFile(f *testing.F) {
	e := event.New(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), event.Pulled)
	e.Path, e.Drive, e.DriveID, e.Size = "VFX/VFX_010_v1.mxf", "Anna", "ek-0123456789", 3000000
	const id = "20261124T120000.000000Z-0a1b2c3d"
	good, _ := json.Marshal(Batch{ID: id, To: []string{Tracker}, Events: []event.Event{e}})
	f.Add(good)
	f.Add([]byte(`{"id":"` + id + `","to":["tracker"],"events":[{"id":"","action":"pulled"}]}`))
	f.Add([]byte(`{"id":"` + id + `","to":["../x"],"events":[]}`))
	f.Add([]byte(`{"id":"a/b","to":["tracker"]}`))
	f.Add([]byte("{\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ob := open(t)
		if err := os.WriteFile(ob.batchPath(id), data, 0o600); err != nil {
			t.Fatal(err)
		}
		later := event.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), event.Verified)
		if err := ob.Add(NewBatch(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), []string{Tracker}, []event.Event{later})); err != nil {
			t.Fatal(err)
		}
		p, warnings, err := lock(t, ob, Tracker).Pending()
		if err != nil {
			t.Fatal(err)
		}
		var read *Pending
		found := false
		for i, b := range p {
			for _, e := range b.Events {
				if err := e.Validate(); err != nil {
					t.Fatalf("invalid event read: %v", err)
				}
				found = found || e.ID == later.ID
			}
			if b.ID == id {
				read = &p[i]
			}
		}
		if !found {
			t.Fatal("a good batch was not read past a bad one")
		}
		if read == nil {
			if _, err := os.Stat(ob.batchPath(id) + asideSuffix); err == nil {
				if len(warnings) != 1 || !strings.Contains(warnings[0], id+batchExt+asideSuffix) {
					t.Fatalf("a batch set aside was not reported: %q", warnings)
				}
				return
			}
			var b Batch
			if json.Unmarshal(data, &b) == nil && !slices.Contains(b.To, Tracker) {
				return // a valid batch for another destination
			}
			t.Fatalf("an unreadable batch was neither read nor set aside: %q", warnings)
		}
		ob2 := open(t)
		if err := ob2.Add(read.Batch); err != nil {
			t.Fatal(err)
		}
		again, _, err := lock(t, ob2, Tracker).Pending()
		if err != nil || len(again) != 1 {
			t.Fatalf("a batch read once does not read again: %v", err)
		}
		x, _ := json.Marshal(read.Batch)
		y, _ := json.Marshal(again[0].Batch)
		if !bytes.Equal(x, y) {
			t.Fatalf("read %s\nthen %s", x, y)
		}
	})
}

// Writers adding batches while senders of both destinations (several of
// each, as several editkit processes) deliver: each destination takes each
// batch once, and the outbox ends empty.
func TestConcurrentWritersAndSenders(t *testing.T) {
	ob := open(t)
	const batches = 40
	var mu sync.Mutex
	taken := map[string]int{}
	deliver := func(dest string) {
		s, err := ob.Lock(context.Background(), dest, wallClock{}, time.Minute)
		if err != nil {
			t.Error(err)
			return
		}
		defer s.Close()
		p, warnings, err := s.Pending()
		if err != nil || len(warnings) > 0 {
			t.Errorf("pending: %v %q", err, warnings)
		}
		for _, b := range p {
			mu.Lock()
			taken[dest+" "+b.ID]++
			mu.Unlock()
			b.Receipt.Done = true
			if err := s.Save(b); err != nil {
				t.Error(err)
			}
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range batches {
			to := []string{Tracker}
			if i%2 == 0 {
				to = append(to, Hub)
			}
			if err := ob.Add(NewBatch(time.Now(), to, events(1+i%3))); err != nil {
				t.Error(err)
			}
		}
	})
	for range 3 {
		for _, dest := range []string{Hub, Tracker} {
			wg.Go(func() {
				for range 10 {
					deliver(dest)
				}
			})
		}
	}
	wg.Wait()
	deliver(Hub)
	deliver(Tracker)
	if left := files(t, ob); len(left) != 0 {
		t.Fatalf("left in the outbox: %v", left)
	}
	if len(taken) != batches+batches/2 {
		t.Errorf("%d deliveries, want %d", len(taken), batches+batches/2)
	}
	for k, n := range taken {
		if n != 1 {
			t.Errorf("%s taken %d times", k, n)
		}
	}
}
