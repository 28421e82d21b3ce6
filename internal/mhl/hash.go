package mhl

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/zeebo/xxh3"
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

// NewHash returns a streaming Hasher for f.
func NewHash(f Format) (Hasher, error) {
	switch f {
	case C4Format:
		return &stdHasher{f: f, h: sha512.New()}, nil
	case MD5:
		return &stdHasher{f: f, h: md5.New()}, nil
	case SHA1:
		return &stdHasher{f: f, h: sha1.New()}, nil
	case XXH64:
		return &stdHasher{f: f, h: xxhash.New()}, nil
	case XXH3:
		return &stdHasher{f: f, h: xxh3.New()}, nil
	case XXH128:
		return &xxh128Hasher{h: xxh3.New()}, nil
	}
	return nil, fmt.Errorf("unknown hash format %q", f)
}

// stdHasher wraps a hash.Hash whose Sum is already the canonical digest
// (xxhash and zeebo/xxh3 both append their 64-bit sums big-endian).
type stdHasher struct {
	f Format
	h hash.Hash
}

func (s *stdHasher) Write(p []byte) (int, error) { return s.h.Write(p) }
func (s *stdHasher) Bytes() []byte               { return s.h.Sum(nil) }
func (s *stdHasher) Digest() string              { return encodeDigest(s.f, s.Bytes()) }

// xxh128Hasher exists because xxh3.Hasher.Sum returns the 64-bit variant.
type xxh128Hasher struct{ h *xxh3.Hasher }

func (x *xxh128Hasher) Write(p []byte) (int, error) { return x.h.Write(p) }
func (x *xxh128Hasher) Digest() string              { return hex.EncodeToString(x.Bytes()) }
func (x *xxh128Hasher) Bytes() []byte {
	b := x.h.Sum128().Bytes()
	return b[:]
}

// digestSize is the length of f's digest bytes.
func digestSize(f Format) int {
	switch f {
	case C4Format:
		return sha512.Size
	case MD5:
		return md5.Size
	case SHA1:
		return sha1.Size
	case XXH128:
		return 16
	case XXH3, XXH64:
		return 8
	}
	return 0
}

// sum appends f's digest of data to dst without allocating a hasher:
// directory hashing computes one of these per file, so it must be cheap.
func sum(f Format, dst, data []byte) []byte {
	switch f {
	case C4Format:
		s := sha512.Sum512(data)
		return append(dst, s[:]...)
	case MD5:
		s := md5.Sum(data)
		return append(dst, s[:]...)
	case SHA1:
		s := sha1.Sum(data)
		return append(dst, s[:]...)
	case XXH128:
		s := xxh3.Hash128(data).Bytes()
		return append(dst, s[:]...)
	case XXH3:
		return binary.BigEndian.AppendUint64(dst, xxh3.Hash(data))
	case XXH64:
		return binary.BigEndian.AppendUint64(dst, xxhash.Sum64(data))
	}
	panic("mhl: sum of unknown format " + string(f)) // callers check formats first
}

// encodeDigest turns digest bytes into their recorded form.
func encodeDigest(f Format, b []byte) string {
	if f == C4Format {
		return C4([64]byte(b))
	}
	return hex.EncodeToString(b)
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

// c4Alphabet is base 58 without 0, O, I and l. Its characters are in
// ASCII order, so C4 ids of equal length sort like the numbers they encode.
const c4Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// C4 returns the C4 id (SMPTE ST 2114) of a SHA-512 digest: "c4" followed
// by the digest, read as one big-endian number, in base 58, left-padded
// with '1' (the alphabet's zero) to 88 characters.
func C4(sha512sum [64]byte) string {
	var out [90]byte
	num := sha512sum // divided in place
	for i := len(out) - 1; i >= 2; i-- {
		var rem uint
		for j := range num {
			cur := rem<<8 | uint(num[j])
			num[j] = byte(cur / 58)
			rem = cur % 58
		}
		out[i] = c4Alphabet[rem]
	}
	out[0], out[1] = 'c', '4'
	return string(out[:])
}

// decodeC4 returns the SHA-512 digest a C4 id encodes.
func decodeC4(s string) ([]byte, error) {
	if len(s) != 90 || s[:2] != "c4" {
		return nil, fmt.Errorf("c4 id %q: want \"c4\" and 88 base-58 digits", s)
	}
	var num [64]byte
	for i := 2; i < len(s); i++ {
		d := strings.IndexByte(c4Alphabet, s[i])
		if d < 0 {
			return nil, fmt.Errorf("c4 id %q: %q is not a base-58 digit", s, s[i])
		}
		carry := uint(d)
		for j := len(num) - 1; j >= 0; j-- {
			cur := uint(num[j])*58 + carry
			num[j] = byte(cur)
			carry = cur >> 8
		}
		if carry != 0 {
			return nil, fmt.Errorf("c4 id %q is larger than a SHA-512 digest", s)
		}
	}
	return num[:], nil
}
