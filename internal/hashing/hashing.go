// Package hashing owns editkit's content digests and the one way they are
// computed: BLAKE3 (editkit's own identity for a file's bytes, and the
// hub's blob key), xxh128 (what ASC MHL tools exchange) and the other ASC
// MHL formats (md5, sha1, xxh64, xxh3, c4). A MultiHasher computes any set
// of them in one pass over a stream; HashFile does the same for a file,
// reading and hashing its BLAKE3 subtrees on several cores. Nothing else
// in editkit hashes content.
//
// # The BLAKE3 engine, decided by measurement
//
// BLAKE3 is ParallelBLAKE3: a tree merge of our own over
// lukechampine.com/blake3/guts, with, on amd64 CPUs that have AVX-512F and
// AVX-512VL, the generated assembly kernel of blake3_amd64.s (asm_gen.go).
// zeebo/blake3, which the design card names, is the test oracle only. Its
// v0.2.4 has AVX2 and SSE4.1 kernels, not AVX-512, and no way to hash
// subtrees on several cores.
//
// Measured on the 2-core AMD EPYC (Zen, AVX-512) KVM guest editkit is
// developed on, shared with other builds: 256 MiB in memory, one core fed
// in 1 MiB writes (as copy and placement hash) and every core in one write
// (as HashFile shares a file); 11 interleaved rounds per run, the median
// of per-round ratios to zeebo/blake3, five runs at load averages 2 to 12
// (go test -run '^$' -bench BLAKE3Engines -benchtime 1x ./internal/hashing/, part of make bench):
//
//	                          GB/s (load 2–3)   vs zeebo/blake3 (all runs)
//	zeebo/blake3, one core    3.0–3.1           1
//	kernel, one core          5.3–6.7           1.89–2.12×
//	guts alone, one core      3.2–3.8           1.15–1.22×
//	kernel, both cores        5.8–11.2          2.07–3.53×
//	guts alone, both cores    3.8–5.6           1.18–2.14×
//
// (the two-core figures depend on what else the shared machine ran). With
// GODEBUG=cpu.avx512f=off the kernel is off and ParallelBLAKE3 is guts
// alone: 1.28–1.43× zeebo on one core. The kernel thus doubles what one core
// hashes where it runs, which is what a copy's single hashing goroutine
// needs to keep up with an NVMe drive (zeebo's 3 GB/s on one core would
// hold it back): a margin worth its upkeep, so it stays. It is tested
// wherever it is built: TestKernelMatchesGuts checks it lane by lane
// against guts, and fails under EDITKIT_REQUIRE_ALL on an amd64 machine
// that builds it but cannot run it; `make test` runs the package a second
// time with GODEBUG=cpu.avx512f=off for the portable path the other amd64
// machines take. Every digest is checked against zeebo/blake3 and the
// b3sum binary.
//
// Not measured here: CPUs without AVX-512 (most Intel laptops) and Apple
// silicon, where guts runs its AVX2 or generic Go code. The kernel does not
// run there whichever way this is decided; whether guts or zeebo/blake3 is
// the faster portable path there is for a measurement on such a machine.
package hashing

import (
	"encoding/hex"
	"fmt"
)

// Sum holds the digests of one file's bytes.
type Sum struct {
	BLAKE3 [32]byte
	XXH128 [16]byte // canonical big-endian bytes, as `xxhsum -H2` prints them
}

// BLAKE3Hex returns the BLAKE3 digest as lowercase hex, as b3sum prints it.
func (s Sum) BLAKE3Hex() string { return hex.EncodeToString(s.BLAKE3[:]) }

// XXH128Hex returns the xxh128 digest as lowercase hex, as xxhsum -H2 prints it.
func (s Sum) XXH128Hex() string { return hex.EncodeToString(s.XXH128[:]) }

// ParseBLAKE3 decodes a 64-character hex BLAKE3 digest.
func ParseBLAKE3(s string) (d [32]byte, err error) {
	if len(s) != 64 {
		return d, fmt.Errorf("BLAKE3 digest %q: want 64 hex digits", s)
	}
	_, err = hex.Decode(d[:], []byte(s))
	return d, err
}

// ParseXXH128 decodes a 32-character hex xxh128 digest.
func ParseXXH128(s string) (d [16]byte, err error) {
	if len(s) != 32 {
		return d, fmt.Errorf("xxh128 digest %q: want 32 hex digits", s)
	}
	_, err = hex.Decode(d[:], []byte(s))
	return d, err
}
