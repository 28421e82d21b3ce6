package backup

import (
	"context"
	"sync"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/hashing"
)

// dryRunBlobs answers a dry run's "is this blob in the hub already?"
// without a request per file: the small blobs the hub holds (packed, or
// on their own in a hub written before packs) are listed once, at the
// first small file, and looked up in memory (32 bytes a blob). A big blob
// is still asked for on its own: there are few, and each would cost far
// more to upload than to ask about.
type dryRunBlobs struct {
	once  sync.Once
	small map[[32]byte]bool
	err   error
}

// has reports whether the hub holds the blob b3 of a file of size bytes.
func (d *dryRunBlobs) has(ctx context.Context, h *contenthub.Hub, b3 string, size int64) (bool, error) {
	if size >= contenthub.PackThreshold {
		return h.HasBlob(ctx, b3)
	}
	d.once.Do(func() { d.small, d.err = smallBlobs(ctx, h) })
	if d.err != nil {
		return false, d.err
	}
	k, err := hashing.ParseBLAKE3(b3)
	if err != nil {
		return false, err
	}
	return d.small[k], nil
}

// smallBlobs lists the hub's small blobs: one listing of the blobs stored
// on their own, the index, and one listing of the packs (a packed blob
// whose pack is gone is not there).
func smallBlobs(ctx context.Context, h *contenthub.Hub) (map[[32]byte]bool, error) {
	small := map[[32]byte]bool{}
	for bi, err := range h.Blobs(ctx) {
		if err != nil {
			return nil, err
		}
		if bi.Size >= contenthub.PackThreshold {
			continue
		}
		if k, err := hashing.ParseBLAKE3(bi.B3); err == nil {
			small[k] = true
		}
	}
	return small, nil
}
