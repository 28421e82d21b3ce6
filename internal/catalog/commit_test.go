package catalog

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/run"
)

// recordFirst is a Recorder that lets another computer's push to the same
// path reach the log first, then records through the hub.
type recordFirst struct {
	h     *contenthub.Hub
	other *event.Event
	calls int
}

func (r *recordFirst) Record(ctx context.Context, evs []event.Event) error {
	r.calls++
	if r.other != nil {
		if err := r.h.Record(ctx, []event.Event{*r.other}); err != nil {
			return err
		}
	}
	return r.h.Record(ctx, evs)
}

// A push completes in the library: once Push returns, the catalog has what
// it pushed (no caller appends its events), the events went through the
// Recorder it was given, once, and an item another push beat to the same
// path meanwhile is reported as a conflict, not as pushed.
func TestPushCompletesInTheCatalog(t *testing.T) {
	ctx := context.Background()
	h := newTestHub(t)
	dir := t.TempDir()
	for _, n := range []string{"a.mxf", "b.mxf"} {
		os.WriteFile(filepath.Join(dir, n), []byte(strings.Repeat(n, 1000)), 0o644)
	}
	other := event.New(time.Now(), event.Pushed)
	other.User, other.Host, other.Path, other.Hash, other.Size = "them", "there", "VFX/b.mxf", strings.Repeat("cd", 32), 5
	rec := &recordFirst{h: h, other: &other}
	var warned []string
	res, err := Push(ctx, h, PushOptions{Paths: []string{filepath.Join(dir, "a.mxf"), filepath.Join(dir, "b.mxf")}, DestPath: "VFX", Category: "vfx",
		Record: rec, Warn: func(m string) { warned = append(warned, m) }, Env: run.Env{User: "ae", Host: "here"}})
	if err != nil || rec.calls != 1 || len(warned) != 0 {
		t.Fatalf("push: %v, %d records, warnings %v", err, rec.calls, warned)
	}
	if res.Pushed != 1 || res.Lost != 1 || res.OK() {
		t.Fatalf("push result %+v: want a.mxf pushed, b.mxf lost to the other push", res)
	}
	state, _, err := Load(ctx, h, time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	if it, ok := state.Lookup("VFX/a.mxf"); !ok || it.User != "ae" {
		t.Fatalf("the catalog lacks the pushed item: %+v", it)
	}
	if it, ok := state.Lookup("VFX/b.mxf"); !ok || it.User != "them" {
		t.Fatalf("the catalog should keep the other push's item: %+v", it)
	}

	// Without a Recorder the events go straight to the hub's log.
	os.WriteFile(filepath.Join(dir, "c.mxf"), []byte("c"), 0o644)
	if res, err := Push(ctx, h, PushOptions{Paths: []string{filepath.Join(dir, "c.mxf")}, DestPath: "VFX"}); err != nil || res.Pushed != 1 {
		t.Fatalf("push without a recorder: %v %+v", err, res)
	}
	if state, _, err = Load(ctx, h, time.Now(), false); err != nil {
		t.Fatal(err)
	}
	if _, ok := state.Lookup("VFX/c.mxf"); !ok {
		t.Fatal("a push without a recorder is not in the catalog")
	}
}

func newTestHub(t *testing.T) *contenthub.Hub {
	t.Helper()
	be, err := backend.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return contenthub.New(be)
}

// A pull killed while it appended an event leaves a torn last line in the
// drive's pending events; the next pull's events start a line of their own,
// so they are not lost with it.
func TestPullPendingEventsAfterATornLine(t *testing.T) {
	ctx := context.Background()
	h := newTestHub(t)
	src := filepath.Join(t.TempDir(), "a.mxf")
	os.WriteFile(src, []byte("frames"), 0o644)
	if res, err := Push(ctx, h, PushOptions{Paths: []string{src}, DestPath: "VFX"}); err != nil || res.Pushed != 1 {
		t.Fatalf("push: %v %+v", err, res)
	}
	drive := t.TempDir()
	left := event.New(time.Now(), event.Pulled)
	left.Path, left.Hash, left.Size = "VFX/earlier.mxf", strings.Repeat("ab", 32), 1
	line, _ := json.Marshal(left)
	os.MkdirAll(filepath.Join(drive, manifest.DirName), 0o755)
	pendingPath := filepath.Join(drive, manifest.DirName, pendingFile)
	os.WriteFile(pendingPath, append(append(line, '\n'), `{"id":"20261124T1200`...), 0o644)

	pr, err := Pull(ctx, h, PullOptions{Drive: drive})
	if err != nil || pr.Pulled != 1 || len(pr.Warnings) != 0 {
		t.Fatalf("pull: %v %+v", err, pr)
	}
	if len(pr.Events) != 2 || pr.Events[0].ID != left.ID {
		t.Fatalf("pull events %+v: want the one left behind, then its own", pr.Events)
	}
	// What a pull killed now would leave: both events, readable.
	data, err := os.ReadFile(pendingPath)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range strings.Split(string(data), "\n") {
		var ev event.Event
		if json.Unmarshal([]byte(l), &ev) == nil {
			ids = append(ids, ev.ID)
		}
	}
	if len(ids) != 2 || ids[0] != left.ID || ids[1] != pr.Events[1].ID {
		t.Fatalf("pending events on the drive: %q, want %s and %s", data, left.ID, pr.Events[1].ID)
	}
}
