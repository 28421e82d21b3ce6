package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/editkit/editkit/internal/tracker/sheetsfake"
)

// trackerEnv runs editkit against a fake Sheets API on 127.0.0.1, through
// the real sheets/v4 client, authenticated with a service-account key whose
// token_uri points at the fake's OAuth endpoint.
type trackerEnv struct {
	fake  *sheetsfake.Server
	sheet string
	env   []string
	hub   *testHub
}

func newTrackerEnv(t *testing.T) *trackerEnv { return newTrackerEnvWith(t, sheetsfake.Options{}) }

func newTrackerEnvWith(t *testing.T, o sheetsfake.Options) *trackerEnv {
	t.Helper()
	fake := sheetsfake.New(o)
	t.Cleanup(fake.Close)
	const sa = "editkit-tracker@show.iam.gserviceaccount.com"
	key, err := fake.NewServiceAccount(sa)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "sa.json")
	os.WriteFile(keyFile, key, 0o600)
	id := fake.CreateSpreadsheet("Show media tracker", sa)
	hubDir := t.TempDir()
	env := append(stateEnv(t), "GOOGLE_APPLICATION_CREDENTIALS="+keyFile, "EDITKIT_SHEETS_ENDPOINT="+fake.URL,
		"EDITKIT_SHEET="+id, "EDITKIT_HUB="+hubDir)
	return &trackerEnv{fake: fake, sheet: id, env: env, hub: &testHub{name: "folder", url: hubDir, dir: hubDir, env: env}}
}

// logIDs returns the Event ID column of the Log tab, and how many rows it has.
func (te *trackerEnv) logIDs(t *testing.T) (ids map[string]int, rows int) {
	t.Helper()
	vals, ok := te.fake.Values(te.sheet, "Log")
	if !ok {
		t.Fatal("no Log tab")
	}
	col := -1
	for i, h := range vals[0] {
		if fmt.Sprint(h) == "Event ID" {
			col = i
		}
	}
	if col < 0 {
		t.Fatalf("no Event ID column in %v", vals[0])
	}
	ids = map[string]int{}
	for _, r := range vals[1:] {
		if col < len(r) && fmt.Sprint(r[col]) != "" {
			ids[fmt.Sprint(r[col])]++
			rows++
		}
	}
	return ids, rows
}

func assertOnce(t *testing.T, ids map[string]int) {
	t.Helper()
	for id, n := range ids {
		if n != 1 {
			t.Errorf("event %s is in the sheet %d times", id, n)
		}
	}
}

