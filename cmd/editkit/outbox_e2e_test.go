//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/tracker/sheetsfake"
)

// newOutboxEnv is a Sheet and a folder hub for tests that run many short
// commands in a row: Google's per-minute quota is not what they are about.
func newOutboxEnv(t *testing.T) *trackerEnv {
	return newTrackerEnvWith(t, sheetsfake.Options{ReadsPerMinutePerUser: -1, WritesPerMinutePerUser: -1,
		ReadsPerMinutePerProject: -1, WritesPerMinutePerProject: -1})
}

// Every event a command records reaches the hub's event log once and the
// Sheet once, through a hub outage (its folder unmounted), a Sheet outage,
// both at once, and a kill -9 at each step of delivery to either; the one
// outbox is empty at the end.
func TestOutboxExactlyOnceAcrossOutagesAndKills(t *testing.T) {
	long(t)
	te := newOutboxEnv(t)
	state := envValue(te.env, "EDITKIT_STATE_DIR")
	hubDir := te.hub.dir
	if r := editkitEnv(t, te.env, "tracker", "init"); r.code != 0 {
		t.Fatalf("tracker init: %s", r)
	}
	src := projectTree(t, 11, 1<<20)
	drive := t.TempDir()
	if r := editkitEnv(t, te.env, "copy", src, drive); r.code != 0 {
		t.Fatalf("copy: %s", r)
	}
	copied := len(te.hub.eventLines(t))
	verify := func(what string, env ...string) result {
		t.Helper()
		return editkitEnv(t, append(append([]string{}, te.env...), env...), "verify", drive)
	}
	hubDown := func(down bool) {
		t.Helper()
		from, to := hubDir, hubDir+".unmounted"
		if !down {
			from, to = to, from
		}
		if err := os.Rename(from, to); err != nil {
			t.Fatal(err)
		}
	}

	hubDown(true)
	if r := verify("hub down"); r.code != 0 || !strings.Contains(r.stderr, "hub") {
		t.Fatalf("verify with the hub down: %s", r)
	}
	hubDown(false)
	te.fake.SetDown(true)
	if r := verify("Sheet down"); r.code != 0 || !strings.Contains(r.stderr, "tracker") {
		t.Fatalf("verify with the Sheet down: %s", r)
	}
	hubDown(true)
	if r := verify("both down"); r.code != 0 {
		t.Fatalf("verify with both down: %s", r)
	}
	if n := len(outboxLeft(t, state)); n == 0 {
		t.Fatal("nothing waits in the outbox while both are down")
	}
	// The Sheet back: tracker sync sends its rows and says where the
	// hub's events wait.
	te.fake.SetDown(false)
	if r := editkitEnv(t, te.env, "tracker", "sync"); r.code != 0 || !strings.Contains(r.stderr, "1 event(s) wait in "+filepath.Join(state, "outbox")+" for the hub's event log") {
		t.Fatalf("tracker sync with the hub down: %s", r)
	}
	hubDown(false)
	for _, step := range []string{"hub:receipt", "hub:sending", "hub:sent", "tracker:sending", "tracker:sent", "tracker:receipt"} {
		if r := verify(step, "EDITKIT_TEST_KILL_AT=outbox:"+step); r.code != -1 {
			t.Fatalf("verify killed at %s: %s", step, r)
		}
	}
	if r := verify("last"); r.code != 0 || r.stderr != "" {
		t.Fatalf("verify with both back: %s", r)
	}
	if left := outboxLeft(t, state); len(left) != 0 {
		t.Fatalf("left in the outbox: %v", left)
	}
	inLog := map[string]int{}
	for _, l := range te.hub.eventLines(t) {
		var ev event.Event
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		inLog[ev.ID]++
	}
	inSheet, _ := te.logIDs(t)
	assertOnce(t, inSheet)
	for id, n := range inLog {
		if n != 1 {
			t.Errorf("event %s is in the hub's log %d times", id, n)
		}
		if inSheet[id] != 1 {
			t.Errorf("event %s of the hub's log is in the Sheet %d times", id, inSheet[id])
		}
	}
	// The copy's, then ten verifies' (three through outages, six killed,
	// the last): the ones made while the hub was down reached it too.
	if want := copied + 10; len(inLog) != want || len(inSheet) != want {
		t.Errorf("%d events in the hub's log, %d in the Sheet, want %d", len(inLog), len(inSheet), want)
	}
}

