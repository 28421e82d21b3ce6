//go:build !amd64 || purego

package hashing

// haveKernel is false where there is no assembly kernel: subtrees are then
// hashed with guts alone (generic Go outside amd64).
const haveKernel = false

const kernelBuilt = false

func hashChunks16(out *[16][8]uint32, buf *[simdSize]byte, counter uint64) {
	panic("hashing: no SIMD kernel on this platform")
}

func hashParents16(out *[16][8]uint32, in *[32][8]uint32) {
	panic("hashing: no SIMD kernel on this platform")
}
