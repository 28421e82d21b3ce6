package contenthub

import (
	"bytes"
	"context"
	"io"
	"runtime"
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
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := EncryptInPlace(ctx, h, keys, nil); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc >= uint64(len(big)) {
		t.Errorf("encrypting allocated %d bytes for a %d-byte object: it was held in memory", alloc, len(big))
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