// A pull killed half-way leaves its events on the drive; they leave the
// drive only once they are safe in the outbox (a pull whose outbox cannot
// be written keeps them there), and then reach the hub's log and the Sheet
// once.
func TestPullEventsDrainIntoTheOutbox(t *testing.T) {
	long(t)
	te := newOutboxEnv(t)
	state := envValue(te.env, "EDITKIT_STATE_DIR")
	run := func(env []string, args ...string) result {
		t.Helper()
		return editkitEnv(t, append(append([]string{}, te.env...), env...), args...)
	}
	inbox := t.TempDir()
	var files []string
	for i := range 4 {
		p := filepath.Join(inbox, fmt.Sprintf("SFX_%02d.wav", i))
		writeMedia(t, p, 64<<10, byte(i))
		files = append(files, p)
	}
	if r := run(nil, append([]string{"push", "--category", "sfx", "--dest-path", "SFX"}, files...)...); r.code != 0 {
		t.Fatalf("push: %s", r)
	}
	drive := filepath.Join(t.TempDir(), "EDITOR1")
	os.Mkdir(drive, 0o755)
	pending := filepath.Join(drive, ".editkit", "pull-events.jsonl")
	if r := run([]string{crashEnv + "=renamed:3"}, "pull", "--jobs", "1", "--label", "Anna", drive); r.code != -1 {
		t.Fatalf("pull killed: %s", r)
	}
	if data, err := os.ReadFile(pending); err != nil || len(bytes.TrimSpace(data)) == 0 {
		t.Fatalf("the killed pull left no events on the drive: %q %v", data, err)
	}
	// The outbox cannot be written: the events stay on the drive.
	if left := outboxLeft(t, state); len(left) != 0 {
		t.Fatalf("outbox not empty after the push: %v", left)
	}
	ob := filepath.Join(state, "outbox")
	os.RemoveAll(ob)
	os.WriteFile(ob, []byte("not a folder"), 0o600)
	if r := run(nil, "pull", drive); r.code != 0 || !strings.Contains(r.stderr, "could not be kept") {
		t.Fatalf("pull with the outbox not writable: %s", r)
	}
	if _, err := os.Stat(pending); err != nil {
		t.Fatalf("the drive's pending events were dropped though the outbox could not keep them: %v", err)
	}
	os.Remove(ob)
	if r := run(nil, "pull", drive); r.code != 0 {
		t.Fatalf("pull: %s", r)
	}
	if _, err := os.Stat(pending); !os.IsNotExist(err) {
		t.Fatalf("the drive's pending events are still there: %v", err)
	}
	if left := outboxLeft(t, state); len(left) != 0 {
		t.Fatalf("left in the outbox: %v", left)
	}
	inSheet, _ := te.logIDs(t)
	assertOnce(t, inSheet)
	pulled := map[string]bool{}
	inLog := map[string]int{}
	for _, l := range te.hub.eventLines(t) {
		var ev event.Event
		json.Unmarshal([]byte(l), &ev)
		inLog[ev.ID]++
		if inLog[ev.ID] > 1 || inSheet[ev.ID] != 1 {
			t.Errorf("event %s (%s %s) is in the log %d times, in the Sheet %d times", ev.ID, ev.Action, ev.Path, inLog[ev.ID], inSheet[ev.ID])
		}
		if ev.Action == event.Pulled {
			pulled[ev.Path] = true
		}
	}
	if len(pulled) != 4 || len(inSheet) != len(inLog) {
		t.Errorf("pulled in the log: %v; %d events in the log, %d in the Sheet", pulled, len(inLog), len(inSheet))
	}
}