// Every command's changes land in the Sheet exactly once: across a write
// the server applied but never answered, 429s and 500s, and an outage
// during which the commands succeed with a warning and the rows wait in
// the outbox until the next command or tracker sync.
func TestTrackerRowsExactlyOnce(t *testing.T) {
	long(t)
	te := newTrackerEnv(t)
	run := func(args ...string) result {
		t.Helper()
		return editkitEnv(t, te.env, args...)
	}
	if r := run("tracker", "init"); r.code != 0 {
		t.Fatalf("tracker init: %s", r)
	}
	if r := run("tracker", "init"); r.code != 0 {
		t.Fatalf("tracker init again: %s", r)
	}
	tabs := strings.Join(te.fake.Sheets(te.sheet), ",")
	for _, tab := range []string{"Log", "Media", "Drives", "Backups"} {
		if !strings.Contains(tabs, tab) {
			t.Fatalf("tabs %s lack %s", tabs, tab)
		}
	}
	inbox := t.TempDir()
	var files []string
	for i := 0; i < 30; i++ {
		p := filepath.Join(inbox, fmt.Sprintf("SFX_%02d.wav", i))
		writeMedia(t, p, 10<<10, byte(i))
		files = append(files, p)
	}
	// A write applied by the server, whose answer is lost: the duplicate trap.
	te.fake.Inject(sheetsfake.Fault{Op: "values.append", ApplyThenDrop: true})
	if r := run(append([]string{"push", "--category", "sfx", "--dest-path", "SFX"}, files[:10]...)...); r.code != 0 {
		t.Fatalf("push through a dropped answer: %s", r)
	}
	// Quota and server errors.
	te.fake.Inject(sheetsfake.Fault{Status: 429, Times: 2})
	te.fake.Inject(sheetsfake.Fault{Status: 500, WritesOnly: true})
	if r := run(append([]string{"push", "--category", "sfx", "--dest-path", "SFX"}, files[10:20]...)...); r.code != 0 {
		t.Fatalf("push through 429 and 500: %s", r)
	}
	// The Sheet is down: the command still succeeds, with a warning.
	te.fake.SetDown(true)
	r := run(append([]string{"push", "--category", "sfx", "--dest-path", "SFX"}, files[20:]...)...)
	if r.code != 0 || !strings.Contains(r.stderr, "tracker") {
		t.Fatalf("push with the Sheet down: %s", r)
	}
	_, rows := te.logIDs(t)
	if rows != 20 {
		t.Fatalf("%d rows while the Sheet was down, want 20 (the rest queued)", rows)
	}
	te.fake.SetDown(false)
	if r := run("tracker", "sync"); r.code != 0 {
		t.Fatalf("tracker sync: %s", r)
	}
	ids, rows := te.logIDs(t)
	assertOnce(t, ids)
	if rows != 30 {
		t.Fatalf("%d rows in the Log, want 30", rows)
	}
	media, _ := te.fake.Values(te.sheet, "Media")
	if len(media) != 31 {
		t.Errorf("Media tab has %d rows, want 30 items and a header", len(media))
	}
	// A pull onto a drive shows in the Drives and Media tabs.
	drive := filepath.Join(t.TempDir(), "EDITOR1")
	os.Mkdir(drive, 0o755)
	if r := run("pull", "--label", "Anna", drive); r.code != 0 {
		t.Fatalf("pull: %s", r)
	}
	drives, _ := te.fake.Values(te.sheet, "Drives")
	if len(drives) != 2 || !strings.Contains(fmt.Sprint(drives[1]), "Anna") {
		t.Errorf("Drives tab: %v", drives)
	}
	ids, rows = te.logIDs(t)
	assertOnce(t, ids)
	if rows != 60 {
		t.Errorf("%d rows after the pull, want 60", rows)
	}
	// Someone wipes the Media tab by hand; --rebuild restores it from the hub.
	te.fake.DeleteRows(te.sheet, "Media", 1, 30)
	if r := run("tracker", "sync", "--rebuild"); r.code != 0 {
		t.Fatalf("rebuild: %s", r)
	}
	media, _ = te.fake.Values(te.sheet, "Media")
	if len(media) != 31 || !strings.Contains(fmt.Sprint(media), "Anna") {
		t.Errorf("Media tab after rebuild: %d rows", len(media))
	}
}

// Without Google, the same rows go to CSV files that spreadsheet apps read.
func TestTrackerCSVDefault(t *testing.T) {
	state := t.TempDir()
	env := []string{"EDITKIT_STATE_DIR=" + state, "XDG_CONFIG_HOME=" + t.TempDir()}
	src := projectTree(t, 50, 2<<20)
	drive := t.TempDir()
	for i := 0; i < 2; i++ {
		if r := editkitEnv(t, env, "copy", src, drive); r.code != 0 {
			t.Fatalf("copy: %s", r)
		}
	}
	if r := editkitEnv(t, env, "verify", drive); r.code != 0 {
		t.Fatalf("verify: %s", r)
	}
	f, err := os.Open(filepath.Join(state, "tracker", "log.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 3)
	f.Read(b) // the byte-order mark Excel needs
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("log.csv is not CSV: %v", err)
	}
	if len(rows) != 3 || rows[1][4] != "copied" || rows[2][4] != "verified" {
		t.Fatalf("log.csv: %v", rows)
	}
}

// outboxLeft lists the batches and receipts still waiting in the state
// folder's outbox (damaged files put aside included).
func outboxLeft(t *testing.T, state string) []string {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(state, "outbox"))
	var left []string
	for _, de := range entries {
		if !strings.HasPrefix(de.Name(), ".") {
			left = append(left, de.Name())
		}
	}
	return left
}
