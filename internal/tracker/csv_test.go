package tracker

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/event"
)

func csvConfig(t *testing.T, dir string) Config {
	return Config{CSVDir: dir, OutboxDir: filepath.Join(t.TempDir(), "outbox"),
		Location: time.UTC, MinFlushInterval: -1}
}

// readTrackerCSV reads a tracker file the way a Go program would: strip
// the byte-order mark, then encoding/csv, strict.
func readTrackerCSV(t *testing.T, path string) [][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte(bom)) {
		t.Errorf("%s has no UTF-8 byte-order mark", path)
	}
	if bytes.Contains(bytes.ReplaceAll(data, []byte("\r\n"), nil), []byte("\n")) {
		t.Errorf("%s has a bare LF line end", path)
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte(bom))))
	r.FieldsPerRecord = -1 // rows people add may be shorter
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}

func csvIDs(t *testing.T, dir string) map[string]int {
	recs := readTrackerCSV(t, filepath.Join(dir, "log.csv"))
	col := slices.Index(recs[0], colEventID)
	out := map[string]int{}
	for _, r := range recs[1:] {
		out[r[col]]++
	}
	return out
}

func assertCSVOnce(t *testing.T, dir string, evs []event.Event) {
	t.Helper()
	ids := csvIDs(t, dir)
	for _, e := range evs {
		if ids[e.ID] != 1 {
			t.Errorf("%s in log.csv %d times", e.ID, ids[e.ID])
		}
		delete(ids, e.ID)
	}
	for id := range ids {
		t.Errorf("unexpected log.csv row %q", id)
	}
}

func TestCSVTrackerExactlyOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tracker")
	cfg := csvConfig(t, dir)
	tr, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	evs := genEvents(100, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	evs[3].Note = "=HYPERLINK(\"http://x\")"
	evs[4].Note = "two\nlines, \"quoted\""
	evs[5].Path = "Musique/Scène 12 — café.wav"
	if res := mustRecord(t, tr, evs[:60]); res.Sent != 60 {
		t.Fatalf("%+v", res)
	}
	// Overlapping again, from a second "process" on the same folder.
	tr2, _ := New(context.Background(), csvConfig(t, dir))
	if res := mustRecord(t, tr2, evs[40:]); res.Sent != 40 || res.AlreadyThere != 20 {
		t.Fatalf("%+v", res)
	}
	assertCSVOnce(t, dir, evs)

	recs := readTrackerCSV(t, filepath.Join(dir, "log.csv"))
	if !slices.Equal(recs[0][:4], []string{"Time", "Event ID", "Who", "Host"}) {
		t.Errorf("header %v", recs[0])
	}
	noteCol, pathCol := slices.Index(recs[0], colNote), slices.Index(recs[0], colPath)
	byID := map[string][]string{}
	for _, r := range recs[1:] {
		byID[r[1]] = r
	}
	if got := byID[evs[3].ID][noteCol]; got != "'=HYPERLINK(\"http://x\")" {
		t.Errorf("formula not neutralised: %q", got)
	}
	if got := byID[evs[4].ID][noteCol]; got != "two lines, \"quoted\"" {
		t.Errorf("note: %q", got)
	}
	if got := byID[evs[5].ID][pathCol]; got != evs[5].Path {
		t.Errorf("UTF-8 path: %q", got)
	}
	if got := byID[evs[0].ID][0]; got != "2026-11-24 10:00:01" {
		t.Errorf("time cell %q", got)
	}
	for _, f := range []string{"media.csv", "drives.csv", "backups.csv"} {
		if recs := readTrackerCSV(t, filepath.Join(dir, f)); len(recs) < 2 {
			t.Errorf("%s has no rows", f)
		}
	}
	drives := readTrackerCSV(t, filepath.Join(dir, "drives.csv"))
	if len(drives) != 4 {
		t.Errorf("drives.csv: %v", drives)
	}
}

