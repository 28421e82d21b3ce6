package contenthub_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/hashing"
)

func b3hex(data []byte) string { return fmt.Sprintf("%x", hashing.SumBLAKE3(data)) }

// objectsUnder counts the files under dir/prefix of a folder hub.
func objectsUnder(t *testing.T, dir, prefix string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(filepath.Join(dir, prefix), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// Small blobs go into one pack with one index object, are in the hub only
// once Flush returns, and read back (whole, from an offset, many at once)
// through a hub opened afresh; a big blob stays an object of its own.
func TestPackedBlobsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	b, err := backend.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := contenthub.New(b)
	ctx := context.Background()
	w := h.NewBlobWriter(ctx)
	src := t.TempDir()
	want := map[string][]byte{}
	var names []string
	for i := range 300 {
		data := []byte(strings.Repeat(fmt.Sprintf("bin %d ", i), 200+i))
		p := filepath.Join(src, fmt.Sprint(i))
		os.WriteFile(p, data, 0o644)
		b3 := b3hex(data)
		if stored, err := w.Put(ctx, b3, p); err != nil || !stored {
			t.Fatalf("Put %d = %v, %v", i, stored, err)
		}
		want[b3] = data
		names = append(names, b3)
	}
	big := bytes.Repeat([]byte("media"), contenthub.PackThreshold/5+1)
	bigPath := filepath.Join(src, "big")
	os.WriteFile(bigPath, big, 0o644)
	if _, err := w.Put(ctx, b3hex(big), bigPath); err != nil {
		t.Fatal(err)
	}
	if has, _ := contenthub.New(b).HasBlob(ctx, names[0]); has {
		t.Fatal("a packed blob is in the hub before Flush")
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := objectsUnder(t, dir, "packs"); n != 1 {
		t.Errorf("%d packs, want 1", n)
	}
	if n := objectsUnder(t, dir, "index"); n != 1 {
		t.Errorf("%d index objects, want 1", n)
	}
	if n := objectsUnder(t, dir, "blobs"); n != 1 {
		t.Errorf("%d loose blobs, want 1 (the big one)", n)
	}
	fresh := contenthub.New(b)
	for _, b3 := range []string{names[0], names[299], b3hex(big)} {
		if has, err := fresh.HasBlob(ctx, b3); err != nil || !has {
			t.Fatalf("HasBlob(%s) = %v, %v", b3, has, err)
		}
	}
	rc, err := fresh.OpenBlob(ctx, names[7], 5)
	if err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(rest, want[names[7]][5:]) {
		t.Fatalf("OpenBlob from 5: got %d bytes, want %d", len(rest), len(want[names[7]])-5)
	}
	var mu sync.Mutex
	got := map[string]int{}
	all := append(append([]string{}, names...), names[0], b3hex(big))
	err = fresh.ReadBlobs(ctx, all, func(b3 string, r io.Reader) error {
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		got[b3]++
		if exp, ok := want[b3]; ok && !bytes.Equal(data, exp) {
			t.Errorf("blob %s: wrong content", b3)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 301 {
		t.Fatalf("ReadBlobs called fn for %d blobs, want 301", len(got))
	}
	for b3, n := range got {
		if n != 1 {
			t.Errorf("blob %s handed out %d times", b3, n)
		}
	}
	// Dedup: the same content again stores nothing.
	w2 := fresh.NewBlobWriter(ctx)
	if stored, err := w2.PutBytes(ctx, names[3], want[names[3]]); err != nil || stored {
		t.Fatalf("PutBytes of a packed blob = %v, %v; want not stored", stored, err)
	}
}

// A damaged pack is an error naming the pack and the blob, never wrong
// bytes; a blob the hub lacks is an error naming it.
func TestReadBlobsDamagedAndMissing(t *testing.T) {
	dir := t.TempDir()
	b, _ := backend.OpenLocal(dir)
	h := contenthub.New(b)
	ctx := context.Background()
	w := h.NewBlobWriter(ctx)
	data := []byte("an Avid bin, small")
	b3 := b3hex(data)
	if _, err := w.PutBytes(ctx, b3, data); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var pack string
	filepath.WalkDir(filepath.Join(dir, "packs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			pack = p
		}
		return nil
	})
	content, _ := os.ReadFile(pack)
	content[3] ^= 0xff
	os.WriteFile(pack, content, 0o644)
	called := false
	err := contenthub.New(b).ReadBlobs(ctx, []string{b3}, func(string, io.Reader) error { called = true; return nil })
	if err == nil || !strings.Contains(err.Error(), b3) || !strings.Contains(err.Error(), filepath.Base(pack)) {
		t.Fatalf("ReadBlobs of a damaged pack: %v; want an error naming the pack and the blob", err)
	}
	if called {
		t.Fatal("fn was handed a damaged blob")
	}
	missing := strings.Repeat("0", 64)
	err = contenthub.New(b).ReadBlobs(ctx, []string{missing}, func(string, io.Reader) error { return nil })
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("ReadBlobs of a missing blob: %v; want an error naming it", err)
	}
}

// Enough blobs for several packs, so later packs are filled in the
// buffers of earlier ones: every blob reads back as it was put.
func TestManyPacksRoundTrip(t *testing.T) {
	b, err := backend.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := contenthub.New(b)
	ctx := context.Background()
	w := h.NewBlobWriter(ctx)
	want := map[string][]byte{}
	var names []string
	for i := range 120 {
		data := bytes.Repeat([]byte(fmt.Sprintf("clip %d|", i)), 900<<10/8)
		b3 := b3hex(data)
		if stored, err := w.PutBytes(ctx, b3, data); err != nil || !stored {
			t.Fatalf("PutBytes %d = %v, %v", i, stored, err)
		}
		want[b3] = data
		names = append(names, b3)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	err = contenthub.New(b).ReadBlobs(ctx, names, func(b3 string, r io.Reader) error {
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if !bytes.Equal(data, want[b3]) {
			t.Errorf("blob %s: wrong content", b3)
		}
		got.Add(1)
		return nil
	})
	if err != nil || got.Load() != int64(len(names)) {
		t.Fatalf("ReadBlobs: %d of %d blobs, %v", got.Load(), len(names), err)
	}
}
