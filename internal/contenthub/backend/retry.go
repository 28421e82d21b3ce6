package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"time"
)

// RetryPolicy is a truncated exponential backoff with jitter. Zero fields
// take the values of DefaultRetryPolicy.
type RetryPolicy struct {
	// InitialInterval is the wait after the first failure; each further
	// failure doubles it, up to MaxInterval. A wait is drawn at random
	// between half and all of that, so that the many Puts of a failed run do
	// not come back all at once.
	InitialInterval time.Duration
	MaxInterval     time.Duration
	// MaxElapsed ends the retrying once this much time has passed since the
	// first failure of an operation (a cron run must end some time; an
	// interactive command must not look hung): the last attempt is made
	// when it is up. Negative: no limit.
	MaxElapsed time.Duration
	// MaxAttempts ends it after that many attempts; 0: no limit.
	MaxAttempts int
	// Notify, if set, is called before each wait, from the first one on,
	// so that the user sees "retrying (attempt 2, next in 1s): …" instead
	// of silence; concurrent operations call it concurrently. The engine
	// never prints: the command decides where the note goes.
	Notify func(RetryNote)
	// Clock is the time source for the waits and MaxElapsed (nil: the
	// wall clock). Tests give a fake one to check the schedule without
	// waiting it out.
	Clock Clock
}

// RetryNote describes one retry about to happen.
type RetryNote struct {
	Op, Key string
	// Attempt is the number of the attempt that follows the wait (2 for
	// the first retry).
	Attempt int
	Wait    time.Duration
	Err     error // why the last attempt failed
}

// Reason is the failure in a few words for a progress line: the network
// error itself when there is one ("dial tcp 127.0.0.1:9: connect:
// connection refused"), else the whole error. It never holds a
// credential: backends keep them out of their errors.
func (n RetryNote) Reason() string { return shortReason(n.Err) }

func shortReason(err error) string {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Error()
	}
	return err.Error()
}

// Clock is the time source of retrying.
type Clock interface {
	Now() time.Time
	// Sleep waits d, or until ctx is done (then it returns ctx.Err()).
	Sleep(ctx context.Context, d time.Duration) error
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// GaveUpError is returned when retrying ends (MaxElapsed or MaxAttempts)
// with the operation still failing. It names the hub, so the user knows
// what could not be reached, and what to do about it.
type GaveUpError struct {
	Location string // the backend's Location: the hub and its endpoint
	Attempts int
	Elapsed  time.Duration
	Err      error // the last failure
}

func (e *GaveUpError) Error() string {
	what, why := "the hub %s kept failing", e.Err.Error()
	if isNetworkError(e.Err) {
		// The network error says it all ("dial tcp …: connection
		// refused"); the layers above it repeat the endpoint.
		what, why = "cannot reach the hub %s", shortReason(e.Err)
	}
	attempts := fmt.Sprintf("%d attempts", e.Attempts)
	if e.Attempts == 1 {
		attempts = "1 attempt"
	}
	return fmt.Sprintf(what+" (gave up after %s in %v; last: %s): check the network connection, that the server is running and the endpoint (--s3-endpoint), then run the command again; --retry-for waits longer",
		e.Location, attempts, e.Elapsed.Round(time.Second), why)
}

func (e *GaveUpError) Unwrap() error { return e.Err }

// DefaultRetryPolicy suits a cron run over a home uplink: waits of 1s
// growing to 1 minute, for at most 15 minutes.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{InitialInterval: time.Second, MaxInterval: time.Minute, MaxElapsed: 15 * time.Minute}
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy()
	if p.InitialInterval <= 0 {
		p.InitialInterval = d.InitialInterval
	}
	if p.MaxInterval <= 0 {
		p.MaxInterval = d.MaxInterval
	}
	if p.MaxInterval < p.InitialInterval {
		p.MaxInterval = p.InitialInterval
	}
	if p.MaxElapsed == 0 {
		p.MaxElapsed = d.MaxElapsed
	}
	if p.Clock == nil {
		p.Clock = wallClock{}
	}
	return p
}

