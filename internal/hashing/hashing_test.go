package hashing

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Digests must equal what the standard tools print, since drives are checked
// with b3sum and xxhsum where editkit is not installed.
func TestMatchesReferenceTools(t *testing.T) {
	for _, tool := range []string{"b3sum", "xxhsum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (apt install b3sum xxhash): %v", tool, err)
		}
	}
	dir := t.TempDir()
	for _, size := range []int{0, 1, 1023, 1024, 1025, 64 << 10, 3<<20 + 7} {
		data := bytes.Repeat([]byte("editkit "), size/8+1)[:size]
		path := filepath.Join(dir, "f")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		h := NewMultiHasher(BLAKE3, XXH128)
		h.Write(data)
		sum := h.Sum()
		if want := toolDigest(t, "b3sum", path); sum.BLAKE3Hex() != want {
			t.Errorf("size %d: BLAKE3 %s, b3sum says %s", size, sum.BLAKE3Hex(), want)
		}
		if want := toolDigest(t, "xxhsum", "-H2", path); sum.XXH128Hex() != want {
			t.Errorf("size %d: xxh128 %s, xxhsum -H2 says %s", size, sum.XXH128Hex(), want)
		}
		if h.Size() != int64(size) {
			t.Errorf("Size() = %d, want %d", h.Size(), size)
		}
	}
}

func toolDigest(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return strings.Fields(string(out))[0]
}

func TestParse(t *testing.T) {
	h := NewMultiHasher(BLAKE3, XXH128)
	h.Write([]byte("x"))
	s := h.Sum()
	b, err := ParseBLAKE3(s.BLAKE3Hex())
	if err != nil || b != s.BLAKE3 {
		t.Fatalf("ParseBLAKE3 round trip: %v", err)
	}
	x, err := ParseXXH128(s.XXH128Hex())
	if err != nil || x != s.XXH128 {
		t.Fatalf("ParseXXH128 round trip: %v", err)
	}
	if _, err := ParseBLAKE3("zz"); err == nil {
		t.Fatal("ParseBLAKE3 accepted garbage")
	}
}

func BenchmarkMultiHasher(b *testing.B) {
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	h := NewMultiHasher(BLAKE3, XXH128)
	for b.Loop() {
		h.Write(buf)
	}
}
