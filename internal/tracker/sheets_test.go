package tracker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/slowtest"
)

func TestRecordWritesEachEventOnce(t *testing.T) {
	e := newEnv(t, envOpt{})
	tr := e.tracker(e.config())
	evs := genEvents(40, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	res := mustRecord(t, tr, evs)
	if res.Sent != 40 || res.Pending != 0 || res.NotSent != nil {
		t.Fatalf("first record: %+v", res)
	}
	e.assertExactlyOnce(evs)

	// The same events again (a command re-run after a crash): nothing new.
	res = mustRecord(t, tr, evs)
	if res.Sent != 0 || res.AlreadyThere != 40 || res.Pending != 0 {
		t.Fatalf("second record: %+v", res)
	}
	e.assertExactlyOnce(evs)

	// Media has a row per item, with drive columns.
	paths := map[string]bool{}
	for _, ev := range evs {
		if ev.Path != "" && ev.Action != event.BackedUp {
			paths[ev.Path] = true
		}
	}
	media := e.column(tabMedia, colPath)
	if len(media) != len(paths) {
		t.Errorf("Media has %d rows, want %d", len(media), len(paths))
	}
	rows, _ := e.fake.Values(e.sheetID, tabMedia)
	hdr := strings.Join(anyStrings(rows[0]), "|")
	for _, d := range []string{"EDIT_01", "EDIT_02", "EDITOR_HOME"} {
		if !strings.Contains(hdr, d) {
			t.Errorf("Media header %q lacks drive %s", hdr, d)
		}
	}
	if got := len(e.column(tabDrives, colDriveID)); got != 3 {
		t.Errorf("Drives has %d rows, want 3", got)
	}
	t.Logf("requests: %+v", e.fake.Stats())
}

func anyStrings(v []any) []string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i], _ = x.(string)
	}
	return out
}

func TestSmokeSync(t *testing.T) {
	e := newEnv(t, envOpt{})
	tr := e.tracker(e.config())
	res, err := tr.Sync(context.Background())
	if err != nil || res.Pending != 0 {
		t.Fatal(res, err)
	}
}

