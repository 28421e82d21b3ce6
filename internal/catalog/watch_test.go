package catalog

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/run"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// A file that keeps growing is never pushed, however long the watch looks
// at it, and is pushed whole once its size and time have stayed the same
// for the settle time — on a fake clock, so a busy machine changes nothing.
func TestWatchWaitsForFilesToSettle(t *testing.T) {
	local, err := backend.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := contenthub.New(local)
	folder := t.TempDir()
	clock := &fakeClock{t: time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)}
	looks := make(chan time.Time)
	pushed := make(chan *PushResult, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Watch(ctx, h, WatchOptions{
			Folder: folder, Push: PushOptions{Category: "vfx", DestPath: "Incoming", Env: run.Env{User: "ae", Now: clock.Now}},
			Settle: 15 * time.Second, StateDir: t.TempDir(), Looks: looks,
			Pushed:  func(res *PushResult) { pushed <- res },
			Problem: func(err error) { t.Errorf("watch: %v", err) },
		})
	}()
	// look lets the watch finish the look it is at and make one more.
	look := func() { looks <- time.Time{}; looks <- time.Time{} }

	path := filepath.Join(folder, "shot_020.mov")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	for i := range 12 {
		chunk := bytes.Repeat([]byte{byte(i)}, 64<<10)
		f.Write(chunk)
		all = append(all, chunk...)
		now := clock.Add(10 * time.Second) // less than Settle between writes
		os.Chtimes(path, now, now)
		look()
		look()
		select {
		case res := <-pushed:
			t.Fatalf("pushed a file still being written (after %d of 12 writes): %+v", i+1, res.Items)
		default:
		}
	}
	f.Close()
	clock.Add(16 * time.Second)
	look()
	var res *PushResult
	select {
	case res = <-pushed:
	case <-time.After(time.Minute): // a hang guard, not a measure
		t.Fatal("the finished file was not pushed")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 1 || res.Items[0].Size != int64(len(all)) || res.Items[0].Path != "Incoming/shot_020.mov" {
		t.Fatalf("pushed %+v, want the whole file (%d bytes) at Incoming/shot_020.mov", res.Items, len(all))
	}
}
