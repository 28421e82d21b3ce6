package tracker

import (
	"context"
	"sync"
	"testing"
	"time"
)

// manualClock advances only when someone sleeps on it: a test of pacing
// that takes no real time.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.now = c.now.Add(d)
	}
	return ctx.Err()
}

func TestLimiterNeverExceedsWindow(t *testing.T) {
	clock := &manualClock{now: time.Unix(0, 0)}
	l := newLimiter(clock, 50)
	var sent []time.Time
	for range 500 {
		if err := l.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, clock.Now())
		clock.Sleep(context.Background(), 130*time.Millisecond) // the request's own time
	}
	j := 0
	for i := range sent {
		for sent[i].Sub(sent[j]) >= time.Minute {
			j++
		}
		if i-j+1 > 50 {
			t.Fatalf("%d requests within a minute at %v", i-j+1, sent[i])
		}
	}
	// 500 requests at 50 a minute take about 9 minutes, not much more.
	if d := sent[len(sent)-1].Sub(sent[0]); d < 8*time.Minute || d > 10*time.Minute {
		t.Errorf("500 requests took %v", d)
	}
}

func TestBackoffGrowsCapsAndHonoursRetryAfter(t *testing.T) {
	b := newBackoff()
	prev := time.Duration(0)
	for i := range 12 {
		d := b.next(0)
		if d > 64*time.Second {
			t.Fatalf("attempt %d waits %v, over the cap", i, d)
		}
		if i < 6 && d < prev/2 {
			t.Errorf("attempt %d waits %v after %v", i, d, prev)
		}
		prev = d
	}
	b.reset()
	if d := b.next(30 * time.Second); d < 30*time.Second {
		t.Errorf("Retry-After 30s ignored: %v", d)
	}
}