// A 2 000-event push at Google's default quotas (60 writes and 60 reads
// per minute per user) on a clock running 100× faster: with small appends
// (20 rows each, ~200 writes) the limiter has to pace, and the fake's
// quota enforcer must never answer 429.
func TestPacingKeepsInsideQuota(t *testing.T) {
	e := newEnv(t, envOpt{})
	cfg := e.config()
	cfg.RowsPerRequest = 20
	tr := e.tracker(cfg)
	evs := genEvents(2000, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	start := e.clock.Now()
	res := mustRecord(t, tr, evs)
	if res.Pending != 0 || res.NotSent != nil {
		t.Fatalf("record: %+v", res)
	}
	e.assertExactlyOnce(evs)
	st := e.fake.Stats()
	t.Logf("2000 events, 20 rows/append: %+v in %v (sped-up clock)", st, e.clock.Now().Sub(start).Round(time.Second))
	if st.QuotaRejections != 0 {
		t.Errorf("quota enforcer answered 429 %d times", st.QuotaRejections)
	}
	if st.MaxWritesMinute > 60 {
		t.Errorf("%d writes in one minute", st.MaxWritesMinute)
	}
	if st.Writes < 120 {
		t.Errorf("only %d writes: the test no longer exercises pacing", st.Writes)
	}
}

// Without pacing the same push runs into the quota; back-off must carry it
// through, still exactly once.
func TestBackoffThroughQuotaErrors(t *testing.T) {
	slowtest.Skip(t, "fault injection against the Sheets server")
	e := newEnv(t, envOpt{})
	cfg := e.config()
	cfg.RowsPerRequest = 20
	cfg.WritesPerMinute, cfg.ReadsPerMinute = -1, -1
	tr := e.tracker(cfg)
	evs := genEvents(2000, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	res := mustRecord(t, tr, evs)
	if res.Pending != 0 {
		t.Fatalf("record: %+v", res)
	}
	e.assertExactlyOnce(evs)
	st := e.fake.Stats()
	t.Logf("%+v", st)
	if st.QuotaRejections == 0 {
		t.Error("expected the unpaced client to hit the quota")
	}
}

func TestFaultsNeverDuplicate(t *testing.T) {
	slowtest.Skip(t, "fault injection against the Sheets server")
	cases := []struct {
		name   string
		faults []sheetsfakeFault
	}{
		{"500s", []sheetsfakeFault{{Op: "values.append", Status: 500, Times: 3}, {Op: "values.batchGet", Status: 503, Times: 2}}},
		{"429 with Retry-After", []sheetsfakeFault{{WritesOnly: true, Status: 429, RetryAfter: 7 * time.Second, Times: 2}}},
		{"applied then dropped", []sheetsfakeFault{{Op: "values.append", ApplyThenDrop: true, Times: 4}}},
		{"applied then hangs past the timeout", []sheetsfakeFault{{Op: "values.append", ApplyThenHang: 5 * time.Second, Times: 2}}},
		{"derived writes dropped", []sheetsfakeFault{{Op: "values.batchUpdate", ApplyThenDrop: true, Times: 1}, {Op: "spreadsheets.batchUpdate", ApplyThenDrop: true, Times: 1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, envOpt{})
			cfg := e.config()
			cfg.RowsPerRequest = 50
			cfg.RequestTimeout = 300 * time.Millisecond
			tr := e.tracker(cfg)
			if err := tr.Init(context.Background()); err != nil {
				t.Fatal(err)
			}
			for _, f := range c.faults {
				e.fake.Inject(f)
			}
			evs := genEvents(300, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
			res := mustRecord(t, tr, evs)
			if res.Pending != 0 {
				t.Fatalf("record: %+v", res)
			}
			if n := e.fake.PendingFaults(); n != 0 {
				t.Errorf("%d injected faults never hit", n)
			}
			e.assertExactlyOnce(evs)
			// The derived tabs match a clean run of the same events.
			clean := newEnv(t, envOpt{})
			mustRecord(t, clean.tracker(clean.config()), evs)
			for _, tab := range []string{tabMedia, tabDrives, tabBackups} {
				got, _ := e.fake.Values(e.sheetID, tab)
				want, _ := clean.fake.Values(clean.sheetID, tab)
				if !sameRowsAnyOrder(got, want) {
					t.Errorf("%s differs from a clean run:\n got %v\nwant %v", tab, got, want)
				}
			}
		})
	}
}

// The server goes away (connections dropped) and comes back: events wait
// in the outbox, the command is told, and the next Sync sends them once.
func TestServerDownThenBack(t *testing.T) {
	e := newEnv(t, envOpt{})
	cfg := e.config()
	cfg.RetryFor = 20 * time.Second // of the virtual clock
	var mu sync.Mutex
	var notes []string
	cfg.OnRetry = func(attempt int, wait time.Duration, reason string) {
		mu.Lock()
		defer mu.Unlock()
		notes = append(notes, fmt.Sprintf("attempt %d in %v: %s", attempt, wait, reason))
	}
	tr := e.tracker(cfg)
	if err := tr.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs := genEvents(120, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))

	e.fake.SetDown(true)
	res := mustRecord(t, tr, evs[:60])
	if res.Pending != 60 || res.NotSent == nil || res.Sent != 0 {
		t.Fatalf("record while down: %+v", res)
	}
	var ns *NotSentError
	if !errors.As(res.NotSent, &ns) || !ns.Temporary {
		t.Fatalf("want a temporary NotSentError, got %#v", res.NotSent)
	}
	t.Logf("while down: %v", res.NotSent)
	// The waits were announced, from the first retry on (no silent waits).
	mu.Lock()
	if len(notes) == 0 || !strings.HasPrefix(notes[0], "attempt 2 in ") {
		t.Errorf("retries announced: %q", notes)
	}
	mu.Unlock()
	res = mustRecord(t, tr, evs[60:])
	if res.Pending != 120 {
		t.Fatalf("second record while down: %+v", res)
	}

	e.fake.SetDown(false)
	res, err := tr.Sync(context.Background())
	if err != nil || res.Pending != 0 || res.Sent != 120 {
		t.Fatalf("sync after: %+v %v", res, err)
	}
	e.assertExactlyOnce(evs)
}

// Down for a moment in the middle of a large push: back-off rides it out.
func TestServerDownMidPush(t *testing.T) {
	slowtest.Skip(t, "fault injection against the Sheets server")
	e := newEnv(t, envOpt{})
	cfg := e.config()
	cfg.RowsPerRequest = 25
	tr := e.tracker(cfg)
	if err := tr.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs := genEvents(1000, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	// Mid-push: once 20 row batches are in, every request (reads and
	// writes) is dropped for a while, as by a server that went away.
	e.fake.Inject(sheetsfakeFault{Drop: true, AfterWrites: 20, Times: 6})
	res := mustRecord(t, tr, evs)
	if res.Pending != 0 {
		t.Fatalf("record: %+v", res)
	}
	e.assertExactlyOnce(evs)
	if st := e.fake.Stats(); st.Dropped == 0 {
		t.Errorf("the outage was not seen: %+v", st)
	}
}

// Offline (nothing listening): Record returns quickly with the events
// queued; a later run with the network back sends them.
func TestOfflineThenOnline(t *testing.T) {
	e := newEnv(t, envOpt{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String() + "/"
	l.Close()
	cfg := e.config()
	cfg.Endpoint = dead
	offline := e.tracker(cfg)
	evs := genEvents(30, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	began := e.clock.Now()
	res := mustRecord(t, offline, evs)
	if res.Pending != 30 || res.NotSent == nil {
		t.Fatalf("offline record: %+v", res)
	}
	if !strings.Contains(res.NotSent.Error(), "cannot reach Google Sheets") {
		t.Errorf("message: %v", res.NotSent)
	}
	// A few quick tries, not the minutes of back-off a server error gets
	// (measured on the virtual clock: the time the tracker chose to wait).
	if d := e.clock.Now().Sub(began); d > 10*time.Second {
		t.Errorf("offline record waited %v", d)
	}
	cfg.Endpoint = e.fake.URL
	online := e.tracker(cfg) // the next command, same outbox
	res, err = online.Sync(context.Background())
	if err != nil || res.Sent != 30 || res.Pending != 0 {
		t.Fatalf("online sync: %+v %v", res, err)
	}
	e.assertExactlyOnce(evs)
	entries, _ := os.ReadDir(cfg.OutboxDir)
	for _, de := range entries {
		if !strings.HasPrefix(de.Name(), ".") {
			t.Errorf("outbox still holds %s", de.Name())
		}
	}
}

// Someone copied a Log row and edited the copy: editkit warns, leaves both,
// and carries on recording.
func TestEditedDuplicateIsLeftWithAWarning(t *testing.T) {
	e := newEnv(t, envOpt{})
	tr := e.tracker(e.config())
	evs := genEvents(6, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	mustRecord(t, tr, evs[:3])
	rows, _ := e.fake.Values(e.sheetID, tabLog)
	copied := make([]any, len(rows[0]))
	copy(copied, rows[2])
	copied[10] = "checked by Sam" // Note
	e.fake.SetValues(e.sheetID, tabLog, len(rows), 0, [][]any{copied})
	res := mustRecord(t, tr, evs[3:])
	if res.Pending != 0 || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], evs[1].ID) {
		t.Fatalf("%+v", res)
	}
	if n := len(e.column(tabLog, colEventID)); n != 7 {
		t.Errorf("Log has %d rows, want 7 (6 events and the hand-made copy)", n)
	}
}

// Times are written in the spreadsheet's own time zone, as people there
// read them.
func TestTimesInSpreadsheetTimeZone(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.fake.SetTimeZone(e.sheetID, "America/Los_Angeles")
	ev := event.New(time.Date(2026, 11, 24, 18, 30, 0, 0, time.UTC), event.Pushed)
	ev.Path = "GFX/title.mov"
	mustRecord(t, e.tracker(e.config()), []event.Event{ev})
	got, _ := sheetsCodec{loc: time.UTC}.parseTime(e.column(tabLog, colTime)[0])
	if want := time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Log time shows %v, want 10:30 (Los Angeles)", got)
	}
}
