package catalog

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/event"
)

func hash(n int) string { return fmt.Sprintf("%064x", n) }

func pushed(t time.Time, path string, h int, replaces string) event.Event {
	e := event.New(t, event.Pushed)
	e.Path, e.Hash, e.Size, e.Replaces = path, hash(h), int64(h), replaces
	return e
}

func TestFoldRules(t *testing.T) {
	now := time.Now()
	s := NewState()
	s.Apply(pushed(now, "VFX/a.mxf", 1, ""))
	s.Apply(pushed(now, "VFX/a.mxf", 1, ""))                                    // same content again: nothing
	s.Apply(pushed(now, "VFX/a.mxf", 2, ""))                                    // different, not replacing: conflict
	s.Apply(pushed(now, "VFX/b.mxf", 3, ""))                                    // new
	s.Apply(pushed(now, "VFX/b.mxf", 4, hash(3)))                               // replaces the current version
	s.Apply(pushed(now, "VFX/b.mxf", 5, hash(3)))                               // replaces a stale version: conflict
	s.Apply(pushed(now, "../escape", 6, ""))                                    // hostile: rejected
	s.Apply(pushed(now, "/etc/passwd", 7, ""))                                  // hostile: rejected
	s.Apply(event.Event{ID: "x", Action: event.Pushed, Path: "ok", Hash: "zz"}) // bad hash
	if len(s.Items) != 2 || s.Items["VFX/a.mxf"].B3 != hash(1) || s.Items["VFX/b.mxf"].B3 != hash(4) {
		t.Fatalf("items: %+v", s.Items)
	}
	if len(s.Items["VFX/b.mxf"].Previous) != 1 || s.Items["VFX/b.mxf"].Previous[0].B3 != hash(3) {
		t.Fatalf("history: %+v", s.Items["VFX/b.mxf"].Previous)
	}
	if len(s.Conflicts) != 2 || len(s.Rejected) != 3 {
		t.Fatalf("conflicts %d, rejected %d", len(s.Conflicts), len(s.Rejected))
	}
	w := event.New(now, event.Withdrawn)
	w.Path = "VFX/a.mxf"
	s.Apply(w)
	if _, ok := s.Items["VFX/a.mxf"]; ok || s.Withdrawn["VFX/a.mxf"] == nil {
		t.Fatal("withdraw")
	}
	p := event.New(now, event.Pulled)
	p.DriveID, p.Drive, p.Path, p.Hash = "ek-1", "Anna", "VFX/b.mxf", hash(4)
	s.Apply(p)
	if c, ok := s.Drives["ek-1"].Has["VFX/b.mxf"]; !ok || c.B3 != hash(4) {
		t.Fatal("pulled")
	}
}

func newHub(t *testing.T) *contenthub.Hub {
	b, err := backend.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return contenthub.New(b)
}

func appendBatch(t *testing.T, h *contenthub.Hub, key string, evs ...event.Event) {
	t.Helper()
	if err := h.AppendEvents(context.Background(), contenthub.Batch{ID: event.NewID(time.Now()), Events: evs, Key: key}); err != nil {
		t.Fatal(err)
	}
}

// Checkpoints make reading fast and do not change the result; a batch that
// arrives late (a laptop whose clock is behind) inside a checkpoint's
// window makes readers fall back to a full replay instead of missing it.
func TestCheckpointsAndLateBatches(t *testing.T) {
	ctx := context.Background()
	h := newHub(t)
	base := time.Now().Add(-2 * time.Hour)
	n := 0
	for b := 0; b < 30; b++ {
		var evs []event.Event
		for i := 0; i < 50; i++ {
			n++
			evs = append(evs, pushed(base, fmt.Sprintf("Stock/%05d.mov", n), n, ""))
		}
		appendBatch(t, h, contenthub.NewEventKey(base.Add(time.Duration(b)*time.Minute)), evs...)
	}
	s, st, err := Load(ctx, h, time.Now(), true)
	if err != nil || len(s.Items) != n || st.Wrote == "" || st.Checkpoint != "" {
		t.Fatalf("first load: %v, %d items, %+v", err, len(s.Items), st)
	}
	s2, st2, err := Load(ctx, h, time.Now(), true)
	if err != nil || len(s2.Items) != n || st2.Checkpoint == "" || st2.Batches != 0 {
		t.Fatalf("load from checkpoint: %v %+v", err, st2)
	}
	// A batch that arrived "earlier" than the checkpoint's last one.
	appendBatch(t, h, contenthub.NewEventKey(base.Add(90*time.Second)), pushed(base, "Stock/late.mov", 99999, ""))
	s3, st3, err := Load(ctx, h, time.Now(), true)
	if err != nil || s3.Items["Stock/late.mov"] == nil {
		t.Fatalf("a late batch was missed: %v %+v", err, st3)
	}
}

// The catalog is read on the command's clock: on one far ahead of the
// computer's (a test clock a month on, whose batches reached the hub then),
// a batch after the newest checkpoint is still read.
func TestLoadOnAClockFarAhead(t *testing.T) {
	ctx := context.Background()
	h := newHub(t)
	now := time.Now().Add(30 * 24 * time.Hour)
	var evs []event.Event
	for i := range checkpointEvery {
		evs = append(evs, pushed(now, fmt.Sprintf("Stock/%05d.mov", i), i+1, ""))
	}
	appendBatch(t, h, contenthub.NewEventKey(now), evs...)
	if _, st, err := Load(ctx, h, now, true); err != nil || st.Wrote == "" {
		t.Fatalf("first load: %v %+v", err, st)
	}
	later := now.Add(time.Hour)
	appendBatch(t, h, contenthub.NewEventKey(later), pushed(later, "VFX/new.mov", 99999, ""))
	s, st, err := Load(ctx, h, later, false)
	if err != nil || st.Checkpoint == "" || s.Items["VFX/new.mov"] == nil {
		t.Fatalf("a batch after the checkpoint, on a clock a month ahead, was missed: %v %+v", err, st)
	}
}

// Many writers at once: every event of every writer is in the catalog.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	h := newHub(t)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				appendBatch(t, h, contenthub.NewEventKey(time.Now()), pushed(time.Now(), fmt.Sprintf("W%d/%d.wav", w, i), w*1000+i+1, ""))
			}
		}()
	}
	wg.Wait()
	s, _, err := Load(ctx, h, time.Now(), true)
	if err != nil || len(s.Items) != 200 {
		t.Fatalf("%v: %d items, want 200", err, len(s.Items))
	}
}

// Reading a catalog of 50 000 events from a checkpoint (the target is
// under a second; this prints the time).
func BenchmarkLoad50k(b *testing.B) {
	ctx := context.Background()
	be, _ := backend.OpenLocal(b.TempDir())
	h := contenthub.New(be)
	base := time.Now().Add(-time.Hour)
	n := 0
	for batch := 0; batch < 500; batch++ {
		var evs []event.Event
		for i := 0; i < 100; i++ {
			n++
			evs = append(evs, pushed(base, fmt.Sprintf("Stock/%06d.mov", n), n, ""))
		}
		h.AppendEvents(ctx, contenthub.Batch{ID: event.NewID(time.Now()), Events: evs, Key: contenthub.NewEventKey(base.Add(time.Duration(batch) * time.Second))})
	}
	if _, st, err := Load(ctx, h, time.Now(), true); err != nil || st.Wrote == "" {
		b.Fatalf("%v %+v", err, st)
	}
	b.ResetTimer()
	for b.Loop() {
		s, _, err := Load(ctx, h, time.Now(), false)
		if err != nil || len(s.Items) != n {
			b.Fatal(err)
		}
	}
}
