package tracker

import (
	"context"
	"sync"
	"time"
)

// Clock is the time source for pacing, back-off and flush intervals. Tests
// and benchmarks run a minute of Sheets quota in a fraction of a second by
// giving the tracker and the fake server the same sped-up clock.
type Clock interface {
	Now() time.Time
	// Sleep waits d on this clock, or until ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

// RealClock returns the wall clock.
func RealClock() Clock { return realClock{} }

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ScaledClock is a clock that runs Factor times faster than the wall clock
// from the moment it is made: a minute on it passes in 60s/Factor. It is
// for tests and benchmarks of pacing; everything that shares it (the
// tracker's limiter and a fake server's quota windows) sees the same time.
type ScaledClock struct {
	factor float64
	start  time.Time // wall time at creation
	base   time.Time // clock time at creation
	mu     sync.Mutex
}

// NewScaledClock returns a clock running factor times faster than real
// time, starting at base.
func NewScaledClock(base time.Time, factor float64) *ScaledClock {
	return &ScaledClock{factor: factor, start: time.Now(), base: base}
}

// Now returns the scaled time.
func (c *ScaledClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base.Add(time.Duration(float64(time.Since(c.start)) * c.factor))
}

// Sleep waits d of scaled time.
func (c *ScaledClock) Sleep(ctx context.Context, d time.Duration) error {
	return realClock{}.Sleep(ctx, time.Duration(float64(d)/c.factor))
}
