package contenthub

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/editkit/editkit/internal/contenthub/backend"
)

// ReadBlobs reads many (small) blobs: it calls fn once per distinct BLAKE3
// in b3s, in an order of its choosing and possibly from several goroutines
// at once, with a reader of that blob's bytes, valid only during the call.
// A missing blob is an error naming it; an error from fn stops the reads
// and is returned.
//
// This version reads the blobs one by one; the pack-aware one groups
// range reads of pack objects.
func (h *Hub) ReadBlobs(ctx context.Context, b3s []string, fn func(b3 string, r io.Reader) error) error {
	seen := make(map[string]bool, len(b3s))
	for _, b3 := range b3s {
		if seen[b3] {
			continue
		}
		seen[b3] = true
		if err := ctx.Err(); err != nil {
			return err
		}
		rc, err := h.OpenBlob(ctx, b3, 0)
		if errors.Is(err, backend.ErrNotFound) {
			return fmt.Errorf("blob %s is missing from %s: %w; run editkit hub check", b3, h.Location(), err)
		}
		if err != nil {
			return fmt.Errorf("blob %s: %w", b3, err)
		}
		err = fn(b3, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
