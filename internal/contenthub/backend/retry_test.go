package backend

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// failing is a Backend whose Stat fails with errs in turn, then succeeds,
// and whose List breaks once after two keys.
type failing struct {
	Backend
	errs  []error
	calls int
	broke bool
}

func (f *failing) Location() string { return "s3://show/hub at http://127.0.0.1:9" }

func (f *failing) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	f.calls++
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return ObjectInfo{}, err
	}
	return ObjectInfo{Key: key}, nil
}

func (f *failing) List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		for i, k := range []string{"a", "b", "c", "d"} {
			if i == 2 && !f.broke {
				f.broke = true
				yield(ObjectInfo{}, errInjected)
				return
			}
			if !yield(ObjectInfo{Key: k}, nil) {
				return
			}
		}
	}
}

func TestRetryPolicy(t *testing.T) {
	p := RetryPolicy{InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second}.withDefaults()
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 50: time.Second} {
		for range 20 {
			if d := p.backoff(attempt); d < want/2 || d > want {
				t.Fatalf("attempt %d: wait %v, want within [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
	if p.MaxElapsed != 15*time.Minute {
		t.Errorf("default MaxElapsed %v", p.MaxElapsed)
	}

	ctx := context.Background()
	transient := []error{errInjected, syscall.ECONNRESET, fmt.Errorf("x: %w", markTransient(errors.New("503")))}
	f := &failing{errs: slices.Clone(transient)}
	if _, err := WithRetry(f, fastRetry()).Stat(ctx, "k"); err != nil || f.calls != 4 {
		t.Errorf("transient errors: %v after %d calls", err, f.calls)
	}

	for _, perm := range []error{ErrNotFound, ErrAuth, ErrInvalidKey, context.Canceled, context.DeadlineExceeded, errors.New("unknown")} {
		f := &failing{errs: []error{perm}}
		if _, err := WithRetry(f, fastRetry()).Stat(ctx, "k"); !errors.Is(err, perm) || f.calls != 1 {
			t.Errorf("%v: retried (%d calls, %v)", perm, f.calls, err)
		}
	}

	// MaxElapsed, on a fake clock: the last attempt comes when the time is
	// up, and the error says it gave up.
	f = &failing{errs: slices.Repeat([]error{errInjected}, 100)}
	clock := newFakeClock()
	_, err := WithRetry(f, RetryPolicy{InitialInterval: 20 * time.Millisecond, MaxInterval: 50 * time.Millisecond, MaxElapsed: 300 * time.Millisecond, Clock: clock}).Stat(ctx, "k")
	var gu *GaveUpError
	if !errors.Is(err, errInjected) || !errors.As(err, &gu) || gu.Attempts != f.calls || clock.elapsed() != 300*time.Millisecond {
		t.Errorf("MaxElapsed: %v after %d calls and %v", err, f.calls, clock.elapsed())
	}

	// Cancelled (Ctrl-C) while waiting to retry: the wait ends at once,
	// the error holds both the cancellation and the failure.
	f = &failing{errs: slices.Repeat([]error{errInjected}, 100)}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	interrupt := clockFunc(func(ctx context.Context, d time.Duration) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	})
	_, err = WithRetry(f, RetryPolicy{InitialInterval: time.Minute, Clock: interrupt}).Stat(cctx, "k")
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errInjected) || f.calls != 1 {
		t.Errorf("cancelled while waiting: %v after %d calls", err, f.calls)
	}

	var keys []string
	for info, err := range WithRetry(&failing{}, fastRetry()).List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, info.Key)
	}
	if !slices.Equal(keys, []string{"a", "b", "c", "d"}) {
		t.Errorf("list across a break: %q", keys)
	}
}

// fakeClock moves only when someone sleeps on it, and records the sleeps.
type fakeClock struct {
	mu    sync.Mutex
	start time.Time
	now   time.Time
	slept []time.Duration
}

func newFakeClock() *fakeClock {
	t0 := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
	return &fakeClock{start: t0, now: t0}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	return nil
}

func (c *fakeClock) elapsed() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now.Sub(c.start)
}

// clockFunc is a Clock whose Sleep is a function; its time stands still.
type clockFunc func(ctx context.Context, d time.Duration) error

func (clockFunc) Now() time.Time { return time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC) }

func (f clockFunc) Sleep(ctx context.Context, d time.Duration) error { return f(ctx, d) }