// WithRetry retries b's operations that fail with a transient error (see
// IsTransient): network errors, timeouts, 5xx, throttling, bodies damaged in
// transit. A retried Put resumes what the failed attempt uploaded; a download
// that breaks is reopened where it broke; a listing that breaks is restarted
// after the last key it yielded.
//
// A Put with IfNotExists whose attempt succeeded on the server but whose
// answer was lost gets ErrExists from the next attempt; the object is then
// the one it sent (for content-addressed keys ErrExists means "stored").
func WithRetry(b Backend, p RetryPolicy) Backend {
	return &retryBackend{b: b, p: p.withDefaults()}
}

type retryBackend struct {
	b Backend
	p RetryPolicy
	// outage is when the current run of failures across all operations
	// began (UnixNano; 0: the last operation got through). MaxElapsed
	// counts from it too, so that once the hub has been unreachable that
	// long, the next operations give up after one attempt instead of each
	// waiting it out again (a backup of a thousand files would otherwise
	// wait a thousand times).
	outage atomic.Int64
}

// reachable notes that the backend answered: an outage is over.
func (r *retryBackend) reachable() {
	if r.outage.Load() != 0 {
		r.outage.Store(0)
	}
}

// failing notes a transient failure at now and returns when the outage
// it belongs to began.
func (r *retryBackend) failing(now time.Time) time.Time {
	r.outage.CompareAndSwap(0, now.UnixNano())
	if since := r.outage.Load(); since != 0 {
		return time.Unix(0, since)
	}
	return now
}

func (r *retryBackend) Unwrap() Backend  { return r.b }
func (r *retryBackend) Location() string { return r.b.Location() }
func (r *retryBackend) Close() error     { return r.b.Close() }

// retryState follows one run of failures of an operation.
type retryState struct {
	start   time.Time
	attempt int
}

// next decides, after err, whether to try again and waits if so; it
// returns the error to give up with, or nil to go on.
func (r *retryBackend) next(ctx context.Context, st *retryState, op, key string, err error) error {
	if ctx.Err() != nil {
		return err
	}
	if !IsTransient(err) {
		r.reachable() // an answer, if not the one hoped for
		return err
	}
	now := r.p.Clock.Now()
	if st.start.IsZero() {
		st.start = now
	}
	if since := r.failing(now); since.Before(st.start) {
		st.start = since // the hub was failing before this operation began
	}
	st.attempt++
	gaveUp := func() error {
		return &GaveUpError{Location: r.b.Location(), Attempts: st.attempt, Elapsed: now.Sub(st.start), Err: err}
	}
	if r.p.MaxAttempts > 0 && st.attempt >= r.p.MaxAttempts {
		return gaveUp()
	}
	wait := r.p.backoff(st.attempt)
	if r.p.MaxElapsed > 0 {
		// The last wait is cut short so that the last attempt comes when
		// the time is up, not a whole back-off later (or never).
		left := r.p.MaxElapsed - now.Sub(st.start)
		if left <= 0 {
			return gaveUp()
		}
		wait = min(wait, left)
	}
	if r.p.Notify != nil {
		r.p.Notify(RetryNote{Op: op, Key: key, Attempt: st.attempt + 1, Wait: wait, Err: err})
	}
	if serr := r.p.Clock.Sleep(ctx, wait); serr != nil {
		return fmt.Errorf("%w (while waiting to retry: %w)", serr, err)
	}
	return nil
}

// backoff returns the wait after the attempt-th failure.
func (p RetryPolicy) backoff(attempt int) time.Duration {
	d := p.InitialInterval
	for i := 1; i < attempt && d < p.MaxInterval; i++ {
		d *= 2
	}
	d = min(d, p.MaxInterval)
	return d/2 + rand.N(d/2+1)
}

func (r *retryBackend) do(ctx context.Context, op, key string, fn func() error) error {
	var st retryState
	for {
		err := fn()
		if err == nil {
			r.reachable()
			return nil
		}
		if err := r.next(ctx, &st, op, key, err); err != nil {
			return err
		}
	}
}

