package backend

import (
	"context"
	"io"
	"iter"
	"log/slog"
	"time"
)

// WithLogging logs one debug line per operation of b: the operation, key,
// size, duration and error. Downloads are logged when closed, with the bytes
// read; listings when they end, with the count. Nothing logged holds a
// credential: backends keep them out of their errors.
func WithLogging(b Backend, l *slog.Logger) Backend {
	if l == nil {
		return b
	}
	return &logBackend{b: b, l: l}
}

type logBackend struct {
	b Backend
	l *slog.Logger
}

func (lb *logBackend) Unwrap() Backend  { return lb.b }
func (lb *logBackend) Location() string { return lb.b.Location() }
func (lb *logBackend) Close() error     { return lb.b.Close() }

func (lb *logBackend) log(ctx context.Context, op string, start time.Time, err error, attrs ...slog.Attr) {
	if !lb.l.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs = append(attrs, slog.Duration("duration", time.Since(start)))
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	lb.l.LogAttrs(ctx, slog.LevelDebug, "hub "+op, attrs...)
}

func (lb *logBackend) Put(ctx context.Context, key string, src Source, opts PutOptions) error {
	start := time.Now()
	err := lb.b.Put(ctx, key, src, opts)
	lb.log(ctx, "put", start, err, slog.String("key", key), slog.Int64("size", src.Length()))
	return err
}

func (lb *logBackend) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	start := time.Now()
	rc, err := lb.b.Get(ctx, key, offset, length)
	if err != nil {
		lb.log(ctx, "get", start, err, slog.String("key", key), slog.Int64("offset", offset))
		return nil, err
	}
	return &logReader{rc: rc, lb: lb, ctx: ctx, key: key, offset: offset, start: start}, nil
}

type logReader struct {
	rc     io.ReadCloser
	lb     *logBackend
	ctx    context.Context
	key    string
	offset int64
	n      int64
	err    error
	start  time.Time
}

func (r *logReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.n += int64(n)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}

func (r *logReader) Close() error {
	err := r.rc.Close()
	r.lb.log(r.ctx, "get", r.start, r.err, slog.String("key", r.key), slog.Int64("offset", r.offset), slog.Int64("size", r.n))
	return err
}

func (lb *logBackend) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	start := time.Now()
	info, err := lb.b.Stat(ctx, key)
	lb.log(ctx, "stat", start, err, slog.String("key", key), slog.Int64("size", info.Size))
	return info, err
}

func (lb *logBackend) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := lb.b.Delete(ctx, key)
	lb.log(ctx, "delete", start, err, slog.String("key", key))
	return err
}

func (lb *logBackend) List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		start := time.Now()
		var n int
		var lerr error
		defer func() {
			lb.log(ctx, "list", start, lerr, slog.String("prefix", prefix), slog.Int("count", n))
		}()
		for info, err := range lb.b.List(ctx, prefix) {
			if err != nil {
				lerr = err
			} else {
				n++
			}
			if !yield(info, err) {
				return
			}
		}
	}
}

func (lb *logBackend) AbortUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	start := time.Now()
	n, err := AbortUploads(ctx, lb.b, olderThan)
	lb.log(ctx, "abort uploads", start, err, slog.Duration("older_than", olderThan), slog.Int("count", n))
	return n, err
}
