package run

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// TestPoolRunsEveryItemOnceWithinItsWorkers: every item submitted is done
// exactly once, never by more goroutines at once than the pool has.
func TestPoolRunsEveryItemOnceWithinItsWorkers(t *testing.T) {
	for _, tc := range []struct {
		name           string
		workers, items int
		wantMax        int
	}{
		{"one worker", 1, 20, 1},
		{"four workers", 4, 50, 4},
		{"more workers than items", 8, 3, 8},
		{"zero workers means one", 0, 5, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var inFlight, most atomic.Int32
			var mu sync.Mutex
			done := map[int]int{}
			p := NewPool(t.Context(), tc.workers, func(_ context.Context, i int) {
				n := inFlight.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				mu.Lock()
				done[i]++
				mu.Unlock()
				inFlight.Add(-1)
			})
			for i := range tc.items {
				if err := p.Submit(i); err != nil {
					t.Fatalf("Submit(%d): %v", i, err)
				}
			}
			if err := p.Wait(); err != nil {
				t.Fatalf("Wait: %v", err)
			}
			if len(done) != tc.items {
				t.Errorf("%d distinct items done, want %d", len(done), tc.items)
			}
			for i, n := range done {
				if n != 1 {
					t.Errorf("item %d done %d times", i, n)
				}
			}
			if m := int(most.Load()); m > tc.wantMax {
				t.Errorf("%d items ran at once, the pool has %d workers", m, tc.wantMax)
			}
		})
	}
}

// TestPoolCancelStopsFeeding: once the run is cancelled Submit refuses every
// further item, while every item it accepted is still given to do, which
// sees the cancelled context, whether the cancel comes from an item (a
// failure that stops the run) or from outside (Ctrl-C) while the workers
// are busy.
func TestPoolCancelStopsFeeding(t *testing.T) {
	for _, tc := range []struct {
		name     string
		workers  int
		cancelAt int  // the item at which the run is cancelled
		byItem   bool // do cancels it; else the feeder does, with every worker busy
		// lastAccepted is the last item Submit must accept.
		lastAccepted int
	}{
		{"one worker, cancelled by the first item", 1, 0, true, 0},
		{"one worker, cancelled by an item mid-feed", 1, 7, true, 7},
		{"one worker, cancelled from outside mid-feed", 1, 7, false, 7},
		{"three workers, cancelled from outside mid-feed", 3, 10, false, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var mu sync.Mutex
			var given []int
			sawCancel := map[int]bool{}
			busy := make(chan struct{}, 100)
			p := NewPool(ctx, tc.workers, func(ctx context.Context, i int) {
				switch {
				case tc.byItem && i == tc.cancelAt:
					cancel()
				case !tc.byItem && i > tc.cancelAt-tc.workers:
					// The items in hand when the run is cancelled.
					busy <- struct{}{}
					<-ctx.Done()
				}
				mu.Lock()
				given = append(given, i)
				sawCancel[i] = ctx.Err() != nil
				mu.Unlock()
			})
			var accepted []int
			var refused error
			for i := range 100 {
				if refused = p.Submit(i); refused != nil {
					break
				}
				accepted = append(accepted, i)
				if !tc.byItem && i == tc.cancelAt {
					for range tc.workers {
						<-busy
					}
					cancel()
				}
			}
			waitErr := p.Wait()
			if !errors.Is(refused, context.Canceled) || !errors.Is(waitErr, context.Canceled) {
				t.Fatalf("Submit after cancel: %v, Wait: %v; want context.Canceled from both", refused, waitErr)
			}
			slices.Sort(given)
			if !slices.Equal(given, accepted) {
				t.Fatalf("do was given %v, Submit accepted %v: every accepted item, and only those, must reach do", given, accepted)
			}
			if last := accepted[len(accepted)-1]; last != tc.lastAccepted {
				t.Errorf("the last item accepted was %d, want %d: the feed must stop at the cancel", last, tc.lastAccepted)
			}
			if !sawCancel[tc.cancelAt] {
				t.Errorf("item %d, running when the run was cancelled, did not see the cancelled context", tc.cancelAt)
			}
		})
	}
}

// TestPoolSubmitAfterCancelRefusesAtOnce: a run cancelled before anything is
// submitted gives nothing to do, even with idle workers ready to take it.
func TestPoolSubmitAfterCancelRefusesAtOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var calls atomic.Int32
	err := Each(ctx, 4, []int{1, 2, 3, 4, 5, 6, 7, 8}, func(context.Context, int) { calls.Add(1) })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Each on a cancelled context: %v, want context.Canceled", err)
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("do was called %d times on a cancelled run, want 0", n)
	}
}

