package contenthub

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
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

	f = &failing{errs: slices.Repeat([]error{errInjected}, 100)}
	start := time.Now()
	_, err := WithRetry(f, RetryPolicy{InitialInterval: 20 * time.Millisecond, MaxInterval: 50 * time.Millisecond, MaxElapsed: 300 * time.Millisecond}).Stat(ctx, "k")
	if !errors.Is(err, errInjected) || time.Since(start) > time.Second {
		t.Errorf("MaxElapsed: %v after %v", err, time.Since(start))
	}

	f = &failing{errs: slices.Repeat([]error{errInjected}, 100)}
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = WithRetry(f, RetryPolicy{InitialInterval: time.Minute}).Stat(cctx, "k")
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errInjected) || time.Since(start) > time.Second {
		t.Errorf("cancelled while waiting: %v after %v", err, time.Since(start))
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
