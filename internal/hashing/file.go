package hashing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/zeebo/xxh3"

	"github.com/editkit/editkit/internal/fsx"
)

// FileOptions says which digests HashFile computes and how it reads.
type FileOptions struct {
	BLAKE3, XXH128 bool // which digests to compute; at least one

	// FromMedium drops the file's cached pages before reading and forgets
	// each range once read, so that the bytes hashed come from the drive,
	// not from RAM, and a verify of a whole drive does not evict everything
	// else from the page cache. (On Windows the cache cannot be bypassed
	// this way; see fsx.ReadFromMedium.)
	FromMedium bool

	// Workers is the number of goroutines (the caller's included) that
	// read and hash one large file; 0 means runtime.NumCPU().
	Workers int

	// Progress, if not nil, is called with the number of bytes read and
	// hashed since its previous call, in file order. Calls never overlap,
	// but may come from any of HashFile's goroutines.
	Progress func(n int64)
}

// FileSum is the digests of a file and the number of bytes they cover.
type FileSum struct {
	Sum
	Size int64
}

// readSize is HashFile's unit of work: one read(2), then hashed by the
// goroutine that read it while the others read and hash theirs. 1 MiB: on
// the 2-core target, reads of 1–8 MiB from the page cache cost the same per
// byte, and hashing from a buffer that fits the core's L2 cache (2 MiB) was
// 5–10% faster than from an 8 MiB one. A cold drive still sees sequential
// reads, and the kernel's readahead keeps it busy in between.
const readSize = 1 << 20

// HashFile computes the digests o asks for of the file at path.
//
// A large file is cut into 1 MiB units. Each of o.Workers goroutines takes
// the next unit, reads it and feeds it to xxh128 (in file order, under a
// lock: xxh128 is one sequential stream, and at ~40 GB/s it costs little
// while the bytes are still in the reading core's cache), then hashes the
// unit's BLAKE3 subtrees while the other goroutines read and hash theirs;
// the subtrees are merged in file order. There is no separate reader
// goroutine and no hand-off per buffer: on the KVM guest this was tuned on,
// waking an idle goroutine on the other core takes 70–500 µs, which a
// reader/hasher pipeline or a fork-join per buffer pays every few hundred
// microseconds. Files under 2 MiB are hashed on the calling goroutine.
//
// The file is read with read(2), not mapped: measured on the target,
// mapping a cached file was slower (more CPU in page faults than read's
// copy), and an I/O error under a mapping is a SIGBUS rather than an error.
//
// HashFile reads until end of file, so Size is what was hashed even if the
// file changed size meanwhile. It stops within a few MiB when ctx is done.
// Errors name the path; an I/O error still matches errors.Is(err,
// syscall.EIO), and a missing file fs.ErrNotExist.
//
// To hash many small files quickly, run several HashFile calls at once
// (with Workers: 1): one file's parallelism only pays off from a few MiB.
func HashFile(ctx context.Context, path string, o FileOptions) (FileSum, error) {
	s, err := hashFile(ctx, path, o)
	if err != nil {
		return FileSum{}, fmt.Errorf("hash %s: %w", path, err)
	}
	return s, nil
}

