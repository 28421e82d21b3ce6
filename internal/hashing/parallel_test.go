package hashing

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zeebo/blake3"
	"lukechampine.com/blake3/guts"
)

// pattern returns n bytes that differ everywhere, so that a chunk hashed at
// the wrong counter or in the wrong place changes the digest.
func pattern(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewPCG(seed, 0x9e3779b97f4a7c15)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint64())
	}
	return b
}

// modest keeps the tests to modest sizes under the race detector (as make
// test runs them) and with -short; a plain go test runs the large ones.
func modest() bool { return raceEnabled || testing.Short() }

// edgeSizes are the lengths where the tree changes shape: around a chunk,
// a 16-chunk SIMD group, a segment, and the powers of two between.
func edgeSizes() []int {
	seg, simd := segmentSize, simdSize
	sizes := []int{0, 1, 2, 63, 64, 65, 127, 128, 1000,
		chunkSize - 1, chunkSize, chunkSize + 1, 2*chunkSize - 1, 2 * chunkSize, 2*chunkSize + 1,
		3 * chunkSize, 3*chunkSize + 5, 7*chunkSize + 1023, 8 * chunkSize, 15 * chunkSize,
		simd - 1, simd, simd + 1, simd + chunkSize, 2*simd - 1, 2 * simd, 2*simd + 1, 17 * simd,
		seg/2 + 1, seg - chunkSize, seg - 1, seg, seg + 1, seg + chunkSize, seg + chunkSize + 1,
		2*seg - 1, 2 * seg, 2*seg + 1, 2*seg + chunkSize, 3 * seg, 3*seg + 1, 4*seg - 1, 4 * seg,
		5*seg + 3*simd + 7*chunkSize + 11, 16*seg + 1, 33*seg - 1,
		1<<20 - 1, 1 << 20, 1<<20 + 1, 3<<20 + 7,
	}
	if !modest() {
		sizes = append(sizes, 64<<20, 64<<20+1, 100<<20+12345,
			// Past one round of maxBatch segments.
			maxBatch*seg-1, maxBatch*seg, maxBatch*seg+1, maxBatch*seg+seg+chunkSize+1)
	}
	return sizes
}

func randomSizes(r *rand.Rand, n, maxSize int) []int {
	sizes := make([]int, n)
	for i := range sizes {
		switch i % 3 {
		case 0: // any size
			sizes[i] = r.IntN(maxSize)
		case 1: // a whole number of chunks
			sizes[i] = r.IntN(maxSize/chunkSize) * chunkSize
		default: // small, where most edge cases are
			sizes[i] = r.IntN(4 * segmentSize)
		}
	}
	return sizes
}

func checkParallel(t *testing.T, data []byte, workers int, writes func(h *ParallelBLAKE3, data []byte)) {
	t.Helper()
	want := blake3.Sum256(data)
	h := NewParallelBLAKE3(workers)
	writes(h, data)
	if got := h.Sum256(); got != want {
		t.Fatalf("size %d, %d workers: got %x, want %x", len(data), workers, got, want)
	}
	// Sum must not disturb the state.
	if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
		t.Fatalf("size %d: second Sum differs", len(data))
	}
}

func oneWrite(h *ParallelBLAKE3, data []byte) { h.Write(data) }

func TestParallelBLAKE3EdgeSizes(t *testing.T) {
	sizes := edgeSizes()
	big := pattern(slices.Max(sizes), 1)
	for _, size := range sizes {
		for _, workers := range []int{1, 2, 3, 8} {
			checkParallel(t, big[:size], workers, oneWrite)
		}
	}
}

func TestParallelBLAKE3RandomSizes(t *testing.T) {
	n, maxSize := 300, 100<<20
	if modest() {
		n, maxSize = 60, 4<<20
	}
	r := rand.New(rand.NewPCG(2, 3))
	big := pattern(maxSize, 2)
	for _, size := range randomSizes(r, n, maxSize) {
		// Hash a window that does not start at the buffer's beginning too, so
		// that nothing depends on alignment in memory.
		off := r.IntN(64)
		if off+size > len(big) {
			off = 0
		}
		checkParallel(t, big[off:off+size], 1+r.IntN(4), oneWrite)
	}
}

// Writes of any lengths, aligned or not, give the same digest as one write.
func TestParallelBLAKE3SplitWrites(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 5))
	maxSize := 40 << 20
	if modest() {
		maxSize = 3 << 20
	}
	big := pattern(maxSize, 3)
	splitters := []struct {
		name string
		next func() int
	}{
		{"tiny", func() int { return r.IntN(100) }},
		{"chunks", func() int { return (1 + r.IntN(40)) * chunkSize }},
		{"segment", func() int { return segmentSize }},
		{"mixed", func() int {
			return []int{1, chunkSize - 1, chunkSize, simdSize + 3, segmentSize - 1, 3 * segmentSize, 8 << 20}[r.IntN(7)]
		}},
		{"huge", func() int { return r.IntN(maxSize) }},
	}
	for _, sp := range splitters {
		next := sp.next
		for range 8 {
			size := r.IntN(maxSize)
			if sp.name == "tiny" {
				size = r.IntN(40 * chunkSize)
			}
			checkParallel(t, big[:size], 2, func(h *ParallelBLAKE3, data []byte) {
				for len(data) > 0 {
					k := min(next(), len(data))
					h.Write(data[:k])
					data = data[k:]
				}
			})
		}
	}
}

