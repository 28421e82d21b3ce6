package hashing

import (
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"

	"lukechampine.com/blake3/guts"
)

// BLAKE3 is a tree hash: the input is cut into 1 KiB chunks, and every
// complete, aligned run of 2^h chunks (a subtree, or "eigentree", whose first
// chunk counter is a multiple of 2^h) has a 32-byte chaining value that
// depends only on those bytes and that counter. That is what lets the
// subtrees of one stream be hashed on several cores and merged afterwards,
// in order, into the digest a sequential hasher (zeebo/blake3, b3sum) gives.
const (
	chunkSize = guts.ChunkSize                // 1 KiB, a leaf of the tree
	simdSize  = guts.MaxSIMD * guts.ChunkSize // 16 KiB: the 16 chunks one AVX-512 pass hashes side by side

	// segmentSize is the unit of work handed to one goroutine: a subtree of
	// 256 chunks. It is small for two reasons measured on the target (2-core
	// Zen 5): a write of a few MiB splits into enough pieces for the cores to
	// finish together, and a piece stays in the core's 2 MiB L2 cache.
	// Merging the pieces costs one parent compression each (~0.1 µs).
	segmentSize = 256 * chunkSize

	// maxBatch bounds the pieces of one round, so that a single huge Write
	// (a mapped file, a 1 GiB buffer) needs bounded scratch memory.
	maxBatch = 512
)

// ParallelBLAKE3 computes the unkeyed 256-bit BLAKE3 digest of a byte
// stream, hashing large writes on several goroutines. Its digest is
// bit-for-bit the one of zeebo/blake3 and b3sum; it only gets there faster,
// because one core does ~4–5 GB/s and editkit's verify must keep up with
// b3sum, which uses every core.
//
// Write is synchronous: when it returns, the bytes have been hashed and p is
// no longer referenced, as io.Writer requires. Writes of at least two
// segments (512 KiB) are shared among the workers; smaller ones are hashed on
// the calling goroutine, so hashing many small files costs no goroutines.
// Writes whose length is a multiple of 1 KiB avoid any copying.
//
// A ParallelBLAKE3 is not safe for concurrent use; it implements hash.Hash.
type ParallelBLAKE3 struct {
	workers int

	// The BLAKE3 incremental merge: stack[h] holds the chaining value of a
	// finished subtree of 2^h chunks, exactly when bit h of counter (the
	// number of chunks in the stack) is set. Pushing a subtree merges it
	// with its left neighbours of the same height, like a binary counter.
	stack   [64][8]uint32
	counter uint64

	// The last complete subtree is held back as a node, not pushed as a
	// chaining value, since it may turn out to be the root (which must be
	// compressed with the ROOT flag). The next bytes push it.
	pending       guts.Node
	pendingHeight int
	hasPending    bool

	// Bytes after the last complete chunk.
	partial    [chunkSize]byte
	partialLen int

	tasks []piece // scratch, reused by every Write
}

// piece is one complete subtree of a Write: 2^height chunks at byte offset
// off of the write and at chunk counter counter of the stream.
type piece struct {
	off     int
	counter uint64
	height  int
	node    guts.Node // its root node, once hashed
	touched uint64    // see prefetch
}

// NewParallelBLAKE3 returns a hasher that uses up to workers goroutines
// (counting the caller's) per Write; 0 means runtime.NumCPU().
func NewParallelBLAKE3(workers int) *ParallelBLAKE3 {
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	return &ParallelBLAKE3{workers: workers}
}

// Size returns the digest length, 32 bytes.
func (h *ParallelBLAKE3) Size() int { return 32 }

// BlockSize returns BLAKE3's block size, 64 bytes.
func (h *ParallelBLAKE3) BlockSize() int { return guts.BlockSize }

// Reset clears the hasher for a new stream.
func (h *ParallelBLAKE3) Reset() {
	h.counter = 0
	h.hasPending = false
	h.partialLen = 0
}

