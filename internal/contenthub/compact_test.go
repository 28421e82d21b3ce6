package contenthub

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/hashing"
)

func putSmall(t *testing.T, w *BlobWriter, content string) string {
	t.Helper()
	b3 := fmt.Sprintf("%x", hashing.SumBLAKE3([]byte(content)))
	if _, err := w.PutBytes(context.Background(), b3, []byte(content)); err != nil {
		t.Fatal(err)
	}
	return b3
}

// A pack whose writer was killed before its index is invisible (its blobs
// are not in the hub); once old enough, Compact indexes it, so that prune
// can remove its blobs like any unused blob, and then the pack goes.
func TestCompactAdoptsAndRemovesAnOrphanPack(t *testing.T) {
	ctx := context.Background()
	b, err := backend.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := New(b)
	w := h.NewBlobWriter(ctx)
	orphan := putSmall(t, w, "a bin whose backup was killed")
	if err := w.store(ctx); err != nil { // the pack, not its index
		t.Fatal(err)
	}
	if has, _ := New(b).HasBlob(ctx, orphan); has {
		t.Fatal("a blob of an unindexed pack counts as in the hub")
	}
	later := func() time.Time { return time.Now().Add(2 * time.Hour) }
	if r, err := h.Compact(ctx, nil, CompactOptions{MinAge: time.Hour}); err != nil || r.IndexWritten {
		t.Fatalf("compact of a young orphan: %+v, %v; want it left alone", r, err)
	}
	if r, err := h.Compact(ctx, nil, CompactOptions{MinAge: time.Hour, Now: later}); err != nil || !r.IndexWritten {
		t.Fatalf("compact of an old orphan: %+v, %v", r, err)
	}
	if has, _ := New(b).HasBlob(ctx, orphan); !has {
		t.Fatal("the orphan pack was not indexed")
	}
	r, err := h.Compact(ctx, []string{orphan}, CompactOptions{Now: later})
	if err != nil || r.PacksDeleted != 1 {
		t.Fatalf("compact dropping its blob: %+v, %v", r, err)
	}
	if packs, _ := h.listPacks(ctx); len(packs) != 0 {
		t.Fatalf("%d packs left", len(packs))
	}
}

// Repacking a mostly unused pack keeps every other blob readable, also to
// a reader that loaded the index before the repack (it reads the index
// again when the old pack is gone).
func TestRepackKeepsBlobsReadableToStaleReaders(t *testing.T) {
	ctx := context.Background()
	b, _ := backend.OpenLocal(t.TempDir())
	h := New(b)
	w := h.NewBlobWriter(ctx)
	big := putSmall(t, w, strings.Repeat("x", 100_000))
	keep := putSmall(t, w, "the bin that stays")
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	stale := New(b)
	if has, _ := stale.HasBlob(ctx, keep); !has {
		t.Fatal("not there before the repack")
	}
	r, err := h.Compact(ctx, []string{big}, CompactOptions{})
	if err != nil || r.PacksRepacked != 1 || r.PacksWritten != 1 || r.PacksDeleted != 1 {
		t.Fatalf("compact: %+v, %v", r, err)
	}
	rc, err := stale.OpenBlob(ctx, keep, 0)
	if err != nil {
		t.Fatalf("a stale reader after the repack: %v", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "the bin that stays" {
		t.Fatalf("read %q", got)
	}
	err = New(b).ReadBlobs(ctx, []string{big}, func(string, io.Reader) error { return nil })
	if err == nil || !strings.Contains(err.Error(), big) {
		t.Fatalf("the dropped blob: %v; want an error naming it", err)
	}
}