func TestParallelBLAKE3Reset(t *testing.T) {
	h := NewParallelBLAKE3(2)
	h.Write(pattern(3*segmentSize+17, 4))
	h.Reset()
	data := pattern(5*segmentSize+1, 5)
	h.Write(data)
	if got, want := h.Sum256(), blake3.Sum256(data); got != want {
		t.Fatalf("after Reset: got %x, want %x", got, want)
	}
	if h.Size() != 32 || h.BlockSize() != 64 {
		t.Fatal("Size or BlockSize")
	}
}

// The pieces a run of chunks is cut into are the decomposition
// guts.Eigentrees gives, with subtrees larger than a segment cut into
// segments.
func TestPlanPiecesAreEigentrees(t *testing.T) {
	for _, tc := range []struct{ counter, chunks uint64 }{
		{0, 1}, {0, 1023}, {1, 1022}, {5, 1000}, {255, 258}, {256, 256}, {300, 5000}, {1 << 20, 777}, {1<<40 + 3, 3000},
	} {
		var want []int
		for _, height := range guts.Eigentrees(tc.counter, tc.chunks) {
			for range 1 << max(0, height-segHeight) {
				want = append(want, min(height, segHeight))
			}
		}
		var got []int
		off, counter := 0, tc.counter
		for _, p := range planPieces(nil, tc.counter, tc.chunks) {
			if p.off != off || p.counter != counter {
				t.Fatalf("counter %d, %d chunks: piece at byte %d, chunk %d; want %d, %d", tc.counter, tc.chunks, p.off, p.counter, off, counter)
			}
			got = append(got, p.height)
			off += chunkSize << p.height
			counter += 1 << p.height
		}
		if !slices.Equal(got, want) {
			t.Errorf("counter %d, %d chunks: pieces %v, Eigentrees gives %v", tc.counter, tc.chunks, got, want)
		}
	}
}

// What b3sum prints for a few files is what we compute.
func TestParallelBLAKE3MatchesB3sum(t *testing.T) {
	if _, err := exec.LookPath("b3sum"); err != nil {
		t.Fatalf("b3sum is not installed (apt install b3sum): %v", err)
	}
	dir := t.TempDir()
	sizes := []int{0, 1025, segmentSize + 1, 5<<20 + 3}
	if !modest() {
		sizes = append(sizes, 33<<20, 64<<20+chunkSize+1)
	}
	for _, size := range sizes {
		data := pattern(size, uint64(size))
		path := filepath.Join(dir, fmt.Sprint(size))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		h := NewParallelBLAKE3(0)
		h.Write(data)
		got := h.Sum256()
		if want := toolDigest(t, "b3sum", path); hex.EncodeToString(got[:]) != want {
			t.Errorf("size %d: %x, b3sum says %s", size, got, want)
		}
	}
}

// Known-answer test, independent of both libraries: the official BLAKE3
// test vectors (test_vectors.json) hash the input bytes i%251.
func TestParallelBLAKE3OfficialVectors(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
		{1, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213"},
		{1024, "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7"},
		{1025, "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444"},
		{31744, "62b6960e1a44bcc1eb1a611a8d6235b6b4b78f32e7abc4fb4c6cdcce94895c47"},
		{1023, "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11"},
		{2049, "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b6879522563030"},
		{8193, "bab6c09cb8ce8cf459261398d2e7aef35700bf488116ceb94a36d0f5f1b7bc3b"},
		{16384, "f875d6646de28985646f34ee13be9a576fd515f76b5b0a26bb324735041ddde4"},
		{100000, "d93c23eedaf165a7e0be908ba86f1a7a520d568d2d13cde787c8580c5c72cc54"},
	} {
		data := make([]byte, tc.n)
		for i := range data {
			data[i] = byte(i % 251)
		}
		h := NewParallelBLAKE3(2)
		h.Write(data)
		got := h.Sum256()
		if hex.EncodeToString(got[:]) != tc.want {
			t.Errorf("vector %d: %x, want %s", tc.n, got, tc.want)
		}
	}
}

// FuzzParallelBLAKE3 compares with zeebo/blake3 on inputs up to three
// segments, built from the fuzzer's bytes, written in two parts.
func FuzzParallelBLAKE3(f *testing.F) {
	f.Add([]byte("editkit"), uint32(0), uint32(0))
	f.Add([]byte{1, 2, 3}, uint32(chunkSize), uint32(chunkSize))
	f.Add([]byte{7}, uint32(2*segmentSize+1), uint32(segmentSize))
	f.Fuzz(func(t *testing.T, seed []byte, size, split uint32) {
		n := int(size % (3*segmentSize + 1))
		data := make([]byte, n)
		if len(seed) > 0 {
			for i := range data {
				data[i] = seed[i%len(seed)] + byte(i/len(seed))
			}
		}
		k := int(split) % (n + 1)
		checkParallel(t, data, 2, func(h *ParallelBLAKE3, data []byte) {
			h.Write(data[:k])
			h.Write(data[k:])
		})
	})
}

