package hubcrypt

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/zeebo/blake3"
)

// Objects sealed by the first release of the format (testdata/format1,
// written by TestFormat1Vectors with EDITKIT_WRITE_VECTORS=1 on the code
// of that release): fixed keys, fixed plaintexts, both suites.
var vectorKeys = &Keys{HubID: [16]byte{1, 2, 3}, IDKey: [32]byte{4, 5, 6}, Current: 1, Data: map[uint32][32]byte{1: {7, 8, 9}}}

type vector struct {
	suite byte
	key   string
	plain []byte
}

func vectors() []vector {
	var out []vector
	for _, suite := range []byte{suiteXChaCha20Poly1305, suiteAES256GCM} {
		for _, n := range []int{0, 7, chunkSize + 9} {
			plain := make([]byte, n)
			blake3.NewDeriveKey(fmt.Sprintf("editkit test vector %d", n)).Digest().Read(plain)
			out = append(out, vector{suite, blobKey(plain), plain})
		}
		// A key that is not content-addressed (an event batch's).
		out = append(out, vector{suite, "events/2026/12/07/batch-1", []byte("a note about reel 3\n")})
	}
	return out
}

func (v vector) file() string {
	name := blake3.Sum256([]byte(v.key))
	return filepath.Join("testdata", "format1", fmt.Sprintf("suite%d-%d-%x.sealed", v.suite, len(v.plain), name[:4]))
}

// sealAll is what Put stores for v, read the way the folder backend reads
// a source (1 MiB at a time).
func sealAll(t *testing.T, d *derived, v vector) []byte {
	t.Helper()
	src := d.sealSource(v.key, backend.BytesSource(v.plain))
	out := make([]byte, src.Length())
	for off := 0; off < len(out); off += 1 << 20 {
		if _, err := src.ReadAt(out[off:min(len(out), off+1<<20)], int64(off)); err != nil && err != io.EOF {
			t.Fatal(err)
		}
	}
	return out
}

// Objects the first release sealed open to their plaintext (what an
// existing encrypted hub holds stays readable), and sealing the same
// plaintext under the same name today gives exactly the same bytes (a
// resumed upload begun by an older editkit still matches).
func TestFormat1Vectors(t *testing.T) {
	ctx := context.Background()
	d, err := derive(vectorKeys, testLayout)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b, err := backend.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Wrap(b, vectorKeys, testLayout)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vectors() {
		d.suite = v.suite
		if os.Getenv("EDITKIT_WRITE_VECTORS") == "1" {
			if err := os.WriteFile(v.file(), sealAll(t, d, v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(v.file())
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Put(ctx, s.StoredKey(v.key), backend.BytesSource(want), backend.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if got, err := get(t, s, v.key, 0, -1); err != nil || !bytes.Equal(got, v.plain) {
			t.Fatalf("%s: opening the stored vector: %v", v.file(), err)
		}
		if got := sealAll(t, d, v); !bytes.Equal(got, want) {
			t.Fatalf("%s: sealing %s today gives other bytes than the vector", v.file(), v.key)
		}
	}
}
