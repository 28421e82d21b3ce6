package run

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
)

// Pool runs items of work on a fixed number of goroutines, so that a run
// holds that many files open, and that many buffers, however many files it
// has. Every engine spreads its files with a Pool, under one rule:
//
//   - Submit blocks until a worker takes the item or the run is cancelled.
//     Once the context is cancelled, Submit hands out nothing more and
//     returns the context's error: the caller stops feeding.
//   - An item Submit accepted is always given to do, exactly once, even if
//     the run is cancelled before do starts: do sees the cancelled context,
//     reports what became of its item (the engine decides how) and returns
//     promptly. An item Submit refused is never given to do.
//   - The pool never stops on an item's failure, which it does not see:
//     whether the first failure stops the run (the caller cancels) or every
//     failure is collected is the engine's decision.
//   - A panic in do does not leave anything waiting: the pool stops as if
//     cancelled, the other workers finish their items, and Wait panics again
//     in the caller's goroutine, with the first panic's value and stack.
type Pool[T any] struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	items  chan T
	wg     sync.WaitGroup

	mu       sync.Mutex
	panicked *WorkerPanic
}

// NewPool starts workers goroutines (at least one) that call do for each
// item submitted.
func NewPool[T any](ctx context.Context, workers int, do func(context.Context, T)) *Pool[T] {
	return NewPoolOfWorkers(ctx, workers, func() func(context.Context, T) { return do })
}

// NewPoolOfWorkers is NewPool for work that keeps state per worker (its own
// buffers): newWorker is called once for each worker goroutine.
func NewPoolOfWorkers[T any](ctx context.Context, workers int, newWorker func() func(context.Context, T)) *Pool[T] {
	ctx, cancel := context.WithCancelCause(ctx)
	p := &Pool[T]{ctx: ctx, cancel: cancel, items: make(chan T)}
	for range max(1, workers) {
		do := newWorker()
		p.wg.Go(func() {
			for item := range p.items {
				p.run(do, item)
			}
		})
	}
	return p
}

// run calls do for one item, turning a panic into a stop of the pool.
func (p *Pool[T]) run(do func(context.Context, T), item T) {
	defer func() {
		if v := recover(); v != nil {
			p.mu.Lock()
			if p.panicked == nil {
				p.panicked = &WorkerPanic{Value: v, Stack: debug.Stack()}
			}
			p.mu.Unlock()
			p.cancel(errWorkerPanicked)
		}
	}()
	do(p.ctx, item)
}

var errWorkerPanicked = errors.New("a worker panicked")

// Context is the pool's context: the caller's, also cancelled when a worker
// panics. Work the caller does alongside the pool (a walk feeding it)
// watches it to stop with the pool.
func (p *Pool[T]) Context() context.Context { return p.ctx }

// Submit hands item to a worker, waiting for one to be free. It returns the
// context's error, and does not hand the item out, once the pool's context
// is cancelled.
func (p *Pool[T]) Submit(item T) error {
	if err := p.ctx.Err(); err != nil {
		return err
	}
	select {
	case p.items <- item:
		return nil
	case <-p.ctx.Done():
		return p.ctx.Err()
	}
}

// Wait stops taking items, waits for every worker to finish its item, and
// returns the error the pool's context ended with (nil if it was not
// cancelled). If a worker panicked, Wait panics with a *WorkerPanic. Call it
// once, after the last Submit.
func (p *Pool[T]) Wait() error {
	close(p.items)
	p.wg.Wait()
	err := p.ctx.Err()
	p.cancel(nil)
	if p.panicked != nil {
		panic(p.panicked)
	}
	return err
}

// Each gives every item to do on workers goroutines, in order, and waits.
// It stops feeding at cancellation (see Pool) and returns Wait's error.
func Each[T any](ctx context.Context, workers int, items []T, do func(context.Context, T)) error {
	p := NewPool(ctx, workers, do)
	for _, item := range items {
		if p.Submit(item) != nil {
			break
		}
	}
	return p.Wait()
}

// EachIndex is Each over the indices 0 to n-1: for work whose results go
// into slices indexed like its input.
func EachIndex(ctx context.Context, workers, n int, do func(context.Context, int)) error {
	p := NewPool(ctx, workers, do)
	for i := range n {
		if p.Submit(i) != nil {
			break
		}
	}
	return p.Wait()
}

// WorkerPanic is what Wait panics with when a worker panicked: the value it
// panicked with and the worker's stack at that moment.
type WorkerPanic struct {
	Value any
	Stack []byte
}

func (w *WorkerPanic) Error() string {
	return fmt.Sprintf("panic in a worker: %v\n\n%s", w.Value, w.Stack)
}

// Unwrap gives the panic's value when it was an error.
func (w *WorkerPanic) Unwrap() error {
	err, _ := w.Value.(error)
	return err
}
