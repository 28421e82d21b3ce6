package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/hashing"
	"github.com/editkit/editkit/internal/mhl"
	"github.com/editkit/editkit/internal/run"
)

// ErrStalled is returned when the drive stops answering: nothing was read
// for Options.StallTimeout (an unplugged USB drive can block a read for
// minutes). Verification gives up rather than hang.
var ErrStalled = errors.New("the drive stopped responding")

// pool reads files on a few goroutines (a run.Pool of jobs).
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

// submit queues a job; it blocks while every worker is busy.
func (p *pool) submit(job func(context.Context)) error { return p.Submit(job) }

// wait waits for the queued jobs and returns why the pool stopped early,
// if it did.
func (p *pool) wait() error { return p.Wait() }

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
	if len(formats) == 1 && formats[0] == mhl.XXH128 {
		s, err := hashing.HashFile(ctx, path, hashing.FileOptions{XXH128: true, FromMedium: true, Workers: p.workers, Progress: p.add})
		if err != nil {
			return nil, 0, err
		}
		return map[mhl.Format]string{mhl.XXH128: s.XXH128Hex()}, s.Size, nil
	}
	hashers := make(map[mhl.Format]mhl.Hasher, len(formats))
	ws := make([]io.Writer, 0, len(formats))
	for _, f := range formats {
		h, err := mhl.NewHash(f)
		if err != nil {
			return nil, 0, err
		}
		hashers[f] = h
		ws = append(ws, h)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	if err := fsx.ReadFromMedium(f); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	w := io.MultiWriter(ws...)
	buf := make([]byte, 1<<20)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return nil, n, err
		}
		k, err := f.Read(buf)
		if k > 0 {
			w.Write(buf[:k])
			fsx.Forget(f, n, int64(k))
			n += int64(k)
			p.add(int64(k))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, n, fmt.Errorf("read %s: %w", path, err)
		}
	}
	out := make(map[mhl.Format]string, len(hashers))
	for f, h := range hashers {
		out[f] = h.Digest()
	}
	return out, n, nil
}
