package verify

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/editkit/editkit/internal/hashing"
	"github.com/editkit/editkit/internal/mhl"
	"github.com/editkit/editkit/internal/run"
)

// ErrStalled is returned when the drive stops answering: nothing was read
// for Options.StallTimeout (an unplugged USB drive can block a read for
// minutes). Verification gives up rather than hang.
var ErrStalled = errors.New("the drive stopped responding")

// pool reads files on a few goroutines: a run.Pool of jobs (Submit blocks
// while every worker is busy; Wait says why the pool stopped early, if it
// did), with the hashing each job does.
type pool struct {
	*run.Pool[func(context.Context)]
	// ctx is the pool's context: walks feeding it stop with it.
	ctx context.Context
	// workers is how many goroutines hash one large file: the cores left
	// over once every job has one.
	workers  int
	progress run.Progress
	beat     func()
}

func newPool(ctx context.Context, workers int, progress run.Progress, beat func()) *pool {
	jobs := run.NewPool(ctx, workers, func(ctx context.Context, job func(context.Context)) { job(ctx) })
	return &pool{Pool: jobs, ctx: jobs.Context(), progress: progress, beat: beat,
		workers: max(1, runtime.NumCPU()/workers)}
}

func (p *pool) add(n int64) {
	p.beat()
	if p.progress != nil {
		p.progress.Add(n)
	}
}

// hashFile reads a file from the medium and returns its BLAKE3 (and
// xxh128, if asked) with its size.
func (p *pool) hashFile(ctx context.Context, path string, xxh bool) (hashing.FileSum, error) {
	return hashing.HashFile(ctx, path, hashing.FileOptions{
		BLAKE3:     true,
		XXH128:     xxh,
		FromMedium: true,
		Workers:    p.workers,
		Progress:   p.add,
	})
}

// hashFormats reads a file from the medium once and returns its digest in
// each of the given ASC MHL formats.
func (p *pool) hashFormats(ctx context.Context, path string, formats []mhl.Format) (map[mhl.Format]string, int64, error) {
	types := make([]hashing.Type, len(formats))
	for i, f := range formats {
		t, ok := f.HashType()
		if !ok {
			return nil, 0, fmt.Errorf("unknown hash format %q", f)
		}
		types[i] = t
	}
	s, err := hashing.HashFile(ctx, path, hashing.FileOptions{Extra: types, FromMedium: true, Workers: p.workers, Progress: p.add})
	if err != nil {
		return nil, s.Size, err
	}
	out := make(map[mhl.Format]string, len(formats))
	for i, f := range formats {
		out[f] = s.Extra[types[i]]
	}
	return out, s.Size, nil
}