// Batches an earlier editkit left in its two outbox folders are taken over
// on upgrade and delivered once: the hub's to the log object chosen for it
// before (which an attempt whose answer was lost may have written
// already), the tracker's to the Sheet.
func TestOutboxTakesOverOldFolders(t *testing.T) {
	long(t)
	te := newOutboxEnv(t)
	state := envValue(te.env, "EDITKIT_STATE_DIR")
	if r := editkitEnv(t, te.env, "tracker", "init"); r.code != 0 {
		t.Fatalf("tracker init: %s", r)
	}
	var evs []event.Event
	for i := range 5 {
		ev := event.New(time.Now().Add(-time.Hour), event.Verified)
		ev.Drive, ev.DriveID, ev.User, ev.Host = "EDIT_01", "ek-0123456789", "anna", "mac"
		ev.Note = fmt.Sprint("old ", i)
		evs = append(evs, ev)
	}
	// The hub's: one tried already (its object written, the answer lost),
	// one never tried.
	oldHub, oldTracker := filepath.Join(state, "hub-outbox"), filepath.Join(state, "tracker-outbox")
	os.MkdirAll(oldHub, 0o700)
	os.MkdirAll(oldTracker, 0o700)
	key := contenthub.NewEventKey(time.Now().Add(-time.Minute))
	tried := map[string]any{"ID": event.NewID(time.Now()), "Events": evs[:2], "Key": key}
	never := map[string]any{"ID": event.NewID(time.Now()), "Events": evs[2:3]}
	for _, b := range []map[string]any{tried, never} {
		data, _ := json.Marshal(b)
		os.WriteFile(filepath.Join(oldHub, b["ID"].(string)+".json"), data, 0o600)
	}
	var written bytes.Buffer
	for _, ev := range evs[:2] {
		line, _ := json.Marshal(ev)
		written.Write(append(line, '\n'))
	}
	os.MkdirAll(filepath.Dir(filepath.Join(te.hub.dir, key)), 0o755)
	os.WriteFile(filepath.Join(te.hub.dir, key), written.Bytes(), 0o644)
	var lines bytes.Buffer
	for _, ev := range evs {
		line, _ := json.Marshal(ev)
		lines.Write(append(line, '\n'))
	}
	os.WriteFile(filepath.Join(oldTracker, evs[0].ID+"-abcd.jsonl"), lines.Bytes(), 0o600)

	if r := editkitEnv(t, te.env, "tracker", "sync"); r.code != 0 || !strings.Contains(r.stdout, "5 rows sent") {
		t.Fatalf("tracker sync: %s", r)
	}
	src := projectTree(t, 12, 256<<10)
	if r := editkitEnv(t, te.env, "copy", src, t.TempDir()); r.code != 0 {
		t.Fatalf("copy: %s", r)
	}
	for _, dir := range []string{oldHub, oldTracker} {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s is still there: %v", dir, err)
		}
	}
	if left := outboxLeft(t, state); len(left) != 0 {
		t.Fatalf("left in the outbox: %v", left)
	}
	inSheet, _ := te.logIDs(t)
	assertOnce(t, inSheet)
	inLog := map[string]int{}
	for _, l := range te.hub.eventLines(t) {
		var ev event.Event
		json.Unmarshal([]byte(l), &ev)
		inLog[ev.ID]++
	}
	for i, ev := range evs {
		if inSheet[ev.ID] != 1 {
			t.Errorf("old event %d is in the Sheet %d times", i, inSheet[ev.ID])
		}
		if want := map[bool]int{true: 1, false: 0}[i < 3]; inLog[ev.ID] != want {
			t.Errorf("old event %d is in the hub's log %d times, want %d", i, inLog[ev.ID], want)
		}
	}
}
