package hashing

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/zeebo/xxh3"
)

// Type is one digest format.
type Type uint8

// The digest formats: editkit's own pair (BLAKE3, xxh128) and the others
// an ASC MHL history may use.
const (
	BLAKE3 Type = iota + 1
	XXH128      // canonical big-endian bytes, as `xxhsum -H2` prints them
	XXH3        // XXH3 64-bit, big-endian
	XXH64       // big-endian
	MD5
	SHA1
	C4 // SMPTE ST 2114: the bytes are a SHA-512, the text a C4 id
)

var typeInfo = [...]struct {
	name string
	size int
}{
	BLAKE3: {"blake3", 32},
	XXH128: {"xxh128", 16},
	XXH3:   {"xxh3", 8},
	XXH64:  {"xxh64", 8},
	MD5:    {"md5", md5.Size},
	SHA1:   {"sha1", sha1.Size},
	C4:     {"c4", sha512.Size},
}

func (t Type) valid() bool { return t > 0 && int(t) < len(typeInfo) }

// String returns the format's name as ASC MHL and b3sum users write it:
// "blake3", "xxh128", "xxh3", "xxh64", "md5", "sha1", "c4".
func (t Type) String() string {
	if !t.valid() {
		return fmt.Sprintf("hashing.Type(%d)", uint8(t))
	}
	return typeInfo[t].name
}

// Size returns the length of the format's digest bytes (64 for C4, the
// SHA-512 its id encodes).
func (t Type) Size() int {
	if !t.valid() {
		return 0
	}
	return typeInfo[t].size
}

