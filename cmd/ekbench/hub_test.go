//go:build linux

package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/hashing"
)

// The nightly-delta figure counts the bytes of blobs a backup stored:
// small blobs are stored in packs, whose bytes are blob bytes too (not
// snapshot bytes, which would also raise the target they are held to).
func TestPackedBlobsCountAsBlobData(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := backend.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := contenthub.New(b)
	w := h.NewBlobWriter(ctx)
	var stored int64
	for i := range 20 {
		data := []byte(fmt.Sprintf("bin %d of a project, small enough for a pack", i))
		sum := hashing.SumBLAKE3(data)
		if _, err := w.PutBytes(ctx, hex.EncodeToString(sum[:]), data); err != nil {
			t.Fatal(err)
		}
		stored += int64(len(data))
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var blobBytes int64
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			if fi, _ := d.Info(); holdsBlobData(filepath.ToSlash(rel)) {
				blobBytes += fi.Size()
			}
		}
		return nil
	})
	if blobBytes < stored {
		t.Fatalf("%d bytes counted as blob data for %d bytes of blobs stored", blobBytes, stored)
	}
}
