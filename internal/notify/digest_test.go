package notify

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/outbox"
	"github.com/editkit/editkit/internal/tracker"
)

func digest(t *testing.T, ob *outbox.Outbox, h *contenthub.Hub, cursor string) (Message, bool) {
	t.Helper()
	ctx := context.Background()
	snd, err := ob.Lock(ctx, outbox.Notify, tracker.RealClock(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	m, ok, err := QueueDigest(ctx, ob, snd, h, cursor, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return m, ok
}

// The morning digest says what was pushed (so editors pull) and who pulled
// what, from the hub's event log; each part of the log is in exactly one
// digest, also when the run that queued a digest died before remembering
// where it ended.
func TestDigestCoversTheLogOnce(t *testing.T) {
	ctx := context.Background()
	h, err := contenthub.Open(ctx, contenthub.Config{URL: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	record := func(user, action, drive string, paths ...string) {
		var evs []event.Event
		for _, p := range paths {
			e := event.New(time.Now(), action)
			e.User, e.Path, e.Drive, e.Size, e.Category = user, p, drive, 2<<20, "vfx"
			evs = append(evs, e)
		}
		if err := h.Record(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	record("anna", event.Pushed, "", "VFX/SH010_v003.mov", "VFX/SH020_v001.mov")
	record("ben", event.Pulled, "EDITOR1", "VFX/SH010_v003.mov", "VFX/SH020_v001.mov")
	record("anna", event.Copied, "EDITOR2", "Proxies") // not digest news

	ob := testOutbox(t)
	cursor := filepath.Join(t.TempDir(), "notify-digest.json")
	m, ok := digest(t, ob, h, cursor)
	if !ok {
		t.Fatal("no digest")
	}
	if m.Title != "Media digest: 2 files new (4.0 MiB), 2 files pulled" {
		t.Errorf("title %q", m.Title)
	}
	for _, want := range []string{"run `editkit pull DRIVE`", "vfx: 2 files, 4.0 MiB", "  VFX/SH010_v003.mov (2.0 MiB, from anna)", "ben → EDITOR1: 2 files, 4.0 MiB"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("digest lacks %q:\n%s", want, m.Text)
		}
	}
	if _, ok := digest(t, ob, h, cursor); ok {
		t.Fatal("a second digest with nothing new")
	}

	// A run that queued its digest and died before saving the cursor.
	record("anna", event.Pushed, "", "VFX/SH030_v001.mov")
	before, err := os.ReadFile(cursor)
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := digest(t, ob, h, cursor); !ok || !strings.HasPrefix(m.Title, "Media digest: 1 file new") {
		t.Fatalf("digest of the new push: %v %q", ok, m.Title)
	}
	if err := os.WriteFile(cursor, before, 0o600); err != nil {
		t.Fatal(err)
	}
	if m, ok := digest(t, ob, h, cursor); ok {
		t.Fatalf("the queued digest was composed again: %q", m.Title)
	}

	srv := newHookServer(t)
	flush(t, ob, Settings{Webhook: srv.URL + "/generic"})
	var titles []string
	for _, b := range srv.got("/generic") {
		var g WebhookBody
		json.Unmarshal(b, &g)
		titles = append(titles, g.Title)
	}
	if len(titles) != 2 || !strings.Contains(titles[0], "2 files new") || !strings.Contains(titles[1], "1 file new") {
		t.Fatalf("digests sent: %q", titles)
	}
}

// The digest reads the log on the run's clock, also far ahead of the
// computer's (a test clock a month on): the batches that reached the hub
// in its last day are listed and reported.
func TestDigestOnAClockFarAhead(t *testing.T) {
	ctx := context.Background()
	h, err := contenthub.Open(ctx, contenthub.Config{URL: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	now := time.Now().Add(30 * 24 * time.Hour)
	e := event.New(now.Add(-time.Hour), event.Pushed)
	e.User, e.Path, e.Size, e.Category = "anna", "VFX/SH040_v001.mov", 2<<20, "vfx"
	if err := h.AppendEvents(ctx, contenthub.Batch{ID: event.NewID(now), Events: []event.Event{e}, Key: contenthub.NewEventKey(now.Add(-time.Hour))}); err != nil {
		t.Fatal(err)
	}
	ob := testOutbox(t)
	snd, err := ob.Lock(ctx, outbox.Notify, tracker.RealClock(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	m, ok, err := QueueDigest(ctx, ob, snd, h, filepath.Join(t.TempDir(), "notify-digest.json"), now)
	if err != nil || !ok || !strings.Contains(m.Text, e.Path) {
		t.Fatalf("digest on a clock a month ahead: %v %v %q", ok, err, m.Text)
	}
}
