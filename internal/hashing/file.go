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

	"github.com/editkit/editkit/internal/fsx"
)

// FileOptions says which digests HashFile computes and how it reads.
type FileOptions struct {
	BLAKE3, XXH128 bool // editkit's own digests, to compute or not

	// Extra are further formats computed in the same pass (an ASC MHL
	// history's md5, sha1, xxh64, xxh3 or c4); FileSum.Extra has them.
	Extra []Type

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
	Extra map[Type]string // FileOptions.Extra's digests, as MultiHasher.Digest gives them
	Size  int64
}

// HashFile's unit of work is one read(2), then hashed by the goroutine that
// read it while the others read and hash theirs.
const (
	// readSize is the unit for a file in the page cache. 1 MiB: reads of
	// 1–8 MiB from the cache cost about the same per byte, and hashing
	// from a buffer that fits the core's L2 cache (2 MiB on the target) was
	// faster than from larger ones.
	readSize = 1 << 20

	// mediumReadSize is the unit when reading from the medium: fewer,
	// larger requests. On the target's virtual disk, 2 GiB read in 4 MiB
	// units took 0.71–0.78 s (medians of 10) against 0.75–0.82 s in 1 MiB
	// units, and varied less.
	mediumReadSize = 4 << 20
)

// HashFile computes the digests o asks for of the file at path.
//
// A large file is cut into units of 1 MiB (4 MiB from the medium). Each of
// o.Workers goroutines takes the next unit, reads it (pread, so reads
// proceed in parallel) and hashes its BLAKE3 subtrees while the others read
// and hash theirs. Units are merged in file order, which is also where
// the sequential digests (xxh128, and any ASC MHL format asked for) are
// fed; xxh128 runs beside the other goroutines' BLAKE3 and costs ~12% of
// the CPU time. Nothing waits for a
// hand-off per buffer: on the KVM guest this was tuned on, waking an idle
// goroutine on the other core takes 70–500 µs, which a reader goroutine
// feeding hashers, or a fork-join per buffer, paid every few hundred
// microseconds (measured: 0.6× b3sum's speed). Files under 2 MiB are
// hashed on the calling goroutine alone.
//
// The file is read, not mapped, although b3sum maps it. Measured with the
// same workers on a cached 2 GiB file, mapping was at best even (0.17 s
// either way when the cache holds the file in 2 MiB folios) and otherwise
// slower (0.20 s against 0.18 s): hashing then reads from RAM instead of
// from the L2 cache that read(2) has just filled, and faulting in 4 KiB
// pages costs b3sum itself 0.15–0.25 s of CPU per 2 GiB. Besides, an I/O
// error under a mapping is a SIGBUS, not an error.
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
	if err := ctx.Err(); err != nil {
		return FileSum{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return FileSum{}, withoutPath(err)
	}
	defer f.Close()
	return hashOpen(ctx, f, o)
}

// HashOpen is HashFile for a file already open: it hashes all of f, from
// byte 0 whatever f's offset (placement reads back a temporary file
// through the descriptor it wrote). Errors name f.
func HashOpen(ctx context.Context, f *os.File, o FileOptions) (FileSum, error) {
	s, err := hashOpen(ctx, f, o)
	if err != nil {
		return FileSum{}, fmt.Errorf("hash %s: %w", f.Name(), err)
	}
	return s, nil
}

func hashOpen(ctx context.Context, f *os.File, o FileOptions) (FileSum, error) {
	types := o.types()
	if len(types) == 0 {
		return FileSum{}, errors.New("no digest requested")
	}
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

	h := fileHasher{o: o, src: f, m: NewMultiHasher(types...)}
	if o.FromMedium {
		h.forget = func(off, n int64) { fsx.Forget(f, off, n) }
	}
	if err := h.run(ctx, fi.Size()); err != nil {
		return FileSum{}, err
	}
	return h.sum(), nil
}

// types lists the formats o asks for.
func (o FileOptions) types() []Type {
	var ts []Type
	if o.BLAKE3 {
		ts = append(ts, BLAKE3)
	}
	if o.XXH128 {
		ts = append(ts, XXH128)
	}
	return append(ts, o.Extra...)
}

// fileHasher is the state of one HashFile call.
type fileHasher struct {
	o      FileOptions
	src    io.ReaderAt
	forget func(off, n int64) // nil unless reading from the medium
	m      *MultiHasher
	size   int64
	unit   int // bytes per read of the parallel path
}

func (h *fileHasher) sum() FileSum {
	s := FileSum{Sum: h.m.Sum(), Size: h.size}
	if len(h.o.Extra) > 0 {
		s.Extra = make(map[Type]string, len(h.o.Extra))
		for _, t := range h.o.Extra {
			s.Extra[t] = h.m.Digest(t)
		}
	}
	return s
}