// An unreachable hub under an interactive command's policy (2 minutes):
// the user is told from the first retry which attempt comes next, when, and
// why; the waits double from 1s, with jitter, capped at 1 minute; after 2
// minutes it gives up naming the hub and its endpoint, and what to check.
// All on a fake clock: the schedule is checked, not waited out.
func TestRetryScheduleOnUnreachableHub(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	f := &failing{errs: slices.Repeat([]error{fmt.Errorf("list snapshots/: %w", refused)}, 1000)}
	clock := newFakeClock()
	var notes []RetryNote
	p := RetryPolicy{InitialInterval: time.Second, MaxInterval: time.Minute, MaxElapsed: 2 * time.Minute, Clock: clock,
		Notify: func(n RetryNote) { notes = append(notes, n) }}
	_, err := WithRetry(f, p).Stat(context.Background(), "snapshots/x.json")

	if len(notes) == 0 {
		t.Fatal("no retry was announced")
	}
	if len(notes) != len(clock.slept) || f.calls != len(notes)+1 {
		t.Errorf("%d notes, %d waits, %d attempts: every wait is announced before it starts", len(notes), len(clock.slept), f.calls)
	}
	for i, n := range notes {
		if n.Attempt != i+2 {
			t.Errorf("note %d announces attempt %d, want %d", i, n.Attempt, i+2)
		}
		if n.Wait != clock.slept[i] {
			t.Errorf("note %d says %v, the wait was %v", i, n.Wait, clock.slept[i])
		}
		if want := "dial tcp 127.0.0.1:9: connect: connection refused"; n.Reason() != want {
			t.Errorf("reason %q, want %q", n.Reason(), want)
		}
		full := min(time.Second<<i, time.Minute)
		last := i == len(notes)-1
		if n.Wait > full || (!last && n.Wait < full/2) {
			t.Errorf("wait %d: %v, want between %v and %v", i, n.Wait, full/2, full)
		}
	}
	if got := clock.elapsed(); got != 2*time.Minute {
		t.Errorf("gave up after %v of waiting, want the last attempt at 2m", got)
	}
	var gu *GaveUpError
	if !errors.As(err, &gu) || !errors.Is(err, syscall.ECONNREFUSED) || gu.Attempts != f.calls {
		t.Fatalf("got %v, want a GaveUpError after %d attempts", err, f.calls)
	}
	for _, want := range []string{"cannot reach the hub s3://show/hub at http://127.0.0.1:9", "gave up after", "in 2m0s", "connection refused", "check the network"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}

// One outage, many operations: once the hub has been unreachable for
// MaxElapsed, the operations that follow give up after one attempt
// instead of each waiting it out again (a backup of a thousand files
// would otherwise wait a thousand times); once it answers again, a new
// failure gets the whole time again.
func TestRetryOutageSharedAcrossOperations(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	f := &failing{errs: slices.Repeat([]error{refused}, 1000)}
	clock := newFakeClock()
	rb := WithRetry(f, RetryPolicy{InitialInterval: time.Second, MaxInterval: time.Minute, MaxElapsed: 2 * time.Minute, Clock: clock})
	ctx := context.Background()
	var gu *GaveUpError
	if _, err := rb.Stat(ctx, "blobs/aa/1"); !errors.As(err, &gu) || clock.elapsed() != 2*time.Minute {
		t.Fatalf("first operation: %v after %v", err, clock.elapsed())
	}
	for i := range 5 {
		calls := f.calls
		_, err := rb.Stat(ctx, "blobs/aa/2")
		if !errors.As(err, &gu) || f.calls != calls+1 || clock.elapsed() != 2*time.Minute {
			t.Fatalf("operation %d during the same outage: %v, %d attempts, clock at %v", i+2, err, f.calls-calls, clock.elapsed())
		}
		if !strings.Contains(err.Error(), "gave up after 1 attempt in 2m0s") {
			t.Errorf("message: %v", err)
		}
	}
	// The hub answers again; the next outage gets its own two minutes.
	f.errs = nil
	if _, err := rb.Stat(ctx, "blobs/aa/3"); err != nil {
		t.Fatal(err)
	}
	f.errs = slices.Repeat([]error{refused}, 1000)
	start := clock.elapsed()
	if _, err := rb.Stat(ctx, "blobs/aa/4"); !errors.As(err, &gu) || clock.elapsed()-start != 2*time.Minute {
		t.Fatalf("after recovery: %v after %v", err, clock.elapsed()-start)
	}
}