// subtreeRef is a subtree's root node computed chunk by chunk and parent
// by parent, the way the BLAKE3 paper defines it: the reference every
// kernel must match.
func subtreeRef(p []byte, counter uint64) guts.Node {
	n := len(p) / chunkSize
	if n == 1 {
		return guts.CompressChunk(p, &guts.IV, counter, 0)
	}
	left := subtreeRef(p[:len(p)/2], counter)
	right := subtreeRef(p[len(p)/2:], counter+uint64(n/2))
	return guts.ParentNode(guts.ChainingValue(left), guts.ChainingValue(right), &guts.IV, 0)
}

// kernels are the subtree hashers this build can run on this CPU: the
// portable one always, the AVX-512 one where the CPU has it (and neither
// -tags purego nor GODEBUG=cpu.avx512f=off turned it off).
func kernels() []struct {
	name    string
	subtree func(p []byte, counter uint64) guts.Node
} {
	ks := []struct {
		name    string
		subtree func(p []byte, counter uint64) guts.Node
	}{{"portable", subtreeGuts}}
	if haveKernel {
		ks = append(ks, struct {
			name    string
			subtree func(p []byte, counter uint64) guts.Node
		}{"avx512", subtreeKernel})
	}
	return ks
}

// Every kernel the CPU has, and the portable fallback always, against the
// reference, including chunk counters whose low word wraps within a
// subtree (a stream past 4 TiB). A CPU feature is never a prerequisite:
// without AVX-512 the test says which kernels it checked and passes.
func TestKernelsMatchReference(t *testing.T) {
	data := pattern(segmentSize, 8)
	var names []string
	for _, k := range kernels() {
		names = append(names, k.name)
		t.Run(k.name, func(t *testing.T) {
			for height := 5; height <= segHeight; height++ {
				p := data[:chunkSize<<height]
				for _, counter := range []uint64{0, 1 << height, 1<<32 - 1<<height, 7 << 40} {
					if got, want := k.subtree(p, counter), subtreeRef(p, counter); got != want {
						t.Fatalf("subtree of 2^%d chunks at %d differs from the reference", height, counter)
					}
				}
			}
		})
	}
	t.Logf("kernels tested: %s (the one in use: %s)", strings.Join(names, ", "), names[len(names)-1])
	if !haveKernel {
		t.Log("no AVX-512 kernel in this build or on this CPU: the portable fallback is the one in use")
	}
}

// The assembly kernel against guts, lane by lane, including chunk counters
// whose low word wraps within the 16 lanes. It runs where the CPU has
// AVX-512; TestKernelsMatchReference covers every machine. A CPU feature
// is never a prerequisite of the suite: where the kernel cannot run, it
// cannot hash anything either, and the portable code it falls back to is
// what the other tests check there.
func TestKernelMatchesGuts(t *testing.T) {
	if !haveKernel {
		t.Log("no AVX-512 kernel in this build or on this CPU: nothing lane by lane to check; TestKernelsMatchReference checked the portable fallback")
		return
	}
	data := pattern(segmentSize, 8)
	for _, counter := range []uint64{0, 16, 1<<32 - 7, 1<<40 + 3} {
		var got [16][8]uint32
		hashChunks16(&got, (*[simdSize]byte)(data), counter)
		for i := range got {
			chunk := data[i*chunkSize : (i+1)*chunkSize]
			if want := guts.ChainingValue(guts.CompressChunk(chunk, &guts.IV, counter+uint64(i), 0)); got[i] != want {
				t.Fatalf("counter %d, chunk %d: %x, want %x", counter, i, got[i], want)
			}
		}
	}
	var children [32][8]uint32
	for i := range children {
		for j := range children[i] {
			children[i][j] = uint32(i*8+j) * 0x9e3779b9
		}
	}
	var got [16][8]uint32
	hashParents16(&got, &children)
	for i := range got {
		if want := guts.ChainingValue(guts.ParentNode(children[2*i], children[2*i+1], &guts.IV, 0)); got[i] != want {
			t.Fatalf("parent %d: %x, want %x", i, got[i], want)
		}
	}
	for height := 5; height <= segHeight; height++ {
		p := data[:chunkSize<<height]
		for _, counter := range []uint64{0, 1 << height, 1<<32 - 1<<height, 7 << 40} {
			if got, want := subtreeKernel(p, counter), subtreeGuts(p, counter); got != want {
				t.Fatalf("subtree of 2^%d chunks at %d differs from guts", height, counter)
			}
		}
	}
}
