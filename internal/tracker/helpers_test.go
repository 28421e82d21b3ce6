package tracker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/outbox"
	"github.com/editkit/editkit/internal/tracker/sheetsfake"
)

const testAccount = "editkit-tracker@editkit-test.iam.gserviceaccount.com"

// env is a fake Google (Sheets API + token endpoint) with one spreadsheet
// shared with one service account, whose key is in keyFile.
type env struct {
	t       testing.TB
	fake    *sheetsfake.Server
	clock   Clock
	keyFile string
	sheetID string
}

type envOpt struct {
	fake sheetsfake.Options
}

func newEnv(t testing.TB, o envOpt) *env {
	t.Helper()
	// The clock is virtual: it moves only when the tracker waits on it
	// (pacing, back-off), so no assertion depends on how fast this machine
	// is or how loaded it is.
	clock := &manualClock{now: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)}
	o.fake.Now = clock.Now
	fake := sheetsfake.New(o.fake)
	t.Cleanup(fake.Close)
	key, err := fake.NewServiceAccount(testAccount)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, fake: fake, clock: clock, keyFile: keyFile,
		sheetID: fake.CreateSpreadsheet("Show tracker", testAccount)}
}

// config is a Sheets tracker configuration against the fake.
func (e *env) config() Config {
	return Config{
		Spreadsheet:      "https://docs.google.com/spreadsheets/d/" + e.sheetID + "/edit#gid=0",
		CredentialsFile:  e.keyFile,
		Endpoint:         e.fake.URL,
		OutboxDir:        filepath.Join(e.t.TempDir(), "outbox"),
		Clock:            e.clock,
		RequestTimeout:   5 * time.Second,
		MinFlushInterval: -1,
	}
}

func (e *env) tracker(cfg Config) Tracker {
	e.t.Helper()
	tr, err := New(context.Background(), cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return tr
}

// column returns the cells of a tab's column by header (data rows only).
func (e *env) column(tab, header string) []any {
	e.t.Helper()
	rows, ok := e.fake.Values(e.sheetID, tab)
	if !ok || len(rows) == 0 {
		return nil
	}
	c := -1
	for i, h := range rows[0] {
		if fmt.Sprint(h) == header {
			c = i
		}
	}
	if c < 0 {
		e.t.Fatalf("%s has no column %q (header %v)", tab, header, rows[0])
	}
	var out []any
	for _, r := range rows[1:] {
		if c < len(r) {
			out = append(out, r[c])
		} else {
			out = append(out, nil)
		}
	}
	return out
}

// assertExactlyOnce checks that every event is in the Log exactly once and
// nothing else is.
func (e *env) assertExactlyOnce(evs []event.Event) {
	e.t.Helper()
	count := map[string]int{}
	for _, v := range e.column(tabLog, colEventID) {
		if s, _ := v.(string); s != "" {
			count[s]++
		}
	}
	bad := 0
	for _, ev := range evs {
		if n := count[ev.ID]; n != 1 {
			bad++
			if bad < 5 {
				e.t.Errorf("event %s is in the Log %d times", ev.ID, n)
			}
		}
		delete(count, ev.ID)
	}
	if bad > 0 {
		e.t.Errorf("%d of %d events not exactly once", bad, len(evs))
	}
	for id, n := range count {
		e.t.Errorf("unexpected Log row %s ×%d", id, n)
	}
}

// genEvents makes n events: a push of each item, then copies to two drives
// and pulls to a third, a verify per drive and a backup now and then.
func genEvents(n int, start time.Time) []event.Event {
	var evs []event.Event
	t := start
	next := func(action string) event.Event {
		t = t.Add(1500 * time.Millisecond)
		e := event.New(t, action)
		e.User, e.Host = "ae", "ae-mac"
		return e
	}
	drives := []struct{ label, id string }{{"EDIT_01", "drv-01"}, {"EDIT_02", "drv-02"}, {"EDITOR_HOME", "drv-03"}}
	for i := 0; len(evs) < n; i++ {
		path := fmt.Sprintf("VFX/sh%03d/sh%03d_comp_v%d.mov", i%400, i%400, i/400+1)
		var e event.Event
		switch i % 5 {
		case 0, 1:
			e = next(event.Pushed)
			e.Category = "vfx"
		case 2:
			e = next(event.Copied)
			d := drives[i%2]
			e.Drive, e.DriveID = d.label, d.id
			e.FreeSpace = int64(4e12) - int64(i)*1e6
		case 3:
			e = next(event.Pulled)
			e.User, e.Host = "editor", "editor-pc"
			e.Drive, e.DriveID = drives[2].label, drives[2].id
		case 4:
			if i%50 == 4 {
				e = next(event.BackedUp)
				e.Set, e.Snapshot, e.Path = "avid", fmt.Sprintf("snap-%04d", i), "Avid/Show.avp"
			} else {
				e = next(event.Verified)
				e.Drive, e.DriveID = drives[i%3].label, drives[i%3].id
				e.Path = ""
			}
		}
		if e.Path == "" && e.Action != event.Verified {
			e.Path = path
		}
		if e.Action != event.Verified && e.Action != event.BackedUp {
			e.Size = int64(1<<20) * int64(1+i%700)
			e.Hash = fmt.Sprintf("%064x", i)
		}
		evs = append(evs, e)
	}
	return evs
}

func mustRecord(t testing.TB, tr Tracker, evs []event.Event) Result {
	t.Helper()
	res, err := tr.Record(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// queue puts events in the outbox for the tracker, as a command that was
// killed before it sent them would leave them.
func queue(t testing.TB, dir string, evs []event.Event) string {
	t.Helper()
	ob, err := outbox.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := outbox.NewBatch(time.Now(), []string{outbox.Tracker}, evs)
	if err := ob.Add(b); err != nil {
		t.Fatal(err)
	}
	return b.ID
}