// run hashes src, whose size is expected to be size.
func (h *fileHasher) run(ctx context.Context, size int64) error {
	h.unit = readSize
	if h.o.FromMedium {
		h.unit = mediumReadSize
	}
	if size < 2*readSize {
		// A small file is read in one go, plus the read that sees the end,
		// on this goroutine and into a buffer no larger than the file
		// (rounded up to whole chunks, so that if the file turns out to
		// have grown, what follows starts on a chunk boundary).
		buf := smallFileBufs.get()
		more, err := h.sequential(ctx, buf[:(size+chunkSize)/chunkSize*chunkSize])
		smallFileBufs.put(buf)
		if !more {
			return err
		}
	}
	return h.parallel(ctx)
}

// bufPool lends buffers of one size. Reading into a buffer used before
// spares an allocation per file, which the runtime must clear: restoring
// a tree of media files spent more time clearing read-back buffers (three
// of 4 MiB a file) than hashing them.
type bufPool struct {
	size int
	pool sync.Pool
}

func (b *bufPool) get() []byte {
	if p, ok := b.pool.Get().(*[]byte); ok {
		return *p
	}
	return make([]byte, b.size)
}

func (b *bufPool) put(buf []byte) {
	if buf = buf[:cap(buf)]; len(buf) == b.size {
		b.pool.Put(&buf)
	}
}

var (
	// smallFileBufs hold a file under 2*readSize read in one go.
	smallFileBufs = bufPool{size: 2 * readSize}
	// unitBufs hold the units of the parallel path, by unit size.
	unitBufs = map[int]*bufPool{readSize: {size: readSize}, mediumReadSize: {size: mediumReadSize}}
)

// read fills buf from the file at offset off and forgets the range if
// reading from the medium. It returns io.EOF with the last bytes.
func (h *fileHasher) read(buf []byte, off int64) (int, error) {
	n, err := h.src.ReadAt(buf, off)
	if n > 0 && h.forget != nil {
		h.forget(off, int64(n))
	}
	if err != nil && err != io.EOF {
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
	h.m.Write(buf[:n])
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
	// Buffers: one per worker being read and hashed, and a few more for
	// units hashed ahead of an earlier one, so that no worker waits (a
	// single worker merges each unit before it reads the next).
	bufs := unitBufs[h.unit]
	buffers := workers + 2
	if workers == 1 {
		buffers = 1
	}
	free := make(chan []byte, buffers)
	for range buffers {
		free <- bufs.get()
	}
	defer func() { // every unit is merged by now, its buffer back in free
		for range buffers {
			select {
			case b := <-free:
				bufs.put(b)
			default:
			}
		}
	}()
	var (
		base    = h.size
		next    atomic.Int64 // index of the next unit to read
		stopped atomic.Bool  // a unit ended the file, failed, or ctx is done

		mu       sync.Mutex // guards what follows
		merged   int        // index of the next unit to merge
		finished bool       // a merged unit ended the file or failed
		err      error
		waiting  = make(map[int]unit, cap(free))
	)
	// finish records the end of the file (e == nil) or the first error.
	finish := func(e error) {
		mu.Lock()
		if !finished {
			err, finished = e, true
		}
		mu.Unlock()
	}
	// apply adds a unit to the digests. Only the goroutine merging unit
	// number merged calls it, so it needs no lock.
	apply := func(u unit) (end bool, err error) {
		if err := ctx.Err(); err != nil {
			return true, err
		}
		if u.err != nil && u.err != io.EOF {
			return true, u.err
		}
		h.m.writeSequential(u.buf)
		if b3 := h.m.b3; b3 != nil {
			b3.commit(u.pieces)
			b3.Write(u.buf[len(u.buf)/chunkSize*chunkSize:]) // the end of the file
		}
		h.add(len(u.buf))
		return u.err == io.EOF, nil
	}
	// merge adds unit i to the digests in file order. If an earlier unit is
	// not merged yet, unit i waits in waiting for the goroutine that merges
	// the one before it to take it along, and its own goroutine moves on.
	// The digests are fed outside the lock, so that the others never wait
	// for xxh128 (a goroutine that blocks on a lock sleeps, and is slow to
	// wake on this VM).
	merge := func(i int, u unit) {
		mu.Lock()
		if i != merged {
			u.pieces = slices.Clone(u.pieces) // the worker reuses its slice
			waiting[i] = u
			mu.Unlock()
			return
		}
		for {
			done := finished
			mu.Unlock()
			if !done {
				if end, e := apply(u); end {
					finish(e)
				}
			}
			free <- u.buf[:cap(u.buf)]
			mu.Lock()
			merged++
			var ok bool
			if u, ok = waiting[merged]; !ok {
				mu.Unlock()
				return
			}
			delete(waiting, merged)
		}
	}
	work := func() {
		var pieces []piece
		for !stopped.Load() {
			if e := ctx.Err(); e != nil {
				finish(e)
				stopped.Store(true)
				return
			}
			buf := <-free
			i := int(next.Add(1) - 1)
			start := base + int64(i)*int64(h.unit)
			n, rerr := h.read(buf, start)
			if rerr != nil {
				stopped.Store(true)
			}
			u := unit{buf: buf[:n], err: rerr}
			if h.m.b3 != nil && (rerr == nil || rerr == io.EOF) {
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