// Write adds p to the stream. It never fails.
func (h *ParallelBLAKE3) Write(p []byte) (int, error) {
	n := len(p)
	if h.partialLen > 0 {
		k := copy(h.partial[h.partialLen:], p)
		h.partialLen += k
		p = p[k:]
		if h.partialLen < chunkSize {
			return n, nil
		}
		// The chunk is complete: it becomes the last subtree.
		h.pushPending()
		h.setPending(guts.CompressChunk(h.partial[:], &guts.IV, h.counter, 0), 0)
		h.partialLen = 0
	}
	whole := len(p) / chunkSize * chunkSize
	for whole > 0 {
		// Rounds of at most maxBatch pieces; all but the last end on a
		// segment boundary, since the stream is then segment-aligned.
		round := whole
		if start := h.nextCounter() * chunkSize; round > maxBatch*segmentSize {
			round = maxBatch*segmentSize - int(start%segmentSize)
		}
		h.writeChunks(p[:round])
		p, whole = p[round:], whole-round
	}
	h.partialLen = copy(h.partial[:], p)
	return n, nil
}

// nextCounter returns the chunk counter of the next complete chunk.
func (h *ParallelBLAKE3) nextCounter() uint64 {
	if h.hasPending {
		return h.counter + 1<<h.pendingHeight
	}
	return h.counter
}

// writeChunks hashes p, a non-empty whole number of chunks following
// everything hashed so far: the pending subtree is pushed, p is split into
// aligned subtrees of at most a segment (the head up to a segment boundary
// and the tail decompose as guts.Eigentrees does), those are hashed, all but
// the last are pushed in order, and the last becomes the pending one.
func (h *ParallelBLAKE3) writeChunks(p []byte) {
	h.pushPending()
	const segHeight = 8 // log2(segmentSize / chunkSize)
	tasks := h.tasks[:0]
	c, left, off := h.counter, uint64(len(p)/chunkSize), 0
	for left > 0 {
		// The largest subtree that starts at c (alignment), fits in what is
		// left, and is at most a segment.
		height := min(bits.TrailingZeros64(c), bits.Len64(left)-1, segHeight)
		tasks = append(tasks, piece{off: off, counter: c, height: height})
		c += 1 << height
		left -= 1 << height
		off += chunkSize << height
	}
	h.tasks = tasks

	if workers := min(h.workers, len(tasks)); workers > 1 && len(p) >= 2*segmentSize {
		var next atomic.Int64
		work := func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(tasks) {
					return
				}
				t := &tasks[i]
				t.node, t.touched = subtree(p[t.off:t.off+chunkSize<<t.height], t.counter)
			}
		}
		var wg sync.WaitGroup
		for range workers - 1 {
			wg.Go(work)
		}
		work()
		wg.Wait()
	} else {
		for i := range tasks {
			t := &tasks[i]
			t.node, t.touched = subtree(p[t.off:t.off+chunkSize<<t.height], t.counter)
		}
	}

	last := len(tasks) - 1
	for _, t := range tasks[:last] {
		h.push(guts.ChainingValue(t.node), t.height)
	}
	h.setPending(tasks[last].node, tasks[last].height)
}

func (h *ParallelBLAKE3) setPending(n guts.Node, height int) {
	h.pending, h.pendingHeight, h.hasPending = n, height, true
}

// pushPending pushes the held-back subtree: more bytes follow it, so it is
// not the root.
func (h *ParallelBLAKE3) pushPending() {
	if h.hasPending {
		h.push(guts.ChainingValue(h.pending), h.pendingHeight)
		h.hasPending = false
	}
}

// push adds the chaining value of a subtree of 2^height chunks that starts
// at chunk h.counter (which is a multiple of 2^height).
func (h *ParallelBLAKE3) push(cv [8]uint32, height int) {
	pushCV(&h.stack, &h.counter, cv, height)
}

func pushCV(stack *[64][8]uint32, counter *uint64, cv [8]uint32, height int) {
	add := uint64(1) << height
	for *counter&(1<<height) != 0 {
		cv = guts.ChainingValue(guts.ParentNode(stack[height], cv, &guts.IV, 0))
		height++
	}
	stack[height] = cv
	*counter += add
}

