// Package hashing owns editkit's content digests: BLAKE3 (editkit's own
// identity for a file's bytes, and the hub's blob key) and xxh128 (what ASC
// MHL tools exchange), computed together in one pass over the bytes.
package hashing

import (
	"encoding/hex"
	"fmt"

	"github.com/zeebo/xxh3"
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

// Hasher computes BLAKE3 and xxh128 of everything written to it.
type Hasher struct {
	// One worker: the copy pipeline hashes on its own goroutine, beside
	// the writers; the tree kernel is twice as fast per core as a plain
	// streaming BLAKE3 where AVX-512 is available.
	b3  *ParallelBLAKE3
	xxh *xxh3.Hasher
	n   int64
}

// New returns a Hasher for both digests.
func New() *Hasher {
	return &Hasher{b3: NewParallelBLAKE3(1), xxh: xxh3.New()}
}

// Write adds p to both digests. It never fails.
func (h *Hasher) Write(p []byte) (int, error) {
	h.b3.Write(p)
	h.xxh.Write(p)
	h.n += int64(len(p))
	return len(p), nil
}

// Size returns the number of bytes written so far.
func (h *Hasher) Size() int64 { return h.n }

// Sum returns the digests of the bytes written so far.
func (h *Hasher) Sum() Sum {
	var s Sum
	s.BLAKE3 = h.b3.Sum256()
	s.XXH128 = h.xxh.Sum128().Bytes()
	return s
}

// Reset clears the Hasher for reuse.
func (h *Hasher) Reset() {
	h.b3.Reset()
	h.xxh.Reset()
	h.n = 0
}