func (r *retryBackend) Put(ctx context.Context, key string, src Source, opts PutOptions) error {
	return r.do(ctx, "put", key, func() error { return r.b.Put(ctx, key, src, opts) })
}

func (r *retryBackend) Stat(ctx context.Context, key string) (info ObjectInfo, err error) {
	err = r.do(ctx, "stat", key, func() error {
		info, err = r.b.Stat(ctx, key)
		return err
	})
	return info, err
}

func (r *retryBackend) Delete(ctx context.Context, key string) error {
	return r.do(ctx, "delete", key, func() error { return r.b.Delete(ctx, key) })
}

func (r *retryBackend) AbortUploads(ctx context.Context, olderThan time.Duration) (n int, err error) {
	err = r.do(ctx, "abort uploads", "", func() error {
		n, err = AbortUploads(ctx, r.b, olderThan)
		return err
	})
	return n, err
}

func (r *retryBackend) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	var rc io.ReadCloser
	err := r.do(ctx, "get", key, func() (err error) {
		rc, err = r.b.Get(ctx, key, offset, length)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &retryReader{r: r, ctx: ctx, key: key, offset: offset, length: length, rc: rc}, nil
}

// retryReader reopens a download at the byte where it broke; the objects are
// immutable, so the pieces fit.
type retryReader struct {
	r      *retryBackend
	ctx    context.Context
	key    string
	offset int64
	length int64
	read   int64
	rc     io.ReadCloser
	st     retryState
}

func (rr *retryReader) Read(p []byte) (int, error) {
	for {
		if rr.rc == nil {
			return 0, errors.New("read after a failed reopen")
		}
		n, err := rr.rc.Read(p)
		rr.read += int64(n)
		if n > 0 {
			rr.st = retryState{} // progress: a new run of failures starts afresh
			rr.r.reachable()
		}
		if err == nil || err == io.EOF || !IsTransient(err) {
			return n, err
		}
		if n > 0 {
			return n, nil // the next Read meets the error again
		}
		if gerr := rr.r.next(rr.ctx, &rr.st, "get", rr.key, err); gerr != nil {
			return 0, gerr
		}
		if err := rr.reopen(); err != nil {
			return 0, err
		}
	}
}

func (rr *retryReader) reopen() error {
	rr.rc.Close()
	rr.rc = nil
	length := int64(-1)
	if rr.length >= 0 {
		length = rr.length - rr.read
		if length == 0 {
			rr.rc = emptyReader{}
			return nil
		}
	}
	for {
		rc, err := rr.r.b.Get(rr.ctx, rr.key, rr.offset+rr.read, length)
		if err == nil {
			rr.r.reachable()
			rr.rc = rc
			return nil
		}
		if errors.Is(err, ErrInvalidRange) && rr.read > 0 {
			rr.rc = emptyReader{} // it broke right at the end
			return nil
		}
		if gerr := rr.r.next(rr.ctx, &rr.st, "get", rr.key, err); gerr != nil {
			return gerr
		}
	}
}

func (rr *retryReader) Close() error {
	if rr.rc == nil {
		return nil
	}
	return rr.rc.Close()
}

// List restarts a broken listing and skips what it yielded already: the keys
// come sorted, so everything up to the last one was seen.
func (r *retryBackend) List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		var st retryState
		var last string
		started := false
		for {
			var failed error
			for info, err := range r.b.List(ctx, prefix) {
				if err != nil {
					failed = err
					break
				}
				if started && info.Key <= last {
					continue
				}
				if !yield(info, nil) {
					return
				}
				last, started = info.Key, true
				st = retryState{}
				r.reachable()
			}
			if failed == nil {
				r.reachable()
				return
			}
			if err := r.next(ctx, &st, "list", prefix, failed); err != nil {
				yield(ObjectInfo{}, err)
				return
			}
		}
	}
}
