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
	simdSize  = guts.MaxSIMD * guts.ChunkSize // 16 KiB: the 16 chunks one SIMD pass hashes side by side

	// segmentSize is the largest subtree one goroutine hashes as a unit:
	// 256 chunks. Small, so that a write splits into enough pieces for the
	// cores to finish together and a piece stays in a core's L2 cache;
	// merging pieces costs one parent compression (~0.1 µs) each.
	segmentSize = 256 * chunkSize
	segHeight   = 8 // log2(segmentSize / chunkSize)

	// minParallelWrite is the smallest Write shared among goroutines. On
	// the 2-core KVM guest this was tuned on, waking an idle core takes
	// 70–500 µs, longer than one core needs for 1 MiB (~100 µs): smaller
	// writes are hashed faster by the caller alone.
	minParallelWrite = 2 << 20

	// maxBatch bounds the pieces of one round, so that a single huge Write
	// (a mapped file, a 1 GiB buffer) needs bounded scratch memory.
	maxBatch = 512
)

// ParallelBLAKE3 computes the unkeyed 256-bit BLAKE3 digest of a byte
// stream, hashing large writes on several goroutines. Its digest is
// bit-for-bit the one of zeebo/blake3 and b3sum; it only gets there faster:
// editkit's verify must keep up with b3sum, which uses every core.
//
// Write is synchronous: when it returns, the bytes have been hashed and p is
// no longer referenced, as io.Writer requires. Writes of at least 2 MiB are
// shared among the workers; smaller ones are hashed on the calling
// goroutine, so hashing many small files starts no goroutines. Writes whose
// length is a multiple of 1 KiB copy nothing.
//
// On amd64 with AVX-512 it uses its own assembly kernel (see asm_gen.go),
// ~2× zeebo/blake3 per core; elsewhere lukechampine.com/blake3/guts.
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

	pieces []piece // scratch, reused by every Write
}

// piece is one complete, aligned subtree of the stream: 2^height chunks
// starting at chunk counter, found at byte off of the buffer being hashed.
type piece struct {
	off     int
	counter uint64
	height  int
	node    guts.Node // its root node, once hashed
}

func (t *piece) bytes(buf []byte) []byte { return buf[t.off : t.off+chunkSize<<t.height] }

// hash computes t.node from buf, the buffer t was planned in.
func (t *piece) hash(buf []byte) { t.node = subtree(t.bytes(buf), t.counter) }

// planPieces appends to dst the pieces covering chunks whole chunks that
// start at chunk counter c and at byte 0 of their buffer: the largest
// aligned subtrees, in order, of at most a segment each. That is the
// decomposition guts.Eigentrees gives, with trees larger than a segment cut
// into segments.
func planPieces(dst []piece, c, chunks uint64) []piece {
	off := 0
	for chunks > 0 {
		height := min(bits.TrailingZeros64(c), bits.Len64(chunks)-1, segHeight)
		dst = append(dst, piece{off: off, counter: c, height: height})
		c += 1 << height
		chunks -= 1 << height
		off += chunkSize << height
	}
	return dst
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
	p = h.fillPartial(p)
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
	if len(p) > 0 { // then the partial chunk is empty
		h.partialLen = copy(h.partial[:], p)
	}
	return n, nil
}

// fillPartial completes a partial chunk from the head of p and returns the
// rest of p. Afterwards either the partial chunk is empty or p is.
func (h *ParallelBLAKE3) fillPartial(p []byte) []byte {
	if h.partialLen == 0 {
		return p
	}
	k := copy(h.partial[h.partialLen:], p)
	h.partialLen += k
	if h.partialLen == chunkSize {
		// The chunk is complete: it becomes the last subtree.
		h.commit([]piece{{node: guts.CompressChunk(h.partial[:], &guts.IV, h.nextCounter(), 0)}})
		h.partialLen = 0
	}
	return p[k:]
}

// nextCounter returns the chunk counter of the next complete chunk.
func (h *ParallelBLAKE3) nextCounter() uint64 {
	if h.hasPending {
		return h.counter + 1<<h.pendingHeight
	}
	return h.counter
}

// writeChunks hashes p, a non-empty whole number of chunks following
// everything hashed so far, on up to h.workers goroutines.
func (h *ParallelBLAKE3) writeChunks(p []byte) {
	pieces := planPieces(h.pieces[:0], h.nextCounter(), uint64(len(p)/chunkSize))
	h.pieces = pieces
	if workers := min(h.workers, len(pieces)); workers > 1 && len(p) >= minParallelWrite {
		var next atomic.Int64
		work := func() {
			for i := int(next.Add(1) - 1); i < len(pieces); i = int(next.Add(1) - 1) {
				pieces[i].hash(p)
			}
		}
		var wg sync.WaitGroup
		for range workers - 1 {
			wg.Go(work)
		}
		work()
		wg.Wait()
	} else {
		for i := range pieces {
			pieces[i].hash(p)
		}
	}
	h.commit(pieces)
}

