//go:build amd64 && !purego

package hashing

import (
	"unsafe"

	"golang.org/x/sys/cpu"
	"lukechampine.com/blake3/guts"
)

//go:generate go run asm_gen.go

// hashManyAVX512 compresses 16 lanes of blocks 64-byte blocks, lane i at
// in + i*stride, from chaining value key, with per-lane counters ctr (low
// words, then high words) and per-block flags, and stores each lane's
// final chaining value in out. See asm_gen.go.
//
//go:noescape
func hashManyAVX512(out *[16][8]uint32, in *byte, stride uintptr, blocks uintptr, key *[8]uint32, ctr *[2][16]uint32, flags *[16]uint32)

// kernelBuilt says hashManyAVX512 is in this build.
const kernelBuilt = true

// haveKernel reports whether this CPU runs hashManyAVX512. It is set once,
// from CPUID, before main.
var haveKernel = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL

// hashChunks16 writes the chaining values of the 16 chunks in buf, the
// first of which has chunk counter counter.
func hashChunks16(out *[16][8]uint32, buf *[simdSize]byte, counter uint64) {
	var ctr [2][16]uint32
	for i := range 16 {
		c := counter + uint64(i)
		ctr[0][i], ctr[1][i] = uint32(c), uint32(c>>32)
	}
	flags := [16]uint32{0: guts.FlagChunkStart, 15: guts.FlagChunkEnd}
	hashManyAVX512(out, &buf[0], chunkSize, 16, &guts.IV, &ctr, &flags)
}

// hashParents16 writes the chaining values of the 16 parent nodes whose
// children are in, in order (out may overlap in's first half).
func hashParents16(out *[16][8]uint32, in *[32][8]uint32) {
	var ctr [2][16]uint32
	flags := [16]uint32{0: guts.FlagParent}
	hashManyAVX512(out, (*byte)(unsafe.Pointer(in)), 64, 1, &guts.IV, &ctr, &flags)
}
