package hubcrypt

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/editkit/editkit/internal/contenthub/backend"
)

// Whatever a stored object holds (the storage is not trusted), reading it
// or any range of it either gives the plaintext it was sealed from or an
// error; never a panic, never other bytes. Stored names likewise map back
// only to keys that map to them.
func FuzzOpenStored(f *testing.F) {
	k := &Keys{Current: 1, Data: map[uint32][32]byte{1: {7}}}
	plain := bytes.Repeat([]byte("editkit"), 20000)
	dir := f.TempDir()
	b, err := backend.OpenLocal(dir)
	if err != nil {
		f.Fatal(err)
	}
	s, err := Wrap(b, k, testLayout)
	if err != nil {
		f.Fatal(err)
	}
	const key = "events/x.jsonl"
	if err := s.Put(context.Background(), key, backend.BytesSource(plain), backend.PutOptions{}); err != nil {
		f.Fatal(err)
	}
	sealed, _ := os.ReadFile(filepath.Join(dir, key))
	f.Add(sealed, int64(0), int64(-1), "blobs/ab/x")
	f.Add(sealed[:len(sealed)/2], int64(chunkSize-1), int64(5), "snapshots/x/y")
	f.Add([]byte("EKHUB\x00\x00\x01"), int64(1), int64(1), "index/x.idx")
	f.Fuzz(func(t *testing.T, stored []byte, off, n int64, name string) {
		if err := os.WriteFile(filepath.Join(dir, key), stored, 0o644); err != nil {
			t.Fatal(err)
		}
		rc, err := s.Get(context.Background(), key, off, n)
		if err == nil {
			got, rerr := io.ReadAll(rc)
			rc.Close()
			if rerr == nil && off >= 0 && off <= int64(len(plain)) {
				want := plain[off:]
				if n >= 0 && int64(len(want)) > n {
					want = want[:n]
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("read %d bytes that are not the plaintext", len(got))
				}
			}
		} else if !errors.Is(err, ErrDamaged) && !errors.Is(err, backend.ErrInvalidRange) && !errors.Is(err, backend.ErrInvalidKey) {
			t.Logf("error: %v", err)
		}
		if back, ok := s.PlainKey(name); ok && back != name && s.StoredKey(back) != name {
			t.Fatalf("stored name %q maps back to %q, which is stored as %q", name, back, s.StoredKey(back))
		}
	})
}