func hashFile(ctx context.Context, path string, o FileOptions) (FileSum, error) {
	if !o.BLAKE3 && !o.XXH128 {
		return FileSum{}, errors.New("no digest requested")
	}
	if err := ctx.Err(); err != nil {
		return FileSum{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return FileSum{}, withoutPath(err)
	}
	defer f.Close()
	if o.FromMedium {
		if err := fsx.ReadFromMedium(f); err != nil {
			return FileSum{}, fmt.Errorf("drop cached pages: %w", err)
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return FileSum{}, withoutPath(err)
	}
	if !fi.Mode().IsRegular() {
		return FileSum{}, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}

	h := fileHasher{o: o, src: f}
	if o.FromMedium {
		h.forget = func(off, n int64) { fsx.Forget(f, off, n) }
	}
	if err := h.run(ctx, fi.Size()); err != nil {
		return FileSum{}, err
	}
	return h.sum(), nil
}

// fileHasher is the state of one HashFile call.
type fileHasher struct {
	o      FileOptions
	src    io.ReaderAt
	forget func(off, n int64) // nil unless reading from the medium
	b3     *ParallelBLAKE3
	xxh    *xxh3.Hasher
	size   int64
}

func (h *fileHasher) sum() FileSum {
	s := FileSum{Size: h.size}
	if h.b3 != nil {
		s.BLAKE3 = h.b3.Sum256()
	}
	if h.xxh != nil {
		s.XXH128 = h.xxh.Sum128().Bytes()
	}
	return s
}

// run hashes src, whose size is expected to be size.
func (h *fileHasher) run(ctx context.Context, size int64) error {
	if h.o.BLAKE3 {
		h.b3 = NewParallelBLAKE3(1)
	}
	if h.o.XXH128 {
		h.xxh = xxh3.New()
	}
	if size < 2*readSize {
		// A small file is read in one go, plus the read that sees the end,
		// on this goroutine and into a buffer no larger than the file
		// (rounded up to whole chunks, so that if the file turns out to
		// have grown, what follows starts on a chunk boundary).
		buf := make([]byte, (size+chunkSize)/chunkSize*chunkSize)
		if more, err := h.sequential(ctx, buf); !more {
			return err
		}
	}
	return h.parallel(ctx)
}

// read fills buf from the file at offset off and forgets the range if
// reading from the medium. It returns io.EOF with the last bytes.
func (h *fileHasher) read(buf []byte, off int64) (int, error) {
	n, err := h.src.ReadAt(buf, off)
	if n > 0 && h.forget != nil {
		h.forget(off, int64(n))
	}
	switch {
	case err == nil:
	case err == io.EOF:
	default:
		err = fmt.Errorf("read at byte %d: %w", off+int64(n), unwrapPath(err))
	}
	return n, err
}

// sequential does one read into buf and hashes it. It reports whether the
// file goes on past buf.
func (h *fileHasher) sequential(ctx context.Context, buf []byte) (more bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	n, err := h.read(buf, h.size)
	if h.xxh != nil {
		h.xxh.Write(buf[:n])
	}
	if h.b3 != nil {
		h.b3.Write(buf[:n])
	}
	h.add(n)
	switch err {
	case nil:
		return true, nil
	case io.EOF:
		return false, nil
	default:
		return false, err
	}
}

// add counts n bytes as hashed.
func (h *fileHasher) add(n int) {
	h.size += int64(n)
	if h.o.Progress != nil && n > 0 {
		h.o.Progress(int64(n))
	}
}

// unit is one read of the parallel path, hashed and waiting to be merged.
type unit struct {
	buf    []byte  // the bytes read, in a buffer of the pool
	err    error   // io.EOF if the file ended in or right after buf
	pieces []piece // the BLAKE3 subtrees of buf's whole chunks, hashed
}

// parallel hashes the rest of the file, from h.size (a multiple of 1 KiB),
// on o.Workers goroutines, the calling one included.
func (h *fileHasher) parallel(ctx context.Context) error {
	workers := h.o.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	if h.b3 == nil {
		workers = 1 // xxh128 alone: nothing to share, it must be fed in order
	}
	// Buffers: one per worker being read and hashed, and a few more for
	// units hashed ahead of an earlier one, so that no worker waits.
	free := make(chan []byte, workers+2)
	for range cap(free) {
		free <- make([]byte, readSize)
	}
	var (
		base    = h.size
		next    atomic.Int64 // index of the next unit to read
		stopped atomic.Bool  // a unit ended the file, failed, or ctx is done

		mu       sync.Mutex // guards what follows, h.b3, h.xxh and h.size
		merged   int        // index of the next unit to merge
		finished bool       // a merged unit ended the file or failed
		err      error
		waiting  = make(map[int]unit, cap(free))
	)
	// merge adds unit i to the digests, in file order: unless all the units
	// before it are merged, it waits in waiting for the one that is merged
	// last to take it along.
	merge := func(i int, u unit) {
		mu.Lock()
		defer mu.Unlock()
		if i != merged {
			u.pieces = slices.Clone(u.pieces) // the worker reuses its slice
			waiting[i] = u
			return
		}
		for {
			if !finished {
				if e := ctx.Err(); e != nil {
					u.err = e
				}
				switch {
				case u.err == nil || u.err == io.EOF:
					if h.xxh != nil {
						h.xxh.Write(u.buf)
					}
					if h.b3 != nil {
						h.b3.commit(u.pieces)
						h.b3.Write(u.buf[len(u.buf)/chunkSize*chunkSize:]) // the end of the file
					}
					h.add(len(u.buf))
					finished = u.err != nil
				default:
					err, finished = u.err, true
				}
			}
			free <- u.buf[:readSize]
			merged++
			var ok bool
			if u, ok = waiting[merged]; !ok {
				return
			}
			delete(waiting, merged)
		}
	}
	work := func() {
		var pieces []piece
		for !stopped.Load() {
			if e := ctx.Err(); e != nil {
				mu.Lock()
				if !finished {
					err, finished = e, true
				}
				mu.Unlock()
				stopped.Store(true)
				return
			}
			buf := <-free
			i := int(next.Add(1) - 1)
			start := base + int64(i)*readSize
			n, rerr := h.read(buf, start)
			if rerr != nil {
				stopped.Store(true)
			}
			u := unit{buf: buf[:n], err: rerr}
			if h.b3 != nil && (rerr == nil || rerr == io.EOF) {
				pieces = planPieces(pieces[:0], uint64(start)/chunkSize, uint64(n/chunkSize))
				for j := range pieces {
					pieces[j].hash(buf)
				}
				u.pieces = pieces
			}
			merge(i, u)
		}
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
	return err
}

// withoutPath drops the path from an *fs.PathError, since HashFile's error
// names it already: "hash X: open: permission denied", not "hash X: open X:
// permission denied". errors.Is still sees the cause.
func withoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