// Sum appends the digest to b. It does not change the hasher's state.
func (h *ParallelBLAKE3) Sum(b []byte) []byte {
	d := h.Sum256()
	return append(b, d[:]...)
}

// Sum256 returns the digest of the bytes written so far.
func (h *ParallelBLAKE3) Sum256() [32]byte {
	// Work on a copy of the stack: Sum must not change the state.
	stack, counter := h.stack, h.counter
	var root guts.Node
	if h.partialLen > 0 || !h.hasPending {
		// The last chunk is the partial one, or the stream is empty (then
		// the root is an empty chunk).
		if h.hasPending {
			pushCV(&stack, &counter, guts.ChainingValue(h.pending), h.pendingHeight)
		}
		root = guts.CompressChunk(h.partial[:h.partialLen], &guts.IV, counter, 0)
	} else {
		root = h.pending
	}
	// Fold the stack, smallest subtree first: these are the left siblings on
	// the path from the last subtree up to the root.
	for height := range 64 {
		if counter&(1<<height) != 0 {
			root = guts.ParentNode(stack[height], guts.ChainingValue(root), &guts.IV, 0)
		}
	}
	root.Flags |= guts.FlagRoot
	out := guts.WordsToBytes(guts.CompressNode(root))
	return [32]byte(out[:32])
}

// subtree returns the root node of p, a complete subtree (2^h chunks) whose
// first chunk has the given counter. Big subtrees are hashed 16 chunks at a
// time with guts.CompressBuffer (AVX-512 or AVX2 where the CPU has it) and
// merged with a local stack; the root node is returned uncompressed so the
// caller can use it either as a chaining value or as the stream's root.
// It calls guts.CompressEigentree only for subtrees of up to 16 chunks,
// because for larger ones that function starts a goroutine per 16 KiB.
func subtree(p []byte, counter uint64) (guts.Node, uint64) {
	if len(p) == chunkSize || len(p) == simdSize {
		return guts.CompressEigentree(p, &guts.IV, counter, 0), 0
	}
	if len(p) < simdSize {
		// The SIMD kernel reads 16 chunks whatever len(p) is. Rather than
		// read past len(p) (or let CompressEigentree allocate), pad a copy.
		var buf [simdSize]byte
		copy(buf[:], p)
		return guts.CompressBuffer(&buf, len(p), &guts.IV, counter, 0), 0
	}
	var (
		stack   [64][8]uint32
		touched uint64
		groups  = len(p) / simdSize // a power of two ≥ 2
	)
	for g := range groups {
		block := (*[simdSize]byte)(p[g*simdSize:])
		touched += prefetch(block)
		node := guts.CompressBuffer(block, simdSize, &guts.IV, counter+uint64(g*guts.MaxSIMD), 0)
		// Merge with the finished left siblings: one per trailing 1 bit of g.
		k := 0
		for ; g>>k&1 == 1; k++ {
			node = guts.ParentNode(stack[k], guts.ChainingValue(node), &guts.IV, 0)
		}
		if g == groups-1 {
			return node, touched
		}
		stack[k] = guts.ChainingValue(node)
	}
	panic("unreachable")
}

// prefetch reads one word of every cache line of a block before it is
// hashed. The AVX-512 kernel reads 16 chunks 1 KiB apart at once, which the
// hardware prefetcher does not follow: on data that is not in cache (a
// buffer just filled by read(2) on another core, a large in-memory input) a
// core then hashes at ~2.3 GB/s instead of ~4.6; this sequential pass, whose
// loads all miss in parallel, fetches the block first. On cached data it
// costs about 1%. The sum is returned so that the compiler keeps the loads.
func prefetch(b *[simdSize]byte) uint64 {
	var s uint64
	for i := 0; i < simdSize; i += 64 {
		s += uint64(b[i])
	}
	return s
}