// Concurrent writers on one folder (two commands at once): the folder lock
// keeps each event once.
func TestCSVConcurrentWriters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tracker")
	evs := genEvents(200, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			tr, err := New(context.Background(), csvConfig(t, dir))
			if err != nil {
				t.Error(err)
				return
			}
			for i := w * 20; i < len(evs); i += 25 { // overlapping slices
				if _, err := tr.Record(context.Background(), evs[i:min(i+25, len(evs))]); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	assertCSVOnce(t, dir, evs[:])
}

// A crash mid-append leaves a torn last line. The torn event still waits
// in the outbox: the line is cut and the event written whole. A last line
// without line end that is not a pending event (typed in another app) is
// kept.
func TestCSVTornAppend(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tracker")
	cfg := csvConfig(t, dir)
	tr, _ := New(context.Background(), cfg)
	evs := genEvents(12, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	mustRecord(t, tr, evs[:10])

	logPath := filepath.Join(dir, "log.csv")
	hdr := readTrackerCSV(t, logPath)[0]
	whole := encodeRows(hdr, [][]any{alignRow(hdr, logCells(evs[10], csvCodec{loc: time.UTC}))}, false)
	f, _ := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(whole[:len(whole)*2/3])
	f.Close()
	queue(t, cfg.OutboxDir, evs[10:11]) // accepted before the crash, not yet confirmed
	res, err := tr.Sync(context.Background())
	if err != nil || res.Sent != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	assertCSVOnce(t, dir, evs[:11])

	// The user's own row, saved without a final line end.
	f, _ = os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(",,,,,,,,,,a note of mine")
	f.Close()
	mustRecord(t, tr, evs[11:])
	recs := readTrackerCSV(t, logPath)
	found := false
	for _, r := range recs {
		found = found || slices.Contains(r, "a note of mine")
	}
	if !found {
		t.Error("the user's row was dropped")
	}
}

func TestCSVInitIdempotentAndRebuild(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tracker")
	tr, _ := New(context.Background(), csvConfig(t, dir))
	ctx := context.Background()
	if err := tr.Init(ctx); err != nil {
		t.Fatal(err)
	}
	read := func() map[string]string {
		out := map[string]string{}
		for _, s := range layout() {
			b, _ := os.ReadFile(filepath.Join(dir, s.file))
			out[s.file] = string(b)
		}
		return out
	}
	first := read()
	if err := tr.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if !maps2Equal(first, read()) {
		t.Error("second Init changed the files")
	}
	evs := genEvents(80, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	mustRecord(t, tr, evs)
	want := read()
	// Hand edits: media.csv truncated, drives.csv deleted.
	os.WriteFile(filepath.Join(dir, "media.csv"), []byte(bom+"Path,Category\r\n"), 0o644)
	os.Remove(filepath.Join(dir, "drives.csv"))
	if err := tr.Rebuild(ctx, slices.Values(evs)); err != nil {
		t.Fatal(err)
	}
	got := read()
	for _, f := range []string{"drives.csv", "backups.csv"} {
		if got[f] != want[f] {
			t.Errorf("%s after rebuild:\n%s\nwant\n%s", f, got[f], want[f])
		}
	}
	if sortedLines(got["media.csv"]) != sortedLines(want["media.csv"]) {
		t.Errorf("media.csv after rebuild:\n%s\nwant\n%s", got["media.csv"], want["media.csv"])
	}
	assertCSVOnce(t, dir, evs)
}

func maps2Equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func sortedLines(s string) string {
	l := strings.Split(s, "\r\n")
	slices.Sort(l)
	return strings.Join(l, "\n")
}

// A command's push to a long log (a year of a busy team's events) appends
// its rows without parsing the log's rows, however many events it has (a
// big copy): no event ID of the push occurs in the log's bytes, so none can
// be there. A retried push (an ID occurs) reads the log once and parses
// only its Event ID cells. Exactly once still holds.
func TestCSVPushToLongLogParsesOnlyTheHeader(t *testing.T) {
	cfg := Config{CSVDir: t.TempDir(), Location: time.UTC}
	cfg.setDefaults()
	s := newCSVSink(cfg)
	ctx := context.Background()
	const logRows = 20_000
	all := genEvents(logRows+1_003, time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	old, next, big := all[:logRows], all[logRows:logRows+3], all[logRows+3:]
	if _, err := s.pushWith(ctx, old, false); err != nil {
		t.Fatal(err)
	}
	i := 0
	allocs := testing.AllocsPerRun(2, func() {
		pr, err := s.pushWith(ctx, next[i:i+1], false)
		if err != nil || pr.written != 1 {
			t.Fatalf("push of %s: %d rows written, %v", next[i].ID, pr.written, err)
		}
		i++
	})
	if allocs > logRows/10 {
		t.Errorf("a push of one event to a log of %d rows made %.0f allocations; want fewer than one per row (the rows are not parsed)", logRows, allocs)
	}
	// A big copy's push: the long log costs it less than an allocation per
	// row of the log over the same push to a new log (its rows are not
	// parsed).
	fresh := Config{CSVDir: t.TempDir(), Location: time.UTC}
	fresh.setDefaults()
	alone := mallocsOf(func() {
		if _, err := newCSVSink(fresh).pushWith(ctx, big, false); err != nil {
			t.Fatal(err)
		}
	})
	allocs = mallocsOf(func() {
		if pr, err := s.pushWith(ctx, big, false); err != nil || pr.written != len(big) {
			t.Fatalf("push of %d events: %d rows written, %v", len(big), pr.written, err)
		}
	})
	if allocs-alone > logRows {
		t.Errorf("a push of %d events made %.0f allocations more to a log of %d rows than to a new log; want fewer than one per row (the rows are not parsed)", len(big), allocs-alone, logRows)
	}
	// An event the log holds is found and not written again; only the
	// Event ID cells are parsed for it (about one allocation a row).
	allocs = testing.AllocsPerRun(1, func() {
		if pr, err := s.pushWith(ctx, all[17:18], false); err != nil || pr.written != 0 || pr.already != 1 {
			t.Fatalf("push of an event in the log: %d written, %d already there, %v", pr.written, pr.already, err)
		}
	})
	if rows := logRows + len(next) + len(big); allocs > 2*float64(rows) {
		t.Errorf("a retried push to a log of %d rows made %.0f allocations; want at most two per row (one parse of the Event ID cells)", rows, allocs)
	}
	// An event ID in another column (a note) is not the event.
	noted := genEvents(2, time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	noted[0].Note = "redo of " + noted[1].ID
	if pr, err := s.pushWith(ctx, noted[:1], false); err != nil || pr.written != 1 {
		t.Fatalf("push of a noted event: %d written, %v", pr.written, err)
	}
	if pr, err := s.pushWith(ctx, append(noted[1:], big[5]), false); err != nil || pr.written != 1 || pr.already != 1 {
		t.Fatalf("push of an event named in a note: %d written, %d already there, %v", pr.written, pr.already, err)
	}
	assertCSVOnce(t, cfg.CSVDir, append(all, noted...))
}

// mallocsOf counts the heap allocations of one call of f (AllocsPerRun
// calls f twice, and a push done once is not done again).
func mallocsOf(f func()) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs - before.Mallocs)
}

// A push that only adds media (new VFX pushed) appends its rows to
// media.csv instead of rewriting it: the same file (an app or sync tool
// watching it sees an append), its bytes so far unchanged, and the result
// the same as one push of everything. A crash mid-append is finished from
// the journal under the next lock: no torn row is left.
func TestCSVPushOfNewMediaAppends(t *testing.T) {
	start := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	first := genEvents(60, start)
	seen := map[string]bool{}
	for _, e := range first {
		seen[e.Path] = true
	}
	var fresh []event.Event // pushes of media not seen yet
	for _, e := range genEvents(400, start.Add(time.Hour)) {
		if e.Action == event.Pushed && !seen[e.Path] && len(fresh) < 9 {
			seen[e.Path] = true
			fresh = append(fresh, e)
		}
	}
	dir := filepath.Join(t.TempDir(), "tracker")
	cfg := csvConfig(t, dir)
	tr, _ := New(context.Background(), cfg)
	mustRecord(t, tr, first)
	mediaPath := filepath.Join(dir, "media.csv")
	before, _ := os.ReadFile(mediaPath)
	fiBefore, _ := os.Stat(mediaPath)

	mustRecord(t, tr, fresh[:3])
	after, _ := os.ReadFile(mediaPath)
	fiAfter, _ := os.Stat(mediaPath)
	if !os.SameFile(fiBefore, fiAfter) || !bytes.HasPrefix(after, before) || len(after) == len(before) {
		t.Errorf("media.csv was rewritten for a push that only adds media (same file %v, %d bytes before, %d after)", os.SameFile(fiBefore, fiAfter), len(before), len(after))
	}

	// A crash mid-append: the journal was written and half the rows.
	mustRecord(t, tr, fresh[3:6])
	whole, _ := os.ReadFile(mediaPath)
	j, _ := json.Marshal(pendingAppend{File: "media.csv", Size: int64(len(after)), Rows: whole[len(after):]})
	if err := os.WriteFile(filepath.Join(dir, appendJournal), j, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(mediaPath, int64(len(after)+(len(whole)-len(after))/2)); err != nil {
		t.Fatal(err)
	}
	mustRecord(t, tr, fresh[6:])
	if _, err := os.Stat(filepath.Join(dir, appendJournal)); !os.IsNotExist(err) {
		t.Errorf("the append journal is still there: %v", err)
	}

	oneGo := filepath.Join(t.TempDir(), "tracker")
	tr2, _ := New(context.Background(), csvConfig(t, oneGo))
	all := append(append([]event.Event(nil), first...), fresh...)
	mustRecord(t, tr2, all)
	for _, f := range []string{"media.csv", "drives.csv", "backups.csv"} {
		got, _ := os.ReadFile(filepath.Join(dir, f))
		want, _ := os.ReadFile(filepath.Join(oneGo, f))
		if !bytes.Equal(got, want) {
			t.Errorf("%s after appends:\n%s\nwant (one push of all)\n%s", f, got, want)
		}
		readTrackerCSV(t, filepath.Join(dir, f))
	}
	assertCSVOnce(t, dir, all)
}
