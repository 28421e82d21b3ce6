package backend

import (
	"context"
	"io"
	"iter"
	"time"

	"golang.org/x/time/rate"
)

// WithBandwidthLimit paces b's uploads and downloads to bytesPerSecond in
// all, shared by every transfer going on at once, so that a backup run
// leaves room on the uplink for the rest of the house. A limit ≤ 0 returns
// b unchanged.
//
// Uploads are paced through PutOptions.Meter, that is at the bytes the
// backend actually sends: the reads it makes to hash parts or to compare
// an earlier attempt's data with the source are not slowed down.
func WithBandwidthLimit(b Backend, bytesPerSecond int64) Backend {
	if bytesPerSecond <= 0 {
		return b
	}
	// A burst of an eighth of a second keeps the pace smooth; it must
	// still hold one network read or write.
	burst := int(min(max(bytesPerSecond/8, 16<<10), 4<<20))
	return &limitBackend{b: b, lim: rate.NewLimiter(rate.Limit(bytesPerSecond), burst), burst: burst}
}

type limitBackend struct {
	b     Backend
	lim   *rate.Limiter
	burst int
}

func (l *limitBackend) Unwrap() Backend  { return l.b }
func (l *limitBackend) Location() string { return l.b.Location() }
func (l *limitBackend) Close() error     { return l.b.Close() }

// wait takes n bytes' worth of tokens, in pieces no larger than the burst.
func (l *limitBackend) wait(ctx context.Context, n int) error {
	for n > 0 {
		k := min(n, l.burst)
		if err := l.lim.WaitN(ctx, k); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

func (l *limitBackend) Put(ctx context.Context, key string, src Source, opts PutOptions) error {
	inner := opts.Meter
	opts.Meter = func(ctx context.Context, n int) error {
		if err := l.wait(ctx, n); err != nil {
			return err
		}
		if inner != nil {
			return inner(ctx, n)
		}
		return nil
	}
	return l.b.Put(ctx, key, src, opts)
}

func (l *limitBackend) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	rc, err := l.b.Get(ctx, key, offset, length)
	if err != nil {
		return nil, err
	}
	return &limitReader{rc: rc, ctx: ctx, l: l}, nil
}

// limitReader paces a download: reading less often makes TCP slow the
// sender down.
type limitReader struct {
	rc  io.ReadCloser
	ctx context.Context
	l   *limitBackend
}

func (r *limitReader) Read(p []byte) (int, error) {
	if len(p) > r.l.burst {
		p = p[:r.l.burst]
	}
	n, err := r.rc.Read(p)
	if n > 0 {
		if werr := r.l.wait(r.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}

func (r *limitReader) Close() error { return r.rc.Close() }

func (l *limitBackend) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	return l.b.Stat(ctx, key)
}

func (l *limitBackend) List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error] {
	return l.b.List(ctx, prefix)
}

func (l *limitBackend) Delete(ctx context.Context, key string) error { return l.b.Delete(ctx, key) }

func (l *limitBackend) AbortUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	return AbortUploads(ctx, l.b, olderThan)
}
