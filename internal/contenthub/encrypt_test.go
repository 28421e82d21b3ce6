package contenthub

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"testing"

	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/hubkey"
)

// Encrypting a plain hub in place copies an object that keeps its name (a
// big catalog checkpoint here) through a temporary file, not memory, and
// every object reads back the same from the encrypted hub.
func TestEncryptInPlaceStreamsSameNameObjects(t *testing.T) {
	ctx := context.Background()
	raw, err := backend.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("checkpoint line for reel 12\n"), (4*inMemoryMax)/28)
	objects := map[string][]byte{
		"events/2026/12/07/big-checkpoint": big,
		"events/2026/12/07/batch-1":        []byte("a small event batch\n"),
	}
	for k, v := range objects {
		if err := raw.Put(ctx, k, backend.BytesSource(v), backend.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	h := New(raw)
	if holds, err := BeginEncryption(ctx, h); err != nil || !holds {
		t.Fatalf("BeginEncryption = %v, %v", holds, err)
	}
	keys := &hubkey.Keys{Current: 1, Data: map[uint32][32]byte{1: {1}}}
	// What copies the big one holds it in a temporary file, and removes
	// the file when done.
	src, done, err := copyObject(ctx, raw, backend.ObjectInfo{Key: "events/2026/12/07/big-checkpoint", Size: int64(len(big))})
	if err != nil {
		t.Fatal(err)
	}
	spool, ok := src.(*backend.FileSource)
	if !ok {
		t.Fatalf("a %d-byte object was copied into a %T, not a temporary file", len(big), src)
	}
	done()
	if _, err := os.Stat(spool.Name()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the temporary copy %s is still there: %v", spool.Name(), err)
	}
	if err := EncryptInPlace(ctx, h, keys, nil); err != nil {
		t.Fatal(err)
	}
	enc, err := NewEncrypted(raw, keys)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range objects {
		rc, err := enc.backend.Get(ctx, k, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("%s after encrypting: %v (%d bytes, want %d)", k, err, len(got), len(v))
		}
	}
}
