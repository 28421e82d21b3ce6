package mhl

import (
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/editkit/editkit/internal/hashing"
)

// Hasher computes one hash format over a stream of bytes.
type Hasher interface {
	io.Writer
	// Digest returns the digest as a history records it: lowercase hex of
	// the canonical (big-endian) digest bytes, or a C4 id.
	Digest() string
	// Bytes returns the digest bytes that directory hashes are built from:
	// the canonical digest, or for C4 the 64 bytes of the SHA-512.
	Bytes() []byte
}

// HashType returns the hashing format behind f, if f is an ASC MHL format.
func (f Format) HashType() (hashing.Type, bool) { return formatType(f) }

func formatType(f Format) (hashing.Type, bool) {
	switch f {
	case C4Format, MD5, SHA1, XXH64, XXH3, XXH128:
		t, err := hashing.ParseType(string(f))
		return t, err == nil
	}
	return 0, false
}

// NewHash returns a streaming Hasher for f.
func NewHash(f Format) (Hasher, error) {
	t, ok := formatType(f)
	if !ok {
		return nil, fmt.Errorf("unknown hash format %q", f)
	}
	return oneHash{t, hashing.NewMultiHasher(t)}, nil
}

// oneHash is a hashing.MultiHasher of a single format.
type oneHash struct {
	t hashing.Type
	*hashing.MultiHasher
}

func (h oneHash) Bytes() []byte  { return h.MultiHasher.Bytes(h.t) }
func (h oneHash) Digest() string { return h.MultiHasher.Digest(h.t) }

// digestSize is the length of f's digest bytes.
func digestSize(f Format) int {
	t, _ := formatType(f)
	return t.Size()
}

// sum appends f's digest of data to dst without allocating a hasher:
// directory hashing computes one of these per file, so it must be cheap.
func sum(f Format, dst, data []byte) []byte {
	t, ok := formatType(f)
	if !ok {
		panic("mhl: sum of unknown format " + string(f)) // callers check formats first
	}
	return hashing.AppendSum(dst, t, data)
}

// encodeDigest turns digest bytes into their recorded form.
func encodeDigest(f Format, b []byte) string {
	t, _ := formatType(f)
	return hashing.Encode(t, b)
}

// decodeDigest checks a recorded digest and returns its bytes. Hex is
// accepted in either case (some tools write upper case); the canonical
// lowercase form is returned alongside.
func decodeDigest(f Format, s string) (canon string, b []byte, err error) {
	n := digestSize(f)
	if n == 0 {
		return "", nil, fmt.Errorf("unknown hash format %q", f)
	}
	if f == C4Format {
		b, err := decodeC4(s)
		return s, b, err
	}
	if len(s) != 2*n {
		return "", nil, fmt.Errorf("%s digest %q: want %d hex digits", f, s, 2*n)
	}
	s = strings.ToLower(s)
	b, err = hex.DecodeString(s)
	if err != nil {
		return "", nil, fmt.Errorf("%s digest %q is not hex", f, s)
	}
	return s, b, nil
}

// C4 returns the C4 id (SMPTE ST 2114) of a SHA-512 digest.
func C4(sha512sum [64]byte) string { return hashing.C4ID(sha512sum) }

// decodeC4 returns the SHA-512 digest a C4 id encodes.
func decodeC4(s string) ([]byte, error) { return hashing.ParseC4ID(s) }