// commit adds hashed pieces that follow everything hashed so far, in order:
// the pending subtree and all the pieces but the last are pushed, and the
// last becomes the pending one.
func (h *ParallelBLAKE3) commit(pieces []piece) {
	if len(pieces) == 0 {
		return
	}
	if h.hasPending {
		h.push(guts.ChainingValue(h.pending), h.pendingHeight)
	}
	last := len(pieces) - 1
	for _, t := range pieces[:last] {
		h.push(guts.ChainingValue(t.node), t.height)
	}
	h.pending, h.pendingHeight, h.hasPending = pieces[last].node, pieces[last].height, true
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

// subtree returns the root node of p, a complete subtree of 2^h chunks
// (h ≤ segHeight) whose first chunk has the given counter. The node is
// returned uncompressed so the caller can use it either as a chaining value
// or as the stream's root.
func subtree(p []byte, counter uint64) guts.Node {
	switch {
	case len(p) == chunkSize || len(p) == simdSize:
		return guts.CompressEigentree(p, &guts.IV, counter, 0)
	case len(p) < simdSize:
		// The SIMD code reads 16 chunks whatever len(p) is. Rather than
		// read past len(p) (or let CompressEigentree allocate), pad a copy.
		var buf [simdSize]byte
		copy(buf[:], p)
		return guts.CompressBuffer(&buf, len(p), &guts.IV, counter, 0)
	case haveKernel:
		return subtreeKernel(p, counter)
	default:
		return subtreeGuts(p, counter)
	}
}

// subtreeKernel hashes 32 to 256 chunks with the assembly kernel: the
// chunks' chaining values 16 at a time, then each level of parents 16 at a
// time, in place, up to the root node.
func subtreeKernel(p []byte, counter uint64) guts.Node {
	var (
		cvs [segmentSize / chunkSize][8]uint32
		n   = len(p) / chunkSize
	)
	for g := 0; g < n; g += guts.MaxSIMD {
		hashChunks16((*[16][8]uint32)(cvs[g:]), (*[simdSize]byte)(p[g*chunkSize:]), counter+uint64(g))
	}
	for ; n > 2; n /= 2 {
		// Parents i..i+15 from children 2i..2i+31; past n/2 the lanes hash
		// leftovers, whose results are overwritten or never read.
		for i := 0; i < n/2; i += 16 {
			hashParents16((*[16][8]uint32)(cvs[i:]), (*[32][8]uint32)(cvs[2*i:]))
		}
	}
	return guts.ParentNode(cvs[0], cvs[1], &guts.IV, 0)
}

// subtreeGuts hashes 32 or more chunks with guts.CompressBuffer, 16 at a
// time, merging with a local stack. (guts.CompressEigentree would do it
// too, but starts a goroutine per 16 KiB.)
func subtreeGuts(p []byte, counter uint64) guts.Node {
	var (
		stack  [64][8]uint32
		groups = len(p) / simdSize // a power of two ≥ 2
	)
	for g := range groups {
		block := (*[simdSize]byte)(p[g*simdSize:])
		prefetch(block)
		node := guts.CompressBuffer(block, simdSize, &guts.IV, counter+uint64(g*guts.MaxSIMD), 0)
		// Merge with the finished left siblings: one per trailing 1 bit of g.
		k := 0
		for ; g>>k&1 == 1; k++ {
			node = guts.ParentNode(stack[k], guts.ChainingValue(node), &guts.IV, 0)
		}
		if g == groups-1 {
			return node
		}
		stack[k] = guts.ChainingValue(node)
	}
	panic("unreachable")
}

// prefetch reads one byte of every cache line of a block before guts
// hashes it. guts loads the 16 chunks with gathers 1 KiB apart, which the
// hardware prefetcher does not follow: on data not in cache a core then
// hashes at half speed (measured 2.3 against 4.6 GB/s on Zen 5). This
// sequential pass, whose loads all miss in parallel, fetches the block
// first. It is not inlined, so that the loads, whose sum nobody uses, are
// not optimised away.
//
//go:noinline
func prefetch(b *[simdSize]byte) uint64 {
	var s uint64
	for i := 0; i < simdSize; i += 64 {
		s += uint64(b[i])
	}
	return s
}