// ParseType returns the format named name (see Type.String).
func ParseType(name string) (Type, error) {
	for t := BLAKE3; t.valid(); t++ {
		if typeInfo[t].name == name {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown hash format %q", name)
}

// MultiHasher computes a set of digests of everything written to it, in
// one pass: the one way editkit hashes a stream (copy, placement, verify,
// ASC MHL, snapshots), as rclone's MultiHasher. BLAKE3 uses
// ParallelBLAKE3 on the writing goroutine; xxh128 and xxh3 share one
// XXH3 state.
//
// A MultiHasher is not safe for concurrent use.
type MultiHasher struct {
	has  [len(typeInfo)]bool
	b3   *ParallelBLAKE3
	xxh  *xxh3.Hasher // XXH128 and XXH3
	rest []typedHash  // the others, each a hash.Hash
	n    int64
}

type typedHash struct {
	t Type
	h hash.Hash
}

// NewMultiHasher returns a MultiHasher for the given formats (repeats are
// ignored). A Type not among the constants above is a programming error:
// formats read from a file go through ParseType first.
func NewMultiHasher(ts ...Type) *MultiHasher {
	m := &MultiHasher{}
	for _, t := range ts {
		if !t.valid() {
			panic(fmt.Sprintf("hashing: NewMultiHasher(%v)", t))
		}
		if m.has[t] {
			continue
		}
		m.has[t] = true
		switch t {
		case BLAKE3:
			m.b3 = NewParallelBLAKE3(1)
		case XXH128, XXH3:
			if m.xxh == nil {
				m.xxh = xxh3.New()
			}
		default:
			m.rest = append(m.rest, typedHash{t, newStd(t)})
		}
	}
	return m
}

func newStd(t Type) hash.Hash {
	switch t {
	case XXH64:
		return xxhash.New()
	case MD5:
		return md5.New()
	case SHA1:
		return sha1.New()
	case C4:
		return sha512.New()
	}
	panic("hashing: no hash.Hash for " + t.String())
}

// Has reports whether the MultiHasher computes t.
func (m *MultiHasher) Has(t Type) bool { return t.valid() && m.has[t] }

// Write adds p to every digest. It never fails.
func (m *MultiHasher) Write(p []byte) (int, error) {
	if m.b3 != nil {
		m.b3.Write(p)
	}
	m.writeSequential(p)
	return len(p), nil
}

// writeSequential adds p to every digest but BLAKE3, whose subtrees
// HashFile hashes on its workers and commits itself.
func (m *MultiHasher) writeSequential(p []byte) {
	if m.xxh != nil {
		m.xxh.Write(p)
	}
	for _, x := range m.rest {
		x.h.Write(p)
	}
	m.n += int64(len(p))
}

// Size returns the number of bytes written so far.
func (m *MultiHasher) Size() int64 { return m.n }

// Bytes returns the digest bytes of t (big-endian for the xxHash
// formats, the SHA-512 for C4), or nil if t is not computed.
func (m *MultiHasher) Bytes(t Type) []byte {
	if !m.Has(t) {
		return nil
	}
	switch t {
	case BLAKE3:
		d := m.b3.Sum256()
		return d[:]
	case XXH128:
		d := m.xxh.Sum128().Bytes()
		return d[:]
	case XXH3:
		return binary.BigEndian.AppendUint64(nil, m.xxh.Sum64())
	}
	for _, x := range m.rest {
		if x.t == t {
			return x.h.Sum(nil)
		}
	}
	return nil
}

// Digest returns the digest of t as records write it: lowercase hex, or a
// C4 id. It is "" if t is not computed.
func (m *MultiHasher) Digest(t Type) string {
	b := m.Bytes(t)
	if b == nil {
		return ""
	}
	return Encode(t, b)
}

// Sums returns every digest computed, as Digest gives them.
func (m *MultiHasher) Sums() map[Type]string {
	out := make(map[Type]string)
	for t := BLAKE3; t.valid(); t++ {
		if m.has[t] {
			out[t] = m.Digest(t)
		}
	}
	return out
}

// Sum returns editkit's own pair of digests (either is zero if not
// computed).
func (m *MultiHasher) Sum() Sum {
	var s Sum
	if m.b3 != nil {
		s.BLAKE3 = m.b3.Sum256()
	}
	if m.has[XXH128] {
		s.XXH128 = m.xxh.Sum128().Bytes()
	}
	return s
}

// Reset clears every digest for a new stream.
func (m *MultiHasher) Reset() {
	if m.b3 != nil {
		m.b3.Reset()
	}
	if m.xxh != nil {
		m.xxh.Reset()
	}
	for _, x := range m.rest {
		x.h.Reset()
	}
	m.n = 0
}

// AppendSum appends t's digest bytes of data to dst. It allocates no
// hasher (ASC MHL directory hashes compute one per file), except for
// BLAKE3.
func AppendSum(dst []byte, t Type, data []byte) []byte {
	switch t {
	case BLAKE3:
		h := NewParallelBLAKE3(1)
		h.Write(data)
		d := h.Sum256()
		return append(dst, d[:]...)
	case XXH128:
		d := xxh3.Hash128(data).Bytes()
		return append(dst, d[:]...)
	case XXH3:
		return binary.BigEndian.AppendUint64(dst, xxh3.Hash(data))
	case XXH64:
		return binary.BigEndian.AppendUint64(dst, xxhash.Sum64(data))
	case MD5:
		d := md5.Sum(data)
		return append(dst, d[:]...)
	case SHA1:
		d := sha1.Sum(data)
		return append(dst, d[:]...)
	case C4:
		d := sha512.Sum512(data)
		return append(dst, d[:]...)
	}
	panic(fmt.Sprintf("hashing: AppendSum(%v)", t))
}

// SumBLAKE3 returns the BLAKE3 digest of data, as b3sum computes it.
func SumBLAKE3(data []byte) [32]byte {
	return [32]byte(AppendSum(make([]byte, 0, 32), BLAKE3, data))
}

// Encode returns digest bytes of t in their text form: lowercase hex, or
// for C4 the C4 id of the SHA-512.
func Encode(t Type, b []byte) string {
	if t == C4 {
		return C4ID([64]byte(b))
	}
	return hex.EncodeToString(b)
}

// c4Alphabet is base 58 without 0, O, I and l. Its characters are in
// ASCII order, so C4 ids of equal length sort like the numbers they encode.
const c4Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// C4ID returns the C4 id (SMPTE ST 2114) of a SHA-512 digest: "c4" followed
// by the digest, read as one big-endian number, in base 58, left-padded
// with '1' (the alphabet's zero) to 88 characters.
func C4ID(sha512sum [64]byte) string {
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

// ParseC4ID returns the SHA-512 digest a C4 id encodes.
func ParseC4ID(s string) ([]byte, error) {
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
