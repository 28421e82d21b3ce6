package hashing

import (
	"bytes"
	"context"
	"crypto/sha512"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var allTypes = []Type{BLAKE3, XXH128, XXH3, XXH64, MD5, SHA1, C4}

// toolSum is the digest the standard command-line tool prints for a
// format, so that a record editkit writes can be checked without editkit.
func toolSum(t *testing.T, ty Type, path string) string {
	t.Helper()
	var name string
	var args []string
	switch ty {
	case BLAKE3:
		name = "b3sum"
	case XXH128:
		name, args = "xxhsum", []string{"-H2"}
	case XXH3:
		name, args = "xxhsum", []string{"-H3"}
	case XXH64:
		name, args = "xxhsum", []string{"-H1"}
	case MD5:
		name = "md5sum"
	case SHA1:
		name = "sha1sum"
	case C4:
		sum := sha512.Sum512(must(os.ReadFile(path)))
		return C4ID(sum) // the C4 encoding is checked against known ids below
	}
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is not installed (apt install b3sum xxhash coreutils): %v", name, err)
	}
	out, err := exec.Command(name, append(args, path)...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	s := string(out)
	if i := strings.Index(s, " = "); i >= 0 { // "XXH3 (f) = digest", xxhsum's BSD style for -H3
		s = s[i+3:]
	}
	return strings.Fields(s)[0]
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// One MultiHasher computing every format gives what each tool prints, and
// what a MultiHasher of that format alone and AppendSum give; sizes cross
// the chunk, SIMD group and xxh3 stripe boundaries and the 240-byte limit
// below which XXH3 hashes differently.
func TestMultiHasherMatchesTools(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 3, 16, 17, 128, 129, 240, 241, 1023, 1024, 1025, 16 << 10, 64<<10 + 1, 3<<20 + 7} {
		data := pattern(size, uint64(size))
		path := filepath.Join(dir, "clip.mxf")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		all := NewMultiHasher(allTypes...)
		// Written in uneven pieces: the result must not depend on them.
		for rest := data; len(rest) > 0; {
			k := min(len(rest), 1000+len(rest)%777)
			all.Write(rest[:k])
			rest = rest[k:]
		}
		if all.Size() != int64(size) {
			t.Errorf("size %d: Size() = %d", size, all.Size())
		}
		sums := all.Sums()
		for _, ty := range allTypes {
			want := toolSum(t, ty, path)
			if got := all.Digest(ty); got != want {
				t.Errorf("size %d, %v: all formats at once give %s, the tool %s", size, ty, got, want)
			}
			if sums[ty] != want {
				t.Errorf("size %d, %v: Sums() has %s, want %s", size, ty, sums[ty], want)
			}
			one := NewMultiHasher(ty)
			one.Write(data)
			if got := one.Digest(ty); got != want {
				t.Errorf("size %d, %v: alone %s, want %s", size, ty, got, want)
			}
			if got := AppendSum([]byte("x"), ty, data); !bytes.Equal(got[1:], all.Bytes(ty)) || got[0] != 'x' || len(got)-1 != ty.Size() {
				t.Errorf("size %d, %v: AppendSum %x, streaming %x (%d bytes)", size, ty, got[1:], all.Bytes(ty), ty.Size())
			}
		}
		if s := all.Sum(); s != reference(data) {
			t.Errorf("size %d: Sum() %s %s, want the reference", size, s.BLAKE3Hex(), s.XXH128Hex())
		}
		all.Reset()
		all.Write(data)
		if all.Digest(MD5) != sums[MD5] || all.Digest(BLAKE3) != sums[BLAKE3] || all.Size() != int64(size) {
			t.Errorf("size %d: after Reset the digests differ", size)
		}
	}
}

// A format not asked for is never reported as if it had been computed.
func TestMultiHasherOnlyWhatWasAsked(t *testing.T) {
	m := NewMultiHasher(XXH3, XXH3)
	m.Write([]byte("abc"))
	if got := m.Digest(XXH3); got != "78af5f94892f3950" {
		t.Errorf("xxh3(abc) = %s", got)
	}
	for _, ty := range []Type{BLAKE3, XXH128, MD5, C4} {
		if m.Has(ty) || m.Bytes(ty) != nil || m.Digest(ty) != "" {
			t.Errorf("%v was not asked for but is reported", ty)
		}
	}
	if s := m.Sum(); s != (Sum{}) {
		t.Errorf("Sum() = %+v without BLAKE3 or xxh128", s)
	}
	if len(m.Sums()) != 1 {
		t.Errorf("Sums() = %v", m.Sums())
	}
}

func TestParseType(t *testing.T) {
	for _, ty := range allTypes {
		if got, err := ParseType(ty.String()); err != nil || got != ty {
			t.Errorf("ParseType(%q) = %v, %v", ty.String(), got, err)
		}
	}
	for _, bad := range []string{"", "MD5", "sha256", "xxh32", "blake2"} {
		if _, err := ParseType(bad); err == nil {
			t.Errorf("ParseType(%q) succeeded", bad)
		}
	}
	if Type(0).Size() != 0 || Type(99).Size() != 0 {
		t.Error("an invalid Type has a size")
	}
}

// C4 ids of known SHA-512 digests (SMPTE ST 2114), and back.
func TestC4ID(t *testing.T) {
	if got, want := C4ID(sha512.Sum512(nil)), "c459dsjfscH38cYeXXYogktxf4Cd9ibshE3BHUo6a58hBXmRQdZrAkZzsWcbWtDg5oQstpDuni4Hirj75GEmTc1sFT"; got != want {
		t.Errorf("C4(empty) = %s, want %s", got, want)
	}
	// Padding: a small number is mostly '1's.
	var small [64]byte
	small[63] = 57
	if got, want := C4ID(small), "c4"+strings.Repeat("1", 87)+"z"; got != want {
		t.Errorf("C4ID(57) = %s, want %s", got, want)
	}
	var max [64]byte
	for i := range max {
		max[i] = 0xff
	}
	for _, d := range [][64]byte{small, max, sha512.Sum512([]byte("x"))} {
		id := C4ID(d)
		if len(id) != 90 {
			t.Errorf("C4 length %d", len(id))
		}
		b, err := ParseC4ID(id)
		if err != nil || !bytes.Equal(b, d[:]) {
			t.Errorf("ParseC4ID(%s) = %x, %v; want %x", id, b, err, d)
		}
	}
	for _, bad := range []string{"", "c4", "c5" + strings.Repeat("1", 88), "c4" + strings.Repeat("0", 88), "c4" + strings.Repeat("z", 88)} {
		if _, err := ParseC4ID(bad); err == nil {
			t.Errorf("ParseC4ID(%q) succeeded", bad)
		}
	}
}

// HashFile computes the ASC MHL formats in the same pass as editkit's
// own, on the parallel path too, and gives what a MultiHasher gives.
func TestHashFileExtraFormats(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 5, 2*readSize - 1, 3*readSize + 12345} {
		data := pattern(size, 9)
		path := writeFile(t, dir, data)
		want := NewMultiHasher(allTypes...)
		want.Write(data)
		for _, workers := range []int{1, 2, 3} {
			got, err := HashFile(context.Background(), path, FileOptions{BLAKE3: true, Extra: []Type{MD5, SHA1, XXH64, XXH3, C4, XXH128}, Workers: workers})
			if err != nil {
				t.Fatal(err)
			}
			if got.Sum != want.Sum() || got.Size != int64(size) {
				t.Errorf("size %d, %d workers: BLAKE3 %s, size %d", size, workers, got.BLAKE3Hex(), got.Size)
			}
			for _, ty := range []Type{MD5, SHA1, XXH64, XXH3, C4, XXH128} {
				if got.Extra[ty] != want.Digest(ty) {
					t.Errorf("size %d, %d workers, %v: %s, want %s", size, workers, ty, got.Extra[ty], want.Digest(ty))
				}
			}
		}
	}
	if _, err := HashFile(context.Background(), writeFile(t, dir, nil), FileOptions{}); err == nil {
		t.Error("HashFile with no format succeeded")
	}
}

// HashOpen hashes the whole file, wherever the descriptor's offset is:
// placement reads back the temporary file it has just written.
func TestHashOpenFromByteZero(t *testing.T) {
	data := pattern(2*readSize+77, 4)
	f, err := os.Open(writeFile(t, t.TempDir(), data))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	got, err := HashOpen(context.Background(), f, FileOptions{XXH128: true, FromMedium: true, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := reference(data); got.XXH128 != want.XXH128 || got.Size != int64(len(data)) {
		t.Errorf("got %s of %d bytes, want %s of %d", got.XXH128Hex(), got.Size, want.XXH128Hex(), len(data))
	}
}
