package tracker

import (
	"context"
	"sync"
	"time"
)

// limiter keeps at most n requests in any sliding window of one minute.
//
// Why a sliding window and not a token bucket: Google counts requests per
// minute, and a bucket with burst b and rate n/min lets b+n through in one
// minute; a window of the last n send times can never exceed n in any
// minute, however Google aligns its own minutes. n below Google's limit
// (50 of 60 by default) absorbs the difference between when we send and
// when Google counts.
type limiter struct {
	clock  Clock
	n      int
	window time.Duration

	mu    sync.Mutex
	times []time.Time // send times within the window, oldest first
}

func newLimiter(clock Clock, perMinute int) *limiter {
	return &limiter{clock: clock, n: perMinute, window: time.Minute}
}

// wait blocks until one more request fits, then counts it.
func (l *limiter) wait(ctx context.Context) error {
	if l == nil || l.n <= 0 {
		return ctx.Err()
	}
	for {
		l.mu.Lock()
		now := l.clock.Now()
		i := 0
		for i < len(l.times) && now.Sub(l.times[i]) >= l.window {
			i++
		}
		l.times = l.times[i:]
		if len(l.times) < l.n {
			l.times = append(l.times, now)
			l.mu.Unlock()
			return nil
		}
		d := l.window - now.Sub(l.times[0])
		l.mu.Unlock()
		if err := l.clock.Sleep(ctx, d); err != nil {
			return err
		}
	}
}
