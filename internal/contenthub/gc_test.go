package contenthub

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/contenthub/backend"
)

func testHub(t *testing.T) *Hub {
	t.Helper()
	be, err := backend.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return New(be)
}

// When a writer may stop waiting for a prune's deletion announcement: past
// its deadline (with the clock skew allowed), or at once when the prune
// ran on this computer and its process is gone.
func TestDeletionEnded(t *testing.T) {
	start := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	deadline := start.Add(15 * time.Minute)
	dead := exec.Command(os.Args[0], "-test.run=^$") // this test binary, running nothing

	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		d    Deletion
		now  time.Time
		host string
		want bool
	}{
		{"before the deadline", Deletion{Host: "a", PID: os.Getpid(), Started: start, Deadline: deadline}, deadline.Add(-time.Minute), "b", false},
		{"past the deadline, within the skew", Deletion{Host: "a", Started: start, Deadline: deadline}, deadline.Add(DeletionSkew - time.Second), "b", false},
		{"past the deadline and the skew", Deletion{Host: "a", Started: start, Deadline: deadline}, deadline.Add(DeletionSkew + time.Second), "b", true},
		{"this computer, process gone", Deletion{Host: "a", PID: dead.Process.Pid, Started: start, Deadline: deadline}, start, "a", true},
		{"this computer, process running", Deletion{Host: "a", PID: os.Getpid(), Started: start, Deadline: deadline}, start, "a", false},
		{"another computer's process id", Deletion{Host: "a", PID: dead.Process.Pid, Started: start, Deadline: deadline}, start, "b", false},
		{"no deadline, recent", Deletion{Host: "a", Started: start}, start.Add(59 * time.Minute), "b", false},
		{"no deadline, an hour old", Deletion{Host: "a", Started: start}, start.Add(61 * time.Minute), "b", true},
	}
	for _, c := range cases {
		if c.name == "this computer, process gone" && runtime.GOOS == "windows" {
			continue // processAlive cannot tell there: the deadline ends it
		}
		if got := c.d.Ended(c.now, c.host); got != c.want {
			t.Errorf("%s: Ended = %v, want %v", c.name, got, c.want)
		}
	}
}

// What a writer must re-check: blobs on the pending list, in an
// announcement, or removed by a repair; everything when an announcement
// has no deadline. A damaged pending list reads as empty.
func TestAtRisk(t *testing.T) {
	ctx := context.Background()
	b := repeat
	now := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		setup   func(h *Hub)
		risky   []string
		safe    []string
		all     bool
		waitFor int // announcements
	}{
		{"nothing", func(*Hub) {}, nil, []string{b('1')}, false, 0},
		{"pending", func(h *Hub) {
			h.WritePending(ctx, PendingList{Blobs: map[string]time.Time{b('1'): now}})
		}, []string{b('1')}, []string{b('2')}, false, 0},
		{"damaged pending list", func(h *Hub) {
			h.backend.Put(ctx, PendingKey, backend.BytesSource([]byte("{not json")), backend.PutOptions{})
		}, nil, []string{b('1')}, false, 0},
		{"announced", func(h *Hub) {
			h.AnnounceDeletion(ctx, &Deletion{ID: "d1", Started: now, Deadline: now.Add(time.Minute), Blobs: []string{b('2'), b('3')}})
		}, []string{b('2'), b('3')}, []string{b('1')}, false, 1},
		{"repaired away", func(h *Hub) {
			h.RecordRepair(ctx, &Repair{ID: "r1", Time: now, Blobs: []string{b('4')}})
		}, []string{b('4')}, []string{b('1')}, false, 0},
		{"announcement without deadline", func(h *Hub) {
			h.AnnounceDeletion(ctx, &Deletion{ID: "d2", Started: now, Blobs: []string{b('2')}})
		}, []string{b('1'), b('2')}, nil, true, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := testHub(t)
			c.setup(h)
			r, err := h.AtRisk(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range c.risky {
				if !r.Has(x) {
					t.Errorf("%s… not at risk", x[:4])
				}
			}
			for _, x := range c.safe {
				if r.Has(x) {
					t.Errorf("%s… at risk", x[:4])
				}
			}
			if r.All != c.all || len(r.Deletions) != c.waitFor {
				t.Errorf("All %v, %d announcements; want %v, %d", r.All, len(r.Deletions), c.all, c.waitFor)
			}
			// Union with nothing changes nothing; with another adds its blobs.
			u := r.Union(nil).Union(&Risk{Blobs: map[string]bool{b('9'): true}})
			if !u.Has(b('9')) || u.All != c.all {
				t.Errorf("Union: %+v", u)
			}
		})
	}
}

func repeat(c byte) string {
	s := make([]byte, 64)
	for i := range s {
		s[i] = c
	}
	return string(s)
}

// A writer waits for an announcement naming a blob it uses until the
// prune ends it or its deadline passes, telling the user once; one that
// names none of its blobs costs no wait.
func TestWaitDeletions(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	used := repeat('a')
	cases := []struct {
		name     string
		blobs    []string
		endAfter int // the prune removes its announcement after this many sleeps (0: never)
		sleeps   int
		notes    int
	}{
		{"names none of ours", []string{repeat('b')}, 0, 0, 0},
		{"names ours, prune finishes", []string{repeat('b'), used}, 3, 3, 1},
		{"names ours, prune never finishes: the deadline", []string{used}, 0, -1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := testHub(t)
			d := &Deletion{ID: "d", Host: "elsewhere", Started: start, Deadline: start.Add(15 * time.Minute), Blobs: c.blobs}
			if err := h.AnnounceDeletion(ctx, d); err != nil {
				t.Fatal(err)
			}
			r, err := h.AtRisk(ctx)
			if err != nil {
				t.Fatal(err)
			}
			now := start
			sleeps, notes := 0, 0
			sleep := func(_ context.Context, wait time.Duration) error {
				sleeps++
				now = now.Add(wait) // a fake clock: the wait passes at once
				if sleeps == c.endAfter {
					h.EndDeletion(ctx, "d")
				}
				if sleeps > 1000 {
					t.Fatal("still waiting after 1000 sleeps")
				}
				return nil
			}
			err = h.WaitDeletions(ctx, r, map[string]bool{used: true}, "here", func() time.Time { return now }, sleep, func(*Deletion) { notes++ })
			if err != nil {
				t.Fatal(err)
			}
			if c.sleeps >= 0 && sleeps != c.sleeps {
				t.Errorf("slept %d times, want %d", sleeps, c.sleeps)
			}
			if c.sleeps < 0 && !now.After(d.Deadline.Add(DeletionSkew)) {
				t.Errorf("stopped waiting at %s, before the deadline and skew", now)
			}
			if notes != c.notes {
				t.Errorf("told the user %d times, want %d", notes, c.notes)
			}
		})
	}
}