// TestPoolPanicDoesNotDeadlock: a worker that panics stops the feed (the
// producer is never left blocked), lets the other workers finish, and the
// panic surfaces from Wait in the caller's goroutine.
func TestPoolPanicDoesNotDeadlock(t *testing.T) {
	for _, tc := range []struct {
		name    string
		workers int
		value   any
	}{
		{"the only worker", 1, "boom"},
		{"one of four", 4, errors.New("bad item")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			var others atomic.Int32
			p := NewPool(t.Context(), tc.workers, func(ctx context.Context, i int) {
				if i == 0 {
					panic(tc.value)
				}
				// The others wait until the panic has stopped the pool:
				// they are still running when it happens.
				select {
				case <-ctx.Done():
				case <-release:
				}
				others.Add(1)
			})
			var submitErr error
			for i := range 1000 {
				if submitErr = p.Submit(i); submitErr != nil {
					break
				}
			}
			if submitErr == nil {
				t.Fatal("Submit went on accepting items after a worker panicked")
			}
			defer close(release)
			got := func() (r any) {
				defer func() { r = recover() }()
				p.Wait()
				return nil
			}()
			wp, ok := got.(*WorkerPanic)
			if !ok {
				t.Fatalf("Wait panicked with %#v, want a *WorkerPanic", got)
			}
			if wp.Value != tc.value || len(wp.Stack) == 0 {
				t.Errorf("WorkerPanic{Value: %v, %d bytes of stack}, want the value %v and a stack", wp.Value, len(wp.Stack), tc.value)
			}
			if err, isErr := tc.value.(error); isErr && !errors.Is(wp, err) {
				t.Errorf("the WorkerPanic does not unwrap to the error the worker panicked with")
			}
		})
	}
}

// TestPoolOfWorkersKeepsStatePerWorker: each worker gets its own state,
// never used by two items at once.
func TestPoolOfWorkersKeepsStatePerWorker(t *testing.T) {
	type state struct{ busy atomic.Bool }
	var made atomic.Int32
	var clash atomic.Bool
	p := NewPoolOfWorkers(t.Context(), 3, func() func(context.Context, int) {
		made.Add(1)
		s := &state{}
		return func(context.Context, int) {
			if !s.busy.CompareAndSwap(false, true) {
				clash.Store(true)
			}
			s.busy.Store(false)
		}
	})
	for i := range 200 {
		if err := p.Submit(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if n := made.Load(); n != 3 {
		t.Errorf("%d worker states made, want one per worker (3)", n)
	}
	if clash.Load() {
		t.Error("a worker's state was used by two items at once")
	}
}

// TestEnvDefaults: an empty Env is usable as it is after WithDefaults, and
// what was given is kept.
func TestEnvDefaults(t *testing.T) {
	e := Env{}.WithDefaults()
	if e.Now == nil || e.Now().IsZero() || e.Tool != "editkit" || e.Progress == nil {
		t.Fatalf("Env{}.WithDefaults() = %+v: want a clock, the tool editkit and a Progress", e)
	}
	e.Progress.AddTotal(1, 1) // the discarding Progress takes reports
	e.Progress.Add(1)
	e.Progress.FileDone()
	given := Env{Host: "h", User: "u", Tool: "other", Version: "v1"}.WithDefaults()
	if given.Host != "h" || given.User != "u" || given.Tool != "other" || given.Version != "v1" {
		t.Fatalf("WithDefaults changed given fields: %+v", given)
	}
}

// TestEachIndexGivesEveryIndexOnce: EachIndex covers 0 to n-1, once each,
// and nothing for n = 0.
func TestEachIndexGivesEveryIndexOnce(t *testing.T) {
	for _, n := range []int{0, 1, 7, 100} {
		counts := make([]atomic.Int32, n)
		if err := EachIndex(t.Context(), 3, n, func(_ context.Context, i int) { counts[i].Add(1) }); err != nil {
			t.Fatalf("EachIndex(%d): %v", n, err)
		}
		for i := range counts {
			if c := counts[i].Load(); c != 1 {
				t.Errorf("n=%d: index %d done %d times", n, i, c)
			}
		}
	}
}
